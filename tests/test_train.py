import csv
import json
from pathlib import Path

import numpy as np
import pytest

from research_and_train_nn.training.config import TrainConfig
from research_and_train_nn.evaluation.metrics import choose_threshold
from research_and_train_nn.train import main, parse_args

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_run_beats_chance_on_held_out_crops(tiny_run):
    from sklearn.metrics import roc_auc_score

    from research_and_train_nn.evaluation.probabilities import keras_probabilities
    with np.load(tiny_run / "val_crops.npz") as val:
        crops, labels = val["crops"], val["labels"]
    assert len(crops) >= 590 and labels.sum() >= 270
    # chance is 0.5; on 600 balanced held-out crops a useless model stays under 0.60 (4 sigma)
    assert roc_auc_score(labels, keras_probabilities(tiny_run, crops)) > 0.60


def test_run_folder_has_everything(tiny_run):
    for name in ("model.keras", "checkpoint-004.keras", "state.json", "history.csv", "config.json",
                 "train_config.json", "val_crops.npz", "train_crops.npz"):
        assert (tiny_run / name).is_file(), name
    with open(tiny_run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert all(float(b["strength"]) > float(a["strength"]) for a, b in zip(rows, rows[1:]))
    config = json.loads((tiny_run / "config.json").read_text())
    assert 0 < config["threshold"] < 1 and config["labels"] == ["no_glass", "glass"]


def test_resume_continues_from_the_last_checkpoint(tiny_run, tmp_path, crop_cache):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    saved = json.loads((run / "train_config.json").read_text())
    main(["--out", str(run), "--resume", "--epochs", "5", "--cache", str(crop_cache)])
    with open(run / "history.csv") as handle:
        epochs = [int(r["epoch"]) for r in csv.DictReader(handle)]
    assert epochs == [0, 1, 2, 3, 4]  # only the missing epoch was trained
    resumed = json.loads((run / "train_config.json").read_text())
    assert resumed["max_train"] == saved["max_train"] and resumed["epochs"] == 5


def test_threshold_maximises_f1():
    labels = np.array([0, 0, 0, 1, 1])
    probabilities = np.array([0.1, 0.2, 0.35, 0.3, 0.9])
    assert choose_threshold(labels, probabilities) == pytest.approx(0.3)


def test_config_file_and_flags(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"epochs": 5, "crop": {"size": 48}}))
    config, _ = parse_args(["--out", str(tmp_path / "r"), "--config", str(tmp_path / "c.json"),
                            "--batch-size", "16"])
    assert (config.epochs, config.batch_size, config.crop.size) == (5, 16, 48)
    for bad, says in (({"epoch": 5}, "unknown key"), ({"epochs": "many"}, "epochs must be int")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(SystemExit) as stopped:  # a usage error: exit 2, the reason on stderr
            parse_args(["--out", str(tmp_path / "r"), "--config", str(tmp_path / "bad.json")])
        assert stopped.value.code == 2 and says in capsys.readouterr().err
    assert TrainConfig().test.startswith("mtfl-test:")


def test_same_seed_same_run_and_another_train_seed_another_run_on_the_same_photos(data_dir, crop_cache, tmp_path):
    """Batches are augmented in the training thread, in order: two runs are bit-for-bit equal.
    A third with another ``train_seed`` trains differently on the same split (the same
    training and validation photos), so that repeats measure the spread between seeds."""
    import dataclasses

    from research_and_train_nn.training.run import run
    config = TrainConfig(datasets=(f"mtfl:{data_dir / 'mtfl'}",), max_train=48, epochs=2, batch_size=8,
                         bn_momentum=0.9, test="", strength_start=0.5, strength_end=1.0, shadows=0.5)
    histories = []
    for name, settings in (("a", config), ("b", config), ("c", dataclasses.replace(config, train_seed=7))):
        run(settings, tmp_path / name, cache=crop_cache)
        histories.append((tmp_path / name / "history.csv").read_text())
    assert histories[0] == histories[1] and histories[2] != histories[0]
    crops = [np.load(tmp_path / name / "val_crops.npz") for name in "abc"]
    assert list(crops[0]["paths"]) == list(crops[1]["paths"]) == list(crops[2]["paths"])
    assert len(crops[0]["paths"]) == 48


def readme_commands(section: str) -> list[list[str]]:
    """The shell commands of the first code block after the heading ``section`` (README or docs/)."""
    import shlex
    import documentation
    text = documentation.section(section)
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]


