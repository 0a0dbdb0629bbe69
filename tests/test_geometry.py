"""CropGeometry and cut() against hand-computed values: where a rotated square's points fall in
the image, and which pixels cut() takes for it (an image whose pixels say where they are)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from glasses_core.geometry import CropGeometry, cut

ANGLE = math.radians(30)
SQUARE = CropGeometry(centre=(100.0, 60.0), side=40.0, angle=ANGLE)


def test_to_image_maps_the_square_s_corners_and_centre_by_hand():
    cos, sin = math.cos(ANGLE), math.sin(ANGLE)
    points = np.array([[0.5, 0.5], [1.0, 0.5], [0.5, 1.0], [0.0, 0.0]])
    # (0.5, 0.5) is the centre; +x of the square is (cos, sin) in the image, +y is (-sin, cos)
    expected = np.array([[100.0, 60.0],
                         [100.0 + 20 * cos, 60.0 + 20 * sin],
                         [100.0 - 20 * sin, 60.0 + 20 * cos],
                         [100.0 - 20 * cos + 20 * sin, 60.0 - 20 * sin - 20 * cos]])
    np.testing.assert_allclose(SQUARE.to_image(points), expected, atol=1e-12)


def test_to_crop_is_the_inverse_of_to_image():
    points = np.array([[0.1, 0.2], [0.9, 0.3], [0.5, 0.5], [1.3, -0.4]])
    image = SQUARE.to_image(points)
    np.testing.assert_allclose(SQUARE.to_crop(image), points, atol=1e-12)
    np.testing.assert_allclose(SQUARE.to_crop([[100.0, 60.0]]), [[0.5, 0.5]], atol=1e-12)
    cos, sin = math.cos(ANGLE), math.sin(ANGLE)
    np.testing.assert_allclose(SQUARE.to_crop([[100.0 + 20 * cos, 60.0 + 20 * sin]]), [[1.0, 0.5]], atol=1e-12)
    np.testing.assert_allclose(SQUARE.to_crop([[100.0 - 20 * sin, 60.0 + 20 * cos]]), [[0.5, 1.0]], atol=1e-12)


def test_points_keep_double_precision_whatever_they_come_as():
    """Full-resolution coordinates of a 12 MP photo need float64: float32 points are widened."""
    far = CropGeometry(centre=(3999.123456789, 2999.987654321), side=123.456789, angle=0.1)
    points32 = np.array([[0.123456789, 0.987654321]], dtype=np.float32)
    image = far.to_image(points32)
    assert image.dtype == np.float64
    np.testing.assert_allclose(image, far.to_image(points32.astype(np.float64)), rtol=0, atol=0)
    crop = far.to_crop(image.astype(np.float32))
    assert crop.dtype == np.float64


def test_reduced_divides_position_and_side_and_keeps_the_angle():
    half = SQUARE.reduced(4)
    assert half == CropGeometry(centre=(25.0, 15.0), side=10.0, angle=ANGLE)
    assert SQUARE.reduced(1) == SQUARE


def coordinate_image(height: int = 200, width: int = 240) -> np.ndarray:
    """Red = x, green = y (of the pixel's centre, in pixels), blue a constant: every pixel says
    where it is."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, np.full_like(xs, 77)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("angle_degrees", [0, 30, -45, 90])
def test_cut_takes_the_pixels_under_the_square(angle_degrees):
    image = coordinate_image()
    geometry = CropGeometry(centre=(120.0, 90.0), side=32.0, angle=math.radians(angle_degrees))
    patch = cut(image, geometry, 32).astype(np.float64)
    assert patch.shape == (32, 32, 3)
    # each output pixel centre (u + 0.5) / 32 of the square lies at to_image() in the image, and
    # (Pillow samples at pixel centres) shows that pixel's coordinates minus half a pixel
    uv = (np.stack(np.meshgrid(np.arange(32), np.arange(32), indexing="xy"), -1).reshape(-1, 2) + 0.5) / 32
    where = geometry.to_image(uv) - 0.5
    np.testing.assert_allclose(patch[..., 0].ravel(), where[:, 0], atol=1.01)
    np.testing.assert_allclose(patch[..., 1].ravel(), where[:, 1], atol=1.01)
    assert (patch[..., 2] == 77).all()


def test_cut_outside_the_image_carries_on_its_edge_pixels():
    image = coordinate_image()
    patch = cut(image, CropGeometry(centre=(0.0, 0.0), side=40.0, angle=0.0), 20, outside="edge")
    assert (patch[:8, :8] == image[0, 0]).all()  # the quarter left of and above the image: its corner
    assert (patch[:8, 12:, 1] == 0).all() and (patch[:8, 12:, 0] == patch[12, 12:, 0]).all()  # above: row 0
    assert (patch[12:, :8, 0] == 0).all() and (patch[12:, :8, 1] == patch[12:, 12:13, 1]).all()  # left: column 0
    assert (patch[..., 2] == 77).all()
    far = cut(image, CropGeometry(centre=(500.0, -300.0), side=30.0, angle=0.7), 8, outside="edge")  # wholly outside
    assert (far == image[0, -1]).all()


@pytest.mark.parametrize("size", [16, 64])
def test_cut_outside_is_black_unless_asked_and_inside_both_agree(size):
    image = np.random.default_rng(3).integers(0, 256, (150, 110, 3), dtype=np.uint8)
    crossing = CropGeometry(centre=(10.0, 140.0), side=60.0, angle=0.4)
    black = cut(image, crossing, size)
    assert (black[-1, 0] == 0).all() and (black != cut(image, crossing, size, outside="edge")).any()
    for geometry in [CropGeometry((55.0, 75.0), 60.0, 0.4), CropGeometry((55.0, 75.0), 100.0, -0.1),
                     CropGeometry((30.5, 40.2), 20.0, 2.0)]:
        np.testing.assert_array_equal(cut(image, geometry, size, outside="edge"), cut(image, geometry, size))
    with pytest.raises(ValueError, match="outside"):
        cut(image, crossing, size, outside="white")


def test_cut_across_the_edge_of_a_reduced_photo_carries_on_the_reduced_edge():
    """A square large enough to be box-reduced first (9 times here) is carried on by the reduced
    photo's edge pixels: the same as cutting the reduced photo padded by edge replication."""
    image = np.random.default_rng(4).integers(0, 256, (600, 500, 3), dtype=np.uint8)
    geometry = CropGeometry(centre=(20.0, 560.0), side=600.0, angle=0.3)
    pad = 60
    padded = np.pad(np.asarray(Image.fromarray(image).reduce(9)), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    reduced = geometry.reduced(9)
    expected = cut(padded, CropGeometry((reduced.centre[0] + pad, reduced.centre[1] + pad), reduced.side, 0.3), 16)
    assert np.abs(cut(image, geometry, 16, outside="edge").astype(int) - expected).max() <= 1


def test_cut_resizes_a_large_square_to_the_size_asked_for_and_keeps_its_place():
    """A square many times the output size is box-reduced first; the result still samples the
    same places (mean over the block each output pixel covers)."""
    image = coordinate_image(240, 240)
    geometry = CropGeometry(centre=(120.0, 120.0), side=200.0, angle=0.0)
    patch = cut(image, geometry, 16).astype(np.float64)
    assert patch.shape == (16, 16, 3)
    centres = 20.0 + (np.arange(16) + 0.5) * 200.0 / 16 - 0.5
    np.testing.assert_allclose(patch[0, :, 0], centres, atol=1.6)
    np.testing.assert_allclose(patch[:, 0, 1], centres, atol=1.6)


def test_cut_of_a_small_square_upsamples_to_the_size_asked_for():
    image = coordinate_image()
    patch = cut(image, CropGeometry(centre=(50.0, 40.0), side=8.0, angle=0.0), 32).astype(np.float64)
    assert patch.shape == (32, 32, 3)
    assert patch[..., 0].min() >= 45 and patch[..., 0].max() <= 54
    assert patch[..., 1].min() >= 35 and patch[..., 1].max() <= 44
    assert np.all(np.diff(patch[16, :, 0]) >= 0)  # x grows left to right, no flip
    assert np.all(np.diff(patch[:, 16, 1]) >= 0)  # y grows top to bottom
