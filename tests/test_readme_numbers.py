"""The README's results tables quote the committed evaluation and conversion reports."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_row(first_cell: str) -> list[str]:
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no README table row starting with {first_cell!r}")


def test_accuracy_figures_match_the_evaluation_report():
    overall = json.loads((ROOT / "models" / "evaluation_report.json").read_text())["overall"]
    header = readme_row("F1 (glasses)")
    values = readme_row(f"{overall['f1']:.4f}")
    keys = {"F1 (glasses)": "f1", "precision": "precision", "recall": "recall", "accuracy": "accuracy",
            "ROC-AUC": "roc_auc", "PR-AUC": "pr_auc"}
    for name, value in zip(header, values):
        assert value == f"{overall[keys[name]]:.4f}", name


def test_export_figures_match_the_conversion_report():
    report = json.loads((ROOT / "models" / "conversion_report.json").read_text())
    for key, export in report["exports"].items():
        name = Path(export["path"]).name
        row = next(r for r in (ROOT / "README.md").read_text().splitlines() if f"`{name}`" in r and "|" in r)
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[1] == f"{export['size_bytes'] / 1024:.1f} KiB", name
        assert float(cells[2]) == float(f"{export['max_difference']:.2e}"), name
        assert cells[3] == f"{export['agreement']:.2%}", name
    assert re.search(r"`glasses_int8\.tflite` \(default\)", (ROOT / "README.md").read_text())
    assert report["default"] == "tflite_int8"


def test_speed_rows_are_copied_from_the_benchmark_results():
    results = (ROOT / "benchmarks" / "results.md").read_text().splitlines()
    readme = (ROOT / "README.md").read_text().splitlines()
    sections = ("| classifier,", "| pipeline", "| folder runner", "| REST server", "| training (")
    rows = [line for line in readme if line.startswith(sections)]
    assert len(rows) >= 5
    for row in rows:
        assert row in results, row


def test_model_card_per_source_figures_match_the_evaluation_report():
    per_source = json.loads((ROOT / "models" / "evaluation_report.json").read_text())["validation_per_source"]
    card = (ROOT / "models" / "README.md").read_text()
    assert f"CelebA F1 {per_source['celeba']['f1']:.4f}" in card
    assert f"MTFL-LFW/web F1 {per_source['mtfl_train']['f1']:.4f}" in card
