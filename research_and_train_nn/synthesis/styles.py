"""Glasses designs for synthesis: one frozen spec per drawn pair, sampled by style.

Lengths are in eye distances, so a spec fits any face. Lens outlines are in the lens's own
coordinates: u points away from the nose (towards the temple), v down, origin at the lens
centre. ``synthesis.py`` places, projects and draws a spec.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

METAL = [(212, 175, 90), (200, 200, 205), (95, 95, 100), (30, 30, 32), (190, 140, 120), (140, 105, 60)]
PLASTIC = [(20, 20, 22), (45, 30, 22), (70, 45, 30), (30, 40, 80), (95, 25, 40), (90, 90, 95),
           (25, 70, 60), (150, 30, 30), (170, 170, 175)]
BRIGHT = [(255, 40, 150), (255, 215, 0), (120, 230, 40), (0, 200, 230), (255, 120, 0),
          (150, 60, 230), (240, 20, 30), (250, 250, 250), (40, 110, 255)]
TINTS = [(25, 25, 25), (60, 45, 30), (30, 50, 35), (40, 40, 60), (110, 60, 30)]
MIRRORS = [((80, 150, 255), (255, 120, 60)), ((200, 200, 210), (60, 60, 70)),
           ((255, 80, 200), (80, 60, 255)), ((60, 220, 160), (30, 60, 140)), ((255, 200, 60), (220, 60, 40))]
METAL_GLOSS = 0.45
SHAPES = ("superellipse", "aviator", "cat_eye", "heart", "star", "pixel")


@dataclass(frozen=True)
class GlassesSpec:
    """One pair of glasses; every length in eye distances."""
    shape: str = "superellipse"  # lens outline, one of SHAPES
    roundness: float = 2.0  # superellipse exponent: 2 = ellipse, ~6 = rounded rectangle
    lens_width: float = 0.8
    lens_height: float = 0.55
    bridge: float = 0.3  # gap between the lenses
    drop: float = 0.08  # lens centres below the eye line
    rim: str = "full"  # "full", "top" (half-rim) or "none" (rimless: lens edges only)
    rim_width: float = 0.03
    brow: float = 1.0  # the upper half of the rim is this many times thicker
    frame_colour: tuple = (30, 30, 30)
    pattern: str = "plain"  # "plain", "tortoise", "stripes" or "dots" (second colour below)
    pattern_colour: tuple = (255, 255, 255)
    gloss: float = 0.25  # strength of the highlight along the top of the frame (metal: more)
    top_bar: bool = False  # a second bridge above the first (aviators)
    temple_width: float = 0.03
    tint_colour: tuple = (40, 40, 40)
    tint_top: float = 0.03  # lens opacity at the top...
    tint_bottom: float = 0.03  # ...and at the bottom (a gradient lens when they differ)
    mirror: tuple | None = None  # two colours of a mirrored coating (top, bottom), or None
    magnification: float = 1.0  # refraction of the eye behind the lens (< 1: short-sighted)
    glint: float = 0.3  # strength of the reflections on the lens
    shadow: float = 0.3  # darkness of the frame's shadow on the skin
    tilt: float = 0.0  # star lenses: rotation of the points, radians


def lens_outline(spec: GlassesSpec, points: int = 160) -> np.ndarray:
    """The right-hand lens's closed outline, (points, 2) of (u, v), in eye distances."""
    a, b = spec.lens_width / 2, spec.lens_height / 2
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    if spec.shape == "heart":
        u, v = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return _fit_box(np.stack([u, v + 2.5], 1), a, b)
    if spec.shape == "star":
        return _star(a, b, spec.tilt, points)
    if spec.shape == "pixel":
        return _pixel_block(a, b)
    power = 2.0 / spec.roundness
    u = a * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
    v = b * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** power
    if spec.shape == "aviator":  # flat top, a teardrop falling towards the nose
        v = np.where(v < 0, 0.8 * v, v * (1.0 + 0.45 * (1 - u / a) / 2))
    elif spec.shape == "cat_eye":  # outer upper corner swept up, narrower below
        v = np.where(v < 0, v - 0.45 * b * np.clip(u / a, 0, 1) ** 2, 0.85 * v)
    return np.stack([u, v], 1)


def _fit_box(points: np.ndarray, a: float, b: float) -> np.ndarray:
    """Scale an outline to half-width a and half-height b around the centre of its box."""
    low, high = points.min(0), points.max(0)
    return (points - (low + high) / 2) / ((high - low) / 2) * [a, b]


def _star(a: float, b: float, tilt: float, points: int) -> np.ndarray:
    angles = tilt - np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
    corners = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return _fit_box(_densify(np.vstack([corners, corners[:1]]), points), a, b)


def _pixel_block(a: float, b: float) -> np.ndarray:
    """The meme's 8-bit shades: a rectangle whose lower edge steps up towards the nose."""
    steps = [(-1, -1), (1, -1), (1, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6), (0.2, 1), (-1, 1), (-1, -1)]
    return _densify(np.array(steps, dtype=float), 160) * [a, b]


