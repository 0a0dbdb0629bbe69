// MediaPipe's BlazeFace short-range (glasses_core/face_detect.py): letterbox, anchors, box and
// keypoint decoding and weighted non-maximum suppression.
import { resizeReducing } from "./image.js";
import { run } from "./litert.js";

export const INPUT_SIZE = 128;
const GRID = 32;  // a resized input's sides are multiples of this (the coarsest stride is 16)
const STRIDES = [8, 16, 16, 16];
const ANCHORS_PER_LAYER = 2;
const RAW_SCORE_CLIP = 100;
const MIN_SUPPRESSION_IOU = 0.3;

// Anchor centres in [0, 1], in the order the model emits its predictions (MediaPipe's
// SsdAnchorsCalculator: layers of one stride share a feature map, interleaved per cell), for an
// input of [height, width].
export function ssdAnchors([height, width] = [INPUT_SIZE, INPUT_SIZE], strides = STRIDES, perLayer = ANCHORS_PER_LAYER) {
  const anchors = [];
  for (let layer = 0; layer < strides.length;) {
    let same = 1;
    while (layer + same < strides.length && strides[layer + same] === strides[layer]) same++;
    const rows = Math.ceil(height / strides[layer]), columns = Math.ceil(width / strides[layer]);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        for (let k = 0; k < same * perLayer; k++) anchors.push([(x + 0.5) / columns, (y + 0.5) / rows]);
      }
    }
    layer += same;
  }
  return anchors;
}

// [height, width] of the network's input for an image: its own square, or with ``longSide`` that
// many pixels along the image's longer side and the other just enough, both multiples of GRID.
export function inputShape(width, height, longSide = null) {
  if (longSide === null) return [INPUT_SIZE, INPUT_SIZE];
  const fit = longSide / Math.max(width, height);
  const grid = (n) => Math.ceil(n / GRID) * GRID;
  return [grid(Math.max(1, Math.round(height * fit))), grid(Math.max(1, Math.round(width * fit)))];
}

// {box: [x0, y0, x1, y1], score, keypoints: [[x, y] x 6], presence}: the keypoints are the
// subject's right eye, left eye, nose, mouth, right ear, left ear; presence, the face mesh's
// face-presence logit once the eyes are measured again (null before).
// ``detectedEyes``: the detector's own eyes, kept when the first two keypoints are measured again.
export function makeFace(box, keypoints, score, presence = null, detectedEyes = null) {
  return { box: box.slice(), score, keypoints: keypoints.map((p) => p.slice()), presence,
           detectedEyes: detectedEyes && detectedEyes.map((p) => p.slice()) };
}

export function area(face) {
  return Math.max(0, face.box[2] - face.box[0]) * Math.max(0, face.box[3] - face.box[1]);
}

// The image shrunk (or grown) to fit an input of [rows, columns], its aspect kept (face_detect.py's
// fitted): what the letterbox reads; an image that already fits is returned as it is.
export function fitted(image, [rows, columns] = [INPUT_SIZE, INPUT_SIZE]) {
  const fit = Math.min(columns / image.width, rows / image.height);
  const w = Math.max(1, Math.round(image.width * fit)), h = Math.max(1, Math.round(image.height * fit));
  return w === image.width && h === image.height ? image : resizeReducing(image, w, h);
}

// The image shrunk to fit an input of [rows, columns] (its aspect kept), padded with -1, in
// [-1, 1]; and the scale and padding that map input pixels back to the image's:
// image = (input - pad) / scale.
export function letterbox(image, [rows, columns] = [INPUT_SIZE, INPUT_SIZE]) {
  const resized = fitted(image, [rows, columns]);
  const { width: w, height: h } = resized;
  const pad = [Math.floor((columns - w) / 2), Math.floor((rows - h) / 2)];
  const tensor = new Float32Array(rows * columns * 3).fill(-1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3, o = ((y + pad[1]) * columns + x + pad[0]) * 3;
      for (let c = 0; c < 3; c++) tensor[o + c] = resized.data[i + c] / 127.5 - 1;
    }
  }
  return { tensor, scale: [w / image.width, h / image.height], pad };
}

