"""What every export says about itself, in one place, so the TFLite, Core ML and ONNX files agree.

The TFLite files carry the whole ModelConfig (glasses_core/tflite_metadata.py); Core ML's
user-defined metadata and ONNX's ``metadata_props`` carry ``export_fields()``, the same
labels, threshold, version, model id and crop (and, for a model that says which glasses, its
kinds and kind threshold), as strings.
"""
from __future__ import annotations

from dataclasses import dataclass

from glasses_core import ModelConfig


@dataclass(frozen=True)
class Metadata:
    """What the exports say about themselves beyond the config (description and version come from it)."""
    author: str = "glasses-or-not contributors"
    license: str = ("Code: MIT. The trained model inherits its training datasets' terms "
                    "(MTFL: research use; CelebA: non-commercial research use)")
    training_data: str = ("Face photographs with eyeglasses labels from MTFL (Zhang et al., ECCV 2014) "
                          "and CelebA (Liu et al., ICCV 2015), research datasets")


def export_fields(config: ModelConfig, metadata: Metadata) -> dict[str, str]:
    """The key-value metadata of the Core ML and ONNX files."""
    no, yes = config.labels
    fields = {"version": config.version, "model_id": config.identity, "labels": f"{no},{yes}",
              "threshold": f"{config.threshold}", "input_crop": crop_description(config),
              "training_data": metadata.training_data}
    if config.kinds:  # the second answer: which glasses, from the output named dark_probability
        fields["kinds"] = ",".join(config.kinds)
        fields["kind_threshold"] = f"{config.kind_threshold}"
    if config.description:
        fields["run"] = config.description
    return fields


def crop_description(config: ModelConfig) -> str:
    crop = config.crop
    return (f"{crop.size}x{crop.size} RGB face crop: a square {crop.scale} eye distances wide, centred "
            f"between the eyes (moved down {crop.centre_shift} eye distances) and levelled so that the "
            f"eyes are horizontal; made by glasses_core.preprocess with the crop settings in the "
            f"model's JSON. Pixels 0-255; the image input scales them.")
