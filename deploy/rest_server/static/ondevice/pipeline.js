// The whole pipeline on the device: photo -> faces -> eyes -> crops -> answers, the same as
// glasses_core.GlassesClassifier.predict() (conformance/ checks it). The models are loaded once;
// ``stages`` are the functions a photo goes through, so that a test can swap one.
import { FaceDetector } from "./blazeface.js";
import { Classifier } from "./classify.js";
import { cropFace, cutGeometry, eyeGeometry, fallbackGeometry } from "./crop.js";
import { openPhoto, Photo } from "./decode.js";
import { FaceMesh } from "./facemesh.js";
import { compile, loadRuntime } from "./litert.js";
import { detectFaces, detectTurned, detectWidened, findFaces, MeshRefiner, NoRefiner } from "./locate.js";
import { outputQuantizations, withInputSize } from "./tflite.js";

// Where the server puts the files (deploy/rest_server/server.py, ``/ondevice/``).
export const FILES = {
  wasm: "/vendor/litertjs/core/wasm/",
  config: "/ondevice/model.json",
  classifier: "/ondevice/classifier.tflite",
  detector: "/ondevice/face_detection_short_range.tflite",
  mesh: "/ondevice/face_landmark.tflite",
};

async function fetched(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// Load LiteRT.js and the three models once: {config, stages, analyse(source), photo(source)}.
export async function loadPipeline(files = FILES) {
  const config = await (await fetched(files.config)).json();
  if (!["auto", "short"].includes(config.crop.detector)) {
    throw new Error(`crop.detector ${config.crop.detector}: the browser runs "auto" and "short"`);
  }
  if (!["mesh", "mesh_mirrored", "none"].includes(config.crop.refine)) {
    throw new Error(`crop.refine ${config.crop.refine}: the browser runs "mesh", "mesh_mirrored" and "none"`);
  }
  await loadRuntime(files.wasm);
  const [classifierBytes, detectorBytes] = await Promise.all(
    [files.classifier, files.detector].map(async (url) => new Uint8Array(await (await fetched(url)).arrayBuffer())));
  const [detector, mesh, classifier] = await Promise.all([compile(detectorBytes), compile(files.mesh),
                                                           compile(classifierBytes)]);
  const stages = defaultStages({
    config,
    detector: new FaceDetector(detector, config.crop.min_face_score,
                               (height, width) => compile(withInputSize(detectorBytes, height, width))),
    refiner: config.crop.refine === "none" ? new NoRefiner() : new MeshRefiner(new FaceMesh(mesh),
                                                                               config.crop.refine === "mesh_mirrored"),
    classifier: new Classifier(classifier, outputQuantizations(classifierBytes), config),
  });
  return { config, stages, analyse: (source, replaced = {}) => analyse(source, { ...stages, ...replaced }, false) };
}

// The stages, each a function of the previous one's output (and the photo).
export function defaultStages({ config, detector, refiner, classifier }) {
  return {
    config,
    looksAgain: refiner instanceof MeshRefiner,  // only the mesh measures presence
    detect: (photo) => detectFaces(photo, detector, config.crop.detector === "auto"),
    detectTurned: (photo) => detectTurned(photo, detector),
    detectWidened: (photo) => detectWidened(photo, detector),
    refine: (photo, face, giveUp = null) => refiner.refine(photo, face, giveUp),
    geometry: (face) => eyeGeometry(face.keypoints[0], face.keypoints[1], config.crop),
    fallback: (photo) => fallbackGeometry(photo.size[1], photo.size[0], config.crop),
    cut: (photo, geometry) => cutGeometry(photo, geometry, config.crop.size),
    classify: (pixels) => classifier.probabilities(pixels),  // {probability, dark_probability}
    answer: (probability) => classifier.answer(probability),
    kind: (probability, dark) => classifier.kind(probability, dark),
  };
}

export async function photoOf(source) {
  return source instanceof Photo ? source : openPhoto(source);
}

// Every stage's output for one photo, in conformance/stages.py's shape: the upright look's
// detections and their refined eyes and presence, the usable faces (findFaces: largest first; one
// fallback with box null when none) with their geometry, crop, probability and answer, and the
// photo's answer (glasses when any face has them). ``detail`` false: the faces only (the page).
export async function analyse(source, stages, detail = true) {
  const photo = await photoOf(source);
  const detections = detail ? await stages.detect(photo) : [];
  const refined = [];
  for (const face of detections) refined.push(await stages.refine(photo, face));
  const faces = await findFaces(photo, stages);
  const crops = (faces.length ? faces : [null]).map((face) => {
    const geometry = face === null ? stages.fallback(photo) : stages.geometry(face);
    return { face, geometry, pixels: stages.cut(photo, geometry) };
  });
  for (const crop of crops) {
    Object.assign(crop, await stages.classify(crop.pixels.data));
    crop.answer = stages.answer(crop.probability);
    crop.kind = stages.kind(crop.probability, crop.dark_probability);
  }
  const decider = crops.reduce((a, b) => (b.probability > a.probability ? b : a));
  const best = decider.probability;
  return {
    size: photo.size,
    detections: detections.map((f) => ({ box: f.box, score: f.score, keypoints: f.keypoints })),
    refined: refined.map((f) => [f.keypoints[0], f.keypoints[1]]),
    presence: refined.map((f) => f.presence),
    faces: crops.map(({ face, geometry, pixels, probability, answer, kind, dark_probability }) => ({
      box: face && face.box, score: face && face.score, presence: face && face.presence, right_eye: face && face.keypoints[0],
      left_eye: face && face.keypoints[1], geometry, crop: pixels, probability, answer, kind, dark_probability })),
    face_found: faces.length > 0,
    answer: stages.answer(best),
    probability: best,
    kind: decider.kind,
  };
}

// Each stage fed the vectors' own input (conformance/stages.py's run_stages): the refiner their
// detections, the geometry their eyes, the cut their geometry, the classifier their crops.
export async function stageByStage(source, expected, stages) {
  const photo = await photoOf(source);
  const detections = await stages.detect(photo);
  const refined = [], presence = [];
  for (const d of expected.detections) {
    const face = await stages.refine(photo, { box: d.box, score: d.score, keypoints: d.keypoints, presence: null });
    refined.push([face.keypoints[0], face.keypoints[1]]);
    presence.push(face.presence);
  }
  const probabilities = [], darks = [];
  for (const f of expected.faces) {
    const { probability, dark_probability } = await stages.classify(f.crop);
    probabilities.push(probability);
    darks.push(dark_probability);
  }
  return {
    detections: detections.map((f) => ({ box: f.box, score: f.score })),
    refined,
    presence,
    geometry: expected.faces.map((f) => (f.right_eye === null ? stages.fallback(photo)
      : stages.geometry({ keypoints: [f.right_eye, f.left_eye] }))),
    crops: expected.faces.map((f) => stages.cut(photo, f.geometry)),
    probabilities,
    dark_probabilities: darks,
  };
}

export { cropFace };
