"""Export the trained Keras model to Core ML: an ML program ``.mlpackage`` (iOS 15+, float16
but for the stem layer, see ``FLOAT32_LAYERS``) and a neural network ``.mlmodel`` (iOS 13/14).

Both take an RGB image named ``image`` of the model's input size, with the model's rescaling
folded into the image input's scale/bias, and are classifiers: ``classLabel`` (no_glass or
glass) and ``classLabel_probs`` (the probability of each); a model that says which glasses also
outputs ``dark_probability``, P(dark | glasses).

    python3 converters/to_coreml.py RUN_DIR --out models/
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from glasses_core.quiet import quiet

with quiet():  # TensorFlow's and coremltools' start-up notes (GLASSES_VERBOSE=1 shows them)
    import keras
    import tensorflow as tf
    from keras import layers

from glasses_core import ModelConfig
from glasses_core.errors import GlassesError
from research_and_train_nn.training.model import has_kind_head, inference_model

from converters.metadata import Metadata, crop_description, export_fields
from converters.runs import export_main

PROBABILITIES = "classLabel_probs"  # the probabilities output, named as Xcode's classifiers name it
DARK = "dark_probability"  # the second answer's output: P(dark | glasses), (1, 1)
# Layers the ML program computes in float32, everything else in float16. The stem sees the
# image itself: version 0.1.0's .mlpackage differed from Keras by up to 4.93e-3 with it in
# float16 and 3.46e-3 with it in float32 (limit 5e-3; models/conversion_report.md). It is
# about a tenth of the multiply-adds.
FLOAT32_LAYERS = ("stem",)


def rescaling_of(model: keras.Model) -> tuple[float, float]:
    """(scale, offset) of the model's one Rescaling layer; (1, 0) when it has none."""
    found = [layer for layer in model.layers if isinstance(layer, layers.Rescaling)]
    if len(found) > 1:
        raise GlassesError(f"{model.name}: {len(found)} Rescaling layers; only one can be folded into "
                           f"the Core ML image input")
    if not found:
        return 1.0, 0.0
    scale, offset = found[0].scale, found[0].offset
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
        raise GlassesError(f"{found[0].name}: per-channel rescaling is not supported by this exporter")
    return float(scale), float(offset)


def without_rescaling(model: keras.Model) -> keras.Model:
    """A copy of the model (the same weights, its own layers) with its Rescaling layer replaced by
    an identity. Its own layers, so that each layer's output is a tensor of this graph: an eye-band
    model's inference_model reads two of its layers' outputs."""
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: (layers.Identity(name=layer.name) if isinstance(layer, layers.Rescaling)
                                             else layer.__class__.from_config(layer.get_config())))
    for layer in clone.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return clone


def classifier_function(model: keras.Model, input_size: int):
    """Concrete function: one normalised crop -> [P(no_glass), P(glass)], shape (1, 2), and for a
    model that says which glasses, P(dark | glasses), shape (1, 1), after it.

    Core ML converts this rather than the Keras 3 model object, which coremltools does not
    reliably accept; a classifier needs one probability per label, hence the [1 - p, p].
    """
    probability = inference_model(without_rescaling(model))
    kind = has_kind_head(model)

    @tf.function(input_signature=[tf.TensorSpec([1, input_size, input_size, 3], tf.float32, name="image")])
    def classify(image):
        if kind:
            p, dark = probability(image, training=False)
            return tf.concat([1.0 - p, p], axis=1), dark
        p = probability(image, training=False)
        return tf.concat([1.0 - p, p], axis=1)

    return classify.get_concrete_function()


