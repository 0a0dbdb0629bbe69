"""Draws one pair of glasses (a ``GlassesSpec``) onto a photo at a face's pose.

Face space: x along the eye line (subject's right eye at x = -0.5, left eye at +0.5), y down
the face, z towards the back of the head, all in eye distances. The glasses are projected
from there into the photo; their masks are drawn at ``SUPERSAMPLE`` times the photo's
resolution and averaged down (anti-aliased), then composited in this order: refraction of
what is under the lenses, the frame's shadow on the skin, the lens tint, reflections, the
bare lens edges (rimless), the frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from research_and_train_nn.synthesis.styles import GlassesSpec, lens_outline

SUPERSAMPLE = 4
FRAME_DEPTH = -0.25  # the frame's front sits this many eye distances in front of the eyes...
WRAP = 0.12  # ...and curves back towards the temples by WRAP * x ** 2
NOSE_DEPTH = -0.5  # the nose tip, in front of the eyes: how far it moves sideways gives the yaw
MAX_YAW = 0.6  # radians
SHADOW_OFFSET = 0.05  # the frame's shadow falls this far below it (light from above)...
SHADOW_BLUR = 0.025  # ...blurred by this sigma, both in eye distances, plus SHADOW_SIGMA_PX
SHADOW_SIGMA_PX = 0.3
MAX_SOFTNESS = 0.5  # the drawn masks are blurred by up to this sigma in pixels, like the photo
HIDDEN_TEMPLE_YAW = 0.12  # radians: turned further, the far temple is behind the head
LUMA = np.float32([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class FacePose:
    """Where the glasses go: eye midpoint, eye distance, roll and yaw (radians). ``lift`` (eye
    distances up the face) and ``squash`` (vertical scale) place glasses pushed up onto the head."""
    centre: tuple[float, float]
    eye_distance: float
    roll: float
    yaw: float = 0.0
    lift: float = 0.0
    squash: float = 1.0

    @classmethod
    def from_eyes(cls, right_eye, left_eye, nose=None) -> "FacePose":
        (x0, y0), (x1, y1) = right_eye, left_eye
        distance = math.hypot(x1 - x0, y1 - y0)
        if distance < 1.0:
            raise ValueError(f"eyes {right_eye} and {left_eye} are too close to draw glasses")
        pose = cls(((x0 + x1) / 2, (y0 + y1) / 2), distance, math.atan2(y1 - y0, x1 - x0))
        if nose is None:
            return pose
        offset = pose.face_coordinates(np.array([nose[0]]), np.array([nose[1]]))[0][0]
        yaw = float(np.clip(math.atan(offset / NOSE_DEPTH), -MAX_YAW, MAX_YAW))
        return cls(pose.centre, distance, pose.roll, yaw)

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors in the image along the eye line (right eye to left) and down the face."""
        c, s = math.cos(self.roll), math.sin(self.roll)
        return np.array([c, s]), np.array([-s, c])

    def project(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) points of the glasses (x, y, z in eye distances, eyes at (±0.5, 0, 0), z
        towards the back of the head) to (n, 2) image pixels: turn by the yaw, look from the front."""
        x, y, z = points.T
        across = x * math.cos(self.yaw) + z * math.sin(self.yaw)
        down = y * self.squash - self.lift
        scale = self.eye_distance / math.cos(self.yaw)
        along, below = self.axes
        return np.asarray(self.centre) + scale * (across[:, None] * along + down[:, None] * below)

    def face_coordinates(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image pixels to (across, down) in eye distances from the eye midpoint."""
        along, below = self.axes
        dx, dy = xs - self.centre[0], ys - self.centre[1]
        return ((dx * along[0] + dy * along[1]) / self.eye_distance,
                (dx * below[0] + dy * below[1]) / self.eye_distance)


@dataclass(frozen=True)
class Stroke:
    """A line of the frame: (n, 3) points, closed or not, width in eye distances."""
    points: np.ndarray
    closed: bool
    width: float


