"""The README's and docs/' results tables quote the committed evaluation and conversion reports."""
import json
import re
from pathlib import Path

import documentation

ROOT = Path(__file__).resolve().parent.parent


def readme_row(first_cell: str) -> list[str]:
    for line in documentation.text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no README or docs table row starting with {first_cell!r}")


def runs_table(name: str) -> dict:
    """compare_runs.py's table in research_and_train_nn/reports/<name>/runs.json, by run name."""
    rows = json.loads((ROOT / "research_and_train_nn" / "reports" / name / "runs.json").read_text())
    return {row["run"]: row for row in rows}


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
        row = next(r for r in documentation.text().splitlines() if f"`{name}`" in r and "|" in r)
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[1] == f"{export['size_bytes'] / 1024:.1f} KiB", name
        assert float(cells[2]) == float(f"{export['max_difference']:.2e}"), name
        assert cells[3] == f"{export['agreement']:.2%}", name
    assert re.search(r"`glasses_int8\.tflite` \(default\)", documentation.text())
    assert report["default"] == "tflite_int8"


def test_speed_rows_are_copied_from_the_benchmark_results():
    results = (ROOT / "benchmarks" / "results.md").read_text().splitlines()
    readme = documentation.text().splitlines()
    sections = ("| classifier,", "| networks", "| predict()", "| ratios", "| folder runner", "| REST server",
                "| training (")
    rows = [line for line in readme if line.startswith(sections)]
    assert len(rows) >= 5
    for row in rows:
        assert row in results, row


def test_browser_rows_are_copied_from_the_browser_benchmark():
    results = (ROOT / "benchmarks" / "browser_results.md").read_text().splitlines()
    rows = [line for line in documentation.text().splitlines() if line.startswith("| browser, on the device")]
    assert len(rows) >= 3
    for row in rows:
        assert row in results, row


def test_speed_sentences_quote_the_benchmark_results():
    r = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    text = " ".join(documentation.text().split())
    ratios, big = r["pipeline"]["ratios"], r["pipeline"]["photos"]["4032x3024"]
    assert f"a 12 MP phone photo takes {ratios['4032x3024_vs_640x480']:.1f} times a 640 × 480 frame" in text
    assert f"{ratios['4032x3024_full_decode_vs_fast']:.1f} times slower than the fast path" in text
    assert f"({big['decode_ms']:.0f} of {big['predict_ms']:.0f} ms)" in text
    assert (f"takes {ratios['640x480_vs_two_networks']:.1f} times the two networks every photo needs but "
            f"{ratios['640x480_vs_every_network_it_runs']:.1f} times all the networks it runs") in text
    assert (f"{ratios['640x480_vs_its_decode_and_invokes']:.2f} times its decode and every network invoke it makes "
            f"(1920 × 1080: {ratios['1920x1080_vs_its_decode_and_invokes']:.2f}; "
            f"12 MP: {ratios['4032x3024_vs_its_decode_and_invokes']:.2f})") in text
    assert f"is found costs {ratios['640x480_no_face_vs_one_face']:.1f} times one with a face at 640 × 480" in text
    no_face = r["pipeline"]["no_face"]["640x480"]
    shape = no_face["detail_input"].split("x")
    assert f"one run of the network resized to {shape[0]} × {shape[1]}" in text
    assert (f"({no_face['invokes']['blazeface']} BlazeFace invokes and {no_face['invokes']['blazeface_detail']} in "
            "detail, against 1)") in text
    server = r["server"]
    assert (f"8 clients got {server['processes_1']['server']['per_second']:.0f} requests a second, half the "
            f"default's {server['default']['server']['per_second']:.0f}") in text
    assert (f"get {server['default']['server_over_runtime_throughput']:.2f} × the runtime's throughput in process "
            f"with as many threads, and {server['threads_1']['server_over_runtime_throughput']:.2f} × with") in text
    runs, cpu = server["default"]["repeat_ratios"], server["default"]["cpu_ms"]
    assert f"three runs in a row gave {runs[0]:.2f}, {runs[1]:.2f} and {runs[2]:.2f} ×" in text
    assert (f"its processes spend {cpu['server_per_request']:.1f} ms of CPU on a request and the clients "
            f"{cpu['clients_per_request']:.1f} ms, against {cpu['runtime_per_photo']:.1f} ms a photo in process: "
            f"CPU time alone gives {server['default']['cpu_ratio']:.2f} ×") in text


def test_model_card_per_source_figures_match_the_evaluation_report():
    per_source = json.loads((ROOT / "models" / "evaluation_report.json").read_text())["validation_per_source"]
    card = (ROOT / "models" / "README.md").read_text()
    assert f"CelebA F1 {per_source['celeba']['f1']:.4f}" in card
    assert f"MTFL-LFW/web F1 {per_source['mtfl_train']['f1']:.4f}" in card


def test_experiment_notes_quote_their_reports():
    """research_and_train_nn/reports/README.md cites the sweep and the fallback study."""
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())  # line breaks do not matter
    sweep = json.loads((reports / "sweep_report.json").read_text())["variants"]
    for name in ("base", "80 px", "80 px, scale 2.0", "label smoothing 0.1"):
        assert f"{sweep[name]['pr_auc']:.3f}" in notes, name
    hard = {name: m["hard_false_positives"] for name, m in sweep.items()}
    assert f"from {hard['base']} to {hard['brim shadows 0.5']}" in notes
    shipped = json.loads((reports / "v0.1.0" / "evaluation_report.json").read_text())  # as it was then
    hat = shipped["validation_hard_cases"]
    h, everyone = hat["Wearing_Hat"], hat["all CelebA"]
    assert (f"Of the {h['glasses']} validation photos with glasses and a hat, the model finds "
            f"{h['glasses'] - h['missed']} (recall {(h['glasses'] - h['missed']) / h['glasses']:.3f}"
            in notes)
    assert f"{h['false_positives']} of the {h['no_glasses']} hat" in notes
    assert f"{everyone['false_positives']} of {everyone['no_glasses']:,} overall" in notes
    candidate = json.loads((reports / "candidate_80px" / "evaluation_report.json").read_text())
    f1 = [r["validation_per_source"][s]["f1"] for r in (candidate, shipped) for s in ("celeba", "mtfl_train")]
    assert "{:.4f} (CelebA) and {:.4f} (MTFL) against {:.4f} and {:.4f}".format(*f1) in notes
    study = (reports / "fallback_study.md").read_text()
    fallback = next(line for line in study.splitlines() if line.startswith("| fallback |"))
    assert f"{len(json.loads((reports / 'fallback_study.json').read_text())['photos'])} of" in fallback
    assert "| 0.35 |" in fallback and "0.35 eye distances" in notes


def test_v0_2_notes_quote_the_runs_table_and_the_refine_study():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    runs = runs_table("runs_v0.2")
    for name in ("shipped 0.1.0", "r1_refine", "r2_synthesis", "r3_80px", "r4_finetune", "r6_finetune_80px",
                 "r7_finetune_shadows", "r8_finetune_no_class_weights", "r4b_finetune_seed2",
                 "r8b_finetune_no_class_weights_seed2"):
        assert f"{runs[name]['overall']['f1']:.4f}" in notes, name
    assert f"CelebA F1 {runs['r4_finetune']['per_source']['celeba']['f1']:.4f}" in notes
    assert f"({runs['r4_finetune']['hat_recall']:.3f})" in notes
    study = {r["refine"]: r for r in json.loads((reports / "refine_study.json").read_text())["rows"]}
    assert f"error {study['mesh']['train_median']:.3f} eye distances" in notes
    assert f"{study['none']['train_median']:.3f} for the whole-photo keypoints" in notes
    assert f"movement {study['mesh']['move_median']:.3f} eye distances" in notes
    one, two, eight = (study[f"mesh, {n}"] for n in ("1 pass", "2 passes", "up to 8 passes, settled 0.01"))
    assert (f"{study['mesh']['mesh_invokes_per_face']:.2f} passes a face" in notes
            and f"(median {one['move_median']:.4f} eye distances against {study['mesh']['move_median']:.4f})" in notes)
    assert f"moves {one['changed']} placements' probabilities by more than 0.05, against {study['mesh']['changed']}" in notes
    assert f"Exactly two passes moved {two['changed']}, but lost {two['missed']} faces" in notes
    assert f"moved {eight['changed']} and cost {eight['mesh_invokes_per_face']:.2f} passes" in notes
    test = json.loads((reports / "v0.2.0" / "evaluation_report.json").read_text())["overall"]  # as it was then
    assert f"F1 {test['f1']:.4f}" in notes and f"ROC-AUC {test['roc_auc']:.4f}" in notes