def convert(model: keras.Model, config: ModelConfig, target: str):
    """One Core ML model: ``target`` "mlprogram" (float16, iOS 15) or "neuralnetwork" (iOS 13)."""
    import coremltools as ct

    scale, offset = rescaling_of(model)
    size = config.crop.size
    image = ct.ImageType(name="image", shape=(1, size, size, 3), scale=scale, bias=[offset] * 3,
                         color_layout=ct.colorlayout.RGB)
    float32_ops = []

    def in_float16(op) -> bool:
        if any(part.startswith(FLOAT32_LAYERS) for part in op.name.split("/")):
            float32_ops.append(op.name)
            return False
        return True

    options = {"mlprogram": {"minimum_deployment_target": ct.target.iOS15,
                             "compute_precision": ct.transform.FP16ComputePrecision(op_selector=in_float16)},
               "neuralnetwork": {"minimum_deployment_target": ct.target.iOS13}}
    if target not in options:
        raise ValueError(f"unknown Core ML target {target!r}; choose from {sorted(options)}")
    function = classifier_function(model, size)
    probabilities_output = function.outputs[0].name.split(":")[0]  # the first of two outputs is the classifier's
    mlmodel = ct.convert([function], source="tensorflow", inputs=[image],
                         classifier_config=ct.ClassifierConfig(list(config.labels),
                                                               predicted_probabilities_output=probabilities_output),
                         convert_to=target, **options[target])
    if target == "mlprogram" and not float32_ops:
        raise GlassesError(f"{model.name}: no layer named {FLOAT32_LAYERS} to keep in float32 "
                           f"(the ML program would lose precision where the image enters)")
    spec = mlmodel.get_spec()
    renames = {spec.description.predictedProbabilitiesName: PROBABILITIES}
    if has_kind_head(model):
        extra = [o.name for o in spec.description.output
                 if o.name not in (spec.description.predictedFeatureName, spec.description.predictedProbabilitiesName)]
        if len(extra) != 1:
            raise GlassesError(f"{model.name}: expected one output beside the classifier's, got {extra}")
        renames[extra[0]] = DARK
    renames = {old: new for old, new in renames.items() if old != new}
    if renames:
        for old, new in renames.items():
            ct.utils.rename_feature(spec, old, new)
        weights = None if target == "neuralnetwork" else mlmodel.weights_dir
        mlmodel = ct.models.MLModel(spec, skip_model_load=True, weights_dir=weights)
    return mlmodel


def describe(mlmodel, config: ModelConfig, metadata: Metadata) -> None:
    """Fill in the model's metadata and the descriptions of its input and outputs."""
    no, yes = config.labels
    mlmodel.author = metadata.author
    mlmodel.license = metadata.license
    mlmodel.short_description = (f"Whether the face in a {config.crop.size}x{config.crop.size} crop "
                                 f"wears glasses ({yes!r}) or not ({no!r}).")
    mlmodel.version = config.version
    # classLabel is the argmax; apps may apply the threshold in these fields instead
    mlmodel.user_defined_metadata.update(export_fields(config, metadata))
    mlmodel.input_description["image"] = crop_description(config)
    mlmodel.output_description["classLabel"] = (
        f"{yes!r} or {no!r}, whichever is more probable; the threshold chosen in training is "
        f"{config.threshold}: compare {PROBABILITIES}[{yes!r}] with it to use that instead")
    mlmodel.output_description[PROBABILITIES] = f"probability of each label, {no!r} and {yes!r}"
    if config.kinds:
        clear, dark = config.kinds
        mlmodel.output_description[DARK] = (
            f"which glasses: the probability that glasses are {dark!r} (sunglasses) rather than {clear!r}, "
            f"given glasses; {dark!r} at or above {config.kind_threshold}")


def export_coreml(model: keras.Model, config: ModelConfig, out_dir: str | Path, name: str = "glasses",
                  metadata: Metadata = Metadata()) -> dict[str, Path]:
    """Write ``<name>.mlpackage`` and ``<name>.mlmodel``; returns {"mlpackage": path, "mlmodel": path}.

    ``model`` is the training model (logit output); the sigmoid is added here.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, target in (("mlpackage", "mlprogram"), ("mlmodel", "neuralnetwork")):
        mlmodel = convert(model, config, target)
        describe(mlmodel, config, metadata)
        path = out_dir / f"{name}.{kind}"
        if path.is_dir():
            shutil.rmtree(path)  # a package is a folder: replace it, do not merge into it
        mlmodel.save(str(path))
        paths[kind] = path
    return paths


def main(argv=None) -> int:
    def export(run, args):
        paths = export_coreml(run.model, run.config, args.out, args.name,
                              Metadata(training_data=args.training_data))
        return [f"{kind:9s} {path}" for kind, path in paths.items()]

    return export_main(__doc__.splitlines()[0], argv, export, lambda parser: parser.add_argument(
        "--training-data", default=Metadata.training_data,
        help="what the model was trained on, for the metadata"))


if __name__ == "__main__":
    sys.exit(main())