def test_the_readme_training_example_runs_as_written(monkeypatch):
    """Every dataset the README's training commands name exists and loads (from the repo root,
    where the README says to run them); the commands' flags parse. Not trained here: hours."""
    from research_and_train_nn.data.datasets import load
    monkeypatch.chdir(ROOT)
    commands = [c for c in readme_commands("Train on your own data") if c and c[0] == "python3"]
    specs = []
    for command in commands:
        script, arguments = command[1], command[2:]
        if script.endswith("train.py"):
            config, _ = parse_args(arguments)
            specs += [*config.datasets, config.test]
        else:
            specs += [a for a in arguments if ":" in a]
    assert len(commands) == 4 and "meglass:/data/MeGlass" not in specs
    for spec in set(specs):
        assert load(spec), spec


def test_an_existing_run_is_refused_without_resume_or_overwrite(tiny_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["--out", str(run), "--max-train", "48", "--test", ""]) == 2
    assert "--resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_missing_dataset_stops_before_the_run_folder_is_made(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "run"), "--dataset", f"meglass:{tmp_path / 'MeGlass'}", "--test", ""]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("config, flags, says", [
    ({"epochz": 3}, [], "unknown key(s) ['epochz']"),
    (None, ["--config", "missing.json"], "no such config file"),
    ("{not json", [], "not valid JSON"),
    ({"max_train": 48, "test": ""}, ["--consistency", "0.5", "--kind-weight", "1"],
     "consistency and kind_weight cannot be used together"),
    ({"max_train": 48, "test": "", "crop_variants": 0.5}, ["--synthesis-share", "0.2"],
     "synthesis_share and crop_variants cannot be used together"),
    ({"max_train": 48, "test": "", "kind_weight": 1.0, "kind_features": "eye_band", "init_weights": "m.keras"},
     ["--kind-only", "true"], "kind_only trains the eye-band kind head of a trained model"),
    ({"max_train": 48, "test": ""}, ["--kind-features", "eyes"], "kind_features must be one of pooled, eye_band"),
])
def test_a_config_that_cannot_train_is_a_usage_error_before_any_work(tmp_path, capsys, monkeypatch, config, flags, says):
    """A wrong or missing config file and settings that cannot train together stop train.py at once
    with exit status 2 and one line saying why (they gave a traceback, or failed inside Keras after
    the crops were made: the consistency loss has one answer), and no run folder is made."""
    monkeypatch.chdir(tmp_path)
    if config is not None:
        (tmp_path / "c.json").write_text(config if isinstance(config, str) else json.dumps(config))
        flags = ["--config", "c.json", *flags]
    with pytest.raises(SystemExit) as stopped:
        main(["--out", str(tmp_path / "run"), *flags])
    assert stopped.value.code == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_settings_that_cannot_train_together_are_refused_by_the_config_itself():
    from glasses_core.errors import ConfigError
    with pytest.raises(ConfigError, match="consistency and kind_weight"):
        TrainConfig(consistency=0.5, kind_weight=3.0)
    assert TrainConfig(consistency=0.5).consistency == 0.5 and TrainConfig(kind_weight=3.0).kind_weight == 3.0


