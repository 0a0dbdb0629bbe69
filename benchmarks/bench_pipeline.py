"""What a photo costs, against what its networks cost, at 640x480, 1920x1080 and 12 MP.

    .venv-deploy/bin/python benchmarks/bench_pipeline.py [--runs 100] [--json out.json]
        [--profile benchmarks/profile_predict.txt]

All in one run, single thread, medians (photos.py builds the photos):
- the networks' own invoke times: BlazeFace short-range (at its own 128 x 128 input, and resized to
  the detailed look's input for each photo size), the face mesh, the classifier;
- ``GlassesClassifier.predict(jpeg_bytes)`` end to end per photo size, and the same with every
  photo decoded at full size first (``open_photo(..., reduced_decode=False)``: 0.1.0's decode);
- where predict() spends it: decode, whole-photo detection, refinement, crop, classify; and how
  much of it goes to cutting squares out of the photo (geometry.cut: the face mesh's regions and the
  crops, Pillow's bilinear affine sampling, per output pixel the dearest step of the glue);
- how many times predict() invokes each network on each photo, and its unavoidable cost: the
  photo's decode at the reductions it uses plus every invoke it makes (issue 26's limit);
- the ratios the speed issue asks for: predict() against that limit at each size; at 640x480
  against the two networks every photo needs (BlazeFace + classifier) and against every network
  predict() runs (the face-mesh invokes included); 1920x1080 and 12 MP against 640x480;
- the same frames without the face (no face is found: the second looks all run), against the
  frame with one face and against their own decode and invokes (what bounds them as it bounds a
  photo with a face).
The ratios against a photo's decode and invokes, and of a frame without a face against one with
a face, are each the median of ROUNDS rounds that measure both sides one after the other (each
round's ratio is listed): this machine's speed drifts by a quarter within a minute, so sides
measured minutes apart moved the 640 x 480 ratio between 1.5 and 1.9 from run to run.
With ``--profile``, a cProfile of predict() on each photo (top functions by own time).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling photos.py
from photos import SIZES, benchmark_photo, median_ms  # noqa: E402

from glasses_core import Detectors, GlassesClassifier, crop, crop_face, locate, open_photo  # noqa: E402
from glasses_core.errors import errors_exit_2  # noqa: E402
from glasses_core.face_mesh import FaceMesh  # noqa: E402
from glasses_core.locate import usable_faces  # noqa: E402


ROUNDS = 5  # paired rounds per ratio


def invoke_ms(interpreter, runs: int) -> float:
    return median_ms(interpreter.invoke, runs)


def detail_shape(classifier: GlassesClassifier, size: str) -> str:
    """'288x384': the detailed look's input (height x width) for a photo of ``size``."""
    detector = classifier._detectors._detector
    width, height = SIZES[size][0]
    rows, columns = detector.input_shape(width, height, Detectors.DETAIL * detector.variant.input_size)
    return f"{rows}x{columns}"


def networks(classifier: GlassesClassifier, runs: int) -> dict:
    """Median invoke ms of each network, its input already set (what no Python code can save);
    BlazeFace also at the detailed look's input for each photo size (``blazeface_detail_ms``)."""
    detector = classifier._detectors._detector
    mesh = FaceMesh()
    classifier.predict_crops(np.zeros((1, classifier.config.crop.size, classifier.config.crop.size, 3), np.uint8))
    shapes = sorted({detail_shape(classifier, size) for size in SIZES})
    return {"blazeface_ms": invoke_ms(detector._interpreter(), runs),
            "blazeface_detail_ms": {shape: invoke_ms(detector._interpreter(tuple(map(int, shape.split("x")))), runs)
                                    for shape in shapes},
            "face_mesh_ms": invoke_ms(mesh._interpreter(), runs),
            "classifier_ms": invoke_ms(classifier._interpreter(), runs)}


def invokes(classifier: GlassesClassifier, jpeg: bytes) -> dict:
    """How many times predict() invokes each network on this photo (in this thread): the face
    mesh's passes and looks, the detector's detailed look (``blazeface_detail``) and second looks
    included."""
    classifier.predict(jpeg)  # every interpreter this photo needs made, in this thread
    detector = classifier._detectors._detector
    native = (detector.variant.input_size,) * 2
    interpreters = [("classifier", classifier._interpreter())]
    interpreters += [("blazeface" if shape == native else "blazeface_detail", interpreter)
                     for shape, (interpreter, _) in detector._local.models.items()]
    mesh = getattr(classifier._detectors.refiner, "_mesh", None)
    if mesh is not None:
        interpreters.append(("face_mesh", mesh._interpreter()))
    counts = dict.fromkeys(("blazeface", "blazeface_detail", "face_mesh", "classifier"), 0)
    for name, interpreter in interpreters:
        original = interpreter.invoke
        interpreter.invoke = lambda name=name, original=original: counts.__setitem__(name, counts[name] + 1) or original()
    try:
        classifier.predict(jpeg)
    finally:
        for _, interpreter in interpreters:
            del interpreter.invoke
    return counts