def test_error_overlap_notes_quote_their_report():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    r = json.loads((reports / "error_overlap" / "error_overlap.json").read_text())
    errors = [run["errors"] for run in r["per_run"]]
    first, last = r["ensembles"][0], r["ensembles"][-1]
    assert f"They make {min(errors)} to {max(errors)} errors each; {r['shared_errors']} of them every run makes, " \
           f"{r['errors_of_any_run']} some run makes" in notes
    assert (f"PR-AUC {last['pr_auc']:.4f} and F1 {last['f1']:.4f} against r4's {first['pr_auc']:.4f} and "
            f"{first['f1']:.4f}") in notes
    assert r["per_run"][0]["run"] == "r4_finetune" and max(e["f1"] for e in r["ensembles"]) - first["f1"] < 0.009


def test_placement_notes_quote_the_placement_study_and_the_runs_table():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "placement_study.json").read_text())
    product, mirrored = study["face mesh (the product)"], study["face mesh, last region mirrored too (mesh_mirrored)"]
    assert f"through 0.2.0: {product['moved']} move by more than 0.05" in notes
    assert f"only {product['moved_with_alone_eyes']} do" in notes
    assert (f"{product['eye_move_median'] * 100:.1f} % of the eye distance apart in the median and "
            f"{product['eye_move_p90'] * 100:.1f} % at the 90th percentile") in notes
    assert (f"(median {mirrored['eye_move_median']:.4f} against {product['eye_move_median']:.4f}) and moved "
            f"{mirrored['moved']} placements instead of {product['moved']}") in notes
    assert (f"The {product['moved']} moves are of {product['faces_moved']} of the {product['faces']} faces" in notes
            and f"{product['flipped']} of the {product['placements']} answers flip at the threshold "
                f"({100 * product['flipped'] / product['placements']:.1f} %; the mirrored look flips {mirrored['flipped']})" in notes)
    runs = runs_table("runs_v0.2")
    family = [runs[n] for n in ("r4_finetune", "r7_finetune_shadows", "r8_finetune_no_class_weights",
                                "r4b_finetune_seed2", "r8b_finetune_no_class_weights_seed2")]
    assert (f"move {min(r['placements_moved'] for r in family)} to {max(r['placements_moved'] for r in family)} "
            f"of 300, with largest moves of {min(r['placement_max_move'] for r in family):.3f} to "
            f"{max(r['placement_max_move'] for r in family):.3f}") in notes
    r9, r10 = runs["r9_finetune_consistency"], runs["r10_finetune_consistency_2"]
    assert f"the smallest of any run ({r9['placement_max_move']:.3f}), but {r9['placements_moved']} placements" in notes
    assert min(r["placement_max_move"] for r in runs.values()) == r9["placement_max_move"]
    assert f"(F1 {r9['per_source']['celeba']['f1']:.4f} against" in notes and f"F1 {r9['overall']['f1']:.4f} within" in notes
    assert (f"F1 {r10['overall']['f1']:.4f}, {r10['placements_moved']} placements moved, largest move "
            f"{r10['placement_max_move']:.3f}") in notes
    r11 = runs["r11_finetune_80px_from_r3"]
    assert (f"F1 {r11['overall']['f1']:.4f} and PR-AUC {r11['overall']['pr_auc']:.4f}" in notes
            and f"({r11['hat_recall']:.3f}, the best of any run" in notes and f"{r11['placements_moved']} placed faces moved" in notes)
    assert max(r["hat_recall"] or 0 for r in runs.values()) == r11["hat_recall"]
    r1, r4 = runs["r1_refine"], runs["r4_finetune"]
    r12, r13, r14 = (runs[n] for n in ("r12_finetune_scale2", "r13_scale2", "r14_finetune_scale2_from_r13"))
    assert (f"r13 has F1 {r13['overall']['f1']:.4f} against r1's {r1['overall']['f1']:.4f}" in notes
            and f"(r12), has F1 {r12['overall']['f1']:.4f} against {r4['overall']['f1']:.4f}" in notes
            and f"({r12['hat_recall']:.3f})" in notes
            and f"(r14), F1 {r14['overall']['f1']:.4f} and CelebA F1 {r14['per_source']['celeba']['f1']:.4f}" in notes)
    assert max(r["overall"]["f1"] for r in runs.values()) - r4["overall"]["f1"] < 0.009  # 0.2.0 stays
    r15 = runs["r15_finetune_mirrored"]
    assert (f"r15 is r4's recipe on its crops: F1 {r15['overall']['f1']:.4f} against {r4['overall']['f1']:.4f}, "
            f"CelebA F1 {r15['per_source']['celeba']['f1']:.4f} against {r4['per_source']['celeba']['f1']:.4f}, "
            f"glasses under a hat {round(r15['hat_recall'] * 13)} of 13 ({r15['hat_recall']:.3f}), and "
            f"{r15['placements_moved']} of its validation placements moved, against r4's {r4['placements_moved']}") in notes
    study = {r["refine"]: r for r in json.loads((reports / "refine_study.json").read_text())["rows"]}
    plain, mirrored = study["mesh"], study["mesh, last region mirrored too"]
    assert (f"(median {mirrored['train_median']:.4f} against {plain['train_median']:.4f} eye distances on the "
            f"LFW/web photos, {mirrored['test_median']:.4f} against {plain['test_median']:.4f} on AFLW; p95 "
            f"{mirrored['test_p95']:.4f} against {plain['test_p95']:.4f} there)") in notes
    assert f"(median {mirrored['move_median']:.4f} against {plain['move_median']:.4f})" in notes
    assert (f"({mirrored['mesh_invokes_per_face']:.2f} against {plain['mesh_invokes_per_face']:.2f})" in notes
            and mirrored["mesh_invokes_per_face"] - plain["mesh_invokes_per_face"] == 1.0)


def test_the_fast_path_sentence_quotes_its_report():
    r = json.loads((ROOT / "benchmarks" / "fast_path_f1.json").read_text())
    text = " ".join(documentation.text().split())
    assert (f"on all {r['photos']} AFLW test photos, F1 through the int8 model is {r['f1_fast']:.4f} from the fast "
            f"path and {r['f1_full']:.4f} from a full-size decode, with {r['answers_changed']} "
            f"answer{'' if r['answers_changed'] == 1 else 's'} changed") in text


def test_the_preprocessing_page_quotes_the_hard_cases_study():
    reports = ROOT / "research_and_train_nn" / "reports" / "hard_cases"
    now = json.loads((reports / "v0.3.1_preprocessing10" / "hard_cases.json").read_text())["cases"]
    nine = json.loads((reports / "v0.3.1_preprocessing9" / "hard_cases.json").read_text())["cases"]
    before = json.loads((reports / "before_second_looks.json").read_text())["cases"]["all"]
    text = " ".join((ROOT / "docs" / "preprocessing.md").read_text().split())
    assert f"the right face is found in {now['all']['right_face']:.3f} of them against {before['right_face']:.3f}" in text
    cut = "forehead and chin cut"
    assert (f"{nine['all']['right_face']:.3f} before they could count by eye agreement: on close-ups cut at the forehead "
            f"and chin {now[cut]['right_face']:.3f} against 0.917 and {nine[cut]['right_face']:.3f}") in text


