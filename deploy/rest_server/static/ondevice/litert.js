// LiteRT.js (@litertjs/core, served from the server's own files): loaded once, on the CPU
// (WebAssembly, one thread), every tensor freed as soon as its numbers are copied out.
import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";

let runtime = null;

export function loadRuntime(wasmUrl) {
  runtime ??= loadLiteRt(wasmUrl);
  return runtime;
}

export async function compile(url) {
  const model = await loadAndCompile(url, { accelerator: "wasm" });
  return { model, inputs: model.getInputDetails(), outputs: model.getOutputDetails() };
}

// The model's outputs for one input (a typed array of the input's shape), as
// [{data, shape}] in the model's order, copied into JS memory; no tensor is left behind.
export async function run({ model, inputs }, data) {
  const input = new Tensor(data, Array.from(inputs[0].shape, (d) => (d < 0 ? 1 : d)));  // one photo or crop at a time
  let outputs = [];
  try {
    outputs = await model.run(input);
    return outputs.map((t) => ({ data: t.toTypedArray().slice(), shape: Array.from(t.type.layout.dimensions) }));
  } finally {
    input.delete();
    for (const t of outputs) t.delete();
  }
}
