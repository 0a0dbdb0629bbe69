"""deploy/run_on_folder.py on a folder of real photos, other files and a broken image."""
from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deploy import run_on_folder
from deploy.progress import TextBar
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, ROOT, RUN_ON_FOLDER, deploy_python

SHIPPED_ID = GlassesClassifier().model_id

CELEBA_SUB = ("000053.jpg", "000001.jpg")  # CelebA: the first wears glasses, the second does not
INCOMPLETE = 3  # exit status when some files could not be read (broken.jpg in the folder below)


@pytest.fixture(scope="module")
def model_json() -> Path:
    """The shipped model, named explicitly: these tests need no training."""
    return ROOT / "models" / "glasses.json"


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
def expected(folder, model_json) -> dict[str, object]:
    """What the core says about every readable photo, keyed by the path the runner prints."""
    classifier = GlassesClassifier(model_json)
    photos = [p for p in folder.rglob("*") if p.is_file() and p.suffix != ".txt"
              and not p.name.startswith(".") and p.name != "broken.jpg"]
    return {str(p): classifier.predict(p) for p in photos}


def run(capsys, *args) -> tuple[int, str, str]:
    code = run_on_folder.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def top_level(expected: dict, folder: Path) -> dict:
    return {p: r for p, r in expected.items() if Path(p).parent == folder}


def test_default_prints_exactly_the_photos_with_glasses(capsys, folder, expected, model_json):
    code, out, err = run(capsys, folder, "--model", model_json)
    assert code == INCOMPLETE
    wanted = sorted(p for p, r in top_level(expected, folder).items() if r.answer == "glass")
    assert out.splitlines() == wanted
    assert "broken.jpg" in err and "notes.txt" not in err and ".hidden" not in err


def test_all_lists_every_photo_with_answer_and_probability(capsys, folder, expected, model_json):
    code, out, err = run(capsys, folder, "--model", model_json, "--all")
    assert code == INCOMPLETE
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[0] for r in rows] == sorted([*top_level(expected, folder), str(folder / "broken.jpg")])
    for path, answer, detail, *kind in rows:
        if path.endswith("broken.jpg"):
            assert answer == "error" and "truncated" in detail and kind == []
        else:
            assert answer == expected[path].answer
            assert float(detail) == pytest.approx(expected[path].probability, abs=1e-3)
            assert kind == ([expected[path].kind] if expected[path].kind else [])  # a fourth column with glasses
    assert err.count("broken.jpg") == 1


def test_csv(capsys, folder, expected, model_json):
    code, out, _ = run(capsys, folder, "--model", model_json, "--all", "--format", "csv", "--recursive")
    assert code == INCOMPLETE
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "answer", "probability", "faces", "error", "model", "kind"]
    assert {r["model"] for r in rows} == {GlassesClassifier(model_json).model_id}
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {*expected, str(folder / "broken.jpg")}
    assert by_path[str(folder / "broken.jpg")]["error"] and not by_path[str(folder / "broken.jpg")]["answer"]
    for path, result in expected.items():
        row = by_path[path]
        assert row["answer"] == result.answer and row["error"] == ""
        assert float(row["probability"]) == pytest.approx(result.probability, abs=1e-5)
        assert int(row["faces"]) == (len(result.faces) if result.face_found else 0)