def test_v0_3_notes_and_model_card_quote_the_runs_table():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    card = " ".join((reports / "v0.3.0" / "README.md").read_text().split())  # 0.3.0's card, as it shipped
    runs = runs_table("runs_v0.3")
    for name in ("shipped 0.2.0", "r16_all_data", "r17_all_data_kind", "r18_all_data_kind_variants",
                 "r19_scratch_all_data_kind_variants", "r20_all_data_kind_variants_16", "r21_all_data_kind3_variants",
                 "r22_scratch_all_data_kind3_variants", "r23_all_data_kind10_variants",
                 "r24_all_data_kind3_variants_lr1e-3", "r25_all_data_kind3_variants_lr6e-4",
                 "r27_all_data_kind3_variants_lr1e-3_seed7"):
        assert f"{runs[name]['overall']['f1']:.4f}" in notes, name
    for name in ("r17_all_data_kind", "r19_scratch_all_data_kind_variants", "r21_all_data_kind3_variants",
                 "r22_scratch_all_data_kind3_variants", "r23_all_data_kind10_variants",
                 "r24_all_data_kind3_variants_lr1e-3", "r26_all_data_kind_variants_lr1e-3",
                 "r27_all_data_kind3_variants_lr1e-3_seed7"):
        assert f"{runs[name]['kind']['dark_accuracy']:.4f}" in notes, name
    shipped = runs["r21_all_data_kind3_variants"]
    moved = shipped["robustness"]
    assert (f"cost {-moved['eyes moved 0.06']['change']:.4f} and {-moved['eyes moved 0.10']['change']:.4f}"
            in notes + card)
    assert f"recall ({shipped['composed']['recall']:.3f})" in notes
    assert f"MTFL {shipped['per_source']['mtfl_train']['f1']:.4f} and CelebA {shipped['per_source']['celeba']['f1']:.4f}" \
        in card
    test = json.loads((reports / "v0.3.0" / "evaluation_report.json").read_text())  # 0.3.0's, as it shipped
    kind = test["kind"]["validation"]
    assert f"| validation | {kind['clear']} | {kind['confusion'][0][0]} | {kind['confusion'][0][1]} | " \
           f"{kind['clear_accuracy']:.4f} | {kind['dark']} | {kind['confusion'][1][0]} | {kind['confusion'][1][1]} | " \
           f"{kind['dark_accuracy']:.4f} |" in card
    before = json.loads((reports / "v0.2.0" / "evaluation_report.json").read_text())["overall"]
    assert f"F1 {test['overall']['f1']:.4f} against 0.2.0's {before['f1']:.4f}" in notes
    assert f"({test['overall']['f1']:.4f} against {before['f1']:.4f}, one photo)" in card


def test_seed_notes_quote_the_seeds_table_and_the_refused_candidate():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    runs = runs_table("runs_v0.3_seeds")
    for name in ("shipped 0.3.0", "r28_all_data_kind3_variants_seed7", "r29_all_data_kind3_variants_seed11",
                 "r30_all_data_kind3_variants_seed23"):
        assert f"F1 {runs[name]['overall']['f1']:.4f}" in notes, name
        assert f"sunglasses {runs[name]['kind']['dark_accuracy']:.4f}" in notes, name
    r28 = runs["r28_all_data_kind3_variants_seed7"]
    moved = r28["robustness"]
    assert (f"eyes moved {-moved['eyes moved 0.06']['change']:.4f} and {-moved['eyes moved 0.10']['change']:.4f}, "
            f"composed recall {r28['composed']['recall']:.3f}; MTFL F1 {r28['per_source']['mtfl_train']['f1']:.4f}") in notes
    candidate = json.loads((reports / "candidate_0.3.1_r28" / "evaluation_report.json").read_text())
    shipped = json.loads((reports / "v0.3.0" / "evaluation_report.json").read_text())  # 0.3.0's, as it shipped
    c, s = candidate["overall"], shipped["overall"]
    assert f"test F1 {c['f1']:.4f} against 0.3.0's {s['f1']:.4f}" in notes
    assert f"(ROC-AUC {c['roc_auc']:.4f} against {s['roc_auc']:.4f}, PR-AUC {c['pr_auc']:.4f} against {s['pr_auc']:.4f})" in notes
    assert f"(a drop of {s['f1'] - c['f1']:.4f})" in notes and s["f1"] - c["f1"] > 0.01
    assert (f"clear for {candidate['kind']['test']['clear_accuracy']:.4f} of the clear glasses "
            f"(0.3.0: {shipped['kind']['test']['clear_accuracy']:.4f})") in notes


def test_the_preprocessing_page_quotes_the_second_look_study():
    r = json.loads((ROOT / "research_and_train_nn" / "reports" / "second_look_study.json").read_text())
    text = " ".join((ROOT / "docs" / "preprocessing.md").read_text().split())
    from glasses_core.locate import GIVE_UP, TURNED_REGION_OUTSIDE
    assert r["give_up"] == GIVE_UP and r["photos_with_other_faces"] == 0 and r["turned_regions"] == TURNED_REGION_OUTSIDE
    assert (f"on {r['composed_photos']:,} composed hard photos no face changed, and the trusted faces read "
            f"{r['trusted_lowest_of_first_two']:.2f} or more on one of their first two looks") in text.replace("−", "-")


def test_the_widened_look_s_presence_is_the_one_the_close_up_study_s_rule_picks():
    """locate.WIDENED_TRUSTED: down the study's table, the last presence before a step whose added
    faces are more than one in ten wrong; the notes quote the table."""
    from glasses_core.locate import WIDENED_TRUSTED
    from research_and_train_nn.studies.close_up_study import rule_picks
    reports = ROOT / "research_and_train_nn" / "reports"
    study = json.loads((reports / "close_up_study.json").read_text())
    table = study["table"]
    assert study["chosen"] == rule_picks(table) == WIDENED_TRUSTED
    notes = " ".join((reports / "README.md").read_text().split())
    rows = {row["presence"]: row for row in table}
    assert "; ".join(f"{p:g}, {rows[p]['right']} and {rows[p]['wrong']}" for p in (12, 4, 2, 0)) in notes


def test_frame_cut_notes_quote_the_frame_cuts_table():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    runs = runs_table("runs_v0.3_framecuts")
    pairs = (("shipped 0.3.0", "r31_all_data_kind3_variants_framecuts"),
             ("r28_all_data_kind3_variants_seed7", "r32_all_data_kind3_variants_framecuts_seed7"),
             ("r29_all_data_kind3_variants_seed11", "r33_all_data_kind3_variants_framecuts_seed11"))
    for without, with_cuts in pairs:
        a, b = runs[without], runs[with_cuts]
        row = (f"{a['overall']['f1']:.4f}{' (0.3.0)' if without.startswith('shipped') else ''} / {b['overall']['f1']:.4f} | "
               f"{a['composed']['recall']:.3f} / {b['composed']['recall']:.3f} | "
               f"{a['composed']['false_alarms']} / {b['composed']['false_alarms']} | "
               f"{a['kind']['dark_accuracy']:.4f} / {b['kind']['dark_accuracy']:.4f} |")
        assert row in notes, row
        assert b["overall"]["f1"] < a["overall"]["f1"] and b["composed"]["recall"] < a["composed"]["recall"]
        assert b["composed"]["false_alarms"] < a["composed"]["false_alarms"]


def test_the_model_card_quotes_the_hard_cases_and_the_fast_path_of_today_s_preprocessing():
    cases = json.loads((ROOT / "research_and_train_nn" / "reports" / "hard_cases" / "v0.3.1_preprocessing10"
                        / "hard_cases.json").read_text())["cases"]
    fast = json.loads((ROOT / "benchmarks" / "fast_path_f1.json").read_text())
    card = " ".join((ROOT / "models" / "README.md").read_text().split())
    assert (f"right face found in {cases['all']['right_face']:.3f} of them, recall {cases['all']['recall']:.3f} "
            f"against {cases['as photographed']['recall']:.3f} on the same photos") in card
    photographed = cases["as photographed"]
    assert (f"call {photographed['looked_without_glasses'] - photographed['without_glasses']} of its "
            f"{photographed['photos'] - photographed['without_glasses']} photos with glasses none, recall is "
            f"{cases['all']['looked_recall']:.3f} against {photographed['looked_recall']:.3f}") in card
    evaluated = json.loads((ROOT / "models" / "evaluation_report.json").read_text())["exports"]["glasses_int8.json"]
    assert f"{evaluated['f1']:.4f} with the int8 file" in card
    assert f"{fast['f1_fast']:.4f} through the folder runner's fast path since preprocessing 13" in card


