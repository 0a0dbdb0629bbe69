"""The numpy Core ML executor's pieces, without a trained model: its kernels against TensorFlow,
the weight file format, and loud failures. (Whole exported models: test_converters.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from converters import coreml_numpy
from converters.coreml_numpy import CoreMLSpecError, UnsupportedOpError, conv2d, same_padding


@pytest.mark.parametrize("kernel, stride, depthwise", [(3, 2, False), (3, 1, True), (3, 2, True), (1, 1, False)])
def test_conv2d_matches_tensorflow(kernel, stride, depthwise):
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 9, 4)).astype(np.float32)  # NHWC, odd size: "same" pads unevenly
    if depthwise:
        w = rng.normal(size=(kernel, kernel, 4, 1)).astype(np.float32)
        expected = tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], "SAME").numpy()
        weight, groups = w.transpose(2, 3, 0, 1), 4  # (channels, 1, kh, kw)
    else:
        w = rng.normal(size=(kernel, kernel, 4, 6)).astype(np.float32)
        expected = tf.nn.conv2d(x, w, stride, "SAME").numpy()
        weight, groups = w.transpose(3, 2, 0, 1), 1  # (out, in, kh, kw)
    pads = [same_padding(9, kernel, stride, 1)] * 2
    got = conv2d(x.transpose(0, 3, 1, 2), weight, None, (stride, stride), pads, (1, 1), groups)
    np.testing.assert_allclose(got.transpose(0, 2, 3, 1), expected, atol=1e-5)


def test_grouped_conv_is_per_group():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 5, 5)).astype(np.float32)
    w = rng.normal(size=(6, 2, 3, 3)).astype(np.float32)
    got = conv2d(x, w, np.arange(6, dtype=np.float32), (1, 1), [(1, 1), (1, 1)], (1, 1), 2)
    first = conv2d(x[:, :2], w[:3], np.arange(3, dtype=np.float32), (1, 1), [(1, 1), (1, 1)], (1, 1), 1)
    np.testing.assert_allclose(got[:, :3], first, atol=1e-5)


def test_same_padding_puts_the_odd_pixel_at_the_end():
    assert same_padding(64, 3, 2, 1) == (0, 1)
    assert same_padding(64, 3, 1, 1) == (1, 1)
    assert same_padding(8, 1, 1, 1) == (0, 0)
    assert same_padding(64, 3, 2, 1, heavy_end=False) == (1, 0)


def _blob_file(path, values: np.ndarray, dtype_code: int = 1, sentinel: int = 0xDEADBEEF) -> int:
    """A MILBlob v2 file holding ``values``; returns the metadata offset the spec would name."""
    header = np.zeros(64, np.uint8)
    header[:8] = np.array([1, 2], np.uint32).view(np.uint8)
    meta = np.zeros(64, np.uint8)
    meta[:8] = np.array([sentinel, dtype_code], np.uint32).view(np.uint8)
    meta[8:24] = np.array([values.nbytes, 128], np.uint64).view(np.uint8)
    path.write_bytes(header.tobytes() + meta.tobytes() + values.tobytes())
    return 64


def _blob_value(offset: int, shape, dtype: str = "FLOAT16"):
    from coremltools.proto import MIL_pb2
    value = MIL_pb2.Value()
    value.blobFileValue.fileName = "@model_path/weights/weight.bin"
    value.blobFileValue.offset = offset
    value.type.tensorType.dataType = MIL_pb2.DataType.Value(dtype)
    for size in shape:
        value.type.tensorType.dimensions.add().constant.size = size
    return value


def test_weight_file_is_read_by_its_metadata(tmp_path):
    (tmp_path / "weights").mkdir()
    values = np.arange(6, dtype=np.float16) / 4
    offset = _blob_file(tmp_path / "weights" / "weight.bin", values)
    value = _blob_value(offset, (2, 3))
    got = coreml_numpy._value(value, coreml_numpy._BlobFile(tmp_path), tmp_path)
    np.testing.assert_array_equal(got, values.reshape(2, 3))


def test_weight_file_errors_are_loud(tmp_path):
    (tmp_path / "weights").mkdir()
    offset = _blob_file(tmp_path / "weights" / "weight.bin", np.ones(4, np.float16), sentinel=0x12345678)
    with pytest.raises(CoreMLSpecError, match="no blob at offset"):
        coreml_numpy._value(_blob_value(offset, (4,)), coreml_numpy._BlobFile(tmp_path), tmp_path)
    offset = _blob_file(tmp_path / "weights" / "weight.bin", np.ones(4, np.int8), dtype_code=4)
    with pytest.raises(UnsupportedOpError, match="blob type 4"):
        coreml_numpy._value(_blob_value(offset, (4,)), coreml_numpy._BlobFile(tmp_path), tmp_path)


def _classifier_spec(activation: str):
    """A small neural-network classifier built by hand: the activation of the image, its mean
    per channel, and P(no_glass), P(glass) = the red and the green means."""
    import coremltools as ct
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder

    builder = NeuralNetworkBuilder([("image", datatypes.Array(3, 4, 4))], [("probs", datatypes.Array(2))],
                                   mode="classifier", disable_rank5_shape_mapping=True)
    builder.add_activation("act", activation, "image", "act_out")
    builder.add_reduce_mean("mean", "act_out", "mean_out", axes=[2, 3], keepdims=False)
    builder.add_inner_product("probs", np.eye(2, 3), None, 3, 2, False, "mean_out", "probs")
    builder.set_class_labels(["no_glass", "glass"], predicted_feature_name="classLabel",
                             prediction_blob="probs")
    spec = builder.spec
    spec.description.input[0].type.imageType.width = spec.description.input[0].type.imageType.height = 4
    spec.description.input[0].type.imageType.colorSpace = ct.proto.FeatureTypes_pb2.ImageFeatureType.RGB
    builder.spec.neuralNetworkClassifier.imageInputShapeMapping = 1  # rank 4
    return spec


def test_an_unknown_layer_is_named(tmp_path):
    path = tmp_path / "tanh.mlmodel"
    coreml_numpy.save_spec(_classifier_spec("TANH"), path)
    crops = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(UnsupportedOpError, match="activation 'tanh'"):
        coreml_numpy.run_mlmodel(path, crops)


def test_a_small_hand_built_network_runs(tmp_path):
    path = tmp_path / "relu.mlmodel"
    coreml_numpy.save_spec(_classifier_spec("RELU"), path)
    crops = np.random.default_rng(2).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    np.testing.assert_allclose(coreml_numpy.run_mlmodel(path, crops),
                               crops[..., 1].reshape(3, -1).mean(1), rtol=1e-6)


def test_crops_of_the_wrong_size_are_refused(tmp_path):
    path = tmp_path / "relu.mlmodel"
    coreml_numpy.save_spec(_classifier_spec("RELU"), path)
    with pytest.raises(ValueError, match=r"uint8 \(N, 4, 4, 3\)"):
        coreml_numpy.run_mlmodel(path, np.zeros((1, 5, 5, 3), np.uint8))


def test_not_a_coreml_file(tmp_path):
    with pytest.raises(CoreMLSpecError, match="not a Core ML file"):
        coreml_numpy.run_coreml(tmp_path / "model.onnx", np.zeros((1, 4, 4, 3), np.uint8))
    with pytest.raises(CoreMLSpecError, match="not found"):
        coreml_numpy.load_spec(tmp_path / "missing.mlmodel")
    (tmp_path / "empty.mlpackage").mkdir()
    with pytest.raises(CoreMLSpecError, match="Manifest.json"):
        coreml_numpy.load_spec(tmp_path / "empty.mlpackage")
