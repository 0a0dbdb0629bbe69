"""Albumentations pipeline built from one strength value s in [0, 1].

Probabilities and magnitudes grow with s; at s = 0 every transform is off and images pass
through unchanged. Geometric changes stay small: the crop is already eye-aligned, so the
augmentation imitates detector jitter, not arbitrary framing.
"""
from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no update check (and no network) at import

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402


def build_augmentation(s: float, shadows: float = 0.0, frame_cuts: float = 0.0) -> A.Compose:
    """The training augmentation at strength ``s`` (0 = none, 1 = strongest).

    ``shadows`` is the probability, at s = 1, of a shadow falling from the top of the crop
    over the eyes (a cap's brim, hair): one of the first model's false alarms. ``frame_cuts`` is
    the probability, at s = 1, of the photo's frame cutting the crop above the brows or under the
    nose (a close-up: the crop is black beyond it).
    """
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"augmentation strength must be in [0, 1], got {s}")
    for name, value in (("shadow", shadows), ("frame cut", frame_cuts)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} probability must be in [0, 1], got {value}")
    transforms = [
        A.HorizontalFlip(p=min(0.5, s)),
        A.Affine(scale=(1 - 0.15 * s, 1 + 0.15 * s), translate_percent=(-0.08 * s, 0.08 * s),
                 rotate=(-15 * s, 15 * s), border_mode=0, p=0.8 * s),
        A.RandomBrightnessContrast(brightness_limit=0.3 * s, contrast_limit=0.3 * s, p=0.8 * s),
        A.RandomGamma(gamma_limit=(100 - 30 * s, 100 + 30 * s), p=0.3 * s),
        A.HueSaturationValue(hue_shift_limit=int(15 * s), sat_shift_limit=int(30 * s),
                             val_shift_limit=int(15 * s), p=0.5 * s),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 5))], p=0.3 * s),
        A.ImageCompression(quality_range=(int(100 - 60 * s), 100), p=0.4 * s),
        A.GaussNoise(std_range=(0.0, 0.08 * s), p=0.3 * s),
        A.Downscale(scale_range=(1 - 0.5 * s, 1.0), p=0.25 * s),
        A.CoarseDropout(num_holes_range=(1, 2), hole_height_range=(0.05, 0.05 + 0.15 * s),
                        hole_width_range=(0.05, 0.05 + 0.15 * s), fill=0, p=0.3 * s),
        A.ToGray(p=0.1 * s),
    ]
    if shadows:  # only then: runs without shadows draw the same random numbers as before
        transforms.append(BrimShadow(darkness=(0.3 * s, 0.7 * s), p=shadows * s))
    if frame_cuts:  # the same: runs without frame cuts draw the same random numbers as before
        transforms.append(FrameCut(p=frame_cuts * s))
    return A.Compose(transforms, seed=None)


class FrameCut(A.ImageOnlyTransform):
    """The photo's frame crossing the crop, as in a close-up: everything beyond a straight edge is
    black, above the brows (the edge in the crop's top ``top`` of its height; the crop's eyes sit
    in its middle) or under the nose (in its bottom ``bottom``), tilted a little (a head not quite
    level in the frame). data/composed.py's close-ups cut 0.37 (forehead), 0.08 (chin) and 0.31
    with 0.04 (both) of the crop's height."""

    def __init__(self, top: tuple[float, float] = (0.05, 0.38), bottom: tuple[float, float] = (0.03, 0.3),
                 tilt: float = 0.1, p: float = 0.5):
        super().__init__(p=p)
        self.top, self.bottom, self.tilt = top, bottom, tilt

    def get_params(self) -> dict:
        above = self.py_random.random() < 0.5
        return {"above": above, "depth": self.py_random.uniform(*(self.top if above else self.bottom)),
                "tilt": self.py_random.uniform(-self.tilt, self.tilt)}

    def apply(self, img: np.ndarray, above: bool, depth: float, tilt: float, **params) -> np.ndarray:
        h, w = img.shape[:2]
        y = (np.arange(h)[:, None] + 0.5) / h
        x = (np.arange(w)[None, :] + 0.5) / w - 0.5
        edge = depth + tilt * x if above else 1.0 - depth + tilt * x
        cut = y < edge if above else y > edge
        out = img.copy()
        out[cut] = 0
        return out


class BrimShadow(A.ImageOnlyTransform):
    """A shadow falling from the top of the crop over the eyes (a cap's brim, a fringe): darkens
    everything above a soft, slightly tilted edge placed around the eye line (the crop's middle)."""

    def __init__(self, darkness: tuple[float, float] = (0.3, 0.7), p: float = 0.5):
        super().__init__(p=p)
        self.darkness = darkness

    def get_params(self) -> dict:
        return {"edge": self.py_random.uniform(0.35, 0.65), "tilt": self.py_random.uniform(-0.3, 0.3),
                "softness": self.py_random.uniform(0.02, 0.12), "darkness": self.py_random.uniform(*self.darkness)}

    def apply(self, img: np.ndarray, edge: float, tilt: float, softness: float, darkness: float,
              **params) -> np.ndarray:
        h, w = img.shape[:2]
        y = (np.arange(h)[:, None] + 0.5) / h
        x = (np.arange(w)[None, :] + 0.5) / w - 0.5
        above = 1.0 / (1.0 + np.exp((y - edge - tilt * x) / softness))  # 1 above the edge, 0 below
        return np.clip(img * (1.0 - darkness * above)[..., None], 0, 255).astype(img.dtype)


def augment_batch(pipeline: A.Compose, images: np.ndarray) -> np.ndarray:
    """Apply ``pipeline`` to each (H, W, 3) uint8 image of a batch."""
    return np.stack([pipeline(image=image)["image"] for image in images])