def test_eye_band_notes_and_the_model_card_quote_the_runs_table_the_study_and_the_evaluation():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    card = " ".join((ROOT / "models" / "README.md").read_text().split())
    runs = runs_table("runs_v0.3_eyeband")
    for name, row in runs.items():
        assert f"| {name} | " in notes and (f"| {row['kind']['clear_accuracy']:.4f} | "
                                             f"{row['kind']['dark_accuracy']:.4f} |") in notes, name
    seeds = [runs[n]["kind"] for n in ("r34_eyeband_kind_only", "r35_eyeband_kind_only_seed7",
                                       "r36_eyeband_kind_only_seed11")]
    assert all(k["clear_accuracy"] >= 0.97 and k["dark_accuracy"] >= 0.97 for k in seeds)  # the rule that shipped r34
    clear, dark = sorted(k["clear_accuracy"] for k in seeds), sorted(k["dark_accuracy"] for k in seeds)
    assert f"clear {clear[0]:.4f} to {clear[-1]:.4f}, sunglasses {dark[0]:.4f} to {dark[-1]:.4f}" in notes
    assert f"(clear {clear[0]:.4f} to {clear[-1]:.4f}, sunglasses {dark[0]:.4f} to {dark[-1]:.4f})" in card
    study = json.loads((reports / "kind_features_study.json").read_text())
    band = [p for p in study["probes"] if p["block"] in (3, 4) and p["view"] == "rows 2-5"]
    pooled = [p for p in study["probes"] if p["view"] == "pooled"]
    assert f"{min(p['dark_accuracy'] for p in band):.4f} to {max(p['dark_accuracy'] for p in band):.4f} on sunglasses" in notes
    assert (f"no map reaches 0.97 on sunglasses ({min(p['dark_accuracy'] for p in pooled):.4f} to "
            f"{max(p['dark_accuracy'] for p in pooled):.4f})") in notes
    assert max(p["dark_accuracy"] for p in pooled) < 0.97 <= min(p["dark_accuracy"] for p in band)
    evaluation = json.loads((ROOT / "models" / "evaluation_report.json").read_text())
    for name, kind in (("validation", evaluation["kind"]["validation"]), ("test (AFLW)", evaluation["kind"]["test"])):
        c = kind["confusion"]
        assert (f"| {name} | {kind['clear']} | {c[0][0]} | {c[0][1]} | {kind['clear_accuracy']:.4f} | {kind['dark']} | "
                f"{c[1][0]} | {c[1][1]} | {kind['dark_accuracy']:.4f} |") in card, name
    assert f"at the kind threshold {evaluation['kind']['validation']['threshold']:.4f} chosen on validation" in card


def test_the_third_look_notes_quote_their_runs_table_and_its_rule():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    card = " ".join((ROOT / "models" / "README.md").read_text().split())
    runs = {r["run"]: r["kind"] for r in json.loads((reports / "runs_v0.3_third_look" / "runs.json").read_text())}
    for name, kind in runs.items():
        assert f"| {name} | " in notes and f"| {kind['clear_accuracy']:.4f} | {kind['dark_accuracy']:.4f} |" in notes, name
    seeds = [runs[n] for n in ("r39_eyeband_kind_only_third_look", "r40_eyeband_kind_only_third_look_seed7",
                               "r41_eyeband_kind_only_third_look_seed11")]
    assert not all(k["clear_accuracy"] >= 0.97 and k["dark_accuracy"] >= 0.97 for k in seeds)  # so 0.3.1 stays
    assert f"r39 does not ({seeds[0]['dark_accuracy']:.4f} on sunglasses" in notes
    shipped = runs["shipped 0.3.1"]
    assert (f"0.3.1 is right for {shipped['clear_accuracy']:.4f} of the clear glasses on validation "
            f"({shipped['confusion'][0][0]} of {shipped['clear']}) and {shipped['dark_accuracy']:.4f} of the sunglasses") in card


def test_the_mesh_settle_notes_quote_the_study():
    notes = " ".join((ROOT / "research_and_train_nn" / "reports" / "README.md").read_text().split())
    product, loose, tight = json.loads((ROOT / "research_and_train_nn" / "reports" / "mesh_settle_study.json").read_text())
    assert (product["passes"], product["settled"]) == (4, 0.02) and tight["settled"] < loose["settled"] < 0.02
    assert (f"cost {loose['looks_per_photo']:.2f} and {tight['looks_per_photo']:.2f} mesh looks a photo against "
            f"{product['looks_per_photo']:.2f}") in notes
    assert (f"{loose['validation_placed']['moved']} and {tight['validation_placed']['moved']} of 300 placed validation "
            f"faces move by more than 0.05, against {product['validation_placed']['moved']}, with F1 {loose['f1']:.4f} and "
            f"{tight['f1']:.4f} against {product['f1']:.4f}") in notes
    assert (f"(CelebA {loose['f1_per_pool']['celeba']:.4f} and {tight['f1_per_pool']['celeba']:.4f} against "
            f"{product['f1_per_pool']['celeba']:.4f})") in notes
    assert (f"({loose['aflw_placed']['moved']} and {tight['aflw_placed']['moved']} of 300, against "
            f"{product['aflw_placed']['moved']}) but flip as many answers ({loose['aflw_placed']['flipped']} and "
            f"{tight['aflw_placed']['flipped']}, against {product['aflw_placed']['flipped']})") in notes
    # the conclusion holds: no tighter rule is steadier on validation at no cost in F1
    assert not any(r["validation_placed"]["moved"] < product["validation_placed"]["moved"] and r["f1"] >= product["f1"]
                   and r["f1_per_pool"]["celeba"] >= product["f1_per_pool"]["celeba"] for r in (loose, tight))


def moved(row: dict, sigma: float) -> float:
    """What moving the crop's eyes by ``sigma`` eye distances costs a compare_runs row in F1 (a positive cost)."""
    return -row["robustness"][f"eyes moved {sigma:.2f}"]["change"]


def test_the_variants90_notes_quote_their_runs_table():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    shipped, run = json.loads((reports / "runs_v0.3_variants90" / "runs.json").read_text())
    draws = json.loads((reports / "runs_v0.3_seeds" / "runs.json").read_text())
    span = lambda f, digits: f"the draws {min(map(f, draws)):.{digits}f} to {max(map(f, draws)):.{digits}f}"  # noqa: E731
    assert run["run"] == "r42_all_data_kind3_variants90" and shipped["run"].startswith("shipped") and len(draws) == 4
    assert (f"eyes moved by 0.06 eye distances cost {moved(run, 0.06):.4f} of F1 ({moved(shipped, 0.06):.4f}; "
            f"{span(lambda r: moved(r, 0.06), 4)})") in notes
    assert f"by 0.10 {moved(run, 0.1):.4f} ({moved(shipped, 0.1):.4f}; {span(lambda r: moved(r, 0.1), 4)})" in notes
    assert f"but F1 {run['overall']['f1']:.4f} ({shipped['overall']['f1']:.4f}; {span(lambda r: r['overall']['f1'], 4)})" in notes
    assert (f"composed recall {run['composed']['recall']:.3f} ({shipped['composed']['recall']:.3f}; "
            f"{span(lambda r: r['composed']['recall'], 3)})") in notes
    assert (f"and {run['placements_moved']} of 300 placed faces moved by more than 0.05 ({shipped['placements_moved']}; "
            f"the draws {min(r['placements_moved'] for r in draws)} to {max(r['placements_moved'] for r in draws)})") in notes
    # the conclusion: F1 falls below every draw of the recipe it changes
    assert run["overall"]["f1"] < min(r["overall"]["f1"] for r in draws)


def test_the_release_note_quotes_0_3_1_s_test_reading():
    notes = " ".join((ROOT / "research_and_train_nn" / "reports" / "README.md").read_text().split())
    now = json.loads((ROOT / "models" / "evaluation_report.json").read_text())
    before = json.loads((ROOT / "research_and_train_nn" / "reports" / "v0.3.0" / "evaluation_report.json").read_text())
    assert f"first answer scores F1 {now['overall']['f1']:.4f} (0.3.0 at its release, preprocessing 7: " \
           f"{before['overall']['f1']:.4f}" in notes
    kind, kind_before = now["kind"]["test"], before["kind"]["test"]
    assert (f"says clear for {kind['clear_accuracy']:.4f} of the {kind['clear']} clear glasses "
            f"(0.3.0: {kind_before['clear_accuracy']:.4f}) and dark for all {kind['dark']} sunglasses") in notes
    assert kind["dark_accuracy"] == 1.0


