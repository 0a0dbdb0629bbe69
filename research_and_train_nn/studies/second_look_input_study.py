"""What the second looks read: each turn and the widened canvas shrunk from the photo's view
(preprocessing 12), or the first look's detector copy turned and the view shrunk straight into the
detector's input (13).

    python3 research_and_train_nn/studies/second_look_input_study.py --out research_and_train_nn/reports

When no upright face is trusted (locate.find_faces), the photo is looked at again turned by quarter
turns and, failing that, widened (set in a black canvas WIDEN times its longer side). Preprocessing 12
turned the first look's view (320 x 240 for a 640 x 480 photo) and shrank each turn to the detector's
input again, the same pixels three times over, and drew the view in a canvas twice its size and shrank
that (a 640 x 640 canvas to 128 x 128): four resizes of every photo without a face that its invokes do
not need (issue 26 item 4; benchmarks/results.md measures the cost). Preprocessing 13 turns the
copy the upright look already made (the quarter turns' pixels then differ from 12's by at most one grey
level: Pillow resizes across, then down) and shrinks the view straight to half the detector's input, set
in a black square of that input (the view's edge pixels differ most: the canvas's black no longer bleeds
into them). The two ways, and the turned copy alone between them (WAYS), are measured through the
product with the model given, by ways.py: the composed hard photos (where the second looks find the
turned heads and cut close-ups), every validation photo as photographed, and frames without a face.
Never the test pool. Writes second_look_input_study.md and .json.
"""
from __future__ import annotations

import contextlib
import sys
from unittest import mock

from PIL import Image

from glasses_core import Detectors
from glasses_core.errors import errors_exit_2
from glasses_core.image_io import open_photo
from glasses_core.locate import DETECT_SIDE, TURNS, WIDEN, scaled, shifted, unturned
from research_and_train_nn.studies.ways import run_study, tables


def turned_12(detectors: Detectors, photo) -> list:
    """Preprocessing 12's turned looks: the first look's view turned, each turn shrunk to the detector's input."""
    photo = open_photo(photo)
    view, reduction = photo.image(DETECT_SIDE / max(photo.size))
    return [(angle, [scaled(unturned(face, turn, view.size), reduction)
                     for face in detectors._detector.detect(view.transpose(turn))]) for turn, angle in TURNS]


def widened_12(detectors: Detectors, photo) -> list:
    """Preprocessing 12's widened look: the view drawn in a black canvas WIDEN times its longer side,
    shrunk to the detector's input."""
    photo = open_photo(photo)
    view, reduction = photo.image(DETECT_SIDE / max(photo.size))
    side = int(round(WIDEN * max(view.size)))
    x, y = (side - view.size[0]) // 2, (side - view.size[1]) // 2
    canvas = Image.new("RGB", (side, side))
    canvas.paste(view, (x, y))
    return [scaled(shifted(face, -x, -y), reduction) for face in detectors._detector.detect(canvas)]


@contextlib.contextmanager
def preprocessing_12():
    """Within it, the second looks read what preprocessing 12's did; the product's again after, even
    after an error."""
    with mock.patch.object(Detectors, "detect_turned", turned_12), \
            mock.patch.object(Detectors, "detect_widened", widened_12):
        yield


def turned_copy_only():
    """Within it, the turned looks read as preprocessing 13's do and the widened look as 12's did (each
    change alone)."""
    return mock.patch.object(Detectors, "detect_widened", widened_12)


WAYS = {"preprocessing 12": preprocessing_12, "turned copy only": turned_copy_only,
        "preprocessing 13": contextlib.nullcontext}  # 13: the product


def markdown(r: dict, command: str) -> str:
    names = list(WAYS)
    return "\n".join([
        "# What the second looks read: shrunk again per turn and from a canvas (preprocessing 12), or the first "
        "look's copy turned and the view shrunk straight into the input (13)", "", f"`{command}`", "",
        "The turned looks read the detector's copy of the first look's view turned, not each turn of the view "
        "shrunk again; the widened look reads the view shrunk straight to half the detector's input in a black "
        "square, not a canvas twice the view's size shrunk (locate.Detectors.detect_turned, detect_widened). "
        "The middle way, *turned copy only*, makes the first change alone (the widened look as 12's). "
        f"Answers through the product with `{r['model']}`, on validation photos only; each cell gives the ways in "
        f"that order ({' / '.join(names)}).", "", *tables(r, names, "way")]) + "\n"


@errors_exit_2
def main(argv=None) -> int:
    return run_study("second_look_input_study", __doc__, WAYS, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())
