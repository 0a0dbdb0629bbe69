"""Compare a port with the committed vectors: each stage alone, then the whole pipeline.

``stage_deviations`` measures one photo's stages, each fed the vectors' input (stages.run_stages);
``pipeline_deviations`` the port's own end-to-end record (stages.run_core). ``failures`` says
which measures break ``TOLERANCES``, and what no tolerance excuses (a face found or lost, another
answer). The tolerances are chosen from measure.py's figures (measurements.md): a port that
decodes JPEGs another way or resamples with another filter stays inside them; one that swaps the
eyes, skips the levelling or feeds the model x / 255 does not.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

TRUSTED = 12.0  # glasses_core.locate.TRUSTED: the presence from which the core trusts a face
GIVE_UP = -6.0  # glasses_core.locate.GIVE_UP: below it (twice) the core reads a face as absent and stops refining it
PRESENCE_BAND = 8.0  # presences are compared clipped to TRUSTED +- this


@dataclass(frozen=True)
class Tolerances:
    """The largest deviation from the vectors a port may show on a photo."""
    # stage by stage, each stage fed the vectors' input
    detection_box: float = 0.08  # detect: face box corners, in box sides
    detection_score: float = 0.1  # detect: confidence; and how far above the minimum score a face may be missed
    refined_eyes: float = 0.08  # refine (given the detections): each eye, in eye distances
    presence: float = 4.0  # refine: the face mesh's face-presence logit, clipped to 4..20 (trusted from 12)
    geometry_centre: float = 0.001  # geometry (given the eyes): centre, in crop sides
    geometry_side: float = 0.001  # ...side, relative
    geometry_angle: float = 0.001  # ...rotation, radians
    crop: float = 8.0  # crop (given the geometry): mean |pixel difference|, levels of 255
    classify: float = 0.01  # classify (given the crop): |ΔP(glasses)| and |ΔP(dark | glasses)|
    # the whole pipeline (the same faces, matched by their eyes, and the same answers, always)
    eyes: float = 0.08  # each face's eyes, in eye distances
    probability: float = 0.06  # each face's and the photo's P(glasses)
    dark_probability: float = 0.3  # each face's P(dark | glasses): the second answer moves more with the resampling


TOLERANCES = Tolerances()
STAGES = ("detection_box", "detection_score", "refined_eyes", "presence", "geometry_centre", "geometry_side",
          "geometry_angle", "crop", "classify")


def stage_deviations(expected: dict, stages: dict, min_face_score: float) -> dict:
    """One photo's worst deviation per stage measure, and ``mismatches`` (in words)."""
    found = {name: 0.0 for name in STAGES}
    mismatches, unmatched = [], []
    presences = expected.get("presence") or [None] * len(expected["detections"])
    doubted = [d for d, p in zip(expected["detections"], presences) if p is not None and p < TRUSTED]
    for want, got in _matched(expected["detections"], stages["detections"], unmatched):
        if any(want is d for d in doubted):
            continue  # a detection the mesh doubts (upside down, lying): the second looks decide
        side = max(want["box"][2] - want["box"][0], want["box"][3] - want["box"][1], 1e-9)
        found["detection_box"] = max(found["detection_box"], _max_abs(want["box"], got["box"]) / side)
        found["detection_score"] = max(found["detection_score"], abs(want["score"] - got["score"]))
    for face in unmatched:  # a face near the minimum score may be found by one side only
        found["detection_score"] = max(found["detection_score"], face["score"] - min_face_score)
        mismatches += [] if face["score"] < min_face_score + 0.2 else [f"detection at {_where(face)} "
                                                                       f"(score {face['score']:.2f}) on one side only"]
    for want, got, presence, port_presence in zip(expected["refined"], stages["refined"],
                                                  expected["presence"], stages["presence"]):
        if presence is None:  # a refiner without the face mesh
            found["refined_eyes"] = max(found["refined_eyes"], _eye_error(want, got))
            continue
        # The presence decides whether the core trusts a face (TRUSTED): compared near that line
        # only (far above it a logit of 40 or 33 says the same). Where the mesh doubts the face (a
        # face upside down or lying, in the upright look) its eyes are noise and the photo is
        # looked at again: there, only the doubt must be shared.
        found["presence"] = max(found["presence"], math.inf if port_presence is None else
                                abs(_near_trust(presence) - _near_trust(port_presence)))
        if presence >= TRUSTED:
            found["refined_eyes"] = max(found["refined_eyes"], _eye_error(want, got))
    for want, got in zip(expected["faces"], stages["geometry"]):
        a = want["geometry"]
        found["geometry_centre"] = max(found["geometry_centre"], math.dist(a["centre"], got["centre"]) / a["side"])
        found["geometry_side"] = max(found["geometry_side"], abs(got["side"] / a["side"] - 1.0))
        found["geometry_angle"] = max(found["geometry_angle"], _turn(a["angle"], got["angle"]))
    for want, got in zip(expected["faces"], stages["crops"]):
        found["crop"] = max(found["crop"], _pixels(want["crop"], got))
    for want, got in zip(expected["faces"], stages["probabilities"]):
        found["classify"] = max(found["classify"], abs(want["probability"] - got))
    port_darks = stages.get("dark_probabilities") or [None] * len(expected["faces"])
    for want, got in zip(expected["faces"], port_darks):  # P(dark | glasses), from a model that says which
        if want.get("dark_probability") is not None:
            found["classify"] = max(found["classify"], math.inf if got is None else abs(want["dark_probability"] - got))
    found["mismatches"] = mismatches
    return found