def test_json(capsys, folder, expected, model_json):
    code, out, _ = run(capsys, folder, "--model", model_json, "--all", "--format", "json")
    assert code == INCOMPLETE
    records = {r["path"]: r for r in json.loads(out)}
    assert records[str(folder / "broken.jpg")]["error"]
    for path, result in top_level(expected, folder).items():
        assert {k: records[path][k] for k in ("answer", "probability", "kind", "face_found", "faces", "fallback")} \
            == result.to_dict()
        assert records[path]["error"] is None and records[path]["model"] == SHIPPED_ID  # the shipped model
    code, out, _ = run(capsys, folder, "--model", model_json, "--format", "json", "--threshold", "1")
    saturated = [p for p, r in top_level(expected, folder).items() if r.probability >= 1.0]
    # only p == 1.0 reaches threshold 1; the photo that could not be read keeps its error row
    assert sorted(r["path"] for r in json.loads(out)) == sorted([*saturated, str(folder / "broken.jpg")])


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_without_all_an_unread_photo_still_gets_its_error_row(capsys, folder, expected, model_json, fmt):
    """Issue 29: "every photo gets one line in every format" was true with --all only; without
    it the CSV and JSON lost the unreadable photo's error row (named on stderr only)."""
    code, out, err = run(capsys, folder, "--model", model_json, "--format", fmt)
    assert code == INCOMPLETE
    rows = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
    glasses = [p for p, r in top_level(expected, folder).items() if r.answer == "glass"]
    assert sorted(r["path"] for r in rows) == sorted([*glasses, str(folder / "broken.jpg")])
    broken = next(r for r in rows if r["path"].endswith("broken.jpg"))
    assert "truncated" in broken["error"] and not broken["answer"]
    assert err.count("broken.jpg") == 1


def test_threshold(capsys, folder, expected, model_json):
    _, out, _ = run(capsys, folder, "--model", model_json, "--threshold", "0")
    assert out.splitlines() == sorted(top_level(expected, folder))
    _, out, _ = run(capsys, folder, "--model", model_json, "--threshold", "1")
    assert out.splitlines() == sorted(p for p, r in top_level(expected, folder).items() if r.probability >= 1.0)


def test_recursive_looks_in_subfolders(capsys, folder, expected, model_json):
    _, out, _ = run(capsys, folder, "--model", model_json, "--threshold", "0", "--recursive")
    assert out.splitlines() == sorted(expected)
    assert str(folder / "sub" / CELEBA_SUB[0]) in out


def test_copy_to_and_move_to(capsys, folder, model_json, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(folder, work)
    code, out, _ = run(capsys, work, "--model", model_json, "--threshold", "0", "--recursive",
                       "--copy-to", tmp_path / "copied")
    gathered = [Path(p).relative_to(work) for p in out.splitlines()]
    assert code == INCOMPLETE and gathered
    assert sorted(p.relative_to(tmp_path / "copied") for p in (tmp_path / "copied").rglob("*") if p.is_file()) \
        == sorted(gathered)
    assert all((work / p).exists() for p in gathered)
    code, out, err = run(capsys, work, "--model", model_json, "--threshold", "0", "--recursive",
                         "--move-to", work / "moved")
    assert code == INCOMPLETE and [Path(p).relative_to(work) for p in out.splitlines()] == gathered
    assert all((work / "moved" / p).exists() and not (work / p).exists() for p in gathered)
    # the destination inside the folder is not searched again
    _, out, _ = run(capsys, work, "--model", model_json, "--threshold", "0", "--recursive",
                    "--move-to", work / "moved")
    assert out == ""


def test_never_overwrites_a_taken_name_gets_a_number(capsys, folder, model_json, tmp_path):
    name = Path(MTFL_GLASSES[1]).name
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / name).write_text("mine")
    (tmp_path / "dest" / name.replace(".jpg", "-1.jpg")).write_text("mine too")
    code, _, err = run(capsys, folder, "--model", model_json, "--threshold", "0", "--copy-to", tmp_path / "dest")
    assert code == INCOMPLETE and "0 not copied" in err  # 3: broken.jpg is unreadable
    assert (tmp_path / "dest" / name).read_text() == "mine"
    assert (tmp_path / "dest" / name.replace(".jpg", "-1.jpg")).read_text() == "mine too"
    assert (tmp_path / "dest" / name.replace(".jpg", "-2.jpg")).read_bytes() == (folder / name).read_bytes()