@dataclass(frozen=True)
class Parts:
    """A pair of glasses in face space: lens outlines (subject's right first), frame strokes, the
    bare lens edges of rimless glasses, and the temple arms (by the side of the face they are on)."""
    lenses: tuple[np.ndarray, np.ndarray]
    frame: tuple[Stroke, ...]
    edges: tuple[Stroke, ...]
    temples: dict


def _on_face(uv: np.ndarray, spec: GlassesSpec, side: int) -> np.ndarray:
    """Lens coordinates (u outwards, v down) to face space; side -1: subject's right, +1: left."""
    x = side * (spec.bridge / 2 + spec.lens_width / 2 + uv[:, 0])
    return np.stack([x, spec.drop + uv[:, 1], FRAME_DEPTH + WRAP * x ** 2], 1)


def _nearest(outline: np.ndarray, u: float, v: float) -> np.ndarray:
    return outline[np.argmin(np.hypot(outline[:, 0] - u, outline[:, 1] - v))]


def glasses_parts(spec: GlassesSpec) -> Parts:
    """Lenses, rims, bridge and temples of ``spec`` in face space."""
    outline = lens_outline(spec)
    a, b = spec.lens_width / 2, spec.lens_height / 2
    lenses = (_on_face(outline, spec, -1), _on_face(outline, spec, 1))
    frame, edges = [], []
    top = outline[:, 1] < 0.1 * b
    for side, lens in zip((-1, 1), lenses):
        if spec.rim == "full":
            frame.append(Stroke(lens, True, spec.rim_width))
        elif spec.rim == "top":
            frame.append(Stroke(_open_arc(lens, top), False, spec.rim_width))
        if spec.rim != "full":
            edges.append(Stroke(lens, True, spec.rim_width * 0.6))
        if spec.brow > 1.05 and spec.rim != "none":
            frame.append(Stroke(_open_arc(lens, outline[:, 1] < -0.2 * b), False, spec.rim_width * spec.brow))
    inner = [_on_face(_nearest(outline, -a, -0.25 * b)[None], spec, side)[0] for side in (-1, 1)]
    frame.append(Stroke(_arc(inner[0], inner[1], rise=0.04 + 0.1 * spec.bridge), False, spec.rim_width * 1.1))
    if spec.top_bar:
        ends = [_on_face(_nearest(outline, -0.4 * a, -b)[None], spec, side)[0] for side in (-1, 1)]
        frame.append(Stroke(_arc(ends[0], ends[1], rise=0.0), False, spec.rim_width))
    hinge = _nearest(outline, a, -0.45 * b)
    temples = {side: Stroke(_temple(_on_face(hinge[None], spec, side)[0], side), False, spec.temple_width)
               for side in (-1, 1)}
    return Parts(lenses, tuple(frame), tuple(edges), temples)


