"""A numpy executor for our Core ML exports, so that their answers can be checked on Linux.

Core ML itself only runs on Apple platforms. This reads the saved spec — the layers of an
``.mlmodel`` (neural network) or the MIL program of an ``.mlpackage`` (ML program, weights in
``weights/weight.bin``) — and runs it on crops. It covers the operations our architecture
converts to and raises ``UnsupportedOpError`` naming any other, so that a new layer type
cannot slip through unchecked. Everything the device would use is read from the spec: the
image input's size, colour order and scale/bias, every weight, the order of the layers and
the class labels.

    run_mlmodel("models/glasses.mlmodel", crops)      # -> P(glass), (N,)
    run_mlpackage("models/glasses.mlpackage", crops)  # float16 tensors stay float16
    run_coreml(path, crops, output="dark_probability")  # a model's other output, (N,)
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from coremltools.proto import FeatureTypes_pb2, MIL_pb2, Model_pb2, NeuralNetwork_pb2
from google.protobuf.message import DecodeError

from glasses_core.errors import GlassesError

BATCH = 100  # crops run at once: bounds the memory of the first layers' activations


class CoreMLSpecError(GlassesError):
    """A Core ML file that the executor cannot read or run as our classifier."""


class UnsupportedOpError(CoreMLSpecError):
    """The spec uses an operation the executor does not implement."""


def run_mlmodel(path: str | Path, crops: np.ndarray, positive: str = "glass", output: str | None = None) -> np.ndarray:
    """P(``positive``) for uint8 RGB crops (N, H, W, 3) from a neural-network ``.mlmodel``; with
    ``output``, that other output of the model instead (one value a crop)."""
    path = Path(path)
    spec = load_spec(path)
    if spec.WhichOneof("Type") != "neuralNetworkClassifier":
        raise CoreMLSpecError(f"{path}: expected a neural network classifier, got {spec.WhichOneof('Type')}")
    network = NeuralNetworkRunner(spec, path)
    return _answer(network, spec, crops, positive, output, path)


def run_mlpackage(path: str | Path, crops: np.ndarray, positive: str = "glass", output: str | None = None) -> np.ndarray:
    """P(``positive``) for uint8 RGB crops (N, H, W, 3) from an ML program ``.mlpackage``; with
    ``output``, that other output of the model instead (one value a crop)."""
    path = Path(path)
    spec = load_spec(path)
    if spec.WhichOneof("Type") != "mlProgram":
        raise CoreMLSpecError(f"{path}: expected an ML program, got {spec.WhichOneof('Type')}")
    program = ProgramRunner(spec, path / "Data" / _root_item(path).parent, path)
    return _answer(program, spec, crops, positive, output, path)


def run_coreml(path: str | Path, crops: np.ndarray, positive: str = "glass", output: str | None = None) -> np.ndarray:
    """``run_mlpackage`` or ``run_mlmodel``, by the file's suffix."""
    runners = {".mlpackage": run_mlpackage, ".mlmodel": run_mlmodel}
    path = Path(path)
    if path.suffix not in runners:
        raise CoreMLSpecError(f"{path}: not a Core ML file (expected one of {sorted(runners)})")
    return runners[path.suffix](path, crops, positive, output)


def output_names(path: str | Path) -> list[str]:
    """The names of a Core ML file's outputs."""
    return [o.name for o in load_spec(path).description.output]


def _answer(runner, spec, crops, positive: str, output: str | None, path: Path) -> np.ndarray:
    named_input = _image_tensor(spec, crops, path)
    if output is None:
        return _positive(_batched(runner.run, named_input), runner.labels, positive, path)
    if output not in [o.name for o in spec.description.output]:
        raise CoreMLSpecError(f"{path}: no output named {output!r}")
    return _batched(lambda name, pixels: runner.run(name, pixels, output), named_input).reshape(-1).astype(np.float32)