@pytest.fixture
def tiny_config_file(tmp_path, data_dir) -> Path:
    """48 crops, 2 epochs, no test set: a run of seconds."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"datasets": [f"mtfl:{data_dir / 'mtfl'}"], "max_train": 48, "epochs": 2,
                                "batch_size": 8, "test": ""}))
    return path


def test_overwrite_trains_a_new_run_and_says_where_everything_went(tiny_run, tmp_path, capsys, tiny_config_file,
                                                                     crop_cache):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert main(["--out", str(run), "--overwrite", "--config", str(tiny_config_file),
                 "--cache", str(crop_cache)]) == 0
    with open(run / "history.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [0, 1]
    assert [p.name for p in run.glob("checkpoint-*")] == ["checkpoint-002.keras"]  # the old run's are gone
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    output = capsys.readouterr().out
    assert "epoch 1/2 took" in output and "min left (done around" in output
    listing = output.split(f"run folder: {run.resolve()}\n", 1)[1]
    for name in ("model.keras", "config.json", "curves.png", "checkpoint-002.keras", "state.json"):
        assert f"  {name} " in listing, name


def test_tensorboard_logs(tmp_path, tiny_config_file, crop_cache):
    pytest.importorskip("tensorboard", reason="--tensorboard needs the tensorboard package")
    assert main(["--out", str(tmp_path / "run"), "--tensorboard", "--epochs", "1", "--config",
                 str(tiny_config_file), "--cache", str(crop_cache)]) == 0
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "run" / "tensorboard").rglob("*"))


def test_tensorboard_without_its_package_stops_at_once(tmp_path, tiny_config_file, monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    assert main(["--out", str(tmp_path / "run"), "--tensorboard", "--config", str(tiny_config_file)]) == 2
    assert "pip install tensorboard" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_a_model_near_chance_gets_a_loud_warning(capsys):
    from research_and_train_nn.training.run import warn_if_near_chance
    labels = np.array([0, 1] * 200)
    coin = np.random.default_rng(0).random(400)
    assert abs(warn_if_near_chance(labels, coin) - 0.5) < 0.1
    assert "WARNING: validation ROC-AUC" in capsys.readouterr().err
    assert warn_if_near_chance(labels, labels * 0.6 + coin * 0.5) > 0.8
    assert "WARNING" not in capsys.readouterr().err


def test_init_weights_starts_from_the_given_model(tiny_run):
    """Fine-tuning: the built model holds the given model's weights, not fresh random ones."""
    import keras
    import numpy as np

    from research_and_train_nn.training.fit import build
    from research_and_train_nn.training.config import TrainConfig
    source = keras.models.load_model(tiny_run / "model.keras", compile=False)
    tuned = build(TrainConfig(init_weights=str(tiny_run / "model.keras")))
    fresh = build(TrainConfig())
    for a, b in zip(source.get_weights(), tuned.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(source.get_weights(), fresh.get_weights()))