def test_the_label_audit_notes_quote_the_study_and_the_runs():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "label_audit" / "label_audit.json").read_text())
    models = {row["model"]: row for row in study["models"]}
    shipped = study["models"][0]
    f1 = lambda row, pool, labels: f"{row['scores'][pool][labels]['f1']:.4f}"  # noqa: E731
    labels = study["labels"]
    assert (f"CelebA's \"no glasses\" hides {labels['celeba']['none_to_glasses']} faces with glasses, its \"glasses\" "
            f"{labels['celeba']['glasses_to_none']} without; CelebA-more's \"glasses\" {labels['celeba_more']['glasses_to_none']} "
            f"without; MTFL's \"no glasses\" {labels['mtfl_train']['none_to_glasses']} with") in notes
    assert f"0.3.1's CelebA F1 is lower, not higher: **{f1(shipped, 'celeba', 'looked')}**" in notes
    errors, hidden = shipped["errors"]["celeba"], shipped["errors"]["celeba"]["glasses_labelled_none"]
    assert f"Of its {errors['errors']} CelebA errors, {errors['label_wrong']} are the labels'" in notes
    assert (f"of the {hidden['photos']} glasses the labels call none the model says glasses for {hidden['said_glasses']}: "
            f"the other {hidden['photos'] - hidden['said_glasses']}") in notes
    misses = [p for p in hidden["probabilities"] if p < shipped["threshold"]]
    assert (f"from {min(misses):.3f} to {max(misses):.3f} ({sum(p < 0.45 for p in misses)} of them under 0.45) "
            f"against a threshold of {shipped['threshold']:.4f}") in notes
    assert f"({f1(shipped, 'all', 'datasets')} by the datasets' labels, {f1(shipped, 'all', 'looked')} by the look's)" in notes
    r43, r44 = models["r43_all_data_kind3_variants_looked"], models["r44_all_data_kind3_variants_looked_seed7"]
    r28 = models["r28_all_data_kind3_variants_seed7"]
    assert (f"by the look's labels F1 {f1(r43, 'all', 'looked')} and {f1(r44, 'all', 'looked')} against "
            f"{f1(shipped, 'all', 'looked')} and CelebA {f1(r43, 'celeba', 'looked')} and {f1(r44, 'celeba', 'looked')} "
            f"against {f1(shipped, 'celeba', 'looked')} (0.3.0's recipe at seed 7, r28: {f1(r28, 'all', 'looked')} "
            f"and {f1(r28, 'celeba', 'looked')})") in notes
    table = json.loads((reports / "runs_v0.3_looked" / "runs.json").read_text())
    base, a, b = table
    assert (f"F1 {a['overall']['f1']:.4f} and {b['overall']['f1']:.4f} against 0.3.1's {base['overall']['f1']:.4f}, "
            f"composed recall {a['composed']['recall']:.3f} and {b['composed']['recall']:.3f} against "
            f"{base['composed']['recall']:.3f}, {a['placements_moved']} and {b['placements_moved']} placed faces moved "
            f"against {base['placements_moved']}") in notes
    card = " ".join((ROOT / "models" / "README.md").read_text().split())
    assert (f"F1 is {f1(shipped, 'celeba', 'datasets')} (0.2.0: 0.9424), and {f1(shipped, 'celeba', 'looked')} by the "
            "labels as looked at again by eye") in card


def test_the_averaged_runs_notes_quote_their_table_and_the_rule_keeps_0_3_1():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    rows = {r["run"].split("_")[0]: r for r in json.loads((reports / "runs_v0.3_averaged" / "runs.json").read_text())}
    shipped, mean = next(r for name, r in rows.items() if name.startswith("shipped")), rows["r45"]
    draws = [shipped, rows["r28"], rows["r29"], rows["r30"]]  # 0.3.0's network is the shipped first answer
    pool = lambda row, name: row["per_pool"][name]["f1"]  # noqa: E731
    span = lambda f: f"the draws {min(map(f, draws)):.4f} to {max(map(f, draws)):.4f}"  # noqa: E731
    assert (f"F1 {mean['overall']['f1']:.4f} ({shipped['overall']['f1']:.4f}; {span(lambda r: r['overall']['f1'])}), "
            f"PR-AUC {mean['overall']['pr_auc']:.4f} ({shipped['overall']['pr_auc']:.4f}), CelebA F1 "
            f"{pool(mean, 'celeba'):.4f} ({pool(shipped, 'celeba'):.4f}; the draws up to "
            f"{max(pool(r, 'celeba') for r in draws):.4f}), **MTFL F1 {pool(mean, 'mtfl_train'):.4f}** "
            f"({pool(shipped, 'mtfl_train'):.4f}; {span(lambda r: pool(r, 'mtfl_train'))})") in notes
    assert (f"cost **{moved(mean, 0.06):.4f} and {moved(mean, 0.1):.4f}** of F1 ({moved(shipped, 0.06):.4f} and "
            f"{moved(shipped, 0.1):.4f}") in notes
    assert (f"composed recall {mean['composed']['recall']:.3f} ({shipped['composed']['recall']:.3f}) with "
            f"{mean['composed']['false_alarms']} false alarms of 1,800 ({shipped['composed']['false_alarms']}), and "
            f"{mean['placements_moved']} of 300 placed faces moved by more than 0.05 ({shipped['placements_moved']})") in notes
    heads = [rows["r46"]["kind"], rows["r47"]["kind"], rows["r48"]["kind"]]
    assert (f"{heads[0]['clear_accuracy']:.4f}, {heads[1]['clear_accuracy']:.4f} and {heads[2]['clear_accuracy']:.4f} "
            f"of validation's clear glasses and dark for **{heads[0]['dark_accuracy']:.4f}**, "
            f"{heads[1]['dark_accuracy']:.4f} and {heads[2]['dark_accuracy']:.4f}") in notes
    assert (f"the mean of the three heads {rows['r49']['kind']['clear_accuracy']:.4f} and "
            f"{rows['r49']['kind']['dark_accuracy']:.4f} (0.3.1: {shipped['kind']['clear_accuracy']:.4f} and "
            f"{shipped['kind']['dark_accuracy']:.4f})") in notes
    # the rule written for the draws: aims met (both kinds 0.97, moved eyes, resampling, MTFL 0.96)

    def aims(row):
        resampled = max(-row["robustness"][f"filter {n}"]["change"] for n in ("bilinear", "area", "lanczos"))
        return sum([min(row["kind"]["clear_accuracy"], row["kind"]["dark_accuracy"]) >= 0.97,
                    moved(row, 0.06) <= 0.01 and moved(row, 0.1) <= 0.03, resampled <= 0.01,
                    pool(row, "mtfl_train") >= 0.96])
    assert aims(shipped) == aims(rows["r47"]) == 3 and aims(rows["r46"]) == aims(rows["r49"]) == 2
    assert ("0.3.1 meets three (kinds, resampling, MTFL), r46 (the recipe's own seed) and r49 two (moved eyes, "
            "resampling); r47, whose head reached 0.97 at seed 7, three, a tie") in notes


