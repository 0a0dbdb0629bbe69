// MediaPipe's face mesh (glasses_core/face_mesh.py), used for one thing: where the eyes are.
import { run } from "./litert.js";

export const INPUT_SIZE = 192;
export const ROI_SCALE = 1.5;  // the region is 1.5 x the detector's box (MediaPipe's face_detection_to_roi)
// The eye contours of the canonical face mesh; an eye's centre is the mean of its 16 points.
export const RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
export const LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];

export class FaceMesh {
  constructor(compiled) {
    this.compiled = compiled;
  }

  // {points, presence}: the 468 landmarks of the face filling a 192 x 192 RGB patch, as [x, y]
  // fractions of its side, and the model's face-presence logit (how surely the patch holds an
  // upright face: 15 to 50 for one; kept as a logit, as glasses_core/face_mesh.py's look()).
  async look(patch) {
    const input = new Float32Array(patch.data.length);
    for (let i = 0; i < input.length; i++) input[i] = patch.data[i] * (1 / 255);
    const outputs = (await run(this.compiled, input)).sort((a, b) => a.data.length - b.data.length);
    const { data } = outputs[outputs.length - 1];
    return { points: Array.from({ length: data.length / 3 }, (_, i) => [data[3 * i] / INPUT_SIZE, data[3 * i + 1] / INPUT_SIZE]),
             presence: outputs[0].data[0] };
  }

  async landmarks(patch) {
    return (await this.look(patch)).points;
  }
}

function mean(points, indices) {
  return [0, 1].map((k) => indices.reduce((s, i) => s + points[i][k], 0) / indices.length);
}

// [right eye, left eye]: the subject's, as the means of their contours.
export function eyeCentres(points) {
  return [mean(points, RIGHT_EYE), mean(points, LEFT_EYE)];
}
