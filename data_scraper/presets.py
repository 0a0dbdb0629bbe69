"""Query presets for the photos our face datasets lack, each with the label it gives.

Label policy (the whole project): 1 = glasses worn over the eyes, 0 = not. Glasses on the
forehead, in a hand or on a table are 0: they are the hard negatives a model must not call
"glasses" just because it sees a frame. Search results are noisy, so a preset's label is a
starting point: look through the folder before training on it (the manifest says which
query brought each file).
"""
from __future__ import annotations

from dataclasses import dataclass

from glasses_core.errors import ConfigError

LABEL_FOLDERS = {1: "with_glasses", 0: "without_glasses"}  # what the training loaders read


@dataclass(frozen=True)
class Preset:
    queries: tuple[str, ...]
    label: int
    why: str


PRESETS = {
    "novelty": Preset(("funny glasses selfie", "novelty party glasses face", "big round funny glasses"),
                      1, "odd frames and colours that no face dataset has"),
    "snapchat": Preset(("snapchat glasses filter selfie", "snapchat spectacles selfie"),
                       1, "filter-drawn glasses on phone selfies (the original motivation)"),
    "sunglasses": Preset(("person wearing sunglasses selfie", "mirrored sunglasses portrait"),
                         1, "dark and mirrored lenses hide the eyes"),
    "thick_frames": Preset(("thick black rimmed glasses selfie", "hipster glasses portrait"),
                           1, "heavy frames, close-ups"),
    "rimless": Preset(("rimless glasses portrait", "thin frame glasses close up"),
                      1, "nearly invisible frames"),
    "kids": Preset(("child wearing glasses", "toddler with glasses"), 1, "young faces are rare in MeGlass"),
    "forehead": Preset(("glasses pushed up on forehead", "sunglasses on top of head selfie"),
                       0, "hard negative: glasses on the head, eyes bare"),
    "in_hand": Preset(("person holding glasses in hand", "man taking off his glasses"),
                      0, "hard negative: glasses in view but not worn"),
    "no_glasses_selfies": Preset(("selfie", "snapchat dog filter selfie", "webcam selfie"),
                                 0, "ordinary phone and webcam photos without glasses"),
    "eye_makeup": Preset(("dark eye makeup face", "dark circles under eyes face"),
                         0, "hard negative: dark rings around bare eyes"),
}


@dataclass(frozen=True)
class Job:
    """One query to run, the label its results get, and where the query came from."""
    query: str
    label: int
    origin: str  # a preset name, or "custom"

    @property
    def folder(self) -> str:
        return LABEL_FOLDERS[self.label]


def preset_jobs(names: list[str]) -> list[Job]:
    """The queries of the named presets ("all" for every one), in the order given."""
    if "all" in names:
        names = list(PRESETS)
    jobs = []
    for name in names:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose from {sorted(PRESETS) + ['all']}")
        preset = PRESETS[name]
        jobs += [Job(query, preset.label, name) for query in preset.queries]
    return jobs


def parse_label(text: str) -> int:
    """A label given on the command line: 1/0 or the folder name."""
    names = {"1": 1, "0": 0, **{folder: label for label, folder in LABEL_FOLDERS.items()}}
    if text not in names:
        raise ConfigError(f"label {text!r} must be one of {sorted(names)}")
    return names[text]
