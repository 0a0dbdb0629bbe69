// Where the faces are (glasses_core/locate.py): BlazeFace on a small copy of the photo, again in
// detail when it finds no face or only small ones, then each face's eyes measured again by the face
// mesh on its own region until that region settles. The phases and their names follow locate.py.
import { area, fitted, INPUT_SIZE as DETECTOR_INPUT, makeFace } from "./blazeface.js";
import { eyeCentres, INPUT_SIZE as MESH_INPUT, ROI_SCALE as MESH_ROI_SCALE } from "./facemesh.js";
import { cut, reduced, toImage } from "./geometry.js";
import { rgbImage } from "./image.js";

export const DETECT_SIDE = 256;
export const MESH_PASSES = 4;
export const MESH_DETAIL = 0.5;
export const MESH_SETTLED = 0.02;
const SMALL_FACE = 0.15;
const DETAIL = 3;  // the detailed look reads the photo's longer side at DETAIL x the detector's input
export const TRUSTED = 12;  // a face is trusted when its presence is at least this and its eye line
export const UPRIGHT = Math.PI / 4;  // is within this of the look that found it
export const WIDENED_TRUSTED = 2;  // a face of the widened look counts from this presence (the canvas cuts it)
export const WIDENED_AGREEING = 0.15;  // ...and from GIVE_UP when the mesh's eyes lie this near the detector's
export const GIVE_UP = -6;  // a face read below this on two passes in a row stops being refined (preprocessing 12: upright ones too)
// The second look's quarter turns (Pillow's Transpose names), each with the angle that the eye
// line of a face upright in the turned copy has in the photo (y down: +90 degrees points down).
export const TURNS = [["ROTATE_90", Math.PI / 2], ["ROTATE_270", -Math.PI / 2], ["ROTATE_180", Math.PI]];
const WIDEN = 2;  // the second look for close-ups: the photo in a black canvas twice its longer side (its view
//                   shrunk to half the detector's input, in a black square of that input)

// Faces in the photo, in its full-resolution pixels, keypoints as the detector gives them.
export async function detectFaces(photo, detector, detailed = true) {
  const longer = Math.max(...photo.size);
  const [view, reduction, small] = firstView(photo);
  let faces = (await detector.detect(small)).map((f) => scaled(f, ratio(view, small, reduction)));
  const detail = DETAIL * DETECTOR_INPUT;
  if (detailed && longer >= detail
      && (!faces.length || Math.max(...faces.map((f) => f.box[2] - f.box[0])) < SMALL_FACE * longer)) {
    faces = keepWholeFaces(faces.concat(await detectSmall(photo, detector, detail)));
  }
  return faces;
}

// Faces found on the photo read at ``detail`` input pixels along its longer side, in its
// full-resolution pixels: shrunk from the first look's view when that is at least ``detail`` long
// (preprocessing 11), otherwise from the coarsest view at least twice that long.
async function detectSmall(photo, detector, detail) {
  const longer = Math.max(...photo.size);
  let [view, reduction] = photo.view(DETECT_SIDE / longer);
  if (Math.max(view.width, view.height) < detail) [view, reduction] = photo.view(2 * detail / longer);
  return (await detector.detect(view, detail)).map((f) => scaled(f, reduction));
}

// [view, reduction, small]: the first look's view of the photo and its copy shrunk to fit the
// detector's input, made once per photo (kept on it): the turned looks read that copy turned
// (preprocessing 13).
function firstView(photo) {
  const [view, reduction] = photo.view(DETECT_SIDE / Math.max(...photo.size));
  return [view, reduction, photo.kept(`detector's copy ${reduction}`, () => fitted(view))];
}

// [x, y]: the photo's full-resolution pixels one of ``copy``'s spans (``copy``: a resized copy of
// ``view``, a view shrunk by ``reduction``).
function ratio(view, copy, reduction) {
  return [reduction * view.width / copy.width, reduction * view.height / copy.height];
}

// Faces found on the photo turned by a quarter, three quarters and half a turn, in the photo's
// pixels: [[angle, faces]] with each turn's upright eye-line angle. Each turn is the detector's copy
// of the first look's view, turned.
export async function detectTurned(photo, detector) {
  const [view, reduction, small] = firstView(photo);
  const looks = [];
  for (const [turn, angle] of TURNS) {
    const found = await detector.detect(transposed(small, turn));
    looks.push([angle, found.map((f) => scaled(unturned(f, turn, [small.width, small.height]), ratio(view, small, reduction)))]);
  }
  return looks;
}