def test_training_keeps_tensorflow_notes_off_stderr_unless_verbose(tmp_path, tiny_config_file, crop_cache):
    """TensorFlow and absl write start-up notes to stderr from C++; train.py hides them."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    notes = ("oneDNN", "absl::InitializeLog", "XNNPACK")
    errs = {}
    for flags in ([], ["--verbose"]):
        done = subprocess.run([sys.executable, str(root / "research_and_train_nn" / "train.py"), "--out",
                               str(tmp_path / f"run{len(flags)}"), "--config", str(tiny_config_file), "--epochs", "1",
                               "--cache", str(crop_cache), *flags], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        errs[bool(flags)] = done.stderr
    assert not any(note in errs[False] for note in notes), errs[False]
    assert any(note in errs[True] for note in notes)


def test_the_threshold_is_chosen_on_the_pools_asked_for_only(tmp_path):
    """A pool that is nearly all glasses (CelebA-more) pulls the F1-best threshold down for every
    photo; TrainConfig.threshold_pools chooses it on the others."""
    from research_and_train_nn.data.crops import CropSet
    from research_and_train_nn.data.datasets import Record
    from research_and_train_nn.training.run import save_model_files
    (tmp_path / "model.keras").write_bytes(b"weights")  # the model id's digest
    natural = [Record(f"n{i}.jpg", int(i < 10), None, "mtfl_train") for i in range(100)]
    skewed = [Record(f"s{i}.jpg", int(i < 95), None, "celeba", key=f"celeba_more/img_align_celeba/s{i}.jpg")
              for i in range(100)]
    records = natural + skewed
    labels = np.array([r.label for r in records])
    # the natural pool: glasses at 0.9, a few look-alikes at 0.7; the skewed pool: glasses at 0.6
    p = np.where(labels == 1, 0.9, 0.1)
    p[100:][labels[100:] == 1] = 0.6
    p[10:16] = 0.7
    crops = np.zeros((len(records), 64, 64, 3), np.uint8)
    val = CropSet(records, crops, np.ones(len(records), bool), np.ones(len(records), bool))
    train = CropSet(records[:5], crops[:5], np.ones(5, bool), np.ones(5, bool))
    everything = save_model_files(TrainConfig(), tmp_path, train, val, p)
    natural_only = save_model_files(TrainConfig(threshold_pools=("mtfl_train",)), tmp_path, train, val, p)
    assert everything <= 0.6 < 0.7 < natural_only


def test_the_listing_names_every_file_the_run_folder_holds(tiny_run, tmp_path, data_dir, crop_cache, capsys):
    """Issue 29: train.py's list of "every file it wrote" left out the evaluation's figures
    (errors.png, roc_pr.png, schedule.png)."""
    import shutil

    from research_and_train_nn.evaluation.report import evaluate_run
    from research_and_train_nn.training.run import print_outputs
    from serving import MTFL_GLASSES, MTFL_NO_GLASSES
    run, test_set = tmp_path / "run", tmp_path / "test_set"
    run.mkdir()
    for path in tiny_run.iterdir():  # what train.py wrote (other tests add folders: an export, a release)
        if path.is_file():
            shutil.copy(path, run / path.name)
    for folder, names in (("with_glasses", MTFL_GLASSES), ("without_glasses", MTFL_NO_GLASSES)):
        (test_set / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(data_dir / "mtfl" / name, test_set / folder / name.split("/")[-1])
    evaluate_run(run, f"folder:{test_set}", crop_cache)  # as train.py does at the end with a test set
    capsys.readouterr()
    print_outputs(run)
    listing = capsys.readouterr().out.split(f"run folder: {run.resolve()}\n", 1)[1]
    assert {"errors.png", "roc_pr.png", "schedule.png"} <= {p.name for p in run.iterdir()}
    for path in run.iterdir():
        assert f"  {path.name} " in listing, path.name


def test_the_run_folder_keeps_what_train_py_printed(tmp_path, tiny_config_file, crop_cache, capsys):
    """models/training_log.txt was train.py's output copied by hand: train.py now writes it into
    the run folder (release.py ships it), fresh on a new run, appended to on --resume."""
    run = tmp_path / "run"
    assert main(["--out", str(run), "--config", str(tiny_config_file), "--cache", str(crop_cache)]) == 0
    printed = capsys.readouterr()
    log = (run / "training_log.txt").read_text()  # stdout and stderr (a tiny model's warning), as they came
    assert sorted(log.splitlines()) == sorted((printed.out + printed.err).splitlines())
    assert "epoch 2/2 took" in log and "training took" in log
    assert main(["--out", str(run), "--resume", "--epochs", "3", "--cache", str(crop_cache)]) == 0
    resumed = (run / "training_log.txt").read_text()
    assert resumed.startswith(log) and "epoch 3/3 took" in resumed[len(log):]
    assert main(["--out", str(run), "--overwrite", "--config", str(tiny_config_file),
                 "--cache", str(crop_cache)]) == 0
    assert "epoch 3/3" not in (run / "training_log.txt").read_text()