def test_the_midpoint_and_threshold_ceiling_notes_quote_their_reports():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    rows = {r["run"].split("_")[0]: r for r in json.loads((reports / "runs_v0.3_midpoint" / "runs.json").read_text())}
    shipped, soup, midpoint = next(r for name, r in rows.items() if name.startswith("shipped")), rows["r45"], rows["r50"]
    mtfl = lambda row: row["per_pool"]["mtfl_train"]["f1"]  # noqa: E731
    assert (f"MTFL F1 {mtfl(midpoint):.4f}, eyes moved by 0.06 and 0.10 cost {moved(midpoint, 0.06):.4f} and "
            f"{moved(midpoint, 0.1):.4f} of F1 (the shipped first answer, 0.3.0's network, on the same crops: "
            f"{mtfl(shipped):.4f}, {moved(shipped, 0.06):.4f} and {moved(shipped, 0.1):.4f}; r45: {mtfl(soup):.4f}, "
            f"{moved(soup, 0.06):.4f} and {moved(soup, 0.1):.4f}), F1 {midpoint['overall']['f1']:.4f} "
            f"({shipped['overall']['f1']:.4f}; r45 {soup['overall']['f1']:.4f}), composed recall "
            f"{midpoint['composed']['recall']:.3f} ({shipped['composed']['recall']:.3f}; r45 "
            f"{soup['composed']['recall']:.3f})") in notes
    # it meets neither aim the rule asked of it before it was scored
    assert mtfl(midpoint) < 0.96 and moved(midpoint, 0.06) > 0.01 and moved(midpoint, 0.1) > 0.03
    # "MTFL and CelebA F1 between its two ends; moved-eye costs, F1 and composed recall worse than both"
    for f in (mtfl, lambda row: row["per_pool"]["celeba"]["f1"]):
        assert min(f(shipped), f(soup)) < f(midpoint) < max(f(shipped), f(soup))
    for f in (lambda row: -moved(row, 0.06), lambda row: -moved(row, 0.1), lambda row: row["overall"]["f1"],
              lambda row: row["composed"]["recall"]):
        assert f(midpoint) < min(f(shipped), f(soup))
    models = {m["model"]: m["pools"] for m in
              json.loads((reports / "threshold_ceiling" / "threshold_ceiling.json").read_text())["models"]}
    ends = [name for name in models if name.startswith(("shipped", "the mean of the 4 models"))]
    draws = [name for name in models if name.startswith(("r28_", "r29_", "r30_"))]
    assert len(ends) == 2 and len(draws) == 3 and len(models) == 5
    first, mean = models[ends[0]], models[ends[1]]
    best = lambda pools, pool: pools[pool]["ceiling"]["f1"]  # noqa: E731
    span = lambda f: f"{min(map(f, draws)):.4f} to {max(map(f, draws)):.4f}"  # noqa: E731
    looked = [pools["celeba"]["ceiling_looked"]["f1"] for pools in models.values()]
    gap = max(pools["celeba"]["ceiling"]["f1"] - pools["celeba"]["f1"] for pools in models.values())
    assert (f"On CelebA the gap is at most {gap:.4f}, and the best is far from 0.96: the shipped first answer "
            f"scores {first['celeba']['f1']:.4f} and at best {best(first, 'celeba'):.4f}, the three later draws at "
            f"best {span(lambda n: best(models[n], 'celeba'))}, and the mean of the four draws' logits (four networks' "
            f"cost, an upper guess of what distilling them could give) {best(mean, 'celeba'):.4f}. By the look's "
            f"labels (label_audit.py) the best is lower still ({min(looked):.4f} to {max(looked):.4f})") in notes
    assert (f"at best {span(lambda n: best(models[n], 'mtfl_train'))}, so no threshold gives r28-r30 MTFL's 0.96, "
            f"which the shipped first answer (best {best(first, 'mtfl_train'):.4f}) and the mean "
            f"({best(mean, 'mtfl_train'):.4f}) reach") in notes
    assert max(best(models[n], "mtfl_train") for n in draws) < 0.96 <= min(best(first, "mtfl_train"), best(mean, "mtfl_train"))
    assert max(pools["celeba"]["ceiling"]["f1"] for pools in models.values()) < 0.96  # no threshold reaches the aim
    audit = json.loads((reports / "label_audit" / "label_audit.json").read_text())["models"][0]["errors"]["celeba"]
    hidden = audit["glasses_labelled_none"]
    assert (f"of the {hidden['photos']} CelebA validation photos the look calls glasses where the labels say none, "
            f"the shipped model says glasses for {hidden['said_glasses']}") in notes


def test_the_frame_fill_notes_quote_the_study_and_its_columns_are_the_hard_cases_reports():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "frame_fill_study.json").read_text())
    fills, validation = study["fills"], study["validation"]
    for fill, report in (("black", "v0.3.1"), ("edge, crop only", "v0.3.1_preprocessing9")):
        hard = json.loads((reports / "hard_cases" / report / "hard_cases.json").read_text())["cases"]
        for case, row in hard.items():  # black: 'reproduces hard_cases/v0.3.1/ exactly'; the crop's: the product's
            for key in ("right_face", "any_face", "recall", "false_alarms"):
                assert fills[fill][case][key] == row[key], (fill, case, key)
    names = ("black", "edge, crop only", "edge, regions only", "edge")
    every = [fills[name]["all"] for name in names]
    both = [fills[name]["forehead and chin cut"] for name in names]
    assert (f"every case together: recall {every[0]['recall']:.3f} black, {every[1]['recall']:.3f} with the crop filled, "
            f"{every[2]['recall']:.3f} with the regions filled, {every[3]['recall']:.3f} with both; false alarms "
            f"{every[0]['false_alarms']}, {every[1]['false_alarms']}, {every[2]['false_alarms']} and "
            f"{every[3]['false_alarms']} of 1,800 (forehead and chin cut: recall {both[0]['recall']:.3f}, "
            f"{both[1]['recall']:.3f}, {both[2]['recall']:.3f}, {both[3]['recall']:.3f})") in notes
    black, regions, crop = validation["black"], validation["edge, regions only"], validation["edge, crop only"]
    assert (f"filling the regions changes {regions['changed']:,} crops") in notes
    assert (f"costs F1: {black['all']:.4f} → {regions['all']:.4f} overall, CelebA {black['celeba']:.4f} → "
            f"{regions['celeba']:.4f}, MTFL {black['mtfl_train']:.4f} → {regions['mtfl_train']:.4f}") in notes
    assert f"filling the crop alone changes {crop['changed']} crops and no pool's F1" in notes
    assert all(crop[pool] == black[pool] for pool in black if pool != "changed")
    second, turned = fills["edge, crop and second looks' regions"], fills["edge, crop and turned look's regions"]
    assert (f"regions`): recall {second['all']['recall']:.3f} every case together (forehead and chin cut "
            f"{second['forehead and chin cut']['recall']:.3f}), right face {second['all']['right_face']:.3f}, false alarms "
            f"{second['all']['false_alarms']};") in notes
    v_second, v_turned = validation["edge, crop and second looks' regions"], validation["edge, crop and turned look's regions"]
    assert (f"{v_second['changed']} validation crops change ({crop['changed']} with the crop alone) and CelebA's F1 falls "
            f"{crop['celeba']:.4f} → {v_second['celeba']:.4f}") in notes
    assert (f"recall {turned['all']['recall']:.3f}, right face {turned['all']['right_face']:.3f}, false alarms "
            f"{turned['all']['false_alarms']}, and its validation crops and F1 are the product's ({v_turned['changed']} "
            f"changed against black, F1 {v_turned['all']:.4f})") in notes
    assert v_turned == crop
    gained = round((turned["all"]["recall"] - every[1]["recall"]) * 1800)
    assert f"for {gained} more of 1,800 composed photos answered" in notes
    edge = json.loads((reports / "second_look_turned_edge" / "second_look_study.json").read_text())
    assert edge["turned_regions"] == "edge" and edge["give_up"] == -4.0
    assert (f"a face the second looks end up trusting reads as low as {edge['trusted_lowest_of_first_two']:.2f} on the "
            "higher of its first two passes") in notes
    forehead = [fills[name]["forehead cut"] for name in ("black", "edge, crop only")]
    assert (f"(recall {forehead[0]['recall']:.3f} → {forehead[1]['recall']:.3f}, false alarms "
            f"{forehead[0]['false_alarms']} → {forehead[1]['false_alarms']})") in notes