def precision(path: str | Path) -> str:
    """"float16" when the model computes in float16 (ML program) or stores float16 weights
    (neural network), else "float32"."""
    spec = load_spec(path)
    if spec.WhichOneof("Type") == "mlProgram":
        function = spec.mlProgram.functions["main"]
        operations = function.block_specializations[function.opset].operations
        return "float16" if any(o.type.tensorType.dataType == MIL_pb2.FLOAT16
                                for op in operations for o in op.outputs) else "float32"
    layers = getattr(spec, spec.WhichOneof("Type")).layers
    weights = [value for layer in layers for _, value in getattr(layer, layer.WhichOneof("layer")).ListFields()
               if isinstance(value, NeuralNetwork_pb2.WeightParams)]
    return "float16" if any(w.float16Value for w in weights) else "float32"


def load_spec(path: str | Path) -> Model_pb2.Model:
    """The protobuf spec of an ``.mlmodel`` file or of the root model of an ``.mlpackage``."""
    path = Path(path)
    spec_file = path / "Data" / _root_item(path) if path.suffix == ".mlpackage" else path
    spec = Model_pb2.Model()
    try:
        spec.ParseFromString(spec_file.read_bytes())
    except FileNotFoundError:
        raise CoreMLSpecError(f"{spec_file}: not found") from None
    except DecodeError as err:
        raise CoreMLSpecError(f"{spec_file}: not a Core ML spec ({err})") from err
    return spec


def save_spec(spec: Model_pb2.Model, path: str | Path) -> None:
    """Write ``spec`` back into an ``.mlmodel`` file or an ``.mlpackage`` (weights untouched)."""
    path = Path(path)
    target = path / "Data" / _root_item(path) if path.suffix == ".mlpackage" else path
    target.write_bytes(spec.SerializeToString())


def _root_item(package: Path) -> Path:
    """The root model's path inside the package's Data folder, from Manifest.json."""
    try:
        manifest = json.loads((package / "Manifest.json").read_text())
        return Path(manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]["path"])
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as err:
        raise CoreMLSpecError(f"{package}: not an .mlpackage with a readable Manifest.json ({err!r})") from err


def _image_tensor(spec: Model_pb2.Model, crops: np.ndarray, path: Path) -> tuple[str, np.ndarray]:
    """(input name, crops as float32 N x C x H x W in the channel order the spec asks for)."""
    inputs = spec.description.input
    if len(inputs) != 1 or inputs[0].type.WhichOneof("Type") != "imageType":
        raise CoreMLSpecError(f"{path}: expected one image input, got {[i.name for i in inputs]}")
    image = inputs[0].type.imageType
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (image.height, image.width, 3) or crops.dtype != np.uint8:
        raise ValueError(f"crops must be uint8 (N, {image.height}, {image.width}, 3), "
                         f"got {crops.dtype} {crops.shape}")
    space = FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)
    orders = {"RGB": [0, 1, 2], "BGR": [2, 1, 0]}
    if space not in orders:
        raise CoreMLSpecError(f"{path}: image input {inputs[0].name!r} is {space}, expected RGB or BGR")
    pixels = crops[..., orders[space]].transpose(0, 3, 1, 2).astype(np.float32)
    return inputs[0].name, pixels


def _batched(run, named_input: tuple[str, np.ndarray]) -> np.ndarray:
    name, pixels = named_input
    return np.concatenate([run(name, pixels[i:i + BATCH]) for i in range(0, len(pixels), BATCH)])


def _positive(probabilities: np.ndarray, labels: list[str], positive: str, path: Path) -> np.ndarray:
    """The column of the ``positive`` class: swapped labels give the other column."""
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise CoreMLSpecError(f"{path}: probabilities of shape {probabilities.shape[1:]} "
                              f"for {len(labels)} class labels {labels}")
    if positive not in labels:
        raise CoreMLSpecError(f"{path}: class labels {labels} do not include {positive!r}")
    return probabilities[:, labels.index(positive)].astype(np.float32)


# ---------------------------------------------------------------- numpy kernels (NCHW)

