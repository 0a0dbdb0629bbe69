// The classifier on one 64 x 64 crop: raw RGB 0-255 in (the scaling is inside the model),
// P(glasses) out and, from a model that says which glasses, P(dark | glasses); each output found
// by its name and dequantized with its own parameters from the file.
import { run } from "./litert.js";

const GLASSES = "probability", DARK = "dark_probability";  // glasses_core/tflite_metadata.py

export class Classifier {
  constructor(compiled, quantizations, config) {
    this.compiled = compiled;
    this.config = config;
    const names = compiled.outputs.map((o) => o.name);
    this.glassesAt = Math.max(0, names.indexOf(GLASSES));  // a one-output file may name it otherwise
    this.darkAt = config.kinds && config.kinds.length ? names.indexOf(DARK) : -1;
    const quantization = (at) => (at < 0 ? null : quantizations[names[at]] ?? Object.values(quantizations)[at] ?? null);
    this.quantization = [quantization(this.glassesAt), quantization(this.darkAt)];
  }

  get kinds() {
    return this.darkAt < 0 ? [] : this.config.kinds;
  }

  // {probability, dark_probability} of one crop; dark_probability null without a second answer.
  async probabilities(pixels) {
    const dtype = this.compiled.inputs[0].dtype;
    const input = dtype === "uint8" ? Uint8Array.from(pixels) : Float32Array.from(pixels);
    const outputs = await run(this.compiled, input);
    const read = (at, q) => (q ? (outputs[at].data[0] - q.zeroPoint) * q.scale : outputs[at].data[0]);
    return { probability: read(this.glassesAt, this.quantization[0]),
             dark_probability: this.darkAt < 0 ? null : read(this.darkAt, this.quantization[1]) };
  }

  answer(probability) {
    return probability >= this.config.threshold ? this.config.labels[1] : this.config.labels[0];
  }

  // Which glasses (as GlassesClassifier.kind): null without glasses or without a second answer.
  kind(probability, dark) {
    if (dark === null || probability < this.config.threshold || !this.kinds.length) return null;
    return dark >= this.config.kind_threshold ? this.kinds[1] : this.kinds[0];
  }
}