def test_the_edge_fill_runs_are_quoted_from_their_table():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    runs = runs_table("runs_v0.3_edge_fill")
    seeds = runs_table("runs_v0.3_seeds")
    r51, r52 = runs["r51_all_data_kind3_variants_edge_fill"], runs["r52_all_data_kind3_variants_seed7_edge_fill"]
    r28_black = seeds["r28_all_data_kind3_variants_seed7"]
    assert (f"validation F1 {r51['overall']['f1']:.4f} and {r52['overall']['f1']:.4f} against "
            f"{seeds['shipped 0.3.0']['overall']['f1']:.4f} and {r28_black['overall']['f1']:.4f} for the same runs on "
            f"black, composed recall {r51['composed']['recall']:.3f} and {r52['composed']['recall']:.3f} (r28, scored "
            f"the same way, {runs['r28_all_data_kind3_variants_seed7']['composed']['recall']:.3f})") in notes

    crop = runs_table("runs_v0.3_crop_edge")
    r53, shipped = crop["r53_all_data_kind3_variants_crop_edge"], crop["shipped 0.3.1"]
    assert (f"scores F1 {r53['overall']['f1']:.4f} and composed recall {r53['composed']['recall']:.3f}, where the shipped "
            f"model on the same crops keeps {shipped['overall']['f1']:.4f} (MTFL {shipped['per_pool']['mtfl_train']['f1']:.4f}, "
            f"CelebA {shipped['per_pool']['celeba']['f1']:.4f}, its figures on preprocessing 8's crops) and "
            f"{shipped['composed']['recall']:.3f}") in notes
    assert r53["overall"]["f1"] < shipped["overall"]["f1"] and r53["composed"]["recall"] < shipped["composed"]["recall"]


def test_the_presence_notes_quote_the_study_and_its_rule_keeps_the_turned_look_at_trusted():
    """locate.TRUSTED for the turned look's faces is what close_up_study's rule picks on the presence
    study's table; the upright faces the give-up rule would drop include real ones (so all are kept)."""
    from glasses_core.locate import GIVE_UP, TRUSTED
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "presence_study.json").read_text())
    assert study["picked"] == study["trusted"] == TRUSTED and study["give_up"] == GIVE_UP
    val, composed = study["upright"]["validation"], study["upright"]["composed"]
    assert val["dropped_right"] > 0 and composed["dropped_right"] > 0
    scores = lambda u: " and ".join(f"{s:.2f}" for s in u["dropped_right_scores"])  # noqa: E731
    assert (f"of the {val['faces']:,} upright faces on the {study['validation_photos']:,} validation photos it would drop "
            f"{val['dropped_right'] + val['dropped_wrong']}, {val['dropped_right']} of them real faces") in notes
    assert f"detector scores {scores(val)}), and of the {composed['faces']:,} on the {study['composed_photos']:,}" in notes
    assert (f"composed photos {composed['dropped_right'] + composed['dropped_wrong']}, {composed['dropped_right']} of them "
            f"real ({scores(composed)}), while the wrong ones reach {val['dropped_wrong_highest_score']:.2f} and "
            f"{composed['dropped_wrong_highest_score']:.2f}") in notes
    rows = {row["presence"]: row for row in study["table"]}
    step = lambda a, b: (rows[b]["right"] - rows[a]["right"], rows[b]["wrong"] - rows[a]["wrong"])  # noqa: E731
    assert (f"on the {study['looked_again']:,} composed photos where no upright face is trusted, counting from 10 instead "
            f"adds {step(12, 10)[0]} right faces and {step(12, 10)[1]} wrong ones, from 8 another {step(10, 8)[0]} and "
            f"{step(10, 8)[1]}") in notes
    agree = {row["within"]: row for row in study["agreement_table"]}
    assert (f"on the {study['widened_photos']:,} composed photos where nothing else counts, the faces read from "
            f"{study['give_up']:g} up to {study['widened_trusted']:g} whose farther eye lies within 0.15 eye distances of the "
            f"detector's are {agree[0.15]['right']} right faces and no wrong one (within 0.2: {agree[0.2]['right']} and "
            f"{agree[0.2]['wrong']}), each in a photo that has no right face today") in notes.replace("−", "-")
    assert agree[0.15]["wrong"] == 0 and agree[0.15]["photos_gaining_the_right_face"] == agree[0.15]["right"]
    from glasses_core.locate import WIDENED_AGREEING
    assert study["picked_agreement"] == study["widened_agreeing"] == WIDENED_AGREEING  # the rule picks the product's


def test_the_notes_quote_preprocessing_10_s_hard_cases_against_9_s():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    ten, nine = ({case: row for case, row in json.loads((reports / "hard_cases" / v / "hard_cases.json").read_text())
                  ["cases"].items() if row} for v in ("v0.3.1_preprocessing10", "v0.3.1_preprocessing9"))
    cut, chin = "forehead and chin cut", "chin cut"
    assert (f"right face found {nine['all']['right_face']:.3f} → {ten['all']['right_face']:.3f} (forehead and chin cut "
            f"{nine[cut]['right_face']:.3f} → {ten[cut]['right_face']:.3f}), recall {nine['all']['recall']:.3f} → "
            f"{ten['all']['recall']:.3f} (forehead and chin cut {nine[cut]['recall']:.3f} → {ten[cut]['recall']:.3f}, chin "
            f"cut {nine[chin]['recall']:.3f} → {ten[chin]['recall']:.3f}), false alarms {nine['all']['false_alarms']} → "
            f"{ten['all']['false_alarms']} of 1,800; by the looked labels recall {nine['all']['looked_recall']:.3f} → "
            f"{ten['all']['looked_recall']:.3f}; the 400 photos as photographed answer as before") in notes
    assert ten["as photographed"] == nine["as photographed"]


def test_the_tight_frame_notes_quote_the_study():
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "tight_frame_study.json").read_text())
    framing, results = study["framing"], study["results"]
    aflw, lfw, web = framing["MTFL AFLW (the test pool)"], framing["MTFL LFW"], framing["MTFL web"]
    celeba, tight = framing["CelebA validation photos, both folders"], framing["validation photos, tightly cut (this study)"]
    assert (f"median width {aflw['width']:.2f} eye distances and {aflw['above']:.2f} of them above the eyes, where MTFL's "
            f"LFW photos are {lfw['width']:.2f} and {lfw['above']:.2f}, its web photos {web['width']:.2f} and "
            f"{web['above']:.2f}, CelebA's {celeba['width']:.2f} and {celeba['above']:.2f}") in notes
    assert f"median {tight['width']:.2f} and {tight['above']:.2f}; {study['photos']:,} of the 3,654" in notes
    product, black = results["the product"], results["black past the frame (preprocessing 8)"]
    none = results["BlazeFace's eyes (refine none)"]
    cut, photographed = product["tightly cut"], product["as photographed"]
    assert (f"F1 {cut['f1']:.4f} against {photographed['f1']:.4f} as photographed (CelebA {cut['f1 celeba']:.4f} against "
            f"{photographed['f1 celeba']:.4f}, MTFL {cut['f1 mtfl_train']:.4f} against {photographed['f1 mtfl_train']:.4f})") in notes
    assert cut["f1"] > photographed["f1"] and cut["f1"] > black["tightly cut"]["f1"] > none["tightly cut"]["f1"]
    assert (f"({black['tightly cut']['changed']:,} crops differ with black past the frame) and preprocessing 9's edge is "
            f"the better fill: {cut['f1']:.4f} against {black['tightly cut']['f1']:.4f} with black") in notes
    assert f"(`refine: \"none\"`) stay behind the face mesh ({none['tightly cut']['f1']:.4f} tightly cut)" in notes
    assert (f"they score {none['tightly cut']['f1 mtfl_train']:.4f} against {cut['f1 mtfl_train']:.4f}") in notes
    assert (f"({aflw['turned']:.3f} not frontal and {aflw['profile']:.3f} in profile, by MTFL's pose column) than the web "
            f"photos ({web['turned']:.3f} and {web['profile']:.3f}) and LFW's ({lfw['turned']:.3f} and {lfw['profile']:.3f})") in notes
    assert (f"(F1 {photographed['f1 mtfl_train turned']:.4f} against {photographed['f1 mtfl_train frontal']:.4f} "
            "as photographed)") in notes
    assert photographed["f1 mtfl_train turned"] >= photographed["f1 mtfl_train frontal"]