def stages(classifier: GlassesClassifier, jpeg: bytes, runs: int) -> dict:
    """Median ms of each step predict() takes for one photo, each on a freshly opened photo."""
    detectors, config = classifier._detectors, classifier.config.crop
    opened = open_photo(jpeg)
    faces = usable_faces(detectors.detect(opened), config)
    refined = [detectors.refiner.refine(opened, f) for f in faces]
    crops = np.stack([crop_face(opened, f, config).pixels for f in refined])
    used = list(opened.decoded)  # the reductions this photo was decoded at

    photo = decode_into(open_photo(jpeg), used)  # decoded already: the later steps time only themselves
    return {"decode_ms": median_ms(lambda: decode_into(open_photo(jpeg), used), runs),
            "reductions": used,
            "detect_ms": median_ms(lambda: detectors.detect(unlooked(photo)), runs),
            "refine_ms": median_ms(lambda: [detectors.refiner.refine(photo, f) for f in faces], runs),
            "crop_ms": median_ms(lambda: [crop_face(photo, f, config) for f in refined], runs),
            "classify_ms": median_ms(lambda: classifier.predict_crops(crops), runs),
            "faces": len(faces)}


def unlooked(photo):
    """The decoded photo as predict() first has it: without the images its looks made from it and
    keep (locate: the detector's copy of the first look's view), so that every timed look makes them."""
    photo._kept.clear()
    return photo


def cut_time(classifier: GlassesClassifier, jpeg: bytes, runs: int) -> dict:
    """How many squares predict() cuts out of this photo (geometry.cut: face-mesh regions and crops)
    and the median ms they take together per predict()."""
    per_call: list[list[float]] = []
    original = locate.cut

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            per_call[-1].append((time.perf_counter() - start) * 1000)
    locate.cut = crop.cut = timed
    try:
        for _ in range(runs + 3):  # the first 3 warm up
            per_call.append([])
            classifier.predict(jpeg)
    finally:
        locate.cut = crop.cut = original
    per_call = per_call[3:]
    return {"cuts": len(per_call[-1]), "cut_ms": float(np.median([sum(calls) for calls in per_call]))}


def decode_into(photo, reductions):
    """``photo`` with its pixels decoded at each of ``reductions``."""
    for reduction in reductions:
        photo.image(1 / reduction)
    return photo