def _open_arc(points: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The kept points of a closed outline as one open line (rolled so it does not wrap)."""
    start = int(np.flatnonzero(~keep)[-1]) + 1 if (~keep).any() else 0
    rolled, kept = np.roll(points, -start, axis=0), np.roll(keep, -start)
    return rolled[kept]


def _arc(start: np.ndarray, end: np.ndarray, rise: float, points: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, points)[:, None]
    line = start * (1 - t) + end * t
    line[:, 1] -= rise * 4 * t[:, 0] * (1 - t[:, 0])
    return line


def _temple(hinge: np.ndarray, side: int, points: int = 24) -> np.ndarray:
    """From the hinge back to the ear, a little outwards and down."""
    ear = hinge + [side * 0.15, 0.08, 1.3 - hinge[2]]
    t = np.linspace(0, 1, points)[:, None]
    return hinge * (1 - t) + ear * t


class Canvas:
    """Masks of a box of the photo, drawn at SUPERSAMPLE x its resolution and read back at 1x."""
    SHIFT = 4  # OpenCV's fractional bits for sub-pixel coordinates

    def __init__(self, box: tuple[int, int, int, int]):
        self.x0, self.y0, x1, y1 = box
        self.shape = (y1 - self.y0, x1 - self.x0)

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        big = (points - [self.x0, self.y0] + 0.5) * SUPERSAMPLE - 0.5  # pixel centres stay centres
        return np.round(big * 2 ** self.SHIFT).astype(np.int32)

    def _blank(self) -> np.ndarray:
        return np.zeros((self.shape[0] * SUPERSAMPLE, self.shape[1] * SUPERSAMPLE), np.uint8)

    def _down(self, big: np.ndarray) -> np.ndarray:
        return cv2.resize(big, self.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def fill(self, polygon: np.ndarray) -> np.ndarray:
        big = self._blank()
        cv2.fillPoly(big, [self._fixed(polygon)], 255, cv2.LINE_AA, self.SHIFT)
        return self._down(big)

    def stroke(self, lines: list[tuple[np.ndarray, bool, float]]) -> np.ndarray:
        """Lines of (points, closed, width in pixels)."""
        big = self._blank()
        for points, closed, width in lines:
            thickness = max(1, int(round(width * SUPERSAMPLE)))
            cv2.polylines(big, [self._fixed(points)], closed, 255, thickness, cv2.LINE_AA, self.SHIFT)
        return self._down(big)


def visible_strokes(parts: Parts, pose: FacePose) -> list[Stroke]:
    """The frame and the temples that can be seen: turned away, the far temple is hidden."""
    sides = [side for side in (-1, 1) if abs(pose.yaw) < HIDDEN_TEMPLE_YAW or side * pose.yaw > 0]
    return list(parts.frame) + [parts.temples[side] for side in sides]


def lowest_point(parts: Parts) -> float:
    """How far down the face (y, eye distances) the glasses reach, strokes' widths included."""
    strokes = [*parts.frame, *parts.edges, *parts.temples.values()]
    return max([float(lens[:, 1].max()) for lens in parts.lenses]
               + [float(s.points[:, 1].max()) + s.width / 2 for s in strokes])


def reach_below(eye_distance: float) -> float:
    """How far below the drawn lines their shadow and softening reach, in eye distances."""
    pixels = 4 * (SHADOW_BLUR * eye_distance + SHADOW_SIGMA_PX) + 4 * MAX_SOFTNESS + 2
    return SHADOW_OFFSET + pixels / eye_distance


@dataclass(frozen=True)
class Drawing:
    """The glasses projected into the photo: frame lines and bare lens edges as (points, closed,
    width in pixels), lens outlines and lens centres, all in image pixels."""
    lines: list
    edges: list
    lenses: list
    centres: np.ndarray


def project_glasses(spec: GlassesSpec, pose: FacePose) -> Drawing:
    parts, scale = glasses_parts(spec), pose.eye_distance
    lines = [(pose.project(s.points), s.closed, s.width * scale) for s in visible_strokes(parts, pose)]
    edges = [(pose.project(s.points), s.closed, s.width * scale) for s in parts.edges]
    centres = [[side * (spec.bridge + spec.lens_width) / 2, spec.drop, FRAME_DEPTH] for side in (-1, 1)]
    return Drawing(lines, edges, [pose.project(lens) for lens in parts.lenses], pose.project(np.array(centres)))


def render(image: np.ndarray, pose: FacePose, spec: GlassesSpec, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W, 3 uint8 RGB) with the glasses ``spec`` drawn at ``pose``; a new array."""
    drawing = project_glasses(spec, pose)
    softness = rng.uniform(0.0, MAX_SOFTNESS)
    margin = max(w for _, _, w in drawing.lines) + reach_below(pose.eye_distance) * pose.eye_distance
    box = _box(image.shape, np.vstack(drawing.lenses + [p for p, _, _ in drawing.lines]), margin)
    if box is None:
        return image.copy()
    x0, y0, x1, y1 = box
    before = image[y0:y1, x0:x1].astype(np.float32)
    patch = _composite(before, Canvas(box), drawing, pose, spec, rng, softness)
    if _is_grey(image[y0:y1, x0:x1]):  # a black-and-white photo shows grey glasses
        patch = before + ((patch - before) @ LUMA)[..., None]  # only the change turns grey
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(np.round(patch), 0, 255).astype(np.uint8)
    return out


def _composite(patch, canvas: Canvas, drawing: Drawing, pose: FacePose, spec: GlassesSpec, rng,
               softness: float) -> np.ndarray:
    """The box of the photo with the glasses drawn, layer by layer (see the module's docstring)."""
    ys, xs = np.mgrid[canvas.y0:canvas.y0 + canvas.shape[0], canvas.x0:canvas.x0 + canvas.shape[1]]
    u, v = pose.face_coordinates(xs.astype(np.float32), ys.astype(np.float32))
    light = float(np.clip(patch.mean() / 150.0, 0.35, 1.1))
    lens_masks = [_soften(canvas.fill(lens), softness) for lens in drawing.lenses]
    frame = _soften(canvas.stroke(drawing.lines), softness)
    patch = _refract(patch, lens_masks, drawing.centres - [canvas.x0, canvas.y0], spec.magnification)
    gradient = sum(mask * _down_lens(v, lens, pose) for mask, lens in zip(lens_masks, drawing.lenses))
    alpha = np.clip(sum(lens_masks), 0, 1) * (spec.tint_top + (spec.tint_bottom - spec.tint_top) * gradient)
    patch = _shadow(patch, np.maximum(frame, 0.6 * alpha), pose, spec)
    patch = _tint(patch, alpha, gradient, spec, light)
    patch = _glints(patch, lens_masks, u, v, pose.face_coordinates(*drawing.centres.T), spec, rng, light)
    if drawing.edges:
        patch = _screen(patch, _soften(canvas.stroke(drawing.edges), softness) * 0.45, 255 * light)
    highlight = canvas.stroke([(p - pose.axes[1] * 0.3 * w, c, 0.35 * w) for p, c, w in drawing.lines])
    return _paint_frame(patch, frame, highlight * frame, u, v, spec, rng, light)


def _is_grey(pixels: np.ndarray) -> bool:
    """Black and white, or nearly (sepia, a faint colour cast, JPEG's colour noise)."""
    return float(np.ptp(pixels.astype(np.int16), axis=2).mean()) <= 10


def _box(shape, points: np.ndarray, margin: float):
    """The pixel box around ``points`` plus ``margin``, inside the image; None when outside."""
    x0, y0 = np.floor(points.min(0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(0) + margin).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    return (x0, y0, x1, y1) if x1 > x0 + 1 and y1 > y0 + 1 else None


def _soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), sigma) if sigma > 0.05 else mask


def _refract(patch, lens_masks, centres, magnification: float) -> np.ndarray:
    """What is seen through each lens, magnified (> 1) or minified (< 1) about its centre."""
    if abs(magnification - 1.0) < 1e-3:
        return patch
    ys, xs = np.mgrid[0:patch.shape[0], 0:patch.shape[1]].astype(np.float32)
    for mask, (cx, cy) in zip(lens_masks, centres):
        seen = cv2.remap(patch, (cx + (xs - cx) / magnification).astype(np.float32),
                         (cy + (ys - cy) / magnification).astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        patch = patch * (1 - mask[..., None]) + seen * mask[..., None]
    return patch


def _down_lens(v, lens: np.ndarray, pose: FacePose) -> np.ndarray:
    """0 at the lens's top edge, 1 at its bottom (for gradient and mirrored lenses)."""
    lens_v = pose.face_coordinates(lens[:, 0], lens[:, 1])[1]
    return np.clip((v - lens_v.min()) / max(np.ptp(lens_v), 1e-6), 0, 1)


def _shadow(patch, caster, pose: FacePose, spec: GlassesSpec) -> np.ndarray:
    shift = pose.axes[1] * SHADOW_OFFSET * pose.eye_distance
    moved = cv2.warpAffine(caster, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), caster.shape[::-1])
    shade = cv2.GaussianBlur(moved, (0, 0), SHADOW_BLUR * pose.eye_distance + SHADOW_SIGMA_PX)
    return patch * (1 - spec.shadow * np.clip(shade, 0, 1))[..., None]


def _tint(patch, alpha, gradient, spec: GlassesSpec, light: float) -> np.ndarray:
    if spec.mirror is None:
        colour = np.asarray(spec.tint_colour, np.float32)
    else:  # a mirrored coating: the sky above, the ground below, in the coating's colours
        top, bottom = (np.asarray(c, np.float32) for c in spec.mirror)
        colour = top * (1 - gradient[..., None]) + bottom * gradient[..., None]
    return patch * (1 - alpha[..., None]) + colour * light * alpha[..., None]


def _glints(patch, lens_masks, u, v, centres, spec: GlassesSpec, rng, light: float) -> np.ndarray:
    """Reflections: soft bright bands across the lenses, the same window seen in both."""
    if spec.glint <= 0:
        return patch
    angle = rng.uniform(0.5, 1.1) * rng.choice([-1, 1])
    bands = [(rng.uniform(-0.3, 0.3) * spec.lens_width, rng.uniform(0.01, 0.05) * spec.lens_width,
              rng.uniform(0.4, 1.0)) for _ in range(int(rng.integers(1, 3)))]
    shine = np.zeros_like(u)
    for mask, cu, cv in zip(lens_masks, *centres):
        across = (u - cu) * math.cos(angle) + (v - cv) * math.sin(angle)
        shine += mask * sum(k * np.exp(-0.5 * ((across - o) / w) ** 2) for o, w, k in bands)
    return _screen(patch, np.clip(shine * spec.glint, 0, 1), 255 * light)


def _screen(patch, amount: np.ndarray, white: float) -> np.ndarray:
    """Lighten towards ``white`` by ``amount`` (0-1 per pixel)."""
    return patch + (white - patch) * amount[..., None]


def _paint_frame(patch, frame, highlight, u, v, spec: GlassesSpec, rng, light: float) -> np.ndarray:
    colour = _frame_colours(spec, u, v, rng) * light
    patch = patch * (1 - frame[..., None]) + colour * frame[..., None]
    return _screen(patch, highlight * spec.gloss, 255 * light)


def _frame_colours(spec: GlassesSpec, u, v, rng) -> np.ndarray:
    """The frame's colour at every pixel: plain, or patterned with ``pattern_colour``."""
    base, second = (np.asarray(c, np.float32) for c in (spec.frame_colour, spec.pattern_colour))
    if spec.pattern == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.06, 0.14)
        mix = np.sin(2 * np.pi * (u * math.cos(angle) + v * math.sin(angle)) / period) > 0
    elif spec.pattern == "dots":
        period = rng.uniform(0.06, 0.1)
        mix = np.hypot((u / period) % 1 - 0.5, (v / period) % 1 - 0.5) < 0.3
    elif spec.pattern == "tortoise":
        mix = _blotches(u, v, rng)
    else:
        return np.broadcast_to(base, u.shape + (3,))
    mix = cv2.GaussianBlur(mix.astype(np.float32), (0, 0), 0.6)[..., None]
    return base * (1 - mix) + second * mix


def _blotches(u, v, rng, cell: float = 0.05) -> np.ndarray:
    """Tortoiseshell: smooth random noise on a grid of ``cell`` eye distances, thresholded."""
    cells = rng.uniform(size=(32, 32)).astype(np.float32)
    noise = cv2.resize(cells, (32 * 8, 32 * 8), interpolation=cv2.INTER_CUBIC)
    iu = np.clip(((u / cell) % 32 * 8).astype(int), 0, 255)
    iv = np.clip(((v / cell) % 32 * 8).astype(int), 0, 255)
    return noise[iv, iu] > 0.6