def pipeline_deviations(expected: dict, record: dict, kind_threshold: float | None = None,
                        tolerances: Tolerances = TOLERANCES) -> dict:
    """One photo through the port's whole pipeline: the worst eye and probability deviation,
    and ``mismatches``: faces found or lost, other answers. A face's kind (dark or clear) may
    differ only where the vectors' P(dark | glasses) lies within ``tolerances.dark_probability``
    of ``kind_threshold``: a port inside that tolerance can land on either side of the line there."""
    found = {"eyes": 0.0, "probability": abs(expected["probability"] - record["probability"]), "dark_probability": 0.0}
    mismatches: list = []
    kind_excused = False
    if expected["face_found"] != record["face_found"]:
        mismatches.append(f"face found: {record['face_found']}, the vectors: {expected['face_found']}")
    left_over: list = []
    for want, got in _matched(expected["faces"], record["faces"], left_over, _same_eyes):
        # a face the mesh reads absent (under GIVE_UP: a false face in a frame without one, say) has noise for
        # eyes; its probability and answer must still agree
        if want["right_eye"] is not None and (want.get("presence") is None or want["presence"] >= GIVE_UP):
            found["eyes"] = max(found["eyes"], _eye_error((want["right_eye"], want["left_eye"]),
                                                          (got["right_eye"], got["left_eye"])))
        found["probability"] = max(found["probability"], abs(want["probability"] - got["probability"]))
        if want.get("dark_probability") is not None:
            got_dark = got.get("dark_probability")
            found["dark_probability"] = max(found["dark_probability"], math.inf if got_dark is None
                                            else abs(want["dark_probability"] - got_dark))
        if want["answer"] != got["answer"]:
            mismatches.append(f"face at {_where(want)}: answer {got['answer']}, the vectors: {want['answer']}")
        if want.get("kind") != got.get("kind"):
            if _near_line(want.get("dark_probability"), kind_threshold, tolerances.dark_probability):
                kind_excused = True
            else:
                mismatches.append(f"face at {_where(want)}: kind {got.get('kind')}, the vectors: {want.get('kind')}")
    # a face the mesh doubts (a second detection of a face upside down, say) may be on one side only
    mismatches += [f"face at {_where(f)} on one side only" for f in left_over
                   if f.get("presence") is None or f["presence"] >= TRUSTED]
    if expected["answer"] != record["answer"]:
        mismatches.append(f"answer {record['answer']}, the vectors: {expected['answer']}")
    if expected.get("kind") != record.get("kind") and not kind_excused:
        mismatches.append(f"kind {record.get('kind')}, the vectors: {expected.get('kind')}")
    found["mismatches"] = mismatches
    return found


