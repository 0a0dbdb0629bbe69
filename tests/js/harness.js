// Run in the page by tests/test_ondevice.py (Selenium's executeAsyncScript): the on-device
// pipeline on photos sent as base64, its results sent back as JSON (crops as base64 RGB).
// ``arguments``: [command, payload, done].
const [command, payload, done] = arguments;
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const b64 = (data) => {
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(text);
};
const plain = (result) => JSON.parse(JSON.stringify(result, (key, value) =>
  (value && value.data instanceof Uint8ClampedArray ? { rgb: b64(value.data), width: value.width } : value)));

// Deliberately broken stages: each port differs from the pipeline in one way.
function broken(stages, name, crop) {
  if (name === "swap_eyes") {
    return { refine: async (photo, face) => {
      const f = await stages.refine(photo, face);
      return { ...f, keypoints: [f.keypoints[1], f.keypoints[0], ...f.keypoints.slice(2)] };
    } };
  }
  if (name === "no_levelling") return { geometry: (face) => ({ ...stages.geometry(face), angle: 0 }) };
  if (name === "pixels_255") return { classify: (pixels) => stages.classify(Uint8Array.from(pixels, (v) => v / 255)) };
  if (name === "black_outside") {  // preprocessing 8's crop: black where it leaves the photo
    return { cut: (photo, geometry) => crop.cutGeometry(photo, geometry, window.pipeline.config.crop.size, "black") };
  }
  return {};
}

(async () => {
  const module = await import("/static/ondevice/pipeline.js");
  window.pipeline ??= await module.loadPipeline();
  const crop = await import("/static/ondevice/crop.js");
  const stages = { ...window.pipeline.stages, ...broken(window.pipeline.stages, payload.port, crop) };
  if (command === "load") return { config: window.pipeline.config };
  if (command === "analyse") {
    return plain(await module.analyse(new Blob([bytes(payload.photo)]), stages));
  }
  if (command === "stages") {
    const expected = { ...payload.expected, faces: payload.expected.faces.map((f) => ({ ...f, crop: bytes(f.crop) })) };
    return plain(await module.stageByStage(new Blob([bytes(payload.photo)]), expected, stages));
  }
  if (command === "bench") {  // median ms of the whole pipeline on one encoded photo, after warm-up runs
    const blob = new Blob([bytes(payload.photo)], { type: "image/jpeg" });
    const times = [];
    for (let i = 0; i < payload.warmup + payload.runs; i++) {
      const started = performance.now();
      await module.analyse(blob, stages, false);  // what the page runs
      if (i >= payload.warmup) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  }
  if (command === "tensors") {  // every tensor a model run sees or makes, deleted once the photo is done?
    const { CompiledModel } = await import("@litertjs/core");
    const seen = [];
    const real = CompiledModel.prototype.run;
    CompiledModel.prototype.run = async function (...args) {
      const outputs = await real.apply(this, args);
      seen.push(...args.filter((a) => a && typeof a.delete === "function"), ...outputs);
      return outputs;
    };
    try {
      await module.analyse(new Blob([bytes(payload.photo)]), stages);
    } finally {
      CompiledModel.prototype.run = real;
    }
    return { tensors: seen.length, alive: seen.filter((t) => !t.deleted).length };
  }
  if (command === "mesh_looks") {  // the presence each face-mesh look reads while the page analyses the photo
    const { FaceMesh } = await import("/static/ondevice/facemesh.js");
    const presences = [];
    const real = FaceMesh.prototype.look;
    FaceMesh.prototype.look = async function (patch) {
      const out = await real.call(this, patch);
      presences.push(out.presence);
      return out;
    };
    try {
      const result = await module.analyse(new Blob([bytes(payload.photo)]), stages, false);  // as the page does
      return { presences, face_found: result.face_found };
    } finally {
      FaceMesh.prototype.look = real;
    }
  }
  if (command === "detector_inputs") {  // [width, height, longSide] of every image BlazeFace reads for the photo
    const { FaceDetector } = await import("/static/ondevice/blazeface.js");
    const inputs = [];
    const real = FaceDetector.prototype.detect;
    FaceDetector.prototype.detect = async function (image, longSide = null) {
      inputs.push([image.width, image.height, longSide]);
      return real.call(this, image, longSide);
    };
    try {
      await module.analyse(new Blob([bytes(payload.photo)]), stages, false);
      return inputs;
    } finally {
      FaceDetector.prototype.detect = real;
    }
  }
  if (command === "compile") {  // a model given as bytes, run once on zeros: each output by its name
    const { compile, run } = await import("/static/ondevice/litert.js");
    const compiled = await compile(bytes(payload.model));
    const outputs = await run(compiled, new Uint8Array(64 * 64 * 3));
    return Object.fromEntries(compiled.outputs.map((o, i) => [o.name, Array.from(outputs[i].data)]));
  }
  throw new Error(`unknown command ${command}`);
})().then(done, (err) => done({ error: String(err && err.stack || err) }));
