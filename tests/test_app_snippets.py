"""The Kotlin and Swift snippets of docs/exports-and-apps.md make the suite's crop geometry: their
transform steps, read from the page and run here as matrices, take every face of the conformance
vectors to where the core's crop puts it."""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.vectors import load_vectors
from glasses_core.geometry import CropGeometry

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "exports-and-apps.md"


def block(language: str, text: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", text, re.S).group(1)


def kotlin_expression(text: str) -> str:
    """A Kotlin arithmetic expression of the snippet as Python."""
    text = text.replace("Math.toDegrees(", "math.degrees(").replace(".toDouble()", "").replace(".toFloat()", "")
    text = re.sub(r"\b(\d+)f\b", r"\1.0", text)
    return re.sub(r"\b(hypot|atan2)\(", r"math.\1(", text)


def matrix(kind: str, a: float, b: float | None = None) -> np.ndarray:
    if kind == "Translate":
        return np.array([[1, 0, a], [0, 1, b], [0, 0, 1.0]])
    if kind == "Scale":
        return np.array([[a, 0, 0], [0, b, 0], [0, 0, 1.0]])
    cos, sin = math.cos(a), math.sin(a)  # a rotation in radians, as both platforms' matrices turn
    return np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1.0]])


def kotlin_transform(snippet: str, right_eye, left_eye, size: int, scale: float) -> np.ndarray:
    """The snippet's android.graphics.Matrix (photo pixels -> crop pixels), from its own lines:
    its ``val`` lines, then each ``postTranslate/postRotate/postScale`` applied after the last."""
    names = {"math": math, "rightEye": SimpleNamespace(x=right_eye[0], y=right_eye[1]),
             "leftEye": SimpleNamespace(x=left_eye[0], y=left_eye[1]), "size": size, "scale": scale}
    body = snippet[snippet.index("fun faceCrop"):snippet.index("return Bitmap")]
    result = np.eye(3)
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("val ") and "Matrix()" not in line:
            name, expression = line[4:].split("=", 1)
            names[name.strip()] = eval(kotlin_expression(expression), names)  # noqa: S307 (the page's own text)
        call = re.fullmatch(r"post(Translate|Rotate|Scale)\((.*)\)", line)
        if call:
            args = eval(f"({kotlin_expression(call.group(2))},)", names)  # noqa: S307
            if call.group(1) == "Rotate":
                args = (math.radians(args[0]),)  # Android's postRotate takes degrees
            result = matrix(call.group(1), *args) @ result
    return result


def top_level(text: str, separator: str = ",") -> list[str]:
    """``text`` split at the separators outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def calls(text: str, name: str) -> list[str]:
    """The argument lists of every ``name(...)`` in ``text``, parentheses balanced."""
    found, at = [], text.find(name + "(")
    while at >= 0:
        depth, start = 0, at + len(name)
        for end in range(start, len(text)):
            depth += (text[end] == "(") - (text[end] == ")")
            if depth == 0:
                found.append(text[start + 1:end])
                break
        at = text.find(name + "(", at + 1)
    return found


def swift_expression(text: str) -> str:
    text = re.sub(r"\b(\w+): ", r"\1=", text)  # labelled arguments
    return re.sub(r"\b(hypot|atan2)\(", r"math.\1(", text)


def swift_transform(snippet: str, right_eye, left_eye, size: int, scale: float) -> np.ndarray:
    """The snippet's CGAffineTransform (Core Image points, y up -> crop points, y up): its ``let``
    lines, then its chain of transforms, each ``concatenating`` applied after the last."""
    names = {"math": math, "rightEye": SimpleNamespace(x=right_eye[0], y=right_eye[1]),
             "leftEye": SimpleNamespace(x=left_eye[0], y=left_eye[1]), "size": size, "scale": scale,
             "CGPoint": lambda x, y: SimpleNamespace(x=x, y=y)}
    body = snippet[snippet.index("func faceCrop"):snippet.index("return photo")]
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("let ") and "CGAffineTransform" not in line:
            for part in top_level(line[4:]):
                name, expression = part.split("=", 1)
                names[name.strip()] = eval(swift_expression(expression), names)  # noqa: S307 (the page's own text)
    result = np.eye(3)
    for args in calls(body, "CGAffineTransform"):
        kind = args.split(":", 1)[0]
        values = eval("(" + ", ".join(swift_expression(a.split(":", 1)[1]) for a in top_level(args)) + ",)", names)  # noqa: S307
        result = matrix({"translationX": "Translate", "rotationAngle": "Rotate", "scaleX": "Scale"}[kind], *values) @ result
    return result


def faces():
    vectors = load_vectors()
    for photo, record in vectors["photos"].items():
        for face in record["faces"]:
            if face["right_eye"] is not None:
                yield photo, record["size"], face, vectors["crop"]


def core_points(face, crop) -> tuple[np.ndarray, np.ndarray]:
    """Photo points (the eyes and the crop's corners) and where the core's crop puts them, in crop pixels."""
    g = face["geometry"]
    geometry = CropGeometry(tuple(g["centre"]), g["side"], g["angle"])
    points = np.vstack([face["right_eye"], face["left_eye"], geometry.to_image(np.array([[0, 0], [1, 0], [0, 1], [1, 1.0]]))])
    return points, geometry.to_crop(points) * crop["size"]


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (transform @ np.c_[points, np.ones(len(points))].T).T[:, :2]


def kotlin_error(snippet: str) -> float:
    worst = 0.0
    for _, _, face, crop in faces():
        points, expected = core_points(face, crop)
        found = apply(kotlin_transform(snippet, face["right_eye"], face["left_eye"], crop["size"], crop["scale"]), points)
        worst = max(worst, float(np.abs(found - expected).max()))
    return worst


def swift_error(snippet: str) -> float:
    worst = 0.0
    for _, (width, height), face, crop in faces():
        points, expected = core_points(face, crop)
        up = lambda p: np.c_[p[:, 0], height - p[:, 1]]  # noqa: E731  image (y down) -> Core Image (y up)
        eyes = up(np.array([face["right_eye"], face["left_eye"]]))
        found = apply(swift_transform(snippet, eyes[0], eyes[1], crop["size"], crop["scale"]), up(points))
        found = np.c_[found[:, 0], crop["size"] - found[:, 1]]  # the crop's y up -> its pixels' y down
        worst = max(worst, float(np.abs(found - expected).max()))
    return worst


def test_the_kotlin_snippet_makes_the_suite_s_geometry():
    assert kotlin_error(block("kotlin", PAGE.read_text())) < 1e-6  # crop pixels


def test_the_swift_snippet_makes_the_suite_s_geometry():
    assert swift_error(block("swift", PAGE.read_text())) < 1e-6


@pytest.mark.parametrize("language, wrong, right", [
    ("kotlin", "postRotate(Math.toDegrees", "postRotate(-Math.toDegrees"),  # not levelled: the other way
    ("kotlin", "postScale(side / size, side / size)", "postScale(size / side, size / side)"),
    ("swift", "rotationAngle: atan2(dy, dx)", "rotationAngle: -atan2(dy, dx)"),
    ("swift", "translationX: size, y: size", "translationX: size / 2, y: size / 2"),
])
def test_a_wrong_step_in_a_snippet_is_caught(language, wrong, right):
    snippet = block(language, PAGE.read_text())
    assert right in snippet
    error = (kotlin_error if language == "kotlin" else swift_error)(snippet.replace(right, wrong))
    assert error > 1.0  # more than a crop pixel
