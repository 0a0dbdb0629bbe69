"""A copy of a TFLite export with a fixed batch of 1, for devices, checked against its source.

LiteRT's compiled-model API (LiteRT.js in the browser, ``CompiledModel`` on Android) takes each
tensor's declared shape as it is: our exports declare a dynamic batch ([-1, 64, 64, 3]) so that
the server and the folder runner can classify many crops in one call, and that API refuses a
[1, 64, 64, 3] input for them ("TensorBuffer ranked tensor type UInt8[1, 64, 64, 3] does not
match expected ranked tensor type UInt8[-1, 64, 64, 3]"). ``<stem>_batch1.tflite`` is the same
flatbuffer with the batch declared as 1 in every tensor: the same weights, quantization and
operators, so the same answers (checked here, crop by crop, through the compiled-model API),
and the model's config inside it and in ``<stem>_batch1.json`` beside it.

to_tflite.py writes one beside every export; for files exported before it (the shipped ones):

    python3 converters/batch_one.py models/glasses_float32.tflite models/glasses_float16.tflite \\
        models/glasses_int8.tflite

Exit status: 0 written and the same answers as the source on the examples' crops; 1 a copy
answered differently; 2 a file that is not a usable TFLite export.
"""
from __future__ import annotations

import argparse
import atexit
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run as a file: the repository's packages first
    sys.path.insert(0, str(ROOT))

from glasses_core import GlassesClassifier  # noqa: E402
from glasses_core.errors import ModelError, errors_exit_2  # noqa: E402
from glasses_core.quiet import quiet, set_verbose, verbose  # noqa: E402
from glasses_core.runtime import resolve_model  # noqa: E402
from glasses_core.tflite_metadata import OUTPUT_NAME, batch_one_path, with_config  # noqa: E402

EXAMPLES = ROOT / "examples"


def fixed_batch(model: bytes) -> bytes:
    """The TFLite flatbuffer ``model`` with every tensor's batch declared as 1 (its shape
    signature's leading -1). Any other dynamic dimension is refused: it would still need a
    resize, which the compiled-model API does not do."""
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    unpacked = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    for graph in unpacked.subgraphs:
        for tensor in graph.tensors:
            signature = tensor.shapeSignature
            if signature is None or len(signature) == 0 or -1 not in list(signature):
                continue
            if -1 in list(signature)[1:]:
                raise ModelError(f"tensor {tensor.name.decode(errors='replace')}: a dynamic dimension "
                                 f"other than the batch ({list(signature)})")
            tensor.shapeSignature = np.asarray([1, *signature[1:]], dtype=np.int32)
            tensor.shape = np.asarray([1, *signature[1:]], dtype=np.int32)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_batch_one(path: str | Path) -> Path:
    """Write ``<stem>_batch1.tflite`` (its config inside, tflite naming itself) and its
    ``.json`` beside ``path``; returns the new file's path."""
    path, config = resolve_model(path)
    target = batch_one_path(path)
    if target == path:
        raise ModelError(f"{path}: already a fixed-batch file")
    described = dataclasses.replace(config, tflite=target.name)
    target.write_bytes(with_config(fixed_batch(path.read_bytes()), described))
    described.save(target.with_suffix(".json"))
    return target


def device_probabilities(path: str | Path, crops: np.ndarray, output: str = OUTPUT_NAME) -> np.ndarray:
    """P(glass) (or the output named ``output``: dark_probability) for each crop from LiteRT's
    compiled-model API, one crop per run with a [1, size, size, 3] input, as a device runs the
    file; dequantized with the file's own output parameters."""
    from ai_edge_litert.compiled_model import CompiledModel

    from glasses_core.litert import make_interpreter

    path = Path(path)
    interpreter = make_interpreter(path)  # only to read the tensors' types and quantization
    outputs = interpreter.get_output_details()  # in the graph's order, as the compiled model's buffers
    names = [o["name"] for o in outputs]
    index = names.index(output) if output in names else 0 if output == OUTPUT_NAME and len(names) == 1 else None
    if index is None:
        raise ModelError(f"{path}: no output named {output!r} (its outputs: {names})")
    inp, out = interpreter.get_input_details()[0], outputs[index]
    if list(inp["shape_signature"][:1]) != [1]:
        raise ModelError(f"{path}: its batch is not fixed at 1 (shape {list(inp['shape_signature'])}); "
                         f"converters/batch_one.py makes a copy that is")
    with quiet():  # LiteRT's notes
        found = _run_one_by_one(CompiledModel.from_file(str(path)), crops, inp["dtype"], out["dtype"], index)
    _quiet_farewell()
    values = np.asarray(found)
    if out["dtype"] != np.float32:
        scale, zero = out["quantization"]
        values = (values.astype(np.float32) - zero) * scale
    return values.astype(np.float32)


def _quiet_farewell() -> None:
    """LiteRT's compiled-model API keeps an environment of its own that is destroyed only as the
    process exits, when it writes "DestroyAccelerator" notes to stderr from C++ (after every
    Python line has run): point stderr at /dev/null then, unless the user asked to see them."""
    if not verbose() and not getattr(_quiet_farewell, "registered", False):
        atexit.register(lambda: os.dup2(os.open(os.devnull, os.O_WRONLY), 2))
        _quiet_farewell.registered = True


def _run_one_by_one(model, crops: np.ndarray, in_dtype, out_dtype, index: int = 0) -> list:
    inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    found = []
    for crop in np.asarray(crops):
        inputs[0].write(crop[None].astype(in_dtype))
        model.run_by_index(0, inputs, outputs)
        found.append(outputs[index].read(1, out_dtype)[0])
    return found


def example_crops() -> np.ndarray:
    """The crops the core makes of examples/' photos (every face, or the fallback)."""
    classifier = GlassesClassifier()
    return np.stack([c.pixels for photo in sorted(EXAMPLES.glob("*.jpg")) for c in classifier.crops(photo)])


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 written and the same answers, 1 a copy "
                                            "answered differently, 2 a file that is not a usable export.")
    parser.add_argument("tflite", nargs="+", type=Path, help="TFLite exports (with a dynamic batch)")
    parser.add_argument("--verbose", action="store_true", help="also show LiteRT's own messages")
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    with quiet():
        crops = example_crops()
        written = [(source, write_batch_one(source)) for source in args.tflite]
        rows = [(source, target, np.abs(device_probabilities(target, crops)
                                        - GlassesClassifier(source).predict_crops(crops)).max())
                for source, target in written]
    for source, target, difference in rows:
        print(f"{target} ({target.stat().st_size / 1024:.1f} KiB): max |ΔP| against {source.name} "
              f"on {len(crops)} crops of examples/: {difference:.2e}")
    return 0 if all(difference == 0.0 for _, _, difference in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
