"""Dataset loaders: each reads one dataset's own format into a list of Records.

Label policy (the whole project): 1 = glasses worn over the eyes, 0 = not. The kind of glasses
(``clear`` eyeglasses or ``dark`` sunglasses) comes from the project's own labels, made by eye
(kind_labels/, research_and_train_nn/kind_sheets.py), for the pools they cover.
"""
from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from glasses_core.config import KINDS
from glasses_core.errors import ConfigError
from glasses_core.files import read_regular_file

MAX_LABEL_BYTES = 1024 * 1024 * 1024  # a label file (all of CelebA's attributes: 26 MB)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


# Where the project's own commands say the data is: a photo without a known person is split by
# its place under this folder (see Record.group), wherever the data really lies.
SPLIT_DATA_ROOT = "../shared/data"
KIND_LABELS = Path(__file__).resolve().parent / "kind_labels"  # <pool>.csv: file,kind,note
GLASSES_AUDIT = Path(__file__).resolve().parent / "glasses_audit"  # train/validation/test.csv: labels looked at by eye
LOOKED_LABEL = {"glasses": 1, "none": 0}  # the look's answers that are a label ("unsure" is not)
# CelebA's aligned images put the eyes here, as fractions of width and height: the face mesh's
# mean on 100 of the 89 x 109 images (the subject's right eye, on the image's left, first).
CELEBA_ALIGNED_EYES = ((34.5 / 89, 56.1 / 109), (53.7 / 89, 56.1 / 109))


@dataclass(frozen=True)
class Record:
    """One labelled photo. ``identity`` is None when the dataset does not know the person;
    ``key`` is the photo's path inside the dataset, led by the dataset folder's name
    (``mtfl/net_7876/1144_0_0.jpg``), None when unknown."""
    path: str
    label: int
    identity: str | None
    source: str
    key: str | None = None
    kind: str | None = None  # with glasses: "clear" or "dark" where labelled, else None (unsure, unknown)
    dataset_label: int | None = None  # the dataset's own label where a look by eye changed it (with_looked_labels)

    @property
    def group(self) -> str:
        """Key for identity-disjoint splits: the person, or the photo itself when unknown. A
        photo is named by its ``key`` under SPLIT_DATA_ROOT, so the split is the same wherever
        the data lies and however its path is written, and is the one every run since 0.1.0
        had with the data at ../shared/data (they named photos by the path as given)."""
        if self.identity is not None:
            return f"{self.source}:{self.identity}"
        return f"photo:{SPLIT_DATA_ROOT}/{self.key}" if self.key is not None else f"photo:{self.path}"


    @property
    def pool(self) -> str:
        """Which labelled pool the photo is in, for reports and kind labels: the source, except that
        CelebA-format photos are told apart by their dataset folder (``celeba``, ``celeba_more``)."""
        if self.source == "celeba" and self.key:
            return self.key.split("/", 1)[0]
        return self.source

    @property
    def file(self) -> str | None:
        """The photo's path inside its dataset folder (the key without the folder's name)."""
        return self.key.split("/", 1)[1] if self.key and "/" in self.key else None


def file_of(path) -> str:
    """A saved photo path's file inside its dataset folder (``img_align_celeba/000001.jpg``,
    ``lfw_5590/Name_0001.jpg``, ``AFLW/...``): how the label CSVs name it."""
    return "/".join(Path(str(path)).parts[-2:])


def with_kinds(records: list[Record], labels: Path = KIND_LABELS) -> list[Record]:
    """The records with glasses given their kind from ``labels/<pool>.csv`` where it has one."""
    kind_of = _kind_lookup(labels)
    return [dataclasses.replace(r, kind=kind_of(r.pool, r.file)) if r.label == 1 else r for r in records]


def kinds_now(paths, pools, labels, kind_files: Path = KIND_LABELS) -> list[str]:
    """The kind ("clear", "dark" or "") of each photo (its path, pool and glasses label, as a run's
    val_crops.npz keeps them) from the label CSVs as they are now, not as they were when the run
    saved its crops: a later look at the labels reaches every table scored from them."""
    kind_of = _kind_lookup(kind_files)
    return [(kind_of(str(pool), file_of(path)) or "") if int(label) == 1 else ""
            for path, pool, label in zip(paths, pools, labels)]


def with_looked_labels(records: list[Record], audit: Path = GLASSES_AUDIT) -> list[Record]:
    """The records with the first answer's label the look by eye gave them (label_audit.py:
    ``audit``/train.csv and validation.csv): glasses 1, none 0 (a changed label keeps the dataset's
    in ``dataset_label`` and loses its kind); the photos the look could not tell are left out, those
    it did not see (other datasets) keep their own label."""
    for part in ("train", "validation"):
        if not (audit / f"{part}.csv").is_file():
            raise ConfigError(f"{audit / part}.csv: no such file (label_audit.py collect --part {part} writes it)")
    said = _looked_answers(audit / "train.csv", audit / "validation.csv")
    out = []
    for record in records:
        answer = said.get((record.pool, record.file))
        if answer == "unsure":
            continue
        label = LOOKED_LABEL.get(answer, record.label)
        out.append(record if label == record.label else
                   dataclasses.replace(record, label=label, kind=None, dataset_label=record.label))
    return out


