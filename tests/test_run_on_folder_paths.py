"""Issue 30: where the folder runner may move from and write to. A move followed a link out of
the folder it was given and removed the file outside it; a destination under a file or in
/proc was a traceback."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy import run_on_folder
from serving import MTFL_GLASSES, SHIPPED_MODEL


def run(capsys, *args) -> tuple[int, str, str]:
    code = run_on_folder.main([str(a) for a in args] + ["--model", str(SHIPPED_MODEL), "--threshold", "0"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def trees(tmp_path, data_dir) -> tuple[Path, Path]:
    """source/ with two photos of its own, a linked folder (the issue's) and a linked file that
    lead outside it; outside/ with the photos the links lead to."""
    photo = (data_dir / "mtfl" / MTFL_GLASSES[0]).read_bytes()
    source, outside = tmp_path / "source", tmp_path / "outside"
    (source / "real").mkdir(parents=True)
    (outside / "folder").mkdir(parents=True)
    (source / "own.jpg").write_bytes(photo)
    (source / "real" / "inner.jpg").write_bytes(photo)
    (outside / "folder" / "far.jpg").write_bytes(photo)
    (outside / "single.jpg").write_bytes(photo)
    (source / "link_out").symlink_to("../outside/folder", target_is_directory=True)
    (source / "linked.jpg").symlink_to(outside / "single.jpg")
    return source, outside


def test_a_move_never_follows_a_link_out_of_the_folder_given(capsys, trees, tmp_path):
    source, outside = trees
    code, out, err = run(capsys, source, "--recursive", "--move-to", tmp_path / "dest")
    assert code == run_on_folder.EXIT_INCOMPLETE
    assert (outside / "folder" / "far.jpg").is_file() and (outside / "single.jpg").is_file()  # nothing removed
    for photo in (source / "link_out" / "far.jpg", source / "linked.jpg"):
        assert f"could not move {photo} to {tmp_path / 'dest'}: reached through a symbolic link out of {source}" \
               f"; not moved" in err
    moved = sorted(str(p.relative_to(tmp_path / "dest")) for p in (tmp_path / "dest").rglob("*.jpg"))
    assert moved == ["own.jpg", "real/inner.jpg"]
    assert not (source / "own.jpg").exists() and not (source / "real" / "inner.jpg").exists()
    assert "2 moved, 2 not moved" in err


def test_a_copy_may_read_through_links(capsys, trees, tmp_path):
    source, outside = trees
    code, _, err = run(capsys, source, "--recursive", "--copy-to", tmp_path / "dest")
    assert code == 0, err
    copied = sorted(str(p.relative_to(tmp_path / "dest")) for p in (tmp_path / "dest").rglob("*.jpg"))
    assert copied == ["link_out/far.jpg", "linked.jpg", "own.jpg", "real/inner.jpg"]
    assert (outside / "folder" / "far.jpg").is_file() and (outside / "single.jpg").is_file()


def test_a_file_named_itself_is_moved_even_through_a_link(capsys, trees, tmp_path):
    source, outside = trees
    code, _, err = run(capsys, source / "own.jpg", "--move-to", tmp_path / "dest")
    assert code == 0 and "1 moved, 0 not moved" in err and (tmp_path / "dest" / "own.jpg").is_file()


@pytest.mark.parametrize("where", ["under_a_file", "in_proc", "a_file"])
def test_a_destination_that_cannot_be_made_or_written_exits_2_before_anything_is_read(capsys, trees, tmp_path,
                                                                                       where, monkeypatch):
    source, _ = trees
    (tmp_path / "plain").write_text("a file")
    destination = {"under_a_file": tmp_path / "plain" / "dest", "in_proc": Path("/proc/1/dest"),
                   "a_file": tmp_path / "plain"}[where]
    monkeypatch.setattr(run_on_folder, "GlassesClassifier", lambda *a: pytest.fail("the model was loaded"))
    for flag in ("--copy-to", "--move-to", "--annotate"):
        with pytest.raises(SystemExit) as exit_:
            run(capsys, source, flag, destination)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "Traceback" not in err
        assert f"{destination}: " in err and ("cannot be made or written in" in err or "not a folder" in err), err
    assert (source / "own.jpg").is_file()


def test_the_destination_is_made_before_the_run(capsys, trees, tmp_path):
    source, _ = trees
    code, _, _ = run(capsys, source / "real", "--move-to", tmp_path / "new" / "deeper")
    assert code == 0 and (tmp_path / "new" / "deeper" / "inner.jpg").is_file()
    assert [p.name for p in (tmp_path / "new" / "deeper").iterdir()] == ["inner.jpg"]  # no probe file left


def test_a_fifo_appearing_among_the_photos_never_blocks(capsys, tmp_path, data_dir):
    """A FIFO named on the command line, or without a photo extension in a folder, is looked at
    without opening it for a writer (a scan used Image.open on every file without an extension)."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes((data_dir / "mtfl" / MTFL_GLASSES[1]).read_bytes())
    os.mkfifo(tmp_path / "photos" / "no_extension")
    code, out, err = run(capsys, tmp_path / "photos")
    assert code == run_on_folder.EXIT_INCOMPLETE
    assert out.splitlines() == [str(tmp_path / "photos" / "a.jpg")]
    assert "no_extension: skipped: not a regular file (a FIFO)" in err


def test_only_photo_formats_are_looked_for_in_folders(capsys, tmp_path, data_dir):
    """Files without a photo extension were tried with Image.open in any of Pillow's forty-odd
    formats (a link to /etc made the runner report its files as unreadable photos); now only the
    signatures of the accepted formats count, and a file named itself gets its format named."""
    import io

    from PIL import Image
    (tmp_path / "photos").mkdir()
    face = Image.open(data_dir / "mtfl" / MTFL_GLASSES[1])
    (tmp_path / "photos" / "face_no_extension").write_bytes((data_dir / "mtfl" / MTFL_GLASSES[1]).read_bytes())
    for name, fmt in (("portable_anymap", "PPM"), ("icon", "ICO"), ("bitmap_font", "XBM")):
        buffer = io.BytesIO()
        face.convert("1" if fmt == "XBM" else "RGB").save(buffer, fmt)
        (tmp_path / "photos" / name).write_bytes(buffer.getvalue())
    code, out, err = run(capsys, tmp_path / "photos", "--all")
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(tmp_path / "photos" / "face_no_extension")]
    code, out, err = run(capsys, tmp_path / "photos" / "icon")
    assert code == run_on_folder.EXIT_INCOMPLETE
    assert "icon: an image in ICO format, which is not accepted" in err