// Faces found on the photo set in a black canvas WIDEN times its longer side (close-ups): the view
// shrunk straight to 1 / WIDEN of the detector's input, in a black square of that input (preprocessing 13).
export async function detectWidened(photo, detector) {
  const [view, reduction] = photo.view(DETECT_SIDE / Math.max(...photo.size));
  const side = DETECTOR_INPUT, inner = Math.round(side / WIDEN);
  const shrunk = fitted(view, [inner, inner]);
  const x = Math.floor((side - shrunk.width) / 2), y = Math.floor((side - shrunk.height) / 2);
  const canvas = rgbImage(side, side);
  for (let row = 0; row < shrunk.height; row++) {
    canvas.data.set(shrunk.data.subarray(row * shrunk.width * 3, (row + 1) * shrunk.width * 3), ((row + y) * side + x) * 3);
  }
  return (await detector.detect(canvas)).map((f) => scaled(shifted(f, -x, -y), ratio(view, shrunk, reduction)));
}

// Pillow's transpose: ROTATE_90 turns the image a quarter turn counter-clockwise.
export function transposed(image, turn) {
  const { width: w, height: h, data } = image;
  const quarter = turn !== "ROTATE_180";
  const out = rgbImage(quarter ? h : w, quarter ? w : h);
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const [sx, sy] = turn === "ROTATE_90" ? [w - 1 - y, x] : turn === "ROTATE_270" ? [y, h - 1 - x] : [w - 1 - x, h - 1 - y];
      out.data.set(data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * out.width + x) * 3);
    }
  }
  return out;
}

// A face found in the image turned by ``turn`` (the image of ``size``), in the image's pixels.
export function unturned(face, turn, [width, height]) {
  const back = { ROTATE_90: ([x, y]) => [width - y, x], ROTATE_270: ([x, y]) => [y, height - x],
                 ROTATE_180: ([x, y]) => [width - x, height - y] }[turn];
  const corners = [back(face.box.slice(0, 2)), back(face.box.slice(2))];
  return makeFace([Math.min(corners[0][0], corners[1][0]), Math.min(corners[0][1], corners[1][1]),
                   Math.max(corners[0][0], corners[1][0]), Math.max(corners[0][1], corners[1][1])],
                  face.keypoints.map(back), face.score);
}

// Whether a face is where and how the look that found it says (locate.py's trusted()).
export function trusted(face, look, at = TRUSTED) {
  if (face.presence === null || face.presence === undefined) return true;
  const [r, l] = face.keypoints;
  const turn = Math.atan2(l[1] - r[1], l[0] - r[0]) - look;
  const wrapped = turn - 2 * Math.PI * Math.round(turn / (2 * Math.PI));
  return face.presence >= at && Math.abs(wrapped) <= UPRIGHT;
}

// Whether a face of the widened look counts (locate.py's counts_widened): trusted from WIDENED_TRUSTED,
// or from GIVE_UP when the mesh's eyes agree with the detector's within WIDENED_AGREEING.
export function countsWidened(face) {
  return trusted(face, 0, WIDENED_TRUSTED) || (trusted(face, 0, GIVE_UP) && eyeAgreement(face) < WIDENED_AGREEING);
}

// How far a refined face's eyes (the mesh's) lie from the detector's own: the farther eye's distance,
// in eye distances (locate.py's eye_agreement).
export function eyeAgreement(face) {
  const [r, l] = face.keypoints, [dr, dl] = face.detectedEyes;
  const farther = Math.max(Math.hypot(r[0] - dr[0], r[1] - dr[1]), Math.hypot(l[0] - dl[0], l[1] - dl[1]));
  return farther / Math.max(Math.hypot(l[0] - r[0], l[1] - r[1]), 1e-9);
}

// The usable faces, largest first, their eyes measured again (locate.py's find_faces), each one
// refined no further once two passes in a row read it below GIVE_UP: when no face of the upright
// look is trusted, the photo is looked at again turned, then widened; what those looks find counts
// only when trusted (the widened look's: countsWidened), and of two looks at one face one the mesh
// trusts wins, then the more present.
export async function findFaces(photo, stages) {
  const refineAll = async (faces, giveUp = null) => {
    const refined = [];
    for (const face of faces) refined.push(await stages.refine(photo, face, giveUp));
    return refined;
  };
  let faces = await refineAll(await stages.detect(photo), GIVE_UP);
  if (stages.looksAgain && !faces.some((f) => trusted(f, 0))) {
    let more = [];
    for (const [angle, found] of await stages.detectTurned(photo)) {
      more = more.concat((await refineAll(found, GIVE_UP)).filter((f) => trusted(f, angle)));
    }
    if (!more.length) {
      more = (await refineAll(await stages.detectWidened(photo), GIVE_UP)).filter(countsWidened);
    }
    // no upright face is trusted here: a second look's face the mesh trusts wins, else the more present
    const key = (f) => [more.includes(f) && f.presence >= TRUSTED ? 1 : 0, f.presence];
    faces = keepWholeFaces(faces.concat(more), 0.5, key);
  }
  return usableFaces(faces, stages.config.crop);
}