def audited_labels(paths, pools, audit: Path = GLASSES_AUDIT / "validation.csv") -> list[int]:
    """The first answer's label of each photo (its path and pool, as a run's val_crops.npz keeps
    them) by the look at the validation labels (label_audit.py): 1 glasses, 0 none, -1 where the
    look could not tell or did not see the photo."""
    said = _looked_answers(audit)
    return [LOOKED_LABEL.get(said.get((str(pool), file_of(path)), ""), -1)
            for path, pool in zip(paths, pools)]


def _looked_answers(*files: Path) -> dict[tuple[str, str], str]:
    """{(pool, file): answer} from the look's CSVs (label_audit.py collect)."""
    said = {}
    for path in files:
        with open(path, newline="") as handle:
            said.update({(row["pool"], row["file"]): row["answer"] for row in csv.DictReader(handle)})
    return said


def _kind_lookup(labels: Path):
    """``kind_of(pool, file)``: the file's kind in ``labels/<pool>.csv`` if clear or dark, else None
    (unsure, or no row); each pool's CSV read once."""
    tables: dict[str, dict[str, str]] = {}

    def kind_of(pool: str, file: str | None) -> str | None:
        if pool not in tables:
            tables[pool] = kind_labels(labels / f"{pool}.csv")
        kind = tables[pool].get(file or "")
        return kind if kind in KINDS else None
    return kind_of


def kind_labels(path: Path) -> dict[str, str]:
    """file -> kind (clear, dark, unsure) from a kind label CSV; empty when there is none."""
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        return {row["file"]: row["kind"] for row in csv.DictReader(handle)}


def _name(root: Path) -> str:
    """The dataset folder's own name, also for "." (the name of the folder it stands for)."""
    return Path(os.path.abspath(root)).name


def load_meglass(root: str | Path) -> list[Record]:
    """MeGlass: ``meta.txt`` (``file label``, 1 = eyeglasses) and images in ``MeGlass_120x120/``.

    The identity is the file name up to its second ``@`` (``user@N08_identity_4``).
    """
    root = Path(root)
    images = root / "MeGlass_120x120"
    records = []
    for line_no, parts in _rows(root / "meta.txt", 2):
        name, label = parts
        records.append(Record(str(images / name), _label(label, {"1": 1, "0": 0}, root / "meta.txt", line_no),
                              "@".join(name.split("@")[:2]), "meglass", f"{_name(root)}/{images.name}/{name}"))
    return records


def load_mtfl(root: str | Path, split: str = "train") -> list[Record]:
    """MTFL: ``training.txt`` (split "train") or ``testing.txt`` ("test"); glasses 1 = yes, 2 = no.

    Paths use ``\\`` in training.txt. LFW images (``lfw_5590/Name_NNNN.jpg``) carry the person.
    """
    root = Path(root)
    files = {"train": "training.txt", "test": "testing.txt"}
    if split not in files:
        raise ConfigError(f"MTFL split must be one of {sorted(files)}, got {split!r}")
    label_file = root / files[split]
    records = []
    for line_no, parts in _rows(label_file, 15):
        rel = parts[0].replace("\\", "/")
        label = _label(parts[13], {"1": 1, "2": 0}, label_file, line_no)
        identity = None
        if rel.startswith("lfw_5590/"):
            identity = Path(rel).stem.rsplit("_", 1)[0]
        records.append(Record(str(root / rel), label, identity, f"mtfl_{split}", f"{_name(root)}/{rel}"))
    return records


def mtfl_eyes(root: str | Path, split: str = "train") -> dict[str, tuple]:
    """MTFL's annotated eye centres: path -> ((x, y) image-left eye, (x, y) image-right eye)."""
    return {path: points[:2] for path, points in mtfl_landmarks(root, split).items()}


def mtfl_poses(root: str | Path, split: str = "train") -> dict[str, int]:
    """MTFL's head pose per path: 1 left profile, 2 left, 3 frontal, 4 right, 5 right profile."""
    root = Path(root)
    label_file = root / {"train": "training.txt", "test": "testing.txt"}[split]
    return {str(root / parts[0].replace("\\", "/")): int(parts[14]) for _, parts in _rows(label_file, 15)}


def mtfl_landmarks(root: str | Path, split: str = "train") -> dict[str, tuple]:
    """MTFL's five annotated points: path -> ((x, y) image-left eye, image-right eye, nose,
    image-left mouth corner, image-right mouth corner)."""
    root = Path(root)
    label_file = root / {"train": "training.txt", "test": "testing.txt"}[split]
    landmarks = {}
    for _, parts in _rows(label_file, 15):
        v = [float(p) for p in parts[1:11]]
        landmarks[str(root / parts[0].replace("\\", "/"))] = tuple((v[i], v[i + 5]) for i in range(5))
    return landmarks


