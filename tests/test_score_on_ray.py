"""deploy/score_on_ray.py on a local Ray (2 CPUs): the folder runner's answers for a folder of
real photos and broken files, and reruns that score only what is missing."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from deploy import run_on_folder, score_on_ray
from deploy.ray_inputs import find_photos, list_uri
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, SHIPPED_MODEL

BAD_FILES = ("broken.jpg", "empty.jpg", "noise.png")  # truncated JPEG, 0 bytes, not an image
EXIT_INCOMPLETE = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir) -> Path:
    """24 real photos (MTFL with and without glasses, CelebA), three bad files and a text file."""
    root = tmp_path_factory.mktemp("ray_photos")
    for name in MTFL_GLASSES + MTFL_NO_GLASSES:
        shutil.copy(data_dir / "mtfl" / name, root / Path(name).name)
    for number in range(40, 58):
        name = f"{number:06d}.jpg"
        shutil.copy(data_dir / "celeba" / "img_align_celeba" / name, root / name)
    (root / "broken.jpg").write_bytes((data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()[:1500])
    (root / "empty.jpg").write_bytes(b"")
    (root / "noise.png").write_bytes(bytes(range(256)) * 8)
    (root / "notes.txt").write_text("not a photo\n")
    return root


@pytest.fixture(scope="module")
def runner_rows(folder) -> dict[str, dict]:
    """The folder runner's CSV rows (--all --format csv), by path."""
    out = folder.parent / "runner.csv"
    with open(out, "w") as stream, pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", stream)
        assert run_on_folder.main([str(folder), "--all", "--format", "csv", "--model", str(SHIPPED_MODEL),
                                   "--workers", "1"]) == EXIT_INCOMPLETE
    with open(out, newline="") as stream:
        return {row["path"]: row for row in csv.DictReader(stream)}


def read_rows(out: Path, fmt: str) -> list[dict]:
    """Every row of the part files in ``out``."""
    if fmt == "parquet":
        return [row for part in sorted(out.glob("*.parquet")) for row in pq.read_table(part).to_pylist()]
    rows = []
    for part in sorted(out.glob("*.csv")):
        with open(part, newline="") as stream:
            rows += list(csv.DictReader(stream))
    return rows


def score(*args) -> int:
    return score_on_ray.main([str(a) for a in args] + ["--model", str(SHIPPED_MODEL)])


def test_same_answers_as_the_folder_runner_and_one_error_row_per_bad_file(local_ray, folder, runner_rows,
                                                                          tmp_path):
    assert score(folder, "--out", tmp_path / "out", "--format", "csv") == EXIT_INCOMPLETE
    rows = read_rows(tmp_path / "out", "csv")
    assert sorted(row["path"] for row in rows) == sorted(runner_rows)  # each photo once, no text file
    errors = sorted(Path(row["path"]).name for row in rows if row["error"])
    assert errors == sorted(BAD_FILES)
    for row in rows:
        expected = runner_rows[row["path"]]
        assert row["answer"] == expected["answer"], row["path"]
        if not row["error"]:
            assert float(row["probability"]) == pytest.approx(float(expected["probability"]), abs=1.5e-6)
            assert int(row["faces"]) == int(expected["faces"]) == len(json.loads(row["face_boxes"]))
            assert row["kind"] == expected["kind"], row["path"]
    assert {row["answer"] for row in rows if not row["error"]} == {"glass", "no_glass"}


def test_a_rerun_scores_only_what_is_missing(local_ray, folder, runner_rows, tmp_path, capsys):
    out = tmp_path / "out"
    first_half = sorted(runner_rows)[:12]
    (tmp_path / "list.txt").write_text("\n".join(first_half) + "\n")
    assert score("--file-list", tmp_path / "list.txt", "--out", out) == 0
    (first_part,) = out.glob("*.parquet")
    written_first = first_part.read_bytes()
    (out / "stopped_run.parquet").write_bytes(written_first[:200])  # a part file cut short by a kill
    capsys.readouterr()
    assert score(folder, "--out", out) == EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert f"{len(runner_rows)} photos, 12 already in {out}, {len(runner_rows) - 12} to score" in err
    assert "stopped_run.parquet: removed" in err
    assert first_part.read_bytes() == written_first  # what was written stays as it was
    new_parts = [part for part in out.glob("*.parquet") if part != first_part]
    new_paths = [row["path"] for part in new_parts for row in pq.read_table(part).to_pylist()]
    assert sorted(new_paths) == sorted(set(runner_rows) - set(first_half))
    rows = read_rows(out, "parquet")
    assert sorted(row["path"] for row in rows) == sorted(runner_rows)
    for row in rows:
        assert row["answer"] == (runner_rows[row["path"]]["answer"] or None)
        assert (row["face_boxes"] is None) == bool(row["error"])
    capsys.readouterr()
    assert score(folder, "--out", out) == EXIT_INCOMPLETE  # nothing left: no Ray started
    assert f"{len(runner_rows)} to score" not in capsys.readouterr().err
    assert len(list(out.glob("*.parquet"))) == 1 + len(new_parts)