// Each face once: a detection covering more than half of a more confident one's box (or of its
// own) is dropped. Confidence is ``key`` (a number or an array compared in order; the score).
export function keepWholeFaces(faces, overlap = 0.5, key = (f) => [f.score]) {
  const kept = [];
  const order = (a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i] - ka[i];
    return 0;
  };
  for (const face of faces.slice().sort(order)) {
    if (kept.every((other) => shared(face, other) <= overlap)) kept.push(face);
  }
  return kept;
}

function shared(a, b) {
  const w = Math.min(a.box[2], b.box[2]) - Math.max(a.box[0], b.box[0]);
  const h = Math.min(a.box[3], b.box[3]) - Math.max(a.box[1], b.box[1]);
  return Math.max(0, w) * Math.max(0, h) / Math.max(Math.min(area(a), area(b)), 1e-9);
}

// The usable faces (eyes at least minEyeDistance apart), largest first.
export function usableFaces(faces, config) {
  return faces.filter((f) => Math.hypot(f.keypoints[1][0] - f.keypoints[0][0], f.keypoints[1][1] - f.keypoints[0][1])
                              >= config.min_eye_distance)
    .sort((a, b) => area(b) - area(a));
}

// A square ``scale`` times a face's box around its centre, levelled by its eyes.
export function regionOf(box, rightEye, leftEye, scale) {
  const [x0, y0, x1, y1] = box;
  return { centre: [(x0 + x1) / 2, (y0 + y1) / 2], side: scale * Math.max(x1 - x0, y1 - y0, 1),
           angle: Math.atan2(leftEye[1] - rightEye[1], leftEye[0] - rightEye[0]) };
}

// The region as size x size pixels, cut from the coarsest view holding it at detail * size.
export function regionPixels(photo, region, size, detail = 1) {
  const [view, reduction] = photo.view(detail * size / region.side);
  return cut(view, reduced(region, reduction), size);
}

function settled(a, b, within = MESH_SETTLED) {
  return Math.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]) < within * a.side
    && Math.abs(a.side - b.side) < within * a.side;
}

// The face mesh on the region around the detector's box, then again on the region its own
// landmarks give until that region settles; with ``mirrored``, the last region is read
// mirrored too and the eyes averaged (CropConfig.refine "mesh_mirrored").
export class MeshRefiner {
  constructor(mesh, mirrored = false) {
    this.mesh = mesh;
    this.mirrored = mirrored;
  }

  // With ``giveUp``, the passes also stop once two in a row read the presence below it (a second
  // look's face cannot count then).
  async refine(photo, face, giveUp = null) {
    let region = regionOf(face.box, face.keypoints[0], face.keypoints[1], MESH_ROI_SCALE);
    let looked, patch, eyes, presence, before = Infinity;
    for (let pass = 0; pass < MESH_PASSES; pass++) {
      patch = regionPixels(photo, region, MESH_INPUT, MESH_DETAIL);
      const look = await this.mesh.look(patch);
      presence = look.presence;
      const points = toImage(region, look.points);
      eyes = eyeCentres(points);
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      looked = region;
      region = regionOf([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], eyes[0], eyes[1],
                        MESH_ROI_SCALE);
      if (settled(looked, region) || (giveUp !== null && Math.max(before, presence) < giveUp)) break;
      before = presence;
    }
    if (this.mirrored) {
      const mirrored = await this.mirroredEyes(patch, looked);
      eyes = eyes.map((e, i) => [(e[0] + mirrored[i][0]) / 2, (e[1] + mirrored[i][1]) / 2]);
    }
    return makeFace(face.box, [eyes[0], eyes[1], ...face.keypoints.slice(2)], face.score, presence,
                    face.keypoints.slice(0, 2));
  }

  async mirroredEyes(patch, region) {
    const flipped = { ...patch, data: new Uint8ClampedArray(patch.data.length) };
    for (let y = 0; y < patch.height; y++) {
      for (let x = 0; x < patch.width; x++) {
        const i = (y * patch.width + x) * 3, o = (y * patch.width + patch.width - 1 - x) * 3;
        flipped.data.set(patch.data.subarray(i, i + 3), o);
      }
    }
    const points = (await this.mesh.landmarks(flipped)).map(([x, y]) => [1 - x, y]);
    return eyeCentres(toImage(region, points)).reverse();  // in the mirror, the right eye is the mesh's left
  }
}

export class NoRefiner {
  async refine(photo, face) {
    return face;
  }
}

// A face found in an image shrunk ``factor`` times (a number, or [x, y] factors), in the full image's pixels.
export function scaled(face, factor) {
  const [fx, fy] = typeof factor === "number" ? [factor, factor] : factor;
  return makeFace(face.box.map((v, i) => v * (i % 2 ? fy : fx)), face.keypoints.map(([x, y]) => [x * fx, y * fy]),
                  face.score);
}

export function shifted(face, dx, dy) {
  return makeFace([face.box[0] + dx, face.box[1] + dy, face.box[2] + dx, face.box[3] + dy],
                  face.keypoints.map(([x, y]) => [x + dx, y + dy]), face.score);
}