def photo_row(classifier: GlassesClassifier, net: dict, size: str, runs: int) -> dict:
    jpeg = benchmark_photo(size)
    counts = invokes(classifier, jpeg)
    row = {"jpeg_bytes": len(jpeg), "mesh_invokes": counts["face_mesh"], "invokes": counts,
           "detail_input": detail_shape(classifier, size)}
    row.update(stages(classifier, jpeg, runs))
    row["predict_ms"] = median_ms(lambda: classifier.predict(jpeg), runs)
    row["predict_full_decode_ms"] = median_ms(
        lambda: classifier.predict(open_photo(jpeg, reduced_decode=False)), max(5, runs // 4))
    row["unavoidable_ms"] = unavoidable_ms(row, net)
    row["vs_its_decode_and_invokes"] = against_its_decode_and_invokes(classifier, jpeg, row, runs)
    row.update(cut_time(classifier, jpeg, runs))
    return row


def no_face_row(classifier: GlassesClassifier, net: dict, size: str, runs: int) -> dict:
    """The frame of ``size`` without its face: what predict() costs when it finds none."""
    jpeg = benchmark_photo(size, face=False)
    opened = open_photo(jpeg)
    found = classifier.predict(opened).face_found
    used = list(opened.decoded)  # the reductions predict() decoded it at
    row = {"face_found": found, "invokes": invokes(classifier, jpeg), "reductions": used,
           "detail_input": detail_shape(classifier, size),
           "decode_ms": median_ms(lambda: decode_into(open_photo(jpeg), used), runs),
           "predict_ms": median_ms(lambda: classifier.predict(jpeg), runs)}
    row["unavoidable_ms"] = unavoidable_ms(row, net)
    # bounded by its own work, as a photo with a face is (issue 26): its decode and every look's invokes
    row["vs_its_decode_and_invokes"] = against_its_decode_and_invokes(classifier, jpeg, row, runs)
    one = benchmark_photo(size)
    row["vs_one_face"] = paired_rounds(lambda n: median_ms(lambda: classifier.predict(jpeg), n),
                                       lambda n: median_ms(lambda: classifier.predict(one), n), runs)
    return row


def paired_rounds(first, second, runs: int, rounds: int = ROUNDS) -> dict:
    """``first(n)`` / ``second(n)`` (each the median ms of n runs), measured one after the other in
    each of ``rounds`` rounds: each round's ratio and their median."""
    n = max(1, runs // rounds)  # the default --runs 200: 40 a side; a quick --runs 5: one
    ratios = [first(n) / second(n) for _ in range(rounds)]
    return {"round_ratios": [round(r, 3) for r in ratios], "ratio": float(np.median(ratios))}


def against_its_decode_and_invokes(classifier: GlassesClassifier, jpeg: bytes, row: dict, runs: int) -> dict:
    """predict() on ``jpeg`` against its decode and invokes (``row``'s counts), in paired rounds."""
    def unavoidable(n: int) -> float:
        decoded = median_ms(lambda: decode_into(open_photo(jpeg), row["reductions"]), n)
        return unavoidable_ms({**row, "decode_ms": decoded}, networks(classifier, n))
    return paired_rounds(lambda n: median_ms(lambda: classifier.predict(jpeg), n), unavoidable, runs)


def unavoidable_ms(row: dict, net: dict) -> float:
    """What a photo's row cannot do without: its decode at the reductions it used, and every invoke
    it made (the detailed look's at its input for this photo)."""
    cost = {**net, "blazeface_detail_ms": net["blazeface_detail_ms"].get(row["detail_input"], 0.0)}
    return row["decode_ms"] + sum(n * cost[f"{name}_ms"] for name, n in row["invokes"].items())


def paired(photos: dict, no_face: dict) -> dict:
    """The ratios measured in paired rounds, by name: {"round_ratios", "ratio"} each."""
    return {**{f"{size}_vs_its_decode_and_invokes": row["vs_its_decode_and_invokes"] for size, row in photos.items()},
            **{f"{size}_no_face_vs_one_face": row["vs_one_face"] for size, row in no_face.items()},
            **{f"{size}_no_face_vs_its_decode_and_invokes": row["vs_its_decode_and_invokes"]
               for size, row in no_face.items()}}


def ratios(net: dict, photos: dict, no_face: dict) -> dict:
    two = net["blazeface_ms"] + net["classifier_ms"]
    every = two + photos["640x480"]["mesh_invokes"] * net["face_mesh_ms"]
    base = photos["640x480"]["predict_ms"]
    rounds = {name: measured["ratio"] for name, measured in paired(photos, no_face).items()}
    found = {name: rounds[name] for name in (f"{size}_vs_its_decode_and_invokes" for size in photos)}
    no_face_ratios = {name: ratio for name, ratio in rounds.items() if name not in found}
    return {**found,
            "640x480_vs_two_networks": base / two,
            "640x480_vs_every_network_it_runs": base / every,
            "1920x1080_vs_640x480": photos["1920x1080"]["predict_ms"] / base,
            "4032x3024_vs_640x480": photos["4032x3024"]["predict_ms"] / base,
            "4032x3024_full_decode_vs_fast": photos["4032x3024"]["predict_full_decode_ms"]
            / photos["4032x3024"]["predict_ms"],
            **{f"{size}_vs_its_decode_invokes_and_cuts": row["predict_ms"] / (row["unavoidable_ms"] + row["cut_ms"])
               for size, row in photos.items()},
            **no_face_ratios}


def profile(classifier: GlassesClassifier, out: Path, runs: int) -> None:
    text = io.StringIO()
    for size in SIZES:
        jpeg = benchmark_photo(size)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(runs):
            classifier.predict(jpeg)
        profiler.disable()
        text.write(f"=== predict() on the {size} photo, {runs} calls ===\n")
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(18)
    out.write_text(text.getvalue())


def measure(model: Path | None = None, runs: int = 100, profile_to: Path | None = None) -> dict:
    classifier = GlassesClassifier(model)
    net = networks(classifier, runs * 2)
    photos = {size: photo_row(classifier, net, size, runs) for size in SIZES}
    no_face = {size: no_face_row(classifier, net, size, runs) for size in SIZES}
    results = {"model": classifier.model_path.name, "networks_ms": net, "photos": photos, "no_face": no_face,
               "ratios": ratios(net, photos, no_face),
               "round_ratios": {name: measured["round_ratios"] for name, measured in paired(photos, no_face).items()}}
    if profile_to is not None:
        profile(classifier, profile_to, max(10, runs // 2))
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model .json (default: the shipped model)")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=Path, help="write a cProfile of predict() here")
    args = parser.parse_args(argv)
    results = measure(args.model, args.runs, args.profile)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return results


if __name__ == "__main__":
    sys.exit(errors_exit_2(main)())