@pytest.mark.parametrize("args", [["--format", "xml"], ["--threshold", "2"], ["--threshold", "x"],
                                  ["--copy-to", "a", "--move-to", "b"], ["--workers", "-1"], ["--bogus"]])
def test_bad_arguments_exit_2(capsys, folder, args):
    with pytest.raises(SystemExit) as exit_:
        run_on_folder.main([str(folder), *args])
    assert exit_.value.code == 2


def test_missing_folder_exits_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        run_on_folder.main([str(tmp_path / "nowhere")])
    assert exit_.value.code == 2 and "nowhere: no such file or folder" in capsys.readouterr().err


def test_missing_model_exits_1(capsys, folder, tmp_path):
    code, out, err = run(capsys, folder, "--model", tmp_path / "none.json")
    assert code == 1 and out == "" and "none.json" in err


def test_worker_processes_give_the_same_output(capsys, folder, model_json):
    args = [folder, "--model", model_json, "--all", "--format", "csv", "--recursive"]
    _, alone, _ = run(capsys, *args, "--workers", "1")
    _, pooled, err = run(capsys, *args, "--workers", "2")
    assert pooled == alone and err.count("broken.jpg") == 1


def test_light_environment_script(folder, model_json, capsys):
    """The script itself, as a user runs it: the light environment (no TensorFlow), a progress bar."""
    code, in_process, _ = run(capsys, folder, "--model", model_json, "--all", "--recursive")
    result = subprocess.run([deploy_python(), str(RUN_ON_FOLDER), str(folder), "--model", str(model_json),
                             "--all", "--recursive", "--progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == INCOMPLETE, result.stderr
    assert result.stdout == in_process
    assert "broken.jpg" in result.stderr and "11/11" in result.stderr  # the bar reached the end


def test_built_in_bar_when_tqdm_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    stream = io.StringIO()
    bar = run_on_folder.progress_bar(4, True)
    assert isinstance(bar, TextBar)
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


# --- every photo gets a row, whatever its neighbours are (issues 14 and 15) ---------------------

SUMMARY = re.compile(r"^(\d+) photos: (\d+) with glasses, (\d+) without, (\d+) unreadable; "
                     r"(\d+) other entries skipped(; .*)?; [\d.]+ s$", re.MULTILINE)


def _without_root_override() -> None:
    """Run as root, a child would read files whatever their mode: drop that power (the bounding
    set's CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH) so that chmod 0 means what it says."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def script(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    """The runner as a user starts it, in the light environment, without root's read-anything."""
    return subprocess.run([deploy_python(), str(RUN_ON_FOLDER), *map(str, args)], capture_output=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, preexec_fn=_without_root_override)


def summary(err: str) -> tuple[int, ...]:
    """(photos, with glasses, without, unreadable, skipped) from the summary line on stderr."""
    match = SUMMARY.search(err)
    assert match, err
    return tuple(int(n) for n in match.groups()[:5])


def _photo(data_dir, index: int) -> bytes:
    return (data_dir / "mtfl" / (MTFL_GLASSES + MTFL_NO_GLASSES)[index]).read_bytes()


@pytest.fixture
def unreadable(tmp_path, data_dir) -> Path:
    """Two photos, one we may not open, and a subfolder we may not list."""
    root = tmp_path / "unreadable"
    (root / "locked").mkdir(parents=True)
    (root / "a.jpg").write_bytes(_photo(data_dir, 0))
    (root / "b.jpg").write_bytes(_photo(data_dir, 3))
    (root / "secret.jpg").write_bytes(_photo(data_dir, 1))
    (root / "locked" / "c.jpg").write_bytes(_photo(data_dir, 2))
    (root / "secret.jpg").chmod(0)
    (root / "locked").chmod(0)
    yield root
    (root / "locked").chmod(0o755)


@pytest.mark.parametrize("fmt", ["json", "csv", "text"])
def test_a_file_it_may_not_open_gets_an_error_row_and_the_run_goes_on(unreadable, model_json, fmt):
    result = script(unreadable, "--model", model_json, "--all", "--recursive", "--format", fmt)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == INCOMPLETE, err
    secret = str(unreadable / "secret.jpg")
    if fmt == "json":
        rows = {r["path"]: r for r in json.loads(out)}
        assert rows[secret]["answer"] is None and "Permission denied" in rows[secret]["error"]
    elif fmt == "csv":
        rows = {r["path"]: r for r in csv.DictReader(io.StringIO(out))}
        assert rows[secret]["answer"] == "" and "Permission denied" in rows[secret]["error"]
    else:
        rows = {line.split("\t")[0]: line for line in out.splitlines()}
        assert rows[secret].startswith(f"{secret}\terror\t") and "Permission denied" in rows[secret]
    assert sorted(rows) == [str(unreadable / name) for name in ("a.jpg", "b.jpg", "secret.jpg")]
    assert f"{unreadable / 'locked'}: skipped: cannot list this folder (Permission denied)" in err
    assert summary(err) == (3, 1, 1, 1, 1)


ODD_NAMES = {  # name on disk (bytes) -> how the runner writes it
    b"new\nline.jpg": "new\\nline.jpg", b"tab\there.jpg": "tab\\there.jpg",
    b"latin1-\xe9t\xe9.jpg": "latin1-\\xe9t\\xe9.jpg",
    b"back\\slash.jpg": "back\\\\slash.jpg", "Zoë.jpg".encode(): "Zoë.jpg", b"cr\r.jpg": "cr\\r.jpg",
}


@pytest.fixture
def odd_names(tmp_path, data_dir) -> Path:
    root = tmp_path / "odd"
    root.mkdir()
    for index, name in enumerate(ODD_NAMES):
        with open(os.path.join(os.fsencode(root), name), "wb") as handle:
            handle.write(_photo(data_dir, index))
    return root


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
@pytest.mark.parametrize("fmt", ["text", "csv", "json"])
def test_any_file_name_gives_one_valid_line_under_any_locale(odd_names, model_json, fmt, encoding):
    result = script(odd_names, "--model", model_json, "--all", "--format", fmt,
                    env={"PYTHONIOENCODING": encoding, "LC_ALL": "C"})
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    out = result.stdout.decode(encoding)  # fails if anything outside the stream's encoding got through
    written = {name if encoding == "utf-8" else name.replace("ë", "\\xeb") for name in ODD_NAMES.values()}
    lines = out.splitlines()
    if fmt == "text":
        paths = [line.split("\t")[0] for line in lines]
    elif fmt == "csv":
        paths = [row["path"] for row in csv.DictReader(io.StringIO(out))]
        lines = lines[1:]
    else:
        paths = [record["path"] for record in json.loads(out)]
        lines = lines[1:-1]
    assert len(lines) == len(ODD_NAMES)  # one line per photo
    assert sorted(paths) == sorted(f"{odd_names}/{name}" for name in written)


def test_copy_to_never_writes_through_a_link_nor_over_a_file(capsys, folder, model_json, tmp_path):
    name = Path(MTFL_GLASSES[0]).name
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / name).symlink_to(outside / "planted.jpg")  # dangling: a plain open() would create it
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    code, out, err = run(capsys, folder, "--model", model_json, "--threshold", "0", "--recursive",
                         "--copy-to", dest)
    assert code == INCOMPLETE and not list(outside.iterdir())
    assert os.readlink(dest / name) == str(outside / "planted.jpg")
    assert (dest / name.replace(".jpg", "-1.jpg")).read_bytes() == (folder / name).read_bytes()
    for photo in CELEBA_SUB:  # sub/ in the destination is a link: those two stay where they are
        assert f"could not copy {folder / 'sub' / photo} to {dest}: {dest / 'sub'} is a symbolic link" in err
    assert "2 not copied" in err


def test_move_to_never_replaces_a_link(capsys, data_dir, model_json, tmp_path):
    source, dest = tmp_path / "source", tmp_path / "dest"
    source.mkdir()
    dest.mkdir()
    (source / "a.jpg").write_bytes(_photo(data_dir, 0))
    (dest / "a.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    code, _, err = run(capsys, source, "--model", model_json, "--threshold", "0", "--move-to", dest)
    assert code == 0 and "1 moved, 0 not moved" in err
    assert (dest / "a.jpg").is_symlink() and not (tmp_path / "elsewhere.jpg").exists()
    assert (dest / "a-1.jpg").read_bytes() == _photo(data_dir, 0) and not (source / "a.jpg").exists()


def test_odd_entries_are_reported_and_never_block_the_run(tmp_path, data_dir, model_json):
    root = tmp_path / "odd_entries"
    (root / "x.jpg").mkdir(parents=True)
    (root / "locked").mkdir()
    (root / "good.jpg").write_bytes(_photo(data_dir, 0))
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "up").symlink_to(root, target_is_directory=True)
    os.mkfifo(root / "fifo.jpg")  # opening it would wait for a writer forever
    (root / "locked").chmod(0)
    try:
        flat = script(root, "--model", model_json, timeout=60)
        deep = script(root, "--model", model_json, "--recursive", timeout=60)
    finally:
        (root / "locked").chmod(0o755)
    reported = {"dangling.jpg": "dangling symbolic link", "loop.jpg": "symbolic link loop",
                "fifo.jpg": "not a regular file (a FIFO)"}
    for result, extra in ((flat, {"x.jpg": "a folder, not a photo"}),
                          (deep, {"locked": "cannot list this folder", "up": "symbolic link loop"})):
        err = result.stderr.decode()
        assert result.returncode == INCOMPLETE, err
        assert result.stdout.decode().splitlines() == [str(root / "good.jpg")]
        for name, why in {**reported, **extra}.items():
            assert f"{root / name}: skipped: {why}" in err
        assert summary(err) == (1, 1, 0, 0, len(reported) + len(extra))


def test_summary_line_and_exit_0_when_everything_was_read(capsys, data_dir, model_json, tmp_path):
    for index in (0, 1, 3):
        (tmp_path / f"{index}.jpg").write_bytes(_photo(data_dir, index))
    code, out, err = run(capsys, tmp_path, "--model", model_json)
    assert code == 0 and summary(err) == (3, 2, 1, 0, 0)
    assert out.splitlines() == [str(tmp_path / "0.jpg"), str(tmp_path / "1.jpg")]


def test_files_and_folders_in_any_mix(capsys, folder, expected, model_json, data_dir):
    photo = data_dir / "mtfl" / MTFL_NO_GLASSES[1]
    code, out, err = run(capsys, photo, "--model", model_json, "--all", folder / "sub", folder / "no_extension")
    assert code == 0, err
    paths = [line.split("\t")[0] for line in out.splitlines()]
    assert paths == [str(photo), *(str(folder / "sub" / name) for name in sorted(CELEBA_SUB)),
                     str(folder / "no_extension")]
    assert summary(err)[0] == 4


@pytest.mark.parametrize("fmt, nothing", [("text", ""), ("json", "[]\n"),
                                          ("csv", "path,answer,probability,faces,error,model,kind\n")])
def test_nothing_to_do_says_so(capsys, tmp_path, model_json, fmt, nothing):
    (tmp_path / "notes.txt").write_text("not a photo\n")
    code, out, err = run(capsys, tmp_path, "--model", model_json, "--format", fmt)
    assert code == 0 and out == nothing
    assert f"nothing to do: no photos in {tmp_path}" in err and summary(err) == (0, 0, 0, 0, 0)


def test_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        run_on_folder.main(["--help"])
    text = capsys.readouterr().out
    assert re.search(r"^  3  the run went to the end, but some files or folders could not be read", text, re.M)


def test_photo_after_photo_reuses_freed_memory(tmp_path, data_dir, model_json):
    """Each worker keeps glibc's malloc from handing freed memory back after every photo
    (deploy/memory.py): before, each 250 x 250 photo cost about 550 page faults and the run spent
    11 % of its CPU in the kernel. The faults a photo are the difference between two runs, of 40
    and of 240 photos, so that starting the processes does not count."""
    import resource
    photos = sorted((data_dir / "mtfl" / "lfw_5590").glob("*.jpg"))[:240]
    faults = {}
    for count in (40, 240):
        folder = tmp_path / str(count)
        folder.mkdir()
        for photo in photos[:count]:
            (folder / photo.name).symlink_to(photo)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt  # the runner and its workers
        assert script(folder, "--all", "--workers", "2", "--model", model_json).returncode == 0
        faults[count] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before
    per_photo = (faults[240] - faults[40]) / 200
    print(f"{per_photo:.0f} page faults a photo ({faults})")
    assert per_photo < 150


def test_copy_to_keeps_every_photo_s_date(capsys, data_dir, model_json, tmp_path):
    """Issue 29: the copy's times were set before the last buffered block was written, so closing
    the file dated it today whenever its size left a tail in the buffer (6 % of photos: small
    ones such as CelebA's, and a 69,578-byte one). Real photos of those sizes, dated in 2001."""
    source = tmp_path / "source"
    source.mkdir()
    photos = [data_dir / "mtfl" / name for name in MTFL_GLASSES]
    photos += [data_dir / "celeba" / "img_align_celeba" / CELEBA_SUB[0]]
    for index, photo in enumerate(photos):
        (source / f"{index}.jpg").write_bytes(photo.read_bytes())
    padded = photos[0].read_bytes()
    (source / "padded.jpg").write_bytes(padded + bytes(69_578 - len(padded)))  # after the JPEG's end: still the photo
    stamp = 1_000_000_000 * 10**9
    for index, photo in enumerate(sorted(source.iterdir())):
        os.utime(photo, ns=(stamp, stamp + index * 10**9))
    code, out, err = run(capsys, source, "--model", model_json, "--threshold", "0", "--copy-to", tmp_path / "copied")
    assert code == 0 and f"{len(photos) + 1} copied, 0 not copied" in err, err
    for photo in source.iterdir():
        copy = tmp_path / "copied" / photo.name
        assert copy.read_bytes() == photo.read_bytes()
        assert copy.stat().st_mtime_ns == photo.stat().st_mtime_ns, photo.name


# --- who in a group wears glasses; no face is no answer (issue 29) -----------------------------

GROUP_COLUMNS = ["path", "face", "x0", "y0", "x1", "y1", "probability", "answer", "error", "model", "kind"]


@pytest.fixture(scope="module")
def group(tmp_path_factory, data_dir) -> Path:
    """A group photo (a real face with glasses beside one without), the same photo stored
    turned a quarter with an EXIF orientation that turns it back, a grey picture (no face) and a
    truncated JPEG."""
    root = tmp_path_factory.mktemp("group")
    pair = Image.new("RGB", (600, 320), (120, 120, 120))
    for x, name in ((0, MTFL_GLASSES[0]), (300, MTFL_NO_GLASSES[0])):
        pair.paste(Image.open(data_dir / "mtfl" / name).convert("RGB").resize((300, 300)), (x, 10))
    pair.save(root / "pair.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: upright, it is the pair again
    pair.transpose(Image.Transpose.ROTATE_90).save(root / "turned.jpg", quality=95, exif=exif)
    Image.new("RGB", (320, 240), (128, 128, 128)).save(root / "grey.png")
    (root / "broken.jpg").write_bytes((data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()[:1500])
    return root


@pytest.fixture(scope="module")
def group_expected(group, model_json) -> dict[str, object]:
    classifier = GlassesClassifier(model_json)
    return {name: classifier.predict(group / name) for name in ("pair.jpg", "turned.jpg", "grey.png")}


def face_rows(out: str, fmt: str) -> list[dict]:
    """The --per-face output as dicts of GROUP_COLUMNS' names (text: tab-separated)."""
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert out.splitlines()[0].split(",") == GROUP_COLUMNS
        return rows
    if fmt == "json":
        return [{**r, **dict(zip(("x0", "y0", "x1", "y1"), r["box"] or [None] * 4))} for r in json.loads(out)]
    rows = []
    for line in out.splitlines():
        fields = line.split("\t")
        if fields[1] == "error":
            rows.append({"path": fields[0], "error": fields[2]})
            continue
        box = fields[4].split(",") if fields[4] != "-" else [None] * 4
        rows.append({"path": fields[0], "face": fields[1], "answer": fields[2], "probability": fields[3],
                     **dict(zip(("x0", "y0", "x1", "y1"), box))})
    return rows


def _value(text):
    return None if text in (None, "", "-") else float(text)


@pytest.mark.parametrize("fmt", ["csv", "json", "text"])
def test_per_face_says_who_wears_glasses(capsys, group, group_expected, model_json, fmt):
    code, out, err = run(capsys, group, "--model", model_json, "--all", "--per-face", "--format", fmt)
    assert code == INCOMPLETE and err.count("broken.jpg") == 1
    rows = face_rows(out, fmt)
    by_photo = {}
    for row in rows:
        by_photo.setdefault(Path(row["path"]).name, []).append(row)
    assert sorted(by_photo) == ["broken.jpg", "grey.png", "pair.jpg", "turned.jpg"]
    for name in ("pair.jpg", "turned.jpg"):
        faces = group_expected[name].faces
        assert {f.answer for f in faces} == {"glass", "no_glass"}  # the pair was made so
        assert [str(r["face"]) for r in by_photo[name]] == ["1", "2"]  # largest first, as the core gives them
        for row, face in zip(by_photo[name], faces):
            assert row["answer"] == face.answer
            assert _value(row["probability"]) == pytest.approx(face.probability, abs=1e-3)
            assert [_value(row[k]) for k in ("x0", "y0", "x1", "y1")] == pytest.approx(list(face.box), abs=0.06)
    for a, b in zip(by_photo["pair.jpg"], by_photo["turned.jpg"]):  # boxes in upright pixels
        assert [_value(a[k]) for k in ("x0", "y0", "x1", "y1")] == pytest.approx(
            [_value(b[k]) for k in ("x0", "y0", "x1", "y1")], abs=6)
    (grey,) = by_photo["grey.png"]
    assert grey["answer"] == "no_face" and _value(grey["probability"]) is None and grey["face"] in (None, "", "-")
    assert _value(grey["x0"]) is None
    (broken,) = by_photo["broken.jpg"]
    assert "truncated" in broken["error"]


def test_no_face_is_said_in_every_format_unless_a_guess_is_asked_for(capsys, group, group_expected, model_json):
    grey = group_expected["grey.png"]
    assert grey.answer == "no_face" and grey.probability is None and grey.faces == [] and not grey.face_found
    _, out, err = run(capsys, group, "--model", model_json, "--all", "--format", "csv")
    row = {r["path"]: r for r in csv.DictReader(io.StringIO(out))}[str(group / "grey.png")]
    assert (row["answer"], row["probability"], row["faces"]) == ("no_face", "", "0")
    assert "no face found in 1;" in err
    _, out, _ = run(capsys, group, "--model", model_json, "--all", "--format", "json")
    record = {r["path"]: r for r in json.loads(out)}[str(group / "grey.png")]
    assert (record["answer"], record["probability"], record["faces"]) == ("no_face", None, [])
    assert record["fallback"] == grey.fallback.to_dict() and record["fallback"]["box"] is None
    _, out, _ = run(capsys, group, "--model", model_json, "--all")
    assert f"{group / 'grey.png'}\tno_face\t-" in out.splitlines()
    _, out, _ = run(capsys, group, "--model", model_json, "--threshold", "0")  # no face: never "glass"
    assert str(group / "grey.png") not in out.splitlines() and str(group / "pair.jpg") in out.splitlines()
    _, out, _ = run(capsys, group, "--model", model_json, "--all", "--format", "csv", "--fallback-guess")
    row = {r["path"]: r for r in csv.DictReader(io.StringIO(out))}[str(group / "grey.png")]
    assert (row["answer"], float(row["probability"]), row["faces"]) == (
        grey.fallback.answer, pytest.approx(grey.fallback.probability, abs=1e-6), "0")
    _, out, _ = run(capsys, group, "--model", model_json, "--threshold", "0", "--fallback-guess")
    assert str(group / "grey.png") in out.splitlines()


def _colour_near(image: Image.Image, points, colour, tolerance: int = 60) -> float:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    near = [np.abs(pixels[int(y), int(x)] - colour).max() <= tolerance for x, y in points]
    return sum(near) / len(near)


def test_annotate_draws_each_face_on_an_upright_copy(capsys, group, group_expected, model_json, tmp_path):
    from deploy.annotate import COLOURS
    code, out, err = run(capsys, group, "--model", model_json, "--all", "--annotate", tmp_path / "drawn")
    assert code == INCOMPLETE and "3 annotated, 0 not annotated" in err, err
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["grey.jpg", "pair.jpg", "turned.jpg"]
    for name in ("pair.jpg", "turned.jpg"):
        drawn = Image.open(tmp_path / "drawn" / name)
        assert drawn.size == (600, 320)  # upright, whatever the photo's EXIF orientation
        for face in group_expected[name].faces:
            x0, y0, x1, y1 = face.box
            left_edge = [(x0, y0 + (y1 - y0) * t) for t in np.linspace(0.3, 0.9, 13)]
            assert _colour_near(drawn, left_edge, COLOURS[face.answer]) > 0.8, (name, face)
    # the photo itself is untouched, and a second run numbers its copies instead of overwriting
    assert Image.open(group / "pair.jpg").size == (600, 320)
    run(capsys, group, "--model", model_json, "--annotate", tmp_path / "drawn")
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == [
        "grey.jpg", "pair-1.jpg", "pair.jpg", "turned-1.jpg", "turned.jpg"]  # without --all: those with glasses


def test_kind_lists_and_copies_only_that_kind_of_glasses(capsys, tmp_path, tiny_kind_model_json):
    """A model that says which glasses: CSV carries each photo's kind; --kind dark lists and copies
    the photos with sunglasses only, --kind clear the others with glasses; together, every photo
    with glasses, each once."""
    examples = ROOT / "examples"
    code, out, _ = run(capsys, examples, "--model", tiny_kind_model_json, "--all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["kind"] for r in rows if r["answer"] == "glass"} <= {"clear", "dark"}
    assert all(r["kind"] == "" for r in rows if r["answer"] != "glass")
    with_glasses = {r["path"] for r in rows if r["answer"] == "glass"}
    listed = {}
    for kind in ("dark", "clear"):
        code, out, _ = run(capsys, examples, "--model", tiny_kind_model_json, "--kind", kind,
                           "--copy-to", str(tmp_path / kind))
        listed[kind] = set(out.split())
        assert code == 0 and listed[kind] == {r["path"] for r in rows if r["kind"] == kind}
        assert sorted(p.name for p in (tmp_path / kind).iterdir()) == sorted(Path(p).name for p in listed[kind])
    assert listed["dark"] | listed["clear"] == with_glasses and not listed["dark"] & listed["clear"]


def test_kind_with_a_model_that_does_not_say_which_is_refused(capsys, tiny_model_json):
    code, out, err = run(capsys, ROOT / "examples", "--model", str(tiny_model_json), "--kind", "dark")
    assert code == 2 and out == ""
    assert "does not say which glasses" in err
