"""Issue 30, 7: a --file-list naming a FIFO hung the job forever; /dev/zero was read without
bound until the worker was killed, and Ray retried it without end. Every photo now gets a row:
a path that is not a regular file is refused at once, and a task that fails twice leaves its
photos to be scored one per task, then an error row for a photo whose own task failed twice."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from deploy import ray_output, score_on_ray
from deploy.ray_inputs import InputError, read_bytes, read_list
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, SHIPPED_MODEL

EXIT_INCOMPLETE = 3


def rows_of(out: Path) -> dict[str, dict]:
    return {row["path"]: row for part in sorted(out.glob("*.parquet")) for row in pq.read_table(part).to_pylist()}


def test_a_fifo_a_device_and_a_task_that_dies_twice_each_get_an_error_row(local_ray, tmp_path, data_dir,
                                                                          monkeypatch, capsys):
    import ray.cloudpickle

    import ray_dying
    ray.cloudpickle.register_pickle_by_value(ray_dying)
    monkeypatch.setattr(score_on_ray, "score_batch", ray_dying.dies_on_marked_photos)
    good = [Path(shutil.copy(data_dir / "mtfl" / name, tmp_path / Path(name).name))
            for name in (MTFL_GLASSES[0], MTFL_NO_GLASSES[0], MTFL_GLASSES[1])]
    dies = Path(shutil.copy(good[0], tmp_path / "dies.jpg"))
    os.mkfifo(tmp_path / "fifo.jpg")  # nobody ever writes to it
    listed = [str(good[0]), str(tmp_path / "fifo.jpg"), "/dev/zero", str(dies), str(good[1]), str(good[2])]
    (tmp_path / "list.txt").write_text("\n".join(listed) + "\n")
    out = tmp_path / "out"
    code = score_on_ray.main(["--file-list", str(tmp_path / "list.txt"), "--out", str(out),
                              "--model", str(SHIPPED_MODEL), "--workers", "2"])
    err = capsys.readouterr().err
    assert code == EXIT_INCOMPLETE, err
    rows = rows_of(out)
    assert sorted(rows) == sorted(listed)  # one row each, none lost
    assert rows[str(tmp_path / "fifo.jpg")]["error"] == "cannot read it (not a regular file (a FIFO))"
    assert rows["/dev/zero"]["error"] == "cannot read it (not a regular file (a character device))"
    assert rows[str(dies)]["error"] == score_on_ray.TASK_FAILED
    assert all(rows[str(photo)]["answer"] in ("glass", "no_glass") for photo in good)
    assert "photos were in tasks that failed twice: scoring them one per task" in err


def test_photos_and_lists_are_read_only_from_what_they_may_be_read_from(tmp_path):
    os.mkfifo(tmp_path / "fifo.jpg")
    for path in (str(tmp_path / "fifo.jpg"), f"file://{tmp_path / 'fifo.jpg'}", "/dev/zero", "file:///dev/zero"):
        with pytest.raises(OSError, match=r"not a regular file \(a (FIFO|character device)\)"):
            read_bytes(path)
    (tmp_path / "a.jpg").write_bytes(b"abc")
    assert read_bytes(f"file://{tmp_path / 'a.jpg'}") == read_bytes(str(tmp_path / "a.jpg")) == b"abc"
    with pytest.raises(InputError, match=r"/dev/zero: cannot read the file list \(not a regular file or a pipe "
                                         r"\(a character device\)\)"):
        read_list(Path("/dev/zero"))
    read_end, write_end = os.pipe()  # a pipe is a file list too: --file-list <(find ...)
    os.write(write_end, b"a.jpg\n\nb.jpg\n")
    os.close(write_end)
    assert read_list(Path(f"/dev/fd/{read_end}")) == ["a.jpg", "b.jpg"]
    os.close(read_end)


def test_part_files_outside_the_output_folder_are_never_read_removed_or_rewritten(tmp_path):
    """pyarrow's listing follows links: an unfinished-looking CSV a link led to was removed."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "notes.csv").write_bytes(b"path,answer\nno newline at the end")  # looks unfinished
    (outside / "keep.csv").write_bytes(b"path,answer,probability,faces,error,face_boxes,face_probabilities\n"
                                       b"x.jpg,,,,an error,,\n")
    (out / "link").symlink_to(outside, target_is_directory=True)
    (out / "linked.csv").symlink_to(outside / "keep.csv")
    removed: list[str] = []
    assert ray_output.written(str(out), "csv", removed) == {} and removed == []
    assert ray_output.drop_error_rows(str(out), "csv", {"x.jpg"}) == 0
    assert (outside / "notes.csv").read_bytes().endswith(b"at the end")
    assert b"an error" in (outside / "keep.csv").read_bytes()
