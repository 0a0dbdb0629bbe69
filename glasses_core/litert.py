"""The one place that imports the LiteRT interpreter (no TensorFlow needed)."""
from __future__ import annotations

from pathlib import Path

from .errors import ModelError
from .quiet import quiet

XNNPACK_NOTE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."  # once per process


def make_interpreter(model_path: str | Path, num_threads: int = 1):
    """Load a .tflite file into an allocated LiteRT interpreter (without LiteRT's INFO note)."""
    from ai_edge_litert.interpreter import Interpreter  # imported lazily: keeps `import glasses_core` light

    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with quiet(keep=lambda line: line.strip() != XNNPACK_NOTE):
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ModelError(f"{path}: not a usable TFLite model ({err})") from err
    return interpreter
