// Where the faces are (glasses_core/locate.py): BlazeFace on a small copy of the photo, on tiles
// when it finds no face or only small ones, then each face's eyes measured again by the face
// mesh on its own region until that region settles. The phases and their names follow locate.py.
import { area, makeFace } from "./blazeface.js";
import { eyeCentres, INPUT_SIZE as MESH_INPUT, ROI_SCALE as MESH_ROI_SCALE } from "./facemesh.js";
import { cut, reduced, toImage } from "./geometry.js";
import { cropRect } from "./image.js";

export const DETECT_SIDE = 256;
export const MESH_PASSES = 4;
export const MESH_DETAIL = 0.5;
export const MESH_SETTLED = 0.02;
const SMALL_FACE = 0.15;
const TILES = 3;
const MIN_TILE = 128;

// Faces in the photo, in its full-resolution pixels, keypoints as the detector gives them.
export async function detectFaces(photo, detector, tiled = true) {
  const longer = Math.max(...photo.size);
  const [view, reduction] = photo.view(DETECT_SIDE / longer);
  let faces = (await detector.detect(view)).map((f) => scaled(f, reduction));
  if (tiled && longer / TILES >= MIN_TILE
      && (!faces.length || Math.max(...faces.map((f) => f.box[2] - f.box[0])) < SMALL_FACE * longer)) {
    faces = keepWholeFaces(faces.concat(await detectInTiles(photo, detector)));
  }
  return faces;
}

async function detectInTiles(photo, detector) {
  const side = Math.max(...photo.size) / TILES;
  const [view, reduction] = photo.view(2 * 128 / side);
  const tile = Math.round(side / reduction);
  const faces = [];
  for (const y of starts(view.height, tile)) {
    for (const x of starts(view.width, tile)) {
      const piece = cropRect(view, x, y, Math.min(x + tile, view.width), Math.min(y + tile, view.height));
      for (const face of await detector.detect(piece)) faces.push(scaled(shifted(face, x, y), reduction));
    }
  }
  return faces;
}

// Tile origins along one side: overlapping by about a third, the last one flush.
export function starts(length, tile) {
  if (length <= tile) return [0];
  const count = Math.ceil((length - tile) / (tile * 2 / 3)) + 1;
  return Array.from({ length: count }, (_, i) => Math.round(i * (length - tile) / (count - 1)));
}

// Each face once: a detection covering more than half of a more confident one's box (or of its
// own) is dropped.
export function keepWholeFaces(faces, overlap = 0.5) {
  const kept = [];
  for (const face of faces.slice().sort((a, b) => b.score - a.score)) {
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

  async refine(photo, face) {
    let region = regionOf(face.box, face.keypoints[0], face.keypoints[1], MESH_ROI_SCALE);
    let looked, patch, eyes;
    for (let pass = 0; pass < MESH_PASSES; pass++) {
      patch = regionPixels(photo, region, MESH_INPUT, MESH_DETAIL);
      const points = toImage(region, await this.mesh.landmarks(patch));
      eyes = eyeCentres(points);
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      looked = region;
      region = regionOf([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], eyes[0], eyes[1],
                        MESH_ROI_SCALE);
      if (settled(looked, region)) break;
    }
    if (this.mirrored) {
      const mirrored = await this.mirroredEyes(patch, looked);
      eyes = eyes.map((e, i) => [(e[0] + mirrored[i][0]) / 2, (e[1] + mirrored[i][1]) / 2]);
    }
    return makeFace(face.box, [eyes[0], eyes[1], ...face.keypoints.slice(2)], face.score);
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

export function scaled(face, factor) {
  return makeFace(face.box.map((v) => v * factor), face.keypoints.map(([x, y]) => [x * factor, y * factor]), face.score);
}

export function shifted(face, dx, dy) {
  return makeFace([face.box[0] + dx, face.box[1] + dy, face.box[2] + dx, face.box[3] + dy],
                  face.keypoints.map(([x, y]) => [x + dx, y + dy]), face.score);
}
