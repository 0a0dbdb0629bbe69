"""Every command asked for --help explains itself and does nothing else; research and benchmark
commands given a wrong path: one 'error:' line and exit status 2, at once, not a traceback (or,
for compare_runs, a FileNotFoundError and exit status 0)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from glasses_core.errors import ConfigError, errors_exit_2

ROOT = Path(__file__).resolve().parent.parent


def script_main(path: str):
    """The ``main`` of a command file, loaded as its own module (registered, as dataclasses need)."""
    name = "command_" + path.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


COMMAND_FOLDERS = ("benchmarks", "conformance", "converters", "data_scraper", "deploy", "research_and_train_nn")


def command_scripts() -> list[str]:
    """Every file that runs as a command (it has an ``if __name__ == "__main__":`` block)."""
    return sorted(str(path.relative_to(ROOT)) for folder in COMMAND_FOLDERS for path in (ROOT / folder).rglob("*.py")
                  if '\nif __name__ == "__main__":' in path.read_text())


@pytest.mark.parametrize("script", command_scripts())
def test_every_command_answers_help_with_its_usage_before_doing_anything(script, capsys):
    """conformance/measure.py took --help for nothing: it measured every port and rewrote its tables."""
    with pytest.raises(SystemExit) as done:
        script_main(script)(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ")


def test_a_glasses_error_becomes_one_line_and_exit_status_2_and_anything_else_still_raises(capsys):
    @errors_exit_2
    def main(argv=None) -> int:
        if argv == ["bad"]:
            raise ConfigError("bad: unknown key")
        if argv == ["bug"]:
            raise KeyError("a bug is not a usage error")
        return 0
    assert main([]) == 0 and main(["bad"]) == 2 and errors_exit_2(lambda: {"results": 1})() == 0
    assert capsys.readouterr().err == "error: bad: unknown key\n"
    with pytest.raises(KeyError):
        main(["bug"])


@pytest.mark.parametrize("command, says", [
    (lambda tmp: ("research_and_train_nn.compare_runs", [str(tmp / "no_run"), "--out", str(tmp / "table")]),
     "not a finished training run (no train_config.json, model.keras"),
    (lambda tmp: ("research_and_train_nn.compare_runs",
                  [str(ROOT / "models"), "--out", str(tmp / "table")]),  # a model folder is not a run folder
     "not a finished training run (no model.keras, config.json, val_crops.npz;"),
    (lambda tmp: ("research_and_train_nn.average_runs", [str(tmp / "no_run"), str(tmp / "no_run"), "--out", str(tmp / "o")]),
     "no_run: neither a run folder made by train.py nor a .keras model file"),
    (lambda tmp: ("research_and_train_nn.studies.error_overlap", [str(tmp / "no_run"), "--out", str(tmp / "o")]),
     "no_run: not a finished training run (no train_config.json"),
    (lambda tmp: ("research_and_train_nn.kind_sheets", ["disagree", str(tmp / "no_run"), "--out", str(tmp / "o")]),
     "no_run: not a finished training run"),
    (lambda tmp: ("research_and_train_nn.kind_sheets", ["again", str(tmp / "rows.csv"), "--out", str(tmp / "o")]),
     "rows.csv: no such file"),
    (lambda tmp: ("research_and_train_nn.kind_sheets", ["collect", str(tmp / "answers.txt"), "--index", str(tmp / "i.csv"),
                                                         "--out", str(tmp / "o")]), "answers.txt: no such file"),
    (lambda tmp: ("research_and_train_nn.studies.hard_cases", ["--model", str(tmp / "none.json"), "--out", str(tmp / "o")]),
     "none.json: model metadata not found"),
    (lambda tmp: ("research_and_train_nn.studies.hard_cases", ["--data", str(tmp / "nodata"), "--out", str(tmp / "o")]),
     "nodata/mtfl does not exist"),
    (lambda tmp: ("research_and_train_nn.studies.frame_fill_study", ["--model", str(tmp / "none.json"), "--out", str(tmp / "o")]),
     "none.json: model metadata not found"),
    (lambda tmp: ("research_and_train_nn.studies.tight_frame_study", ["--model", str(tmp / "none.json"), "--out", str(tmp / "o")]),
     "none.json: model metadata not found"),
    (lambda tmp: ("research_and_train_nn.studies.tight_frame_study", ["--data", str(tmp / "nodata"), "--out", str(tmp / "o")]),
     "nodata/mtfl"),
    (lambda tmp: ("research_and_train_nn.studies.mesh_settle_study", ["--data", str(tmp / "nodata"), "--out", str(tmp / "o")]),
     "nodata/mtfl does not exist"),
    (lambda tmp: ("research_and_train_nn.studies.kind_features_study",
                  ["--model", str(tmp / "none.keras"), "--config", str(ROOT / "research_and_train_nn" / "configs" /
                                                                       "all_data.json"), "--out", str(tmp / "o")]),
     "no such file: "),
    (lambda tmp: ("research_and_train_nn.studies.threshold_ceiling_study",
                  [str(ROOT / "runs" / "none"), "--out", str(tmp / "o")]), "none: not a finished training run"),
    (lambda tmp: ("benchmarks/fast_path_f1.py", ["--model", str(tmp / "none.json")]), "none.json: model metadata not found"),
    (lambda tmp: ("benchmarks/bench_pipeline.py", ["--model", str(tmp / "none.json")]), "none.json: model metadata not found"),
    (lambda tmp: ("benchmarks/run_all.py", ["--models", str(tmp / "none"), "--out", str(tmp / "o")]),
     "glasses_int8.json: model metadata not found"),
    (lambda tmp: ("research_and_train_nn/make_figures.py", ["--model", str(tmp / "none.json"), "--out", str(tmp / "o")]),
     "none.json: model metadata not found"),
])
def test_a_wrong_path_is_an_error_line_and_exit_status_2(tmp_path, capsys, command, says):
    module, argv = command(tmp_path)
    main = script_main(module) if module.endswith(".py") else importlib.import_module(module).main
    assert errors_exit_2(main)(argv) == 2  # as each command's __main__ runs it
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "Traceback" not in err
    assert not (tmp_path / "table").exists() and not (tmp_path / "o").exists()
