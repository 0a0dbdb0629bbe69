"""The classifier on each crop alone (the product), or on the crop and its mirror image, averaged.

    python3 research_and_train_nn/studies/mirror_average_study.py --out research_and_train_nn/reports

Issue 28: the composed hard photos' recall (0.944) stays under 0.95, and a face's answer moves when the
photo is mirrored (hard_cases.py's "mirrored" case: recall 0.945 against 0.955 as photographed), while
glasses look the same in a mirror. Averaging the model's P(glasses) on a crop and on the crop mirrored
left to right makes the answer the same for a face and its mirror image (up to the eyes the mesh finds
in each) at one more classifier invoke per face (0.11 ms at 640 x 480, benchmarks/results.md). The
threshold stays the model's, chosen on validation for one crop. Both ways are measured through the
product by ways.py (the composed hard photos, every validation photo as photographed, frames without a
face); P(dark | glasses) is left as the crop alone gives it. Never the test pool. A measurement to decide
on, not a change: the product classifies the crop alone. Writes mirror_average_study.md and .json.
"""
from __future__ import annotations

import contextlib
import sys
from unittest import mock

import numpy as np

from glasses_core import GlassesClassifier
from glasses_core.errors import errors_exit_2
from research_and_train_nn.studies.ways import run_study, tables

PRODUCT = GlassesClassifier.predict_crops_and_kinds


def averaged_with_mirror(classifier: GlassesClassifier, crops):
    """(P(glasses), P(dark | glasses)): the first the mean of the crops' and their mirror images', the
    second the crops' own."""
    crops = np.asarray(crops)
    glasses, dark = PRODUCT(classifier, crops)
    mirrored, _ = PRODUCT(classifier, np.ascontiguousarray(crops[:, :, ::-1]))
    return (glasses + mirrored) / 2.0, dark


def mirror_averaged():
    """Within it, the classifier answers for the crop and its mirror image, averaged; the product's way
    again after, even after an error."""
    return mock.patch.object(GlassesClassifier, "predict_crops_and_kinds", averaged_with_mirror)


WAYS = {"the crop": contextlib.nullcontext, "the crop and its mirror, averaged": mirror_averaged}


def markdown(r: dict, command: str) -> str:
    names = list(WAYS)
    return "\n".join([
        "# The classifier on the crop alone (the product) or on the crop and its mirror image, averaged", "",
        f"`{command}`", "",
        "P(glasses) of each face from its crop alone, or the mean of its crop's and the crop mirrored left to right "
        f"(one more classifier invoke a face), at the model's threshold ({r['threshold']:.4f}). Answers through the "
        f"product with `{r['model']}`, on validation photos only; each cell gives the ways in that order "
        f"({' / '.join(names)}).", "", *tables(r, names, "way")]) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    return run_study("mirror_average_study", __doc__, WAYS, markdown, argv,
                     lambda classifier: {"threshold": classifier.threshold})


if __name__ == "__main__":
    sys.exit(main())