// ``compiled``: the model at its own input; ``compileAt(height, width)``: a promise of the model
// compiled for another input size (tflite.js withInputSize), asked once per size.
export class FaceDetector {
  constructor(compiled, minScore, compileAt = null) {
    this.minScore = minScore;
    this.compileAt = compileAt;
    this.models = new Map([[`${INPUT_SIZE}x${INPUT_SIZE}`, compiled]]);
    this.anchors = new Map([[`${INPUT_SIZE}x${INPUT_SIZE}`, ssdAnchors()]]);
  }

  // Faces in an RGB image, most confident first, in its pixels; with ``longSide``, read at that
  // many input pixels along its longer side in one run of the network resized to fit.
  async detect(image, longSide = null) {
    const shape = inputShape(image.width, image.height, longSide), key = shape.join("x");
    if (!this.models.has(key)) {
      if (!this.compileAt) throw new Error("this detector reads images at its own input size only");
      this.models.set(key, this.compileAt(...shape));
      this.anchors.set(key, ssdAnchors(shape));
    }
    const { tensor, scale, pad } = letterbox(image, shape);
    const outputs = await run(await this.models.get(key), tensor);
    outputs.sort((a, b) => a.shape[a.shape.length - 1] - b.shape[b.shape.length - 1]);
    return this.decode(outputs[1].data, outputs[0].data, scale, pad, shape);
  }

  decode(raw, logits, scale, pad, [rows, columns] = [INPUT_SIZE, INPUT_SIZE]) {
    const anchors = this.anchors.get(`${rows}x${columns}`);  // set with the model of that size (detect)
    const boxes = [], points = [], scores = [];
    for (let i = 0; i < anchors.length; i++) {
      const logit = Math.min(Math.max(logits[i], -RAW_SCORE_CLIP), RAW_SCORE_CLIP);
      const score = 1 / (1 + Math.exp(-logit));
      if (score < this.minScore) continue;
      const r = raw.subarray(i * 16, i * 16 + 16), [ax, ay] = anchors[i];
      const cx = r[0] / columns + ax, cy = r[1] / rows + ay;
      const hw = r[2] / columns / 2, hh = r[3] / rows / 2;
      boxes.push([cx - hw, cy - hh, cx + hw, cy + hh]);
      points.push(Array.from({ length: 6 }, (_, k) => [r[4 + 2 * k] / columns + ax, r[5 + 2 * k] / rows + ay]));
      scores.push(score);
    }
    const toImage = ([x, y]) => [(x * columns - pad[0]) / scale[0], (y * rows - pad[1]) / scale[1]];
    return weightedNms(boxes, points, scores, MIN_SUPPRESSION_IOU).map(({ box, pts, score }) =>
      makeFace([...toImage(box.slice(0, 2)), ...toImage(box.slice(2))], pts.map(toImage), score));
  }
}

function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const size = (r) => Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
  const inter = w * h;
  return inter / Math.max(size(a) + size(b) - inter, 1e-12);
}

// MediaPipe's weighted non-maximum suppression: overlapping detections are averaged, weighted
// by score, instead of dropped.
export function weightedNms(boxes, points, scores, threshold) {
  let remaining = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const results = [];
  while (remaining.length) {
    const best = remaining[0];
    // the best is in its own group even when its box is not finite (a broken model): no endless loop
    const group = remaining.filter((i) => i === best || iou(boxes[best], boxes[i]) > threshold);
    const total = group.reduce((s, i) => s + scores[i], 0);
    const box = [0, 1, 2, 3].map((k) => group.reduce((s, i) => s + boxes[i][k] * scores[i], 0) / total);
    const pts = points[best].map((_, p) => [0, 1].map((k) =>
      group.reduce((s, i) => s + points[i][p][k] * scores[i], 0) / total));
    results.push({ box, pts, score: scores[best] });
    remaining = remaining.filter((i) => !group.includes(i));
  }
  return results;
}