def celeba_attributes(root: str | Path) -> dict[str, dict[str, bool]]:
    """CelebA's 40 binary attributes (±1 in ``list_attr_celeba.txt``) per image file name:
    ``Eyeglasses``, and the ones that make hard cases (``Wearing_Hat``, ``Narrow_Eyes``, ...)."""
    attr_file = Path(root) / "list_attr_celeba.txt"
    lines = _read_lines(attr_file)
    if len(lines) < 2:
        raise ConfigError(f"{attr_file}: expected a count line and an attribute-names line")
    names = lines[1].split()
    if "Eyeglasses" not in names:
        raise ConfigError(f"{attr_file}: no Eyeglasses column")
    table = {}
    for line_no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise ConfigError(f"{attr_file}:{line_no}: expected {len(names) + 1} fields, got {len(parts)}")
        table[parts[0]] = {name: bool(_label(value, {"1": 1, "-1": 0}, attr_file, line_no))
                           for name, value in zip(names, parts[1:])}
    return table


def load_celeba(root: str | Path) -> list[Record]:
    """CelebA: ``list_attr_celeba.txt`` (the ``Eyeglasses`` column, ±1) and ``identity_CelebA.txt``.

    Only images present in ``img_align_celeba/`` are returned (a subset may be installed).
    """
    root = Path(root)
    attributes = celeba_attributes(root)
    identities = {}
    for _, parts in _rows(root / "identity_CelebA.txt", 2):
        identities[parts[0]] = parts[1]
    images = root / "img_align_celeba"
    present = {p.name for p in images.iterdir()} if images.is_dir() else set()
    return [Record(str(images / name), int(attrs["Eyeglasses"]), identities.get(name), "celeba",
                   f"{_name(root)}/{images.name}/{name}")
            for name, attrs in attributes.items() if name in present]


FOLDER_LABELS = {"with_glasses": 1, "without_glasses": 0, "1": 1, "0": 0}


def load_folder(root: str | Path, source: str | None = None) -> list[Record]:
    """Images sorted into ``with_glasses/`` + ``without_glasses/`` (or ``1/`` + ``0/``).

    A scraper output folder also has ``manifest.csv``; its rows give each file's query, kept
    as the identity-free source ``scraped``.
    """
    root = Path(root)
    source = source or ("scraped" if (root / "manifest.csv").is_file() else f"folder:{root.name}")
    records = []
    for sub, label in FOLDER_LABELS.items():
        folder = root / sub
        if folder.is_dir():
            records += [Record(str(p), label, None, source, f"{_name(root)}/{p.relative_to(root).as_posix()}")
                        for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not records:
        raise ConfigError(f"{root}: no images in with_glasses/ + without_glasses/ (or 1/ + 0/)")
    return records


def scraped_manifest(root: str | Path) -> list[dict]:
    """The rows of a scraper output folder's manifest.csv."""
    with open(Path(root) / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


LOADERS = {"meglass": load_meglass, "mtfl": load_mtfl, "celeba": load_celeba, "folder": load_folder}


def load(spec: str) -> list[Record]:
    """Load a dataset from a ``kind:path`` spec, e.g. ``mtfl:../shared/data/mtfl``,
    ``mtfl-test:PATH``, ``celeba:PATH``, ``meglass:PATH``, ``folder:PATH``."""
    kind, sep, path = spec.partition(":")
    if not sep or not path:
        raise ConfigError(f"dataset spec {spec!r} must look like KIND:PATH, KIND one of "
                          f"{sorted(LOADERS) + ['mtfl-test']}")
    if kind == "mtfl-test":
        return with_kinds(load_mtfl(path, "test"))
    if kind not in LOADERS:
        raise ConfigError(f"unknown dataset kind {kind!r}; choose one of {sorted(LOADERS) + ['mtfl-test']}")
    if not Path(path).exists():
        raise ConfigError(f"dataset {spec!r}: {path} does not exist")
    return with_kinds(LOADERS[kind](path))


def _read_lines(path: Path) -> list[str]:
    """A label file's lines, read only from a regular file and up to MAX_LABEL_BYTES (the
    scraper's test-set guard reads these from paths a user names)."""
    try:
        data = read_regular_file(path, MAX_LABEL_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{path}: label file not found") from None
    except OSError as err:  # FileRefused: a FIFO, a device, a folder, too large
        raise ConfigError(f"{path}: cannot read the label file ({err.strerror or err})") from None
    return [line.strip() for line in data.decode().splitlines()]


def _rows(path: Path, fields: int):
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line:
            continue
        parts = line.split()
        if len(parts) != fields:
            raise ConfigError(f"{path}:{line_no}: expected {fields} fields, got {len(parts)}")
        yield line_no, parts


def _label(value: str, mapping: dict, path: Path, line_no: int) -> int:
    if value not in mapping:
        raise ConfigError(f"{path}:{line_no}: label {value!r} is not one of {sorted(mapping)}")
    return mapping[value]