def _densify(corners: np.ndarray, points: int) -> np.ndarray:
    """Points spread evenly along a closed polygon (whose last corner repeats the first)."""
    lengths = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    at = np.concatenate([[0], np.cumsum(lengths)])
    s = np.linspace(0, at[-1], points, endpoint=False)
    return np.stack([np.interp(s, at, corners[:, 0]), np.interp(s, at, corners[:, 1])], 1)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _colour(rng: np.random.Generator, palette, jitter: float = 0.12) -> tuple:
    base = np.array(_pick(rng, palette), dtype=float)
    return tuple(float(c) for c in np.clip(base * rng.uniform(1 - jitter, 1 + jitter, 3), 0, 255))


def _clear_lens(rng: np.random.Generator) -> dict:
    alpha = rng.uniform(0.0, 0.06)
    return dict(tint_colour=_colour(rng, [(200, 220, 255), (255, 230, 200), (220, 220, 220)]),
                tint_top=alpha, tint_bottom=alpha, magnification=rng.uniform(0.9, 1.05),
                glint=rng.uniform(0.1, 0.4), shadow=rng.uniform(0.15, 0.4))


def _common(rng: np.random.Generator, **design) -> GlassesSpec:
    """Size and placement every design shares, then the design's own choices."""
    width = rng.uniform(0.72, 0.9)
    base = dict(lens_width=width, lens_height=width * rng.uniform(0.55, 0.8), bridge=rng.uniform(0.22, 0.34),
                drop=rng.uniform(0.02, 0.14), **_clear_lens(rng))
    return GlassesSpec(**{**base, **design})


def metal_wire(rng):
    return _common(rng, roundness=rng.uniform(2.0, 4.5), rim_width=rng.uniform(0.01, 0.022),
                   frame_colour=_colour(rng, METAL), gloss=METAL_GLOSS, temple_width=rng.uniform(0.012, 0.02))


def rimless(rng):
    return _common(rng, roundness=rng.uniform(2.2, 5.0), rim="none", rim_width=rng.uniform(0.008, 0.014),
                   frame_colour=_colour(rng, METAL), gloss=METAL_GLOSS, temple_width=rng.uniform(0.01, 0.018))


def half_rim(rng):
    spec = _common(rng, roundness=rng.uniform(3.0, 6.0), rim="top", rim_width=rng.uniform(0.018, 0.045),
                   frame_colour=_colour(rng, METAL + PLASTIC), temple_width=rng.uniform(0.015, 0.03))
    return dataclasses.replace(spec, lens_height=spec.lens_width * rng.uniform(0.45, 0.62))


def thick_plastic(rng):
    pattern = _pick(rng, ["plain", "plain", "plain", "tortoise", "tortoise"])
    return _common(rng, roundness=rng.uniform(3.0, 6.0), rim_width=rng.uniform(0.045, 0.085),
                   brow=rng.uniform(1.0, 1.5), frame_colour=_colour(rng, PLASTIC), pattern=pattern,
                   pattern_colour=_colour(rng, [(150, 95, 35), (190, 130, 60)]),
                   temple_width=rng.uniform(0.04, 0.07))


def round_frames(rng):
    size = rng.uniform(0.62, 0.82)
    metal = bool(rng.integers(2))
    return _common(rng, roundness=2.0, lens_width=size, lens_height=size * rng.uniform(0.92, 1.0),
                   rim_width=rng.uniform(0.012, 0.025) if metal else rng.uniform(0.035, 0.06),
                   frame_colour=_colour(rng, METAL if metal else PLASTIC), gloss=METAL_GLOSS if metal else 0.25,
                   temple_width=0.02 if metal else 0.045)


def rectangular(rng):
    spec = _common(rng, roundness=rng.uniform(5.0, 9.0), rim_width=rng.uniform(0.02, 0.055),
                   frame_colour=_colour(rng, METAL + PLASTIC), temple_width=rng.uniform(0.02, 0.05))
    return dataclasses.replace(spec, lens_height=spec.lens_width * rng.uniform(0.42, 0.58))


def aviator(rng):
    width = rng.uniform(0.85, 1.0)
    dark = rng.uniform() < 0.6
    tint = rng.uniform(0.55, 0.85) if dark else 0.0
    spec = _common(rng, shape="aviator", roundness=rng.uniform(2.2, 3.0), lens_width=width,
                   lens_height=width * rng.uniform(0.72, 0.85), bridge=rng.uniform(0.16, 0.24),
                   rim_width=rng.uniform(0.012, 0.022), frame_colour=_colour(rng, METAL), gloss=METAL_GLOSS,
                   top_bar=True, temple_width=0.018, drop=rng.uniform(0.1, 0.18))
    if dark:
        spec = dataclasses.replace(spec, tint_colour=_colour(rng, TINTS), tint_top=tint,
                                   tint_bottom=tint * rng.uniform(0.5, 1.0), magnification=1.0)
    return spec