def test_the_detail_decode_notes_quote_the_study():
    """The notes on preprocessing 11 quote detail_decode_study.json: the same faces and answers both
    ways, fewer decoded pixels for frames without a face, and no dataset photo long enough to change."""
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "detail_decode_study.json").read_text())
    every, frames = study["all"], sum(study["empty_frames"].values())
    long = study["long_photos"].values()
    assert sum(c["long"] for c in long) == 0 and every["found_by_one"] == every["answers_differ"] == 0
    assert f"None of MTFL's and CelebA's {sum(c['photos'] for c in long):,} photos is 768 px long" in notes
    assert (f"{frames} group photos of six validation photos each" in notes
            and f"Both ways find the same {every['found11']} of the {every['faces']} placed faces and give the same "
                f"{every['right11']} right answers (no answer differs; the largest probability move "
                f"{every['largest_move']:.3f})" in notes)
    others, empty = study["other_faces"], [sum(v[t] for v in study["empty_faces"].values()) for t in ("10", "11")]
    assert others["10"] == others["11"] and empty[0] == empty[1]
    assert f"the same {others['11']} other faces in the group photos and the same {empty[1]} faces in the {frames} frames" in notes
    cost = {(c["photos"], c["version"]): c for c in study["cost"]}
    old, new = cost["frames without their faces", 10], cost["frames without their faces", 11]
    assert (f"decode {old['decodes_per_photo']:.2f} → {new['decodes_per_photo']:.2f} views a photo and "
            f"{old['megapixels_per_photo']:.2f} → {new['megapixels_per_photo']:.2f} megapixels") in notes
    assert (f"(the group photos {cost['group photos', 10]['decodes_per_photo']:.2f} and "
            f"{cost['group photos', 11]['decodes_per_photo']:.2f}:") in notes


def test_the_absent_face_notes_quote_the_study():
    """The notes on the upright faces the mesh reads absent quote absent_face_study.json, and its findings
    hold there: refined no further, no validation answer changes and the frames without faces cost fewer
    mesh passes; dropped, fewer faces on those frames but less recall on the composed hard photos."""
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split()).replace("−", "-")
    study = json.loads((reports / "absent_face_study.json").read_text())
    empty, val = study["empty"], study["validation"]
    full, stopped, dropped = (study["composed"][name] for name in ("refined in full", "refined no further", "dropped"))
    e_full, e_stopped, e_dropped = (empty[name] for name in ("refined in full", "refined no further", "dropped"))
    v_full, v_stopped, v_dropped = (val[name] for name in ("refined in full", "refined no further", "dropped"))
    assert dropped["all"]["recall"] < full["all"]["recall"] and e_dropped["with_a_face"] < e_full["with_a_face"]
    assert e_stopped["mesh_passes"] < e_full["mesh_passes"]
    assert not [c for c in val["changed"] if c["refined in full"] != c["refined no further"]]
    assert f"find a face in {e_full['with_a_face']} of {empty['frames']}" in notes
    with_glasses = round(full["all"]["photos"] - full["all"]["without_glasses"])
    assert (f"F1 stays {v_stopped['f1']:.4f} and no answer changes; on the composed hard photos recall "
            f"{full['all']['recall']:.3f} → {stopped['all']['recall']:.3f} ({round(full['all']['recall'] * with_glasses):,} → "
            f"{round(stopped['all']['recall'] * with_glasses):,} of {with_glasses:,} photos with glasses) and false alarms "
            f"{full['all']['false_alarms']} → {stopped['all']['false_alarms']} of 1,800; on the frames without a face "
            f"{e_full['mesh_passes']} → {e_stopped['mesh_passes']} face-mesh passes and {e_full['said_glass']} → "
            f"{e_stopped['said_glass']} frames said \"glass\"") in notes
    assert f"leaves a face in {e_dropped['with_a_face']} of those frames and {e_dropped['said_glass']} \"glass\"" in notes
    assert (f"validation F1 stays {v_dropped['f1']:.4f} with one answer changed" in notes and len(val["changed"]) == 1
            and f"{v_dropped['f1']:.4f}" == f"{v_full['f1']:.4f}" == f"{v_stopped['f1']:.4f}")
    assert (f"recall falls {full['all']['recall']:.3f} → {dropped['all']['recall']:.3f} (chin cut "
            f"{full['chin cut']['recall']:.3f} → {dropped['chin cut']['recall']:.3f}, forehead and chin cut "
            f"{full['forehead and chin cut']['recall']:.3f} → {dropped['forehead and chin cut']['recall']:.3f}) while false "
            f"alarms fall {full['all']['false_alarms']} → {dropped['all']['false_alarms']} of 1,800") in notes
    assert f"reads below {study['give_up']:g} on two passes in a row" in notes

def test_the_second_look_input_notes_quote_the_study():
    """The notes on what the second looks read (preprocessing 13) quote second_look_input_study.json, and
    its findings hold there: the turned copy alone changes no validation answer, both changes one, and the
    frames without a face cost fewer mesh passes each way."""
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "second_look_input_study.json").read_text())
    names = ("preprocessing 12", "turned copy only", "preprocessing 13")
    val, composed, empty = study["validation"], study["composed"], study["empty"]
    assert [c["photo"] for c in val["changed"]] == ["celeba_more/img_align_celeba/045554.jpg"]
    assert val["changed"][0]["preprocessing 12"] == val["changed"][0]["turned copy only"] != val["changed"][0]["preprocessing 13"]
    assert "F1 " + " / ".join(f"{val[n]['f1']:.4f}" for n in names) + ": the turned copy changes no answer" in notes
    right = [round(composed[n]["all"]["right_face"] * composed[n]["all"]["photos"]) for n in names]
    recall = {round(composed[n]["all"]["recall"] * 1800) for n in names}
    alarms = {composed[n]["all"]["false_alarms"] for n in names}
    assert len(recall) == len(alarms) == 1
    assert (f"the right face found in {right[0]:,} / {right[1]:,} / {right[2]:,} of 3,600, recall {recall.pop():,} of "
            f"1,800 all three ways, false alarms {alarms.pop()} of 1,800 all three (with the looked-at photos "
            + " / ".join(str(composed[n]["all"]["looked_false_alarms"]) for n in names) + ")") in notes
    passes = [empty[n]["mesh_passes"] for n in names]
    assert passes[2] < passes[1] < passes[0]
    assert " / ".join(map(str, passes)) + " face-mesh passes" in notes
    assert len({(empty[n]["faces"], empty[n]["said_glass"]) for n in names}) == 1
    assert (f"the same {empty[names[0]]['faces']} false faces and {empty[names[0]]['said_glass']} frames said "
            "\"glass\" all three ways") in notes


def test_the_mirror_average_notes_quote_the_study():
    """The notes on averaging a crop with its mirror image quote mirror_average_study.json, and its
    finding holds there: no better on validation nor on the composed hard photos' recall."""
    reports = ROOT / "research_and_train_nn" / "reports"
    notes = " ".join((reports / "README.md").read_text().split())
    study = json.loads((reports / "mirror_average_study.json").read_text())
    alone, both = "the crop", "the crop and its mirror, averaged"
    val, composed, empty = study["validation"], study["composed"], study["empty"]
    assert val[both]["f1"] < val[alone]["f1"] and composed[both]["all"]["recall"] < composed[alone]["all"]["recall"]
    recall = [round(composed[n]["all"]["recall"] * 1800) for n in (alone, both)]
    assert (f"F1 {val[alone]['f1']:.4f} → {val[both]['f1']:.4f} ({len(val['changed'])} answers change: "
            f"{val[both]['missed']} glasses missed against {val[alone]['missed']}, false alarms "
            f"{val[alone]['false_alarms']} both ways)") in notes and val[alone]["false_alarms"] == val[both]["false_alarms"]
    assert (f"recall {composed[alone]['all']['recall']:.3f} → {composed[both]['all']['recall']:.3f} ({recall[0]:,} → "
            f"{recall[1]:,} of 1,800) while false alarms fall {composed[alone]['all']['false_alarms']} → "
            f"{composed[both]['all']['false_alarms']}") in notes
    assert composed[alone]["mirrored"]["recall"] == composed[both]["mirrored"]["recall"]
    assert f"the mirrored case's recall stays {composed[both]['mirrored']['recall']:.3f}" in notes
    assert f"say \"glass\" {empty[both]['said_glass']} times against {empty[alone]['said_glass']}" in notes