def conv2d(x, weight, bias, strides, pads, dilations, groups: int) -> np.ndarray:
    """Grouped 2-D convolution. ``pads``: ((top, bottom), (left, right)); weight (O, C/groups, kh, kw)."""
    x = np.pad(x, ((0, 0), (0, 0), tuple(pads[0]), tuple(pads[1])))
    n, channels, height, width = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    if group_channels * groups != channels or out_channels % groups:
        raise CoreMLSpecError(f"conv: weight {weight.shape} with {groups} groups does not fit "
                              f"{channels} input channels")
    (sh, sw), (dh, dw) = strides, dilations
    ho, wo = (height - (kh - 1) * dh - 1) // sh + 1, (width - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, out_channels, ho, wo), np.float32)
    depthwise = group_channels == 1 and out_channels == groups
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
            if depthwise:
                out += patch * weight[:, 0, i, j][None, :, None, None]
                continue
            for g in range(groups):
                ins = slice(g * group_channels, (g + 1) * group_channels)
                outs = slice(g * out_channels // groups, (g + 1) * out_channels // groups)
                out[:, outs] += np.einsum("nchw,oc->nohw", patch[:, ins], weight[outs, :, i, j], optimize=True)
    if bias is not None:
        out += np.asarray(bias, np.float32).reshape(1, -1, 1, 1)
    return out


def same_padding(size: int, kernel: int, stride: int, dilation: int, heavy_end: bool = True) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis; the odd pixel goes at the end unless ``heavy_end`` is False."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    small = total // 2
    return (small, total - small) if heavy_end else (total - small, small)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- neural network (.mlmodel)

class NeuralNetworkRunner:
    """Runs the layers of a ``neuralNetworkClassifier`` spec, in the order they are listed."""

    def __init__(self, spec: Model_pb2.Model, path: Path):
        self.path = path
        self.network = spec.neuralNetworkClassifier
        if self.network.WhichOneof("ClassLabels") != "stringClassLabels":
            raise CoreMLSpecError(f"{path}: expected string class labels")
        self.labels = list(self.network.stringClassLabels.vector)
        rank4 = NeuralNetwork_pb2.NeuralNetworkImageShapeMapping.Value("RANK4_IMAGE_MAPPING")
        if self.network.imageInputShapeMapping != rank4:
            raise UnsupportedOpError(f"{path}: only the rank-4 image shape mapping is implemented")
        self.probabilities = self.network.labelProbabilityLayerName or self.network.layers[-1].output[0]
        self.bgr = spec.description.input[0].type.imageType.colorSpace == FeatureTypes_pb2.ImageFeatureType.BGR

    def run(self, input_name: str, pixels: np.ndarray, output: str | None = None) -> np.ndarray:
        """The label probabilities (N, labels), or the blob named ``output`` (N, -1)."""
        blobs = {input_name: self._preprocess(input_name, pixels)}
        for layer in self.network.layers:
            kind = layer.WhichOneof("layer")
            if kind not in NN_LAYERS:
                raise UnsupportedOpError(f"{self.path}: layer {layer.name!r} is a {kind!r} layer, "
                                         f"which the numpy executor does not implement")
            missing = [name for name in layer.input if name not in blobs]
            if missing:
                raise CoreMLSpecError(f"{self.path}: layer {layer.name!r} reads {missing} "
                                      f"before any earlier layer writes it")
            try:
                outputs = NN_LAYERS[kind](getattr(layer, kind), [blobs[n] for n in layer.input])
            except UnsupportedOpError as err:
                raise UnsupportedOpError(f"{self.path}: layer {layer.name!r}: {err}") from err
            except (ValueError, IndexError) as err:
                raise CoreMLSpecError(f"{self.path}: layer {layer.name!r} ({kind}) failed: {err}") from err
            blobs.update(zip(layer.output, outputs))
        return blobs[output or self.probabilities].reshape(len(pixels), -1)

    def _preprocess(self, input_name: str, pixels: np.ndarray) -> np.ndarray:
        steps = [p for p in self.network.preprocessing if p.featureName in ("", input_name)]
        if not steps:
            return pixels
        if len(steps) > 1 or steps[0].WhichOneof("preprocessor") != "scaler":
            raise UnsupportedOpError(f"{self.path}: only one image scaler preprocessing step is implemented")
        scaler = steps[0].scaler
        bias = np.array([scaler.redBias, scaler.greenBias, scaler.blueBias], np.float32)
        if self.bgr:
            bias = bias[::-1]  # the biases are per colour, the tensor's channels in BGR order
        return pixels * np.float32(scaler.channelScale or 1.0) + bias.reshape(1, 3, 1, 1)


def _nn_weights(params: NeuralNetwork_pb2.WeightParams, shape) -> np.ndarray:
    if params.HasField("quantization") or params.rawValue or params.int8RawValue:
        raise UnsupportedOpError("quantized or raw neural-network weights are not implemented")
    values = (np.frombuffer(params.float16Value, np.float16) if params.float16Value
              else np.asarray(params.floatValue, np.float32))
    return values.astype(np.float32).reshape(shape)


def _nn_convolution(p, inputs):
    if p.isDeconvolution:
        raise UnsupportedOpError("convolution layer: deconvolution is not implemented")
    x = inputs[0]
    kh, kw = p.kernelSize or (3, 3)
    strides, dilations = tuple(p.stride or (1, 1)), tuple(p.dilationFactor or (1, 1))
    weight = _nn_weights(p.weights, (p.outputChannels, p.kernelChannels, kh, kw))
    bias = _nn_weights(p.bias, (p.outputChannels,)) if p.hasBias else None
    if p.WhichOneof("ConvolutionPaddingType") == "same":
        heavy_end = p.same.asymmetryMode == NeuralNetwork_pb2.SamePadding.BOTTOM_RIGHT_HEAVY
        pads = [same_padding(x.shape[2 + a], (kh, kw)[a], strides[a], dilations[a], heavy_end) for a in (0, 1)]
    else:
        borders = p.valid.paddingAmounts.borderAmounts
        pads = [(b.startEdgeSize, b.endEdgeSize) for b in borders] or [(0, 0), (0, 0)]
    return [conv2d(x, weight, bias, strides, pads, dilations, p.nGroups or 1)]


def _nn_activation(p, inputs):
    kind = p.WhichOneof("NonlinearityType")
    x = inputs[0]
    if kind == "ReLU":
        return [np.maximum(x, 0)]
    if kind == "sigmoid":
        return [sigmoid(x)]
    if kind == "linear":
        return [p.linear.alpha * x + p.linear.beta]
    raise UnsupportedOpError(f"activation {kind!r} is not implemented")


def _nn_multiply(p, inputs):
    return [inputs[0] * p.alpha] if len(inputs) == 1 else [math.prod(inputs[1:], start=inputs[0])]


def _nn_add(p, inputs):
    return [inputs[0] + p.alpha] if len(inputs) == 1 else [sum(inputs[1:], start=inputs[0])]


def _nn_reduce_mean(p, inputs):
    axes = None if p.reduceAll else tuple(p.axes)
    return [inputs[0].mean(axis=axes, keepdims=p.keepDims)]


def _nn_batched_matmul(p, inputs):
    if len(inputs) == 2:
        a, b = inputs
        a = np.swapaxes(a, -1, -2) if p.transposeA else a
        return [np.matmul(a, np.swapaxes(b, -1, -2) if p.transposeB else b)]
    if p.transposeA or p.transposeB:
        raise UnsupportedOpError("batchedMatmul with weights and a transpose is not implemented")
    # Stored transposed, (columns, rows): see coremltools' NeuralNetworkBuilder.add_batched_mat_mul.
    weight = _nn_weights(p.weights, (p.weightMatrixSecondDimension, p.weightMatrixFirstDimension)).T
    out = inputs[0] @ weight
    return [out + _nn_weights(p.bias, (p.weightMatrixSecondDimension,)) if p.hasBias else out]


def _nn_inner_product(p, inputs):
    if p.int8DynamicQuantize:
        raise UnsupportedOpError("innerProduct with int8 dynamic quantization is not implemented")
    weight = _nn_weights(p.weights, (p.outputChannels, p.inputChannels))
    out = inputs[0] @ weight.T
    return [out + _nn_weights(p.bias, (p.outputChannels,)) if p.hasBias else out]


def _nn_load_constant(p, inputs):
    return [_nn_weights(p.data, tuple(p.shape))]


def _nn_concat(p, inputs):
    if p.interleave:
        raise UnsupportedOpError("concatND with interleave is not implemented")
    return [np.concatenate(inputs, axis=p.axis)]


NN_LAYERS = {
    "convolution": _nn_convolution,
    "activation": _nn_activation,
    "multiply": _nn_multiply,
    "add": _nn_add,
    "transpose": lambda p, inputs: [inputs[0].transpose(tuple(p.axes))],
    "reduceMean": _nn_reduce_mean,
    "batchedMatmul": _nn_batched_matmul,
    "innerProduct": _nn_inner_product,
    "loadConstantND": _nn_load_constant,
    "concatND": _nn_concat,
}


# ---------------------------------------------------------------- ML program (.mlpackage)

_DTYPES = {"FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64, "INT32": np.int32,
           "INT64": np.int64, "BOOL": np.bool_}
_CAST_NAMES = {"fp16": np.float16, "fp32": np.float32, "int32": np.int32, "bool": np.bool_}
# weight.bin's per-blob data types (MILBlob's BlobDataType), the ones our exports use.
_BLOB_DTYPES = {1: np.float16, 2: np.float32}
_BLOB_SENTINEL = 0xDEADBEEF


class ProgramRunner:
    """Runs the ``main`` function of an ML program, its operations in the order they are listed.

    Float16 tensors are stored as float16 between operations and computed in float32: the
    rounding a device does between operations, not the order in which it accumulates.
    """

    def __init__(self, spec: Model_pb2.Model, model_dir: Path, path: Path):
        self.path = path
        if "main" not in spec.mlProgram.functions:
            raise CoreMLSpecError(f"{path}: the ML program has no 'main' function")
        function = spec.mlProgram.functions["main"]
        block = function.block_specializations[function.opset]
        self.operations = list(block.operations)
        self.blobs = _BlobFile(model_dir)
        self.constants = {op.outputs[0].name: _value(op.attributes["val"], self.blobs, path)
                          for op in self.operations if op.type == "const"}
        classify = [op for op in self.operations if op.type == "classify"]
        if len(classify) != 1:
            raise CoreMLSpecError(f"{path}: expected one classify operation, found {len(classify)}")
        self.labels = [str(v) for v in self._argument(classify[0], "classes", self.constants)]
        # the model's outputs, by the variables of the block that holds them
        self.outputs = dict(zip([o.name for o in spec.description.output], block.outputs))

    def run(self, input_name: str, pixels: np.ndarray, output: str | None = None) -> np.ndarray:
        """The classify operation's probabilities (N, labels), or the program output named ``output``
        (N, -1)."""
        env = {input_name: pixels}
        for op in self.operations:
            if op.type == "const":
                env[op.outputs[0].name] = self.constants[op.outputs[0].name]
                continue
            if op.type not in MIL_OPS:
                raise UnsupportedOpError(f"{self.path}: operation {_op_name(op)!r} is a {op.type!r}, "
                                         f"which the numpy executor does not implement")
            arguments = {key: self._argument(op, key, env) for key in op.inputs}
            try:
                results = MIL_OPS[op.type](**arguments)
            except UnsupportedOpError as err:
                raise UnsupportedOpError(f"{self.path}: operation {_op_name(op)!r}: {err}") from err
            except (ValueError, IndexError, TypeError) as err:
                raise CoreMLSpecError(f"{self.path}: operation {_op_name(op)!r} ({op.type}) failed: {err}") from err
            for declared, result in zip(op.outputs, results):
                env[declared.name] = _as_declared(result, declared.type)
            if op.type == "classify" and output is None:
                return results[1]
        if output is not None and self.outputs.get(output) in env:
            return np.asarray(env[self.outputs[output]], np.float32).reshape(len(pixels), -1)
        raise CoreMLSpecError(f"{self.path}: the program ends without a classify operation"
                              if output is None else f"{self.path}: the program computes no {output!r}")

    def _argument(self, op, key: str, env: dict):
        values = []
        for binding in op.inputs[key].arguments:
            if binding.WhichOneof("binding") == "value":
                values.append(_value(binding.value, self.blobs, self.path))
            elif binding.name in env:
                values.append(env[binding.name])
            else:
                raise CoreMLSpecError(f"{self.path}: operation {_op_name(op)!r} ({op.type}) reads "
                                      f"{binding.name!r} before any earlier operation writes it")
        # Variadic inputs (concat's values) are lists; every other input is one value.
        return values if key == "values" else values[0]


def _op_name(op) -> str:
    name = op.attributes.get("name")
    return name.immediateValue.tensor.strings.values[0] if name is not None else op.outputs[0].name


def _value(value: MIL_pb2.Value, blobs: "_BlobFile", path: Path):
    kind = value.WhichOneof("value")
    if kind == "blobFileValue":
        return blobs.read(value.blobFileValue, value.type.tensorType)
    if kind != "immediateValue":
        raise UnsupportedOpError(f"{path}: a {kind!r} value is not implemented")
    immediate = value.immediateValue
    if immediate.WhichOneof("value") == "list":
        return [_value(v, blobs, path) for v in immediate.list.values]
    if immediate.WhichOneof("value") != "tensor":
        raise UnsupportedOpError(f"{path}: a {immediate.WhichOneof('value')!r} immediate value is not implemented")
    tensor, ttype = immediate.tensor, value.type.tensorType
    dtype = MIL_pb2.DataType.Name(ttype.dataType)
    shape = tuple(d.constant.size for d in ttype.dimensions)
    if dtype == "STRING":
        strings = list(tensor.strings.values)
        return strings[0] if not shape else np.array(strings, dtype=object).reshape(shape)
    if dtype == "FLOAT16":
        data = np.frombuffer(tensor.bytes.values, np.float16)
    elif dtype in ("FLOAT32", "FLOAT64"):
        data = np.asarray(tensor.floats.values if dtype == "FLOAT32" else tensor.doubles.values, _DTYPES[dtype])
    elif dtype in ("INT32", "INT64"):
        data = np.asarray(tensor.ints.values if dtype == "INT32" else tensor.longInts.values, _DTYPES[dtype])
    elif dtype == "BOOL":
        data = np.asarray(tensor.bools.values, np.bool_)
    else:
        raise UnsupportedOpError(f"{path}: immediate values of type {dtype} are not implemented")
    return data.reshape(shape)


def _as_declared(result, value_type: MIL_pb2.ValueType):
    """Store a result in its declared data type (float16 rounding happens here)."""
    if value_type.WhichOneof("type") != "tensorType" or not isinstance(result, np.ndarray):
        return result
    dtype = _DTYPES.get(MIL_pb2.DataType.Name(value_type.tensorType.dataType))
    return result if dtype is None else result.astype(dtype)


class _BlobFile:
    """Reads tensors from an ML program's weight file (MILBlob storage format, version 2).

    Layout: a 64-byte header, then per tensor a 64-byte metadata record (sentinel 0xDEADBEEF,
    data type, size in bytes, offset of the data) that the spec's ``offset`` points at.
    """

    def __init__(self, model_dir: Path):
        self.model_dir = model_dir
        self._files = {}

    def read(self, blob: MIL_pb2.Value.BlobFileValue, ttype: MIL_pb2.TensorType) -> np.ndarray:
        data = self._file(blob.fileName)
        sentinel, blob_dtype, size, offset = (int(v) for v in (
            np.frombuffer(data, np.uint32, 2, blob.offset).tolist()
            + np.frombuffer(data, np.uint64, 2, blob.offset + 8).tolist()))
        if sentinel != _BLOB_SENTINEL:
            raise CoreMLSpecError(f"{blob.fileName}: no blob at offset {blob.offset}")
        declared = _DTYPES.get(MIL_pb2.DataType.Name(ttype.dataType))
        if _BLOB_DTYPES.get(blob_dtype) is not declared:
            raise UnsupportedOpError(f"{blob.fileName}@{blob.offset}: blob type {blob_dtype} for a "
                                     f"{MIL_pb2.DataType.Name(ttype.dataType)} tensor is not implemented")
        shape = tuple(d.constant.size for d in ttype.dimensions)
        values = np.frombuffer(data, declared, size // np.dtype(declared).itemsize, offset)
        return values.reshape(shape)

    def _file(self, name: str) -> bytes:
        if not name.startswith("@model_path/"):
            raise CoreMLSpecError(f"weight file {name!r} is not inside the package")
        if name not in self._files:
            self._files[name] = (self.model_dir / name.removeprefix("@model_path/")).read_bytes()
        return self._files[name]


def _f32(x):
    return x.astype(np.float32) if isinstance(x, np.ndarray) and x.dtype == np.float16 else x


def _mil_conv(x, weight, strides=(1, 1), pad_type="valid", pad=(0, 0, 0, 0), dilations=(1, 1),
              groups=1, bias=None):
    x, weight = _f32(x), _f32(weight)
    kernel = weight.shape[2:]
    if pad_type in ("same", "same_lower"):
        pads = [same_padding(x.shape[2 + a], kernel[a], strides[a], dilations[a], pad_type == "same")
                for a in (0, 1)]
    elif pad_type == "custom":
        pads = [(pad[0], pad[1]), (pad[2], pad[3])]
    elif pad_type == "valid":
        pads = [(0, 0), (0, 0)]
    else:
        raise UnsupportedOpError(f"conv pad_type {pad_type!r} is not implemented")
    return [conv2d(x, weight, None if bias is None else _f32(bias), tuple(strides), pads,
                   tuple(dilations), int(groups))]


def _mil_matmul(x, y, transpose_x=False, transpose_y=False):
    x, y = _f32(x), _f32(y)
    return [np.matmul(np.swapaxes(x, -1, -2) if transpose_x else x, np.swapaxes(y, -1, -2) if transpose_y else y)]


def _mil_linear(x, weight, bias=None):
    out = _f32(x) @ _f32(weight).T
    return [out if bias is None else out + _f32(bias)]


def _mil_reduce_mean(x, axes=None, keep_dims=False):
    return [_f32(x).mean(axis=None if axes is None else tuple(int(a) for a in axes), keepdims=bool(keep_dims))]


def _mil_concat(values, axis, interleave=False):
    if interleave:
        raise UnsupportedOpError("concat with interleave is not implemented")
    return [np.concatenate([_f32(v) for v in values], axis=int(axis))]


def _mil_cast(x, dtype):
    if dtype not in _CAST_NAMES:
        raise UnsupportedOpError(f"cast to {dtype!r} is not implemented")
    return [x.astype(_CAST_NAMES[dtype])]


def _mil_classify(probabilities, classes):
    return [None, _f32(probabilities).reshape(len(probabilities), -1)]


MIL_OPS = {
    "conv": _mil_conv,
    "relu": lambda x: [np.maximum(_f32(x), 0)],
    "sigmoid": lambda x: [sigmoid(_f32(x))],
    "mul": lambda x, y: [_f32(x) * _f32(y)],
    "add": lambda x, y: [_f32(x) + _f32(y)],
    "sub": lambda x, y: [_f32(x) - _f32(y)],
    "cast": _mil_cast,
    "transpose": lambda x, perm: [x.transpose(tuple(int(p) for p in perm))],
    "reduce_mean": _mil_reduce_mean,
    "matmul": _mil_matmul,
    "linear": _mil_linear,
    "concat": _mil_concat,
    "classify": _mil_classify,
}