def failures(found: dict, tolerances: Tolerances = TOLERANCES) -> list[str]:
    """What breaks the tolerances, in words (empty: it passes)."""
    limits = asdict(tolerances)
    return list(found["mismatches"]) + [f"{name}: {value:.4g} > {limits[name]:g}" for name, value in found.items()
                                         if name in limits and not value <= limits[name]]


def check(vectors: dict, stages: dict[str, dict], records: dict[str, dict],
          tolerances: Tolerances = TOLERANCES) -> dict[str, list[str]]:
    """Every photo's failures, stage by stage and end to end (photo -> what broke; an empty list
    for a photo that passes)."""
    minimum = vectors["crop"]["min_face_score"]
    result = {}
    for photo, expected in vectors["photos"].items():
        if photo not in stages or photo not in records:
            result[photo] = ["no result from the port"]
            continue
        result[photo] = (failures(stage_deviations(expected, stages[photo], minimum), tolerances)
                         + failures(pipeline_deviations(expected, records[photo], vectors.get("kind_threshold"),
                                                        tolerances), tolerances))
    return result


def _near_line(probability: float | None, threshold: float | None, within: float) -> bool:
    return probability is not None and threshold is not None and abs(probability - threshold) < within


def _matched(expected: list[dict], port: list[dict], left_over: list, overlap=None) -> list[tuple[dict, dict]]:
    """Pairs of the same face (by default boxes overlapping by IoU > 0.5; the fallback with the
    fallback); faces on one side only go to ``left_over``."""
    overlap = overlap or (lambda a, b: _iou(a["box"], b["box"]))
    pairs, left = [], list(range(len(port)))
    for want in expected:
        best = max(left, key=lambda j: overlap(want, port[j]), default=None)
        if best is not None and overlap(want, port[best]) > 0.5:
            pairs.append((want, port[best]))
            left.remove(best)
        else:
            left_over.append(want)
    left_over += [port[j] for j in left]
    return pairs


def _same_eyes(a: dict, b: dict) -> float:
    """1 for the same face (both fallbacks, or eyes within a quarter of an eye distance: two looks
    at one face, upright and turned, give other boxes but the same eyes), else 0."""
    if a["right_eye"] is None or b["right_eye"] is None:
        return float(a["right_eye"] is None and b["right_eye"] is None)
    return float(_eye_error((a["right_eye"], a["left_eye"]), (b["right_eye"], b["left_eye"])) < 0.25)


def _near_trust(presence: float) -> float:
    return min(max(presence, TRUSTED - PRESENCE_BAND), TRUSTED + PRESENCE_BAND)


def _eye_error(want, got) -> float:
    distance = max(math.dist(want[0], want[1]), 1e-9)
    return max(math.dist(want[0], got[0]), math.dist(want[1], got[1])) / distance


def _turn(a: float, b: float) -> float:
    return abs((b - a + math.pi) % (2 * math.pi) - math.pi)


def _pixels(want, got) -> float:
    want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
    return float(np.abs(want - got).mean()) if want.shape == got.shape else math.inf


def _iou(a, b) -> float:
    if a is None or b is None:
        return 1.0 if a is None and b is None else 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)


def _max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _where(face: dict) -> str:
    return "the centre (no face)" if face["box"] is None else "[" + ", ".join(f"{v:.0f}" for v in face["box"]) + "]"


assert set(STAGES) | {"eyes", "probability", "dark_probability"} == {f.name for f in fields(Tolerances)}
