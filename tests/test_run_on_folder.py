"""deploy/run_on_folder.py on a folder of real photos, other files and a broken image."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from deploy import run_on_folder
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, RUN_ON_FOLDER, deploy_python

CELEBA_SUB = ("000053.jpg", "000001.jpg")  # CelebA: the first wears glasses, the second does not


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir) -> Path:
    """Real photos (JPEG, PNG, one without an extension, two in a subfolder), a text file,
    a hidden file and a truncated JPEG."""
    root = tmp_path_factory.mktemp("photos")
    for name in MTFL_GLASSES + MTFL_NO_GLASSES:
        shutil.copy(data_dir / "mtfl" / name, root / Path(name).name)
    Image.open(data_dir / "mtfl" / MTFL_GLASSES[2]).save(root / "as_png.png")
    shutil.copy(data_dir / "mtfl" / MTFL_NO_GLASSES[2], root / "no_extension")
    (root / "sub").mkdir()
    for name in CELEBA_SUB:
        shutil.copy(data_dir / "celeba" / "img_align_celeba" / name, root / "sub" / name)
    (root / "notes.txt").write_text("not a photo\n")
    (root / ".hidden.jpg").write_bytes(b"")
    (root / "broken.jpg").write_bytes((data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()[:1500])
    return root


@pytest.fixture(scope="module")
def expected(folder, tiny_model_json) -> dict[str, object]:
    """What the core says about every readable photo, keyed by the path the runner prints."""
    classifier = GlassesClassifier(tiny_model_json)
    photos = [p for p in folder.rglob("*") if p.is_file() and p.suffix != ".txt"
              and not p.name.startswith(".") and p.name != "broken.jpg"]
    return {str(p): classifier.predict(p) for p in photos}


def run(capsys, *args) -> tuple[int, str, str]:
    code = run_on_folder.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def top_level(expected: dict, folder: Path) -> dict:
    return {p: r for p, r in expected.items() if Path(p).parent == folder}


def test_default_prints_exactly_the_photos_with_glasses(capsys, folder, expected, tiny_model_json):
    code, out, err = run(capsys, folder, "--model", tiny_model_json)
    assert code == 0
    wanted = sorted(p for p, r in top_level(expected, folder).items() if r.answer == "glass")
    assert out.splitlines() == wanted
    assert "broken.jpg" in err and "notes.txt" not in err and ".hidden" not in err


def test_all_lists_every_photo_with_answer_and_probability(capsys, folder, expected, tiny_model_json):
    code, out, err = run(capsys, folder, "--model", tiny_model_json, "--all")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[0] for r in rows] == sorted([*top_level(expected, folder), str(folder / "broken.jpg")])
    for path, answer, detail in rows:
        if path.endswith("broken.jpg"):
            assert answer == "error" and "truncated" in detail
        else:
            assert answer == expected[path].answer
            assert float(detail) == pytest.approx(expected[path].probability, abs=1e-3)
    assert err.count("broken.jpg") == 1


def test_csv(capsys, folder, expected, tiny_model_json):
    code, out, _ = run(capsys, folder, "--model", tiny_model_json, "--all", "--format", "csv", "--recursive")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "answer", "probability", "faces", "error"]
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {*expected, str(folder / "broken.jpg")}
    assert by_path[str(folder / "broken.jpg")]["error"] and not by_path[str(folder / "broken.jpg")]["answer"]
    for path, result in expected.items():
        row = by_path[path]
        assert row["answer"] == result.answer and row["error"] == ""
        assert float(row["probability"]) == pytest.approx(result.probability, abs=1e-5)
        assert int(row["faces"]) == (len(result.faces) if result.face_found else 0)


def test_json(capsys, folder, expected, tiny_model_json):
    code, out, _ = run(capsys, folder, "--model", tiny_model_json, "--all", "--format", "json")
    assert code == 0
    records = {r["path"]: r for r in json.loads(out)}
    assert records[str(folder / "broken.jpg")]["error"]
    for path, result in top_level(expected, folder).items():
        assert {k: records[path][k] for k in ("answer", "probability", "face_found", "faces")} == result.to_dict()
        assert records[path]["error"] is None
    code, out, _ = run(capsys, folder, "--model", tiny_model_json, "--format", "json", "--threshold", "1")
    saturated = sorted(p for p, r in top_level(expected, folder).items() if r.probability >= 1.0)
    assert sorted(r["path"] for r in json.loads(out)) == saturated  # only p == 1.0 reaches threshold 1


def test_threshold(capsys, folder, expected, tiny_model_json):
    _, out, _ = run(capsys, folder, "--model", tiny_model_json, "--threshold", "0")
    assert out.splitlines() == sorted(top_level(expected, folder))
    _, out, _ = run(capsys, folder, "--model", tiny_model_json, "--threshold", "1")
    assert out.splitlines() == sorted(p for p, r in top_level(expected, folder).items() if r.probability >= 1.0)


def test_recursive_looks_in_subfolders(capsys, folder, expected, tiny_model_json):
    _, out, _ = run(capsys, folder, "--model", tiny_model_json, "--threshold", "0", "--recursive")
    assert out.splitlines() == sorted(expected)
    assert str(folder / "sub" / CELEBA_SUB[0]) in out


def test_copy_to_and_move_to(capsys, folder, tiny_model_json, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(folder, work)
    code, out, _ = run(capsys, work, "--model", tiny_model_json, "--threshold", "0", "--recursive",
                       "--copy-to", tmp_path / "copied")
    gathered = [Path(p).relative_to(work) for p in out.splitlines()]
    assert code == 0 and gathered
    assert sorted(p.relative_to(tmp_path / "copied") for p in (tmp_path / "copied").rglob("*") if p.is_file()) \
        == sorted(gathered)
    assert all((work / p).exists() for p in gathered)
    code, out, err = run(capsys, work, "--model", tiny_model_json, "--threshold", "0", "--recursive",
                         "--move-to", work / "moved")
    assert code == 0 and [Path(p).relative_to(work) for p in out.splitlines()] == gathered
    assert all((work / "moved" / p).exists() and not (work / p).exists() for p in gathered)
    # the destination inside the folder is not searched again
    _, out, _ = run(capsys, work, "--model", tiny_model_json, "--threshold", "0", "--recursive",
                    "--move-to", work / "moved")
    assert out == ""


def test_never_overwrites(capsys, folder, tiny_model_json, tmp_path):
    name = Path(MTFL_GLASSES[1]).name
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / name).write_text("mine")
    code, _, err = run(capsys, folder, "--model", tiny_model_json, "--threshold", "0", "--copy-to", tmp_path / "dest")
    assert code == 0 and "already exists" in err and (tmp_path / "dest" / name).read_text() == "mine"


@pytest.mark.parametrize("args", [["--format", "xml"], ["--threshold", "2"], ["--threshold", "x"],
                                  ["--copy-to", "a", "--move-to", "b"], ["--workers", "-1"], ["--bogus"]])
def test_bad_arguments_exit_2(capsys, folder, args):
    with pytest.raises(SystemExit) as exit_:
        run_on_folder.main([str(folder), *args])
    assert exit_.value.code == 2


def test_missing_folder_exits_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        run_on_folder.main([str(tmp_path / "nowhere")])
    assert exit_.value.code == 2 and "nowhere" in capsys.readouterr().err


def test_missing_model_exits_1(capsys, folder, tmp_path):
    code, out, err = run(capsys, folder, "--model", tmp_path / "none.json")
    assert code == 1 and out == "" and "none.json" in err


def test_worker_processes_give_the_same_output(capsys, folder, tiny_model_json):
    args = [folder, "--model", tiny_model_json, "--all", "--format", "csv", "--recursive"]
    _, alone, _ = run(capsys, *args, "--workers", "1")
    _, pooled, err = run(capsys, *args, "--workers", "2")
    assert pooled == alone and err.count("broken.jpg") == 1


def test_light_environment_script(folder, tiny_model_json, capsys):
    """The script itself, as a user runs it: the light environment (no TensorFlow), a progress bar."""
    code, in_process, _ = run(capsys, folder, "--model", tiny_model_json, "--all", "--recursive")
    result = subprocess.run([deploy_python(), str(RUN_ON_FOLDER), str(folder), "--model", str(tiny_model_json),
                             "--all", "--recursive", "--progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == in_process
    assert "broken.jpg" in result.stderr and "11/11" in result.stderr  # the bar reached the end


def test_built_in_bar_when_tqdm_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    stream = io.StringIO()
    bar = run_on_folder.progress_bar(4, True)
    assert isinstance(bar, run_on_folder.TextBar)
    bar.stream = stream
    bar.update(2)
    bar.write("a.jpg: broken", file=stream)
    bar.update(2)
    bar.close()
    assert "a.jpg: broken\n" in stream.getvalue() and "4/4 photos" in stream.getvalue()


def test_examples_with_the_shipped_model():
    """`python3 deploy/run_on_folder.py examples/` prints exactly the photos with glasses."""
    examples = RUN_ON_FOLDER.parent.parent / "examples"
    with open(examples / "labels.csv", newline="") as handle:
        glasses = {row["file"] for row in csv.DictReader(handle) if row["label"] == "1"}
    out = subprocess.run([deploy_python(), str(RUN_ON_FOLDER), str(examples)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert {Path(line).name for line in out.stdout.splitlines()} == glasses
