// What a page needs from a .tflite flatbuffer besides running it: the output tensors' names and
// quantization (LiteRT.js does not report the latter), read with a minimal FlatBuffers reader.
// The schema's field numbers: github.com/google-ai-edge/LiteRT, tflite/converter/schema/schema.fbs.
const MODEL = { subgraphs: 2 };
const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3 };
const OPERATOR = { inputs: 1, outputs: 2 };
const TENSOR = { shape: 0, name: 3, quantization: 4, shapeSignature: 7 };
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
    setInt32At: (vec, i, value) => view.setInt32(vec.start + 4 * i, value, true),
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

// A copy of a .tflite file made for an input of [1, height, width, channels] instead of its own
// (LiteRT.js cannot resize an input, and sizes its buffers from the shapes the file declares):
// every tensor computed from the input (operators in order; not the weights, not what a DEQUANTIZE
// makes of them) is declared again, its two spatial dimensions (NHWC) scaled as the input's, or for
// a [1, anchors, values] tensor its anchors by the area. This holds for a network of convolutions,
// pooling, padding and reshapes to [1, -1, k] (BlazeFace): what the core's interpreter works out
// after resize_tensor_input (glasses_core/face_detect.py).
export function withInputSize(bytes, height, width) {
  const copy = bytes.slice();
  const fb = reader(copy);
  const graph = fb.tableAt(fb.vector(fb.root(), MODEL.subgraphs), 0);
  const tensors = fb.vector(graph, SUBGRAPH.tensors), operators = fb.vector(graph, SUBGRAPH.operators);
  const indices = (vec) => Array.from({ length: vec ? vec.length : 0 }, (_, i) => fb.int32At(vec, i));
  const first = fb.int32At(fb.vector(graph, SUBGRAPH.inputs), 0);
  const dims = fb.vector(fb.tableAt(tensors, first), TENSOR.shape);
  if (!dims || dims.length !== 4) throw new Error("the model's input is not one [1, height, width, channels] image");
  const [fy, fx] = [height / fb.int32At(dims, 1), width / fb.int32At(dims, 2)];
  const flow = new Set([first]);  // the tensors computed from the input (operators come in order)
  for (let i = 0; i < operators.length; i++) {
    const op = fb.tableAt(operators, i);
    if (indices(fb.vector(op, OPERATOR.inputs)).some((t) => flow.has(t))) {
      for (const t of indices(fb.vector(op, OPERATOR.outputs))) flow.add(t);
    }
  }
  const scaled = new Set();  // a shape vector two tensors share is scaled once
  for (const index of flow) {
    for (const field of [TENSOR.shape, TENSOR.shapeSignature]) {
      const shape = fb.vector(fb.tableAt(tensors, index), field);
      if (!shape || scaled.has(shape.start)) continue;
      scaled.add(shape.start);
      if (shape.length === 4) {
        fb.setInt32At(shape, 1, Math.round(fb.int32At(shape, 1) * fy));
        fb.setInt32At(shape, 2, Math.round(fb.int32At(shape, 2) * fx));
      } else if (shape.length === 3 && fb.int32At(shape, 1) > 0) {
        fb.setInt32At(shape, 1, Math.round(fb.int32At(shape, 1) * fy * fx));
      }
    }
  }
  return copy;
}