def cat_eye(rng):
    return _common(rng, shape="cat_eye", roundness=rng.uniform(2.5, 3.5), rim_width=rng.uniform(0.035, 0.07),
                   brow=rng.uniform(1.2, 1.8), frame_colour=_colour(rng, PLASTIC + [(200, 40, 70)]),
                   pattern=_pick(rng, ["plain", "plain", "tortoise"]),
                   pattern_colour=_colour(rng, [(150, 95, 35)]), temple_width=0.04)


def sunglasses(rng):
    """Dark, gradient or mirrored lenses in a wayfarer, round or sport frame."""
    kind = _pick(rng, ["tinted", "gradient", "mirrored"])
    top = rng.uniform(0.75, 0.95)
    lens = dict(tint_colour=_colour(rng, TINTS), tint_top=top, magnification=1.0,
                tint_bottom=top * rng.uniform(0.15, 0.5) if kind == "gradient" else top,
                mirror=_pick(rng, MIRRORS) if kind == "mirrored" else None, glint=rng.uniform(0.3, 0.7))
    metal = rng.uniform() < 0.35
    spec = _common(rng, roundness=rng.uniform(2.0, 6.0), rim_width=rng.uniform(0.015, 0.025) if metal
                   else rng.uniform(0.04, 0.08), frame_colour=_colour(rng, METAL if metal else PLASTIC),
                   gloss=METAL_GLOSS if metal else 0.25, brow=1.0 if metal else rng.uniform(1.0, 1.4),
                   temple_width=0.045)
    return dataclasses.replace(spec, lens_width=spec.lens_width * rng.uniform(1.0, 1.12), **lens)


def oversized(rng):
    width = rng.uniform(1.05, 1.3)
    return _common(rng, roundness=rng.uniform(2.0, 5.0), lens_width=width,
                   lens_height=width * rng.uniform(0.7, 0.95),
                   bridge=rng.uniform(0.08, 0.16), rim_width=rng.uniform(0.05, 0.1),
                   frame_colour=_colour(rng, BRIGHT), drop=rng.uniform(0.05, 0.15),
                   pattern=_pick(rng, ["plain", "stripes", "dots"]), pattern_colour=_colour(rng, BRIGHT),
                   temple_width=0.05)


def _novelty(rng, shape: str, **design) -> GlassesSpec:
    """Party glasses: bright frames, often coloured lenses."""
    width = rng.uniform(0.9, 1.15)
    tinted = rng.uniform() < 0.5
    lens = dict(tint_colour=_colour(rng, BRIGHT), tint_top=0.6, tint_bottom=0.6) if tinted else {}
    base = dict(shape=shape, lens_width=width, lens_height=width * rng.uniform(0.85, 1.0),
                bridge=rng.uniform(0.06, 0.14), rim_width=rng.uniform(0.04, 0.08),
                frame_colour=_colour(rng, BRIGHT), pattern=_pick(rng, ["plain", "plain", "dots", "stripes"]),
                pattern_colour=_colour(rng, BRIGHT), temple_width=0.045)
    return _common(rng, **{**base, **lens, **design})


def heart(rng):
    return _novelty(rng, "heart", drop=rng.uniform(0.05, 0.12))


def star(rng):
    return _novelty(rng, "star", tilt=rng.uniform(-0.25, 0.25), drop=rng.uniform(0.04, 0.1))


def party(rng):
    """Thick, loud, patterned frames (a party shop's, a photo filter's)."""
    return _novelty(rng, "superellipse", roundness=rng.uniform(2.0, 7.0), rim_width=rng.uniform(0.07, 0.12),
                    pattern=_pick(rng, ["stripes", "dots"]), brow=rng.uniform(1.0, 1.6))


def pixel_shades(rng):
    """The "deal with it" 8-bit sunglasses of photo filters."""
    width = rng.uniform(0.85, 1.05)
    return _common(rng, shape="pixel", lens_width=width, lens_height=width * rng.uniform(0.4, 0.5),
                   bridge=rng.uniform(0.04, 0.1), rim_width=rng.uniform(0.03, 0.05), frame_colour=(10, 10, 10),
                   tint_colour=(10, 10, 10), tint_top=1.0, tint_bottom=1.0, magnification=1.0, glint=0.0,
                   gloss=0.0, top_bar=True, temple_width=0.05, drop=rng.uniform(0.0, 0.08))


SAMPLERS: dict[str, Callable[[np.random.Generator], GlassesSpec]] = {
    "metal_wire": metal_wire, "rimless": rimless, "half_rim": half_rim, "thick_plastic": thick_plastic,
    "round": round_frames, "rectangular": rectangular, "aviator": aviator, "cat_eye": cat_eye,
    "sunglasses": sunglasses, "oversized": oversized, "heart": heart, "star": star, "party": party,
    "pixel_shades": pixel_shades,
}
