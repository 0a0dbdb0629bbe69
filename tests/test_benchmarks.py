"""benchmarks/run_all.py with the slow sections (folder runner, server) skipped."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results(run_all, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    run_all.main(["--out", str(out), "--runs", "5", "--skip-folder", "--skip-server", "--note", "test"])
    return out


def test_writes_json_with_positive_numbers(results):
    data = json.loads((results / "results.json").read_text())
    assert {"machine", "sizes_kib", "classifier_ms_per_crop", "pipeline", "training"} <= set(data)
    assert "folder" not in data and "server" not in data  # skipped
    tflite = {f"glasses_{v}{b}.tflite" for v in ("int8", "float16", "float32") for b in ("", "_batch1")}
    assert set(data["sizes_kib"]) == tflite | {"glasses.mlmodel", "glasses.mlpackage"}  # the device copies too
    assert all(v > 0 for v in data["sizes_kib"].values())
    assert set(data["classifier_ms_per_crop"]) == {f"{v}_{t}_thread" for v in ("int8", "float16", "float32")
                                                   for t in (1, 2)}
    assert all(v > 0 for v in data["classifier_ms_per_crop"].values())
    pipeline = data["pipeline"]
    assert set(pipeline["photos"]) == {"640x480", "1920x1080", "4032x3024"}
    for size, row in pipeline["photos"].items():
        for stage in ("decode", "detect", "refine", "crop", "classify", "predict", "predict_full_decode"):
            assert row[f"{stage}_ms"] > 0, (size, stage)
        assert row["faces"] == 1 and row["mesh_invokes"] >= 1
        assert row["invokes"]["blazeface"] >= 1 and row["invokes"]["face_mesh"] == row["mesh_invokes"]
        assert row["invokes"]["classifier"] == 1 and 0 < row["unavoidable_ms"]
        assert row["cuts"] == row["mesh_invokes"] + 1 and 0 < row["cut_ms"] < row["predict_ms"]  # each pass's region, the crop
    for size, row in pipeline["no_face"].items():  # the frames without the face: the detector looks again,
        assert row["invokes"]["blazeface"] > pipeline["photos"][size]["invokes"]["blazeface"], size  # turned
        assert row["invokes"]["blazeface_detail"] == 1, size  # and once in detail, for small faces
        assert pipeline["photos"][size]["invokes"]["blazeface_detail"] == 0, size  # not needed for a large one
        assert pipeline["networks_ms"]["blazeface_detail_ms"][row["detail_input"]] > 0
    assert pipeline["photos"]["4032x3024"]["reductions"] != [1]  # a 12 MP photo is never decoded at full size
    assert all(v > 0 for v in pipeline["ratios"].values())
    paired = pipeline["round_ratios"]  # both sides timed one after the other, round by round
    assert set(paired) == {f"{size}_{what}" for size in pipeline["photos"]
                           for what in ("vs_its_decode_and_invokes", "no_face_vs_one_face",
                                        "no_face_vs_its_decode_and_invokes")}
    for name, rounds in paired.items():
        assert len(rounds) == 5 and pipeline["ratios"][name] == pytest.approx(sorted(rounds)[2], abs=1e-3), name
    assert (results / "profile_predict.txt").read_text().count("=== predict()") == 3
    assert data["machine"]["cores"] >= 1 and data["runs"] == 5


def test_training_numbers_match_the_shipped_log(results):
    training = json.loads((results / "results.json").read_text())["training"]
    log = (ROOT / "models" / "training_log.txt").read_text()  # train.py's own lines
    crops = int(re.search(r"^train (\d+) crops", log, re.MULTILINE).group(1))
    took = int(re.search(r"^training took (\d+) s", log, re.MULTILINE).group(1))
    assert training["train_crops_per_epoch"] == crops
    assert training["epochs"] == len(re.findall(r"^epoch \d+/\d+ took", log, re.MULTILINE)) and training["wall_s"] == took
    assert 0 < training["epoch_s_min"] <= training["epoch_s_median"] <= training["epoch_s_max"]


def test_training_rows_can_come_from_another_run_and_say_which_model(run_all):
    """0.3.1 trained only its kind head (2 minutes); --training-run reads 0.3.0's whole-network log,
    and the rows name the model they are about."""
    shipped = run_all.training(ROOT / "models")
    whole = run_all.training(ROOT / "research_and_train_nn" / "reports" / "v0.3.0")
    assert shipped["version"] == json.loads((ROOT / "models" / "glasses.json").read_text())["version"]
    assert whole["version"] == "0.3.0" and whole["epochs"] == 8 and whole["wall_s"] > shipped["wall_s"]
    rows = list(run_all.rows({"training": whole}))
    assert {section for section, _, _ in rows} == {"training (model 0.3.0)"} and len(rows) == 4


def test_markdown_table_has_a_row_per_measurement(results):
    table = (results / "results.md").read_text()
    assert "| section | measurement | value |" in table
    assert "`glasses_int8.tflite`" in table and "| float32, 2 threads |" in table
    assert table.count("| predict() 1920x1080 (") == 5 and "fastest on this CPU" in table
    assert table.count("| predict() 1920x1080, no face (") == 2
    assert table.count("| ratios (one run) |") == 17
    assert table.count("(median of 5 paired rounds: ") == 9


def test_mlpackage_size_is_its_folder_total(run_all, tmp_path):
    package = tmp_path / "m.mlpackage" / "Data"
    package.mkdir(parents=True)
    (package / "a").write_bytes(b"x" * 1024)
    (package / "b").write_bytes(b"x" * 2048)
    assert run_all.model_sizes(tmp_path) == {"m.mlpackage": 3.0}


def test_the_server_benchmark_splits_the_cpu_time_between_server_clients_and_runtime(run_all):
    """bench_server.py reads the CPU time of the processes that serve (both children of
    --processes 2, named by their "listening on" lines), not of the parent that only watches them."""
    import bench_server  # run_all put benchmarks/ on the path
    measured = bench_server.main(["--seconds", "2", "--in-process-seconds", "1", "--rounds", "1",
                                  "--server-args", "--processes 2"])
    cpu = measured["cpu_ms"]
    assert measured["server"]["errors"] == 0 and measured["server_threads"] == 2
    # each request's photo is classified by a child: about the runtime's CPU a photo, not the idle parent's
    assert 0.7 * cpu["runtime_per_photo"] < cpu["server_per_request"] < 3 * cpu["runtime_per_photo"]
    assert 0 < cpu["clients_per_request"] < cpu["server_per_request"]
    assert measured["cpu_ratio"] == pytest.approx(
        cpu["runtime_per_photo"] / (cpu["server_per_request"] + cpu["clients_per_request"]), abs=1e-3)
    rows = [row for row in run_all.rows({"server": {"default": measured}}) if "CPU time" in row[1]]
    assert len(rows) == 1 and rows[0][2].endswith(f"CPU time alone gives {measured['cpu_ratio']:.2f}x")


def test_keep_skipped_measures_one_section_again_and_says_when_the_others_were(run_all, results, tmp_path):
    out = tmp_path / "bench"
    shutil.copytree(results, out)
    before = json.loads((out / "results.json").read_text())
    run_all.main(["--out", str(out), "--keep-skipped", "--note", "test", *(f"--skip-{section}" for section in
                                                                         ("latency", "pipeline", "folder", "server", "training"))])
    after = json.loads((out / "results.json").read_text())
    for key in ("classifier_ms_per_crop", "pipeline", "training"):  # kept as they were
        assert after[key] == before[key], key
    assert "folder" not in after and "server" not in after  # skipped in both runs: nothing to keep
    then = before["machine"]["date"]
    assert after["measured"]["sizes"]["date"] == after["machine"]["date"] != then
    assert {section: when["date"] for section, when in after["measured"].items() if section != "sizes"} == {
        "latency": then, "pipeline": then, "training": then}
    first_line = (out / "results.md").read_text().splitlines()[0]
    assert (f"Kept from an earlier run (--keep-skipped): latency, pipeline, training measured at {then} (load "
            f"average {before['machine']['load_average_1min_start']} at the start).") in first_line
    table = (out / "results.md").read_text()
    assert table.count("| ratios (one run) |") == 17  # the kept sections' rows, as before


def test_keep_skipped_needs_a_results_file_to_keep(run_all, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        run_all.main(["--out", str(tmp_path), "--keep-skipped", "--skip-pipeline"])
    assert stopped.value.code == 2 and "no " in capsys.readouterr().err and not (tmp_path / "results.md").exists()
