"""Replace the shipped model (models/) with a trained run, after checking it: the one command that does.

    python3 converters/release.py RUN_DIR --version 0.2.0

1. Evaluates the run's Keras model on the test set the shipped model was evaluated on
   (``evaluation_report.json`` in models/; research_and_train_nn/evaluate.py): its F1 and
   ROC-AUC may not fall more than ``--max-drop`` below the shipped model's.
2. Converts the run (convert_all.py) with the release version: every export must pass parity.
3. Evaluates the default TFLite file the same way, through the serving runtime, under the same rule.
4. Only then copies the exports, both reports and the run's training record into models/
   (models/README.md is kept: update its figures by hand).

Everything is staged in ``RUN_DIR/release-VERSION/``, which stays there for a look when a check
fails. Exit status: 0 released; 1 refused, a check failed (models/ untouched); 2 bad arguments,
run folder or version.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from glasses_core import ModelConfig
from glasses_core.errors import GlassesError
from glasses_core.quiet import quiet, set_verbose
from converters.metadata import Metadata
from converters.parity import MIN_CROPS
from converters.runs import check_run

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
NAME = "glasses"
TRAINING_RECORD = ("train_config.json", "history.csv", "training_log.txt")  # copied when the run has them
GATED = ("f1", "roc_auc")  # test-set figures a release may not lose


class Refused(GlassesError):
    """A check failed: the run is not released."""


def release(run: Path, version: str, models: Path = MODELS, max_drop: float = 0.0,
            metadata: Metadata = Metadata()) -> Path:
    """Check ``run`` and copy it into ``models``; returns the staging folder. Raises Refused."""
    from converters.convert_all import convert_all, summary  # TensorFlow: after the arguments
    from research_and_train_nn.evaluation.report import evaluate_run

    shipped = shipped_evaluation(models)
    check_version(version, ModelConfig.load(models / f"{NAME}.json").version)
    check_run(run, MIN_CROPS)  # before the evaluation: a run convert_all would refuse
    staging = run / f"release-{version}"
    if staging.exists():
        shutil.rmtree(staging)
    test_spec = resolve_spec(shipped["test_set"])
    keras = evaluate_run(run, test_spec, figures=staging / "figures", out=staging)["overall"]
    refuse_if_worse("the Keras model", keras, shipped["overall"], max_drop)
    report = convert_all(run, staging, NAME, metadata, version=version)
    if not report["passed"] or not report["default"]:
        raise Refused("parity failed:\n" + "\n".join(summary(report, staging, NAME)[1:]))
    default = staging / f"{NAME}.json"
    exported = evaluate_run(run, test_spec, figures=staging / "figures", out=staging,
                            exports=(default,))["exports"][default.name]
    refuse_if_worse(f"the default export ({ModelConfig.load(default).tflite})", exported,
                    shipped["overall"], max_drop)
    shutil.rmtree(staging / "figures")
    for name in TRAINING_RECORD:
        if (run / name).is_file():
            shutil.copy2(run / name, staging / name)
    install(staging, models)
    return staging


def shipped_evaluation(models: Path) -> dict:
    path = models / "evaluation_report.json"
    if not path.is_file():
        raise GlassesError(f"{path}: missing; a release is compared with the shipped model's test figures")
    return json.loads(path.read_text())


def check_version(version: str, shipped: str) -> None:
    """A release version is clean (X.Y.Z) and newer than the shipped one."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise GlassesError(f"--version {version!r}: a release version is three numbers, as 0.2.0")
    if _numbers(version) <= _numbers(shipped):
        raise GlassesError(f"--version {version}: not newer than the shipped model's {shipped}")


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0].split("-")[0])[:3])


def resolve_spec(spec: str) -> str:
    """A KIND:PATH dataset spec with a relative PATH made relative to the repository."""
    kind, _, path = spec.partition(":")
    return spec if Path(path).is_absolute() else f"{kind}:{ROOT / path}"


def refuse_if_worse(what: str, figures: dict, shipped: dict, max_drop: float) -> None:
    """Refused when ``figures`` lose more than ``max_drop`` on any GATED figure."""
    worse = [f"{key} {figures[key]:.4f} < {shipped[key]:.4f} (shipped) - {max_drop}"
             for key in GATED if figures[key] < shipped[key] - max_drop]
    if worse:
        raise Refused(f"{what} is worse than the shipped model on the test set: " + "; ".join(worse))


def install(staging: Path, models: Path) -> None:
    """Copy every staged file and package over models/ (what is not staged, as README.md, stays)."""
    for source in sorted(staging.iterdir()):
        target = models / source.name
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 released, 1 refused (models/ untouched), "
                                            "2 bad arguments, run folder or version.")
    parser.add_argument("run_dir", type=Path, help="training run folder (train.py's --out)")
    parser.add_argument("--version", required=True, help="the release version, X.Y.Z, newer than the shipped one")
    parser.add_argument("--models", type=Path, default=MODELS, help=f"the folder to replace (default: {MODELS})")
    parser.add_argument("--max-drop", type=float, default=0.0,
                        help="how far F1 or ROC-AUC on the test set may fall below the shipped "
                             "model's (default 0: not at all)")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's and LiteRT's messages")
    args = parser.parse_args(argv)
    set_verbose(args.verbose)
    try:
        with quiet():
            staging = release(args.run_dir, args.version, args.models, args.max_drop)
    except Refused as err:
        print(f"refused: {err}\nmodels untouched: {args.models}", file=sys.stderr)
        return 1
    except (GlassesError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"released {ModelConfig.load(args.models / f'{NAME}.json').identity} into {args.models} "
          f"(staged in {staging}); update models/README.md's figures", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
