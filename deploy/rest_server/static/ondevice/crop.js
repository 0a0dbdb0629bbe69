// The crop (glasses_core/crop.py): an eye-levelled square, scale eye distances wide, centred
// between the eyes (moved down by centre_shift eye distances); with no face, a centre square.
import { cut } from "./geometry.js";

export function eyeGeometry(rightEye, leftEye, config) {
  const dx = leftEye[0] - rightEye[0], dy = leftEye[1] - rightEye[1];
  const distance = Math.hypot(dx, dy), angle = Math.atan2(dy, dx);
  const shift = config.centre_shift * distance;
  return { centre: [(rightEye[0] + leftEye[0]) / 2 - Math.sin(angle) * shift,
                    (rightEye[1] + leftEye[1]) / 2 + Math.cos(angle) * shift],
           side: config.scale * distance, angle };
}

export function fallbackGeometry(height, width, config) {
  return { centre: [width / 2, config.fallback_centre_y * height], side: config.fallback_side * Math.min(height, width),
           angle: 0 };
}

// The model input for one face (null: the fallback), cut from the coarsest view that holds it
// at config.size pixels or more: {pixels, face, geometry}.
export function cropFace(photo, face, config, geometryOf = eyeGeometry) {
  const geometry = face === null ? fallbackGeometry(photo.size[1], photo.size[0], config)
    : geometryOf(face.keypoints[0], face.keypoints[1], config);
  return { pixels: cutGeometry(photo, geometry, config.size), face, geometry };
}

// Where the crop leaves the photo (a close-up the frame cuts), the photo's edge pixels carried on,
// not black (glasses_core/crop.py's CROP_OUTSIDE, preprocessing 9); the face mesh's regions stay black.
export const CROP_OUTSIDE = "edge";

export function cutGeometry(photo, geometry, size, outside = CROP_OUTSIDE) {
  const [view, reduction] = photo.view(size / Math.max(geometry.side, 1e-9));
  const g = { centre: [geometry.centre[0] / reduction, geometry.centre[1] / reduction],
              side: geometry.side / reduction, angle: geometry.angle };
  return cut(view, g, size, outside);
}