def test_globs_and_file_uris_name_the_same_photos(folder):
    photos = sorted(str(p) for p in folder.iterdir() if p.suffix in (".jpg", ".png"))
    assert sorted(find_photos([str(folder / "*.jpg"), str(folder / "*.png")], [], False).photos) == photos
    assert list_uri(f"file://{folder}", False) == [f"file://{p}" for p in photos]
    assert list_uri(f"file://{folder}/0*.jpg", False) == [f"file://{p}" for p in photos if Path(p).name[0] == "0"]


def test_usage_errors_and_help(tmp_path, capsys):
    assert score(tmp_path / "missing", "--out", tmp_path / "out") == 2
    assert score(str(tmp_path / "*.jpg"), "--out", tmp_path / "out") == 2
    assert "matches nothing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        score_on_ray.main(["--help"])
    assert stop.value.code == 0
    help_text = capsys.readouterr().out
    assert "exit status" in help_text and "face_boxes" in help_text



def test_each_worker_process_loads_the_classifier_once_and_again_when_the_file_changes(tmp_path):
    from deploy import ray_scoring
    # Ray pickles score_batch by reference, so that a worker's classifier outlives a task, only
    # because it lives in an importable module, not in the script run as __main__
    assert ray_scoring.score_batch.__module__ == "deploy.ray_scoring"
    model = tmp_path / "glasses_int8.tflite"  # its metadata inside
    shutil.copy(SHIPPED_MODEL.parent / model.name, model)
    first = ray_scoring.classifier(model, None)
    assert ray_scoring.classifier(model, None) is first  # kept for the next batch
    other = ray_scoring.classifier(model, 0.5)
    assert other is not first and other.threshold == 0.5
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new file under the same name
    assert ray_scoring.classifier(model, None) is not first


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_retry_errors_scores_failed_photos_again_and_keeps_one_row_each(local_ray, folder, runner_rows, tmp_path,
                                                                        fmt, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    good = [Path(shutil.copy(p, photos / p.name)) for p in
            sorted(p for p in folder.iterdir() if p.suffix == ".jpg" and p.name not in BAD_FILES)[:3]]
    late = photos / "late.jpg"
    late.write_bytes(b"still being copied")  # not an image yet: an error row
    out = tmp_path / "out"
    assert score(photos, "--out", out, "--format", fmt) == EXIT_INCOMPLETE
    first = {row["path"]: row for row in read_rows(out, fmt)}
    assert first[str(late)]["error"] and len(first) == 4
    shutil.copy(good[0], late)  # the file is whole now
    assert score(photos, "--out", out, "--format", fmt) == EXIT_INCOMPLETE  # without the flag: kept as it was
    assert len(read_rows(out, fmt)) == 4
    capsys.readouterr()
    assert score(photos, "--out", out, "--format", fmt, "--retry-errors") == 0
    assert "1 error rows removed" in capsys.readouterr().err
    rows = read_rows(out, fmt)
    assert sorted(row["path"] for row in rows) == sorted(first)  # one row a photo
    again = {row["path"]: row for row in rows}
    assert not again[str(late)]["error"] and again[str(late)]["answer"] == first[str(good[0])]["answer"]
    for photo in good:  # the other rows as they were, read back with the same types
        assert again[str(photo)] == first[str(photo)]


def test_a_part_file_that_cannot_be_read_is_never_removed(local_ray, folder, runner_rows, tmp_path, capsys,
                                                          monkeypatch):
    out = tmp_path / "out"
    (tmp_path / "list.txt").write_text(sorted(runner_rows)[0] + "\n")
    assert score("--file-list", tmp_path / "list.txt", "--out", out) == 0
    (part,) = out.glob("*.parquet")
    written = part.read_bytes()

    def storage_failing(*args, **kwargs):
        raise OSError("When reading information for key: AWS Error NETWORK_CONNECTION")
    monkeypatch.setattr(pq, "read_table", storage_failing)
    capsys.readouterr()
    assert score(folder, "--out", out) == 2
    err = capsys.readouterr().err
    assert f"error: cannot read what {out} already holds (When reading" in err and "nothing was removed" in err
    assert part.read_bytes() == written  # a finished part file, kept whatever the storage does


def test_no_face_is_said_as_the_folder_runner_says_it(local_ray, data_dir, tmp_path):
    """Issue 29: a photo without a face answers no_face, with no probability and 0 faces, unless
    --fallback-guess asks for the fallback crop's guess, in Ray's rows as in the runner's."""
    from PIL import Image

    from glasses_core import GlassesClassifier
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(data_dir / "mtfl" / MTFL_GLASSES[0], photos / "face.jpg")
    Image.new("RGB", (320, 240), (128, 128, 128)).save(photos / "grey.png")
    guess = GlassesClassifier(SHIPPED_MODEL).predict(photos / "grey.png").fallback
    for flags, answer, probability in (((), "no_face", None), (("--fallback-guess",), guess.answer, guess.probability)):
        out = tmp_path / f"out{len(flags)}"
        assert score(photos, "--out", out, "--format", "csv", *flags) == 0
        rows = {Path(row["path"]).name: row for row in read_rows(out, "csv")}
        grey = rows["grey.png"]
        assert (grey["answer"], grey["faces"], grey["face_boxes"], grey["error"]) == (answer, "0", "[]", "")
        if probability is None:
            assert grey["probability"] == ""
        else:
            assert float(grey["probability"]) == pytest.approx(probability, abs=1e-6)
        assert rows["face.jpg"]["answer"] == "glass" and rows["face.jpg"]["faces"] == "1"


def test_the_kind_of_glasses_per_photo_and_per_face(local_ray, data_dir, everyone_wears_glasses, tmp_path):
    """Issue 24: with a model that says which glasses, each photo's kind and each face's, as
    Python says them (Parquet: face_kinds as a list)."""
    from glasses_core import GlassesClassifier
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in MTFL_GLASSES + MTFL_NO_GLASSES:
        shutil.copy(data_dir / "mtfl" / name, photos / Path(name).name)
    classifier = GlassesClassifier(everyone_wears_glasses)
    out = tmp_path / "out"
    assert score_on_ray.main([str(photos), "--out", str(out), "--model", str(everyone_wears_glasses)]) == 0
    rows = read_rows(out, "parquet")
    assert len(rows) == 6
    for row in rows:
        expected = classifier.predict(row["path"])
        assert row["kind"] == expected.kind in ("clear", "dark")
        assert row["face_kinds"] == [face.kind for face in expected.faces]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_part_file_from_before_the_kind_columns_is_given_them(local_ray, folder, tmp_path, fmt, capsys):
    """A folder scored by 0.2.0's release (no kind, face_kinds columns) and continued by this one
    held part files of two schemas (CSV readers saw two headers), and --retry-errors could not read
    the old parts ("0 error rows removed"). The old part is rewritten with the new columns empty,
    its rows as they were."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from deploy import ray_output
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted(p for p in folder.iterdir() if p.suffix == ".jpg" and p.name not in BAD_FILES)[:3]:
        shutil.copy(path, photos / path.name)
    (photos / "late.jpg").write_bytes(b"still being copied")
    out = tmp_path / "out"
    assert score(photos, "--out", out, "--format", fmt) == EXIT_INCOMPLETE
    (part,) = out.glob(f"*.{fmt}")
    new = pq.read_table(part) if fmt == "parquet" else pacsv.read_csv(part)
    old = new.drop_columns(["kind", "face_kinds"])  # what the older release wrote
    if fmt == "parquet":
        pq.write_table(old, part)
    else:
        pacsv.write_csv(old, part)
    before = {row["path"]: row for row in read_rows(out, fmt)}
    capsys.readouterr()
    assert score(photos, "--out", out, "--format", fmt, "--retry-errors") == EXIT_INCOMPLETE  # late.jpg again
    err = capsys.readouterr().err
    assert f"{part}: written by an older release; rewritten" in err and "1 error rows removed" in err
    for each in out.glob(f"*.{fmt}"):
        names = pq.read_schema(each).names if fmt == "parquet" else each.read_text().split("\n")[0].replace('"', "").split(",")
        assert names == list(ray_output.COLUMNS), each.name
    rows = {row["path"]: row for row in read_rows(out, fmt)}
    assert sorted(rows) == sorted(before) and rows[str(photos / "late.jpg")]["error"]  # one row a photo
    for path, row in before.items():
        if not row["error"]:
            assert {k: v for k, v in rows[path].items() if k not in ("kind", "face_kinds")} == row
            assert rows[path]["kind"] in (None, "")  # unknown: the older release did not say
    if fmt == "parquet":
        assert pa.types.is_list(pq.read_table(out)["face_kinds"].type)  # the folder reads as one table
