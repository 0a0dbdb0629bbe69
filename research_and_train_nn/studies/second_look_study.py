"""When can the face mesh stop refining a face that a second look found?

    python3 research_and_train_nn/studies/second_look_study.py --out research_and_train_nn/reports

When no face of the upright look is trusted, find_faces looks again (the photo turned, then
widened) and refines every face those looks find with the face mesh, up to MESH_PASSES passes
each; a face they find counts only when the mesh trusts it (presence of TRUSTED or more). A face
that will not count needs no eyes, so its passes are wasted: on a photo without a face they are
most of the cost of looking again (issue 26). This study runs find_faces on the composed hard
photos of studies/hard_cases.py (validation photos only) twice: never giving up (``give_up``
None), recording every pass's presence of every face a second look refines, and with the
shipped rule (locate.GIVE_UP: stop once two passes in a row read below it). It reports how low
the faces that ended trusted read on their first two passes (the margin the rule has), how many
mesh passes the rule saves, and whether any photo's faces changed at all (they must not: the
answers come from those faces). ``--turned-regions edge`` measures the rule with the turned look's
face-mesh regions carried past the photo's edges (frame_fill_study.py's column). Writes
second_look_study.md and .json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glasses_core import CropConfig, Detectors, open_photo
from glasses_core.errors import errors_exit_2
from glasses_core.locate import GIVE_UP, TRUSTED, find_faces
from research_and_train_nn.data.composed import compose
from research_and_train_nn.studies.frame_fill_study import FILLS, PRODUCT, filled
from research_and_train_nn.studies.hard_cases import add_photo_arguments, validation_photos
from research_and_train_nn.studies.report_files import command_line, write_report


class PassRecorder:
    """Every face-mesh pass's presence, per refined face, tagged with the look that found the face
    (the last of Detectors.detect / detect_turned / detect_widened called before it)."""

    def __init__(self, detectors: Detectors):
        self.faces: list[tuple[str, list[float]]] = []
        self._look = "detect"
        for name in ("detect", "detect_turned", "detect_widened"):
            setattr(detectors, name, self._tagged(name, getattr(detectors, name)))
        refine, look = detectors.refiner.refine, detectors.refiner._mesh.look
        detectors.refiner.refine = lambda *a, **k: self.faces.append((self._look, [])) or refine(*a, **k)
        detectors.refiner._mesh.look = lambda patch: self._passed(look(patch))

    def _tagged(self, name, method):
        def tagged(photo):
            self._look = name
            return method(photo)
        return tagged

    def _passed(self, looked):
        self.faces[-1][1].append(float(looked[1]))
        return looked


def same_faces(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x.keypoints, y.keypoints) and np.array_equal(x.box, y.box)
                                    for x, y in zip(a, b))


def measure(photos, give_up: float, turned_regions: str = FILLS[PRODUCT][2]) -> dict:
    """The table of ``markdown``; with the turned look's face-mesh regions holding ``turned_regions``
    past the photo (locate.TURNED_REGION_OUTSIDE: black, the product's, or the photo's edge)."""
    crop, upright, _, widened = FILLS[PRODUCT]
    with filled(crop, upright, turned_regions, widened):
        return _measure(photos, give_up) | {"turned_regions": turned_regions}


def _measure(photos, give_up: float) -> dict:
    config = CropConfig()
    never, ruled = Detectors(config), Detectors(config)
    recorded, counted = PassRecorder(never), PassRecorder(ruled)
    composed = changed = 0
    for record, eyes in tqdm(photos, desc="photos", unit="photo", file=sys.stderr):
        for case in compose(record, eyes):
            photo = case.jpeg
            a = find_faces(open_photo(photo), never, config, give_up=None)
            b = find_faces(open_photo(photo), ruled, config, give_up=give_up)
            composed += 1
            changed += not same_faces(a, b)
    second = [p for look, p in recorded.faces if look != "detect"]
    trusted = [p for p in second if p[-1] >= TRUSTED]
    never_trusted = [p for p in second if p[-1] < TRUSTED]
    first_two = lambda p: max(p[:2])  # noqa: E731  the higher of the first two passes' presences
    return {
        "give_up": give_up, "trusted_at": TRUSTED, "composed_photos": composed, "photos_with_other_faces": changed,
        "second_look_faces": len(second), "trusted": len(trusted), "never_trusted": len(never_trusted),
        "passes_never_giving_up": sum(map(len, second)),
        "passes_on_faces_never_trusted": sum(map(len, never_trusted)),
        "passes_with_the_rule": sum(len(p) for look, p in counted.faces if look != "detect"),
        "upright_passes": [sum(len(p) for look, p in r.faces if look == "detect") for r in (recorded, counted)],
        "trusted_lowest_first_pass": min(p[0] for p in trusted) if trusted else None,
        "trusted_lowest_of_first_two": min(first_two(p) for p in trusted) if trusted else None,
        "never_trusted_first_pass_quantiles": np.quantile([p[0] for p in never_trusted], [0.1, 0.5, 0.9]).tolist()
        if never_trusted else None,
    }


def markdown(r: dict, command: str) -> str:
    saved = r["passes_never_giving_up"] - r["passes_with_the_rule"]
    return "\n".join([
        "# Second looks: when the face mesh can stop refining a face", "", f"`{command}`", "",
        f"{r['composed_photos']} composed hard photos (studies/hard_cases.py's, validation photos only), "
        "each through find_faces twice: never giving up, and giving up on a second look's face once two "
        f"passes in a row read its presence below {r['give_up']} (locate.GIVE_UP); the turned look's face-mesh "
        f"regions hold {r['turned_regions']} past the photo (locate.TURNED_REGION_OUTSIDE). A face counts when "
        f"its presence is {r['trusted_at']} or more (and its eye line fits the look); below, 'trusted' is "
        "the first half of that, so the margins are, if anything, too cautious.", "",
        "| measurement | value |", "|---|---|",
        f"| faces the second looks refined | {r['second_look_faces']} ({r['trusted']} ended at "
        f"{r['trusted_at']} or more, {r['never_trusted']} never did) |",
        f"| mesh passes on them, never giving up | {r['passes_never_giving_up']} "
        f"({r['passes_on_faces_never_trusted']} on faces never trusted) |",
        f"| mesh passes on them, with the rule | {r['passes_with_the_rule']} ({saved} fewer, "
        f"{saved / max(r['passes_never_giving_up'], 1):.1%}) |",
        f"| a trusted face's lowest presence on its first pass | {r['trusted_lowest_first_pass']:.2f} |",
        f"| a trusted face's lowest presence, the higher of its first two passes | "
        f"{r['trusted_lowest_of_first_two']:.2f} |",
        "| never-trusted faces' first-pass presence, 10th / 50th / 90th percentile | "
        + " / ".join(f"{q:.2f}" for q in r["never_trusted_first_pass_quantiles"]) + " |",
        f"| photos whose faces changed with the rule | {r['photos_with_other_faces']} of {r['composed_photos']} |",
        f"| upright look's passes (the rule does not touch them) | {r['upright_passes'][0]} and "
        f"{r['upright_passes'][1]} |", ""])


@errors_exit_2
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for second_look_study.md and .json")
    add_photo_arguments(parser)
    parser.add_argument("--give-up", type=float, default=GIVE_UP, help=f"the rule's presence (default {GIVE_UP})")
    parser.add_argument("--turned-regions", choices=("black", "edge"), default=FILLS[PRODUCT][2],
                        help="what the turned look's face-mesh regions hold past the photo (default: the product's)")
    args = parser.parse_args(argv)
    report = measure(validation_photos(args.data, args.per_class), args.give_up, args.turned_regions)
    write_report(args.out, "second_look_study", report, markdown(report, command_line("second_look_study.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
