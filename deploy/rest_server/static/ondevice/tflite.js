// What a page needs from a .tflite flatbuffer besides running it: the output tensor's
// quantization (LiteRT.js does not report it), read with a minimal FlatBuffers reader.
// The schema's field numbers: github.com/google-ai-edge/LiteRT, tflite/converter/schema/schema.fbs.
const MODEL = { subgraphs: 2 };
const SUBGRAPH = { tensors: 0, outputs: 2 };
const TENSOR = { quantization: 4 };
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
  };
}

// {scale, zeroPoint} of the first subgraph's first output, or null when it is not quantized.
export function outputQuantization(bytes) {
  const fb = reader(bytes);
  const graph = fb.tableAt(fb.vector(fb.root(), MODEL.subgraphs), 0);
  const tensor = fb.tableAt(fb.vector(graph, SUBGRAPH.tensors), fb.int32At(fb.vector(graph, SUBGRAPH.outputs), 0));
  const quantization = fb.table(tensor, TENSOR.quantization);
  const scale = quantization && fb.vector(quantization, QUANTIZATION.scale);
  const zero = quantization && fb.vector(quantization, QUANTIZATION.zeroPoint);
  if (!scale || !scale.length) return null;
  return { scale: fb.float32At(scale, 0), zeroPoint: zero && zero.length ? fb.int64At(zero, 0) : 0 };
}
