// The classifier on one 64 x 64 crop: raw RGB 0-255 in (the scaling is inside the model),
// P(glasses) out, dequantized with the file's own output parameters.
import { run } from "./litert.js";

export class Classifier {
  constructor(compiled, quantization, config) {
    this.compiled = compiled;
    this.quantization = quantization;  // {scale, zeroPoint} or null (a float model)
    this.config = config;
  }

  async probability(pixels) {
    const dtype = this.compiled.inputs[0].dtype;
    const input = dtype === "uint8" ? Uint8Array.from(pixels) : Float32Array.from(pixels);
    const [out] = await run(this.compiled, input);
    const q = this.quantization;
    return q ? (out.data[0] - q.zeroPoint) * q.scale : out.data[0];
  }

  answer(probability) {
    return probability >= this.config.threshold ? this.config.labels[1] : this.config.labels[0];
  }
}
