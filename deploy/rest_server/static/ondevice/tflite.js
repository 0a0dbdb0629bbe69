// What a page needs from a .tflite flatbuffer besides running it: the output tensors' names and
// quantization (LiteRT.js does not report the latter), read with a minimal FlatBuffers reader.
// The schema's field numbers: github.com/google-ai-edge/LiteRT, tflite/converter/schema/schema.fbs.
const MODEL = { subgraphs: 2 };
const SUBGRAPH = { tensors: 0, outputs: 2 };
const TENSOR = { name: 3, quantization: 4 };
const QUANTIZATION = { scale: 2, zeroPoint: 3 };

function reader(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (table, index) => {
    const vtable = table - view.getInt32(table, true);
    const offset = 4 + 2 * index;
    return offset < view.getUint16(vtable, true) ? view.getUint16(vtable + offset, true) : 0;
  };
  const indirect = (at) => at + view.getUint32(at, true);
  const vector = (table, index) => {
    const at = field(table, index);
    if (!at) return null;
    const start = indirect(table + at);
    return { length: view.getUint32(start, true), start: start + 4 };
  };
  return {
    root: () => indirect(0),
    table: (table, index) => { const at = field(table, index); return at ? indirect(table + at) : null; },
    tableAt: (vec, i) => indirect(vec.start + 4 * i),
    vector,
    int32At: (vec, i) => view.getInt32(vec.start + 4 * i, true),
    float32At: (vec, i) => view.getFloat32(vec.start + 4 * i, true),
    int64At: (vec, i) => Number(view.getBigInt64(vec.start + 8 * i, true)),
    string: (table, index) => {
      const vec = vector(table, index);
      return vec ? new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + vec.start, vec.length)) : "";
    },
  };
}

// For each output of the first subgraph, by its tensor's name (the file names its outputs
// "probability" and "dark_probability", glasses_core/tflite_metadata.py): {scale, zeroPoint},
// or null when it is not quantized.
export function outputQuantizations(bytes) {
  const fb = reader(bytes);
  const graph = fb.tableAt(fb.vector(fb.root(), MODEL.subgraphs), 0);
  const outputs = fb.vector(graph, SUBGRAPH.outputs);
  const found = {};
  for (let i = 0; i < outputs.length; i++) {
    const tensor = fb.tableAt(fb.vector(graph, SUBGRAPH.tensors), fb.int32At(outputs, i));
    const quantization = fb.table(tensor, TENSOR.quantization);
    const scale = quantization && fb.vector(quantization, QUANTIZATION.scale);
    const zero = quantization && fb.vector(quantization, QUANTIZATION.zeroPoint);
    found[fb.string(tensor, TENSOR.name)] = scale && scale.length
      ? { scale: fb.float32At(scale, 0), zeroPoint: zero && zero.length ? fb.int64At(zero, 0) : 0 } : null;
  }
  return found;
}
