import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from glasses_core import ImageLoadError, load_image, open_photo
from glasses_core.image_io import MAX_PIXELS


@pytest.fixture(scope="module")
def photo_path(data_dir):
    return data_dir / "mtfl" / "lfw_5590" / "Aaron_Eckhart_0001.jpg"


@pytest.fixture(scope="module")
def photo(photo_path):
    return Image.open(photo_path).convert("RGB")


def encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_path_and_bytes_give_the_same_pixels(photo_path):
    from_path = load_image(photo_path)
    from_bytes = load_image(photo_path.read_bytes())
    assert from_path.dtype == np.uint8 and from_path.shape == (250, 250, 3)
    np.testing.assert_array_equal(from_path, from_bytes)


def test_exif_orientation_is_applied(photo):
    wide = photo.crop((0, 0, 250, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = load_image(encode(wide, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape == (250, 120, 3)
    # the displayed top-left comes from the stored bottom-left
    stored = np.asarray(wide, dtype=int)
    assert np.abs(out[0, 0].astype(int) - stored[-1, 0]).sum() < 60


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "LA", "1"])
def test_modes_become_rgb(photo, mode):
    im = photo.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = load_image(encode(im, fmt))
    assert out.shape == (250, 250, 3) and out.dtype == np.uint8
    if mode in ("L", "LA"):
        assert (out[..., 0] == out[..., 1]).all()


def test_transparent_pixels_become_white(photo):
    im = photo.convert("RGBA")
    im.putalpha(0)
    assert (load_image(encode(im, "PNG")) == 255).all()


def test_16_bit_greyscale_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 256, dtype=np.uint16)[None, :].repeat(8, 0))
    out = load_image(encode(Image.fromarray(ramp), "PNG"))
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255 and 120 < out[0, 128, 0] < 135


def test_animated_gif_gives_first_frame(photo):
    frames = [photo.convert("P"), Image.new("RGB", photo.size, (0, 255, 0)).convert("P")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = load_image(data)
    assert out.shape == (250, 250, 3)
    assert not (out[..., 1] > 200).all()  # not the green second frame


def big_png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bad_inputs(photo_path):
    jpeg = photo_path.read_bytes()
    yield "truncated JPEG", jpeg[: len(jpeg) // 2]
    yield "zero bytes", b""
    yield "random bytes", np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    yield "text", b"name,label\nface.jpg,1\n" * 20
    yield "20000x20000 PNG header", big_png_header(20000, 20000)


@pytest.mark.parametrize("kind", ["truncated JPEG", "zero bytes", "random bytes", "text",
                                  "20000x20000 PNG header"])
def test_bad_input_raises_typed_error_naming_input(photo_path, tmp_path, kind):
    data = dict(bad_inputs(photo_path))[kind]
    with pytest.raises(ImageLoadError) as from_bytes:
        load_image(data, name="upload.jpg")
    assert "upload.jpg" in str(from_bytes.value) and from_bytes.value.reason
    path = tmp_path / "broken.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageLoadError) as from_path:
        load_image(path)
    assert str(path) in str(from_path.value)


def test_bomb_is_refused_before_decoding():
    with pytest.raises(ImageLoadError, match="megapixel"):
        load_image(big_png_header(20000, 20000))
    assert 20000 * 20000 > MAX_PIXELS


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageLoadError, match=r"not a regular file \(a folder\)"):
        load_image(tmp_path)


def test_jpeg_decodes_at_the_reduction_asked_for(photo):
    big = photo.resize((2000, 2000), Image.BICUBIC)
    opened = open_photo(encode(big, "JPEG", quality=90))
    assert opened.size == (2000, 2000)
    for scale, reduction in ((1.0, 1), (0.6, 1), (0.5, 2), (0.3, 2), (0.2, 4), (0.1, 8), (0.01, 8)):
        pixels, got = opened.pixels(scale)
        assert got == reduction and pixels.shape == (2000 // reduction, 2000 // reduction, 3)
    # DCT-scaled pixels are the full image shrunk: close to a box filter of the full decode
    full = open_photo(encode(big, "JPEG", quality=90), reduced_decode=False)
    fast, slow = opened.pixels(0.125)[0].astype(int), full.pixels(0.125)[0].astype(int)
    assert np.abs(fast - slow).mean() < 2.0


@pytest.mark.parametrize("size", [(650, 400), (641, 481), (1921, 1081), (89, 109), (5, 3)])
def test_a_jpeg_whose_sides_are_not_multiples_decodes_at_exactly_the_reduction(photo, size):
    """Pillow's draft() took 650 // ceil(650 / 4) = 3 and decoded a 650-pixel-wide photo at 1/2
    when 1/4 was asked for: every coordinate taken from it was off by 2 and the crop showed
    another part of the photo. Each reduction must hold the whole photo at 1/reduction, with
    its content where the full decode has it."""
    image = photo.resize(size, Image.BICUBIC)
    data = encode(image, "JPEG", quality=95)
    full = open_photo(data, reduced_decode=False).pixels(1.0)[0].astype(np.float64)
    opened = open_photo(data)
    for reduction in (2, 4, 8):
        pixels, got = opened.pixels(1.0 / reduction)
        width, height = -(-size[0] // reduction), -(-size[1] // reduction)
        assert got == reduction and pixels.shape == (height, width, 3), (reduction, pixels.shape)
        if min(size) >= 8 * reduction:  # the content lines up with the full decode's, box-shrunk
            shrunk = np.asarray(Image.fromarray(full.astype(np.uint8)).reduce(reduction), np.float64)
            assert np.abs(pixels.astype(np.float64) - shrunk)[1:-1, 1:-1].mean() < 6, reduction


def test_reduced_decode_keeps_exif_orientation(photo):
    wide = photo.crop((0, 0, 250, 120)).resize((1000, 480))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(wide, "JPEG", exif=exif.tobytes(), quality=95)
    opened = open_photo(data)
    assert opened.size == (480, 1000)
    small, reduction = opened.pixels(0.25)
    assert reduction == 4 and small.shape == (250, 120, 3)
    np.testing.assert_allclose(small.astype(float).mean((0, 1)), load_image(data).astype(float).mean((0, 1)), atol=3)


def test_every_source_kind_gives_the_same_photo(photo_path, photo):
    pixels = load_image(photo_path)
    for source in (photo_path, str(photo_path), photo_path.read_bytes(), Image.open(photo_path), pixels):
        np.testing.assert_array_equal(open_photo(source).pixels(1.0)[0], pixels)


def test_heic_photos_are_read(photo):
    out = load_image(encode(photo, "HEIF", quality=90))
    assert out.shape == (250, 250, 3)
    assert np.abs(out.astype(int) - np.asarray(photo)).mean() < 3


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32),
                                 np.zeros((10, 10, 4), np.uint8)])
def test_arrays_must_be_rgb_uint8(bad):
    with pytest.raises(ImageLoadError, match="uint8 RGB"):
        open_photo(bad)


def test_an_unreadable_file_is_an_image_load_error(tmp_path, photo_path, monkeypatch):
    path = tmp_path / "locked.jpg"
    path.write_bytes(photo_path.read_bytes())
    import glasses_core.image_io as image_io  # the tests run as root, who may read any file: a refusal is faked
    monkeypatch.setattr(image_io, "read_regular_file",
                        lambda path: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(ImageLoadError, match="cannot be read"):
        open_photo(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "HEIF"])
def test_red_green_and_blue_come_out_where_they_were(photo, fmt):
    """Pure red, green and blue blocks on a real photo keep their colour through every decode
    path: full size, and a JPEG's reduced (DCT-scaled) decode."""
    pixels = np.asarray(photo.resize((1000, 1000), Image.BICUBIC)).copy()
    blocks = [((100, 100), (255, 0, 0)), ((100, 700), (0, 255, 0)), ((700, 100), (0, 0, 255))]  # 200 px squares
    for (top, left), colour in blocks:
        pixels[top:top + 200, left:left + 200] = colour
    opened = open_photo(encode(Image.fromarray(pixels), fmt, quality=90))
    for scale in (1.0, 0.125):
        decoded, reduction = opened.pixels(scale)
        for (top, left), colour in blocks:
            middle = decoded[(top + 100) // reduction, (left + 100) // reduction]
            assert np.abs(middle.astype(int) - colour).max() <= 12, (fmt, scale, colour, middle)


def test_a_bad_array_is_named_in_its_error():
    with pytest.raises(ImageLoadError, match=r"^frame 7: expected an \(H, W, 3\) uint8 RGB array, got float32 \(4, 4, 3\)$"):
        open_photo(np.zeros((4, 4, 3), np.float32), name="frame 7")


def test_each_kind_of_bad_input_says_what_is_wrong(tmp_path, photo_path):
    cases = [
        (b"", "<bytes>: empty input (0 bytes)"),
        (tmp_path / "nothing.jpg", f"{tmp_path / 'nothing.jpg'}: no such file"),
        (b"GIF89a but not really", "<bytes>: not a recognised image format"),
        (photo_path.read_bytes()[:2000], "<bytes>: not a readable image ("),
        (big_png_header(8000, 6000), "<bytes>: 8000x6000 is over the 40 megapixel limit"),
        (12345, "12345: not an image source: int"),
    ]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    cases.append((empty, f"{empty}: empty file (0 bytes)"))
    for source, message in cases:
        with pytest.raises(ImageLoadError) as caught:
            load_image(source, name=None if not isinstance(source, int) else "12345")
        assert str(caught.value).startswith(message), (str(caught.value), message)


def test_a_file_that_cannot_be_read_says_why(tmp_path, photo_path, monkeypatch):
    path = tmp_path / "locked.jpg"
    path.write_bytes(photo_path.read_bytes())
    import glasses_core.image_io as image_io  # the tests run as root, who may read any file: a refusal is faked
    monkeypatch.setattr(image_io, "read_regular_file",
                        lambda path: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(ImageLoadError, match=r"locked.jpg: cannot be read \(Permission denied\)$"):
        open_photo(path)


@pytest.mark.parametrize("mode, values, expected", [
    ("I", [0, 100, 255], [0, 100, 255]),  # 32-bit integers within 0..255 are taken as they are
    ("I", [0, 1000, 65535], [0, 4, 255]),  # larger ones as 16-bit
    ("I;16", [0, 257, 65535], [0, 1, 255]),
    ("I;16", [0, 100, 255], [0, 0, 1]),  # a dark 16-bit image is still 16-bit
    ("F", [0.0, 127.6, 255.0], [0, 128, 255]),  # rounded, not truncated
])
def test_deep_greyscale_is_scaled_and_rounded(mode, values, expected):
    array = np.array([values * 4] * 3, dtype={"I": np.int32, "I;16": np.uint16, "F": np.float32}[mode])
    out = open_photo(Image.fromarray(array, mode) if mode != "I;16" else Image.fromarray(array)).pixels()[0]
    assert out.shape == (3, 12, 3)
    assert out[0, :3, 0].tolist() == expected and (out[..., 0] == out[..., 2]).all()


def test_a_palette_image_s_transparent_colour_becomes_white():
    im = Image.new("P", (8, 8), 1)
    im.putpalette([10, 20, 30, 200, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 4, 8))  # left half: colour 0, declared transparent
    im.info["transparency"] = 0
    out = load_image(encode(im, "PNG", transparency=0))
    assert (out[:, :4] == 255).all() and (out[:, 4:] == (200, 0, 0)).all()
    assert (open_photo(im.convert("RGBA")).pixels()[0][:, :4] == 255).all()


def test_a_greyscale_jpeg_also_decodes_reduced(photo):
    grey = photo.convert("L").resize((1600, 1600))
    opened = open_photo(encode(grey, "JPEG", quality=90))
    pixels, reduction = opened.pixels(0.25)
    assert reduction == 4 and pixels.shape == (400, 400, 3)
    assert (pixels[..., 0] == pixels[..., 1]).all()


@pytest.mark.parametrize("mode, order", [("I;16", "<"), ("I;16L", "<"), ("I;16B", ">"), ("I;16N", "=")])
def test_every_16_bit_layout_is_scaled_not_clipped(mode, order):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.dtype(order + "u2"))
    im = Image.frombytes(mode, (4, 1), values.tobytes())
    out = open_photo(im).pixels()[0]
    assert out[0, :, 0].tolist() == [0, 1, 128, 255]


def test_an_upright_photo_is_not_copied_and_a_mirrored_one_is_turned(photo):
    from glasses_core.image_io import _upright
    upright = Image.open(io.BytesIO(encode(photo, "PNG")))
    assert _upright(upright) is upright  # no EXIF orientation: nothing to do
    marked = np.asarray(photo).copy()
    marked[:20, :20] = (255, 0, 0)  # a red corner, top left as stored
    exif = Image.Exif()
    exif[0x0112] = 2  # stored mirrored: flip left-right to display
    out = load_image(encode(Image.fromarray(marked), "PNG", exif=exif.tobytes()))
    assert (out[:20, -20:] == (255, 0, 0)).all() and not (out[:20, :20] == (255, 0, 0)).all()
    exif[0x0112] = 1
    same = load_image(encode(Image.fromarray(marked), "PNG", exif=exif.tobytes()))
    np.testing.assert_array_equal(same, marked)


def test_16_bit_levels_map_to_the_nearest_8_bit_level():
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    out = open_photo(Image.fromarray(levels)).pixels()[0][..., 0].astype(np.int64)
    expected = np.floor(levels.astype(np.float64) * 255 / 65535 + 0.5)
    np.testing.assert_array_equal(out, expected)  # e.g. 51272 -> 200 (199.502), not 199


@pytest.mark.parametrize("mode, values, expected", [
    ("I", [0, 256, -1000, 255], [0, 1, 0, 1]),  # over 255 somewhere: taken as 16-bit; negatives are 0
    ("F", [-10.0, 0.0, 70000.0, 65535.0], [0, 0, 255, 255]),  # out of range is clipped, never wrapped
])
def test_deep_greyscale_out_of_range_is_clipped(mode, values, expected):
    array = np.array([values], dtype=np.int32 if mode == "I" else np.float32)
    assert open_photo(Image.fromarray(array, mode)).pixels()[0][0, :, 0].tolist() == expected


@pytest.mark.parametrize("mode", ["LA", "PA", "RGBA"])
def test_every_mode_with_alpha_is_laid_on_white(mode):
    im = Image.new("RGBA", (4, 2), (20, 20, 20, 255)).convert(mode)
    alpha = Image.new("L", (4, 2), 255)
    alpha.paste(0, (0, 0, 2, 2))  # the left half transparent
    im.putalpha(alpha)
    out = open_photo(im).pixels()[0]
    assert (out[:, :2] == 255).all() and (out[:, 2:] < 40).all()


def test_a_photo_s_size_is_width_then_height(photo):
    wide = encode(photo.resize((60, 40)), "JPEG")
    assert open_photo(wide).size == (60, 40) and load_image(wide).shape == (40, 60, 3)


def test_the_pixel_limit_lets_a_photo_of_exactly_that_many_pixels_in(monkeypatch):
    import glasses_core.image_header as image_header
    monkeypatch.setattr(image_header, "MAX_PIXELS", 100 * 50)
    assert open_photo(encode(Image.new("RGB", (100, 50)), "PNG")).size == (100, 50)
    with pytest.raises(ImageLoadError, match="101x50 is over"):
        open_photo(encode(Image.new("RGB", (101, 50)), "PNG"))


def dct_scaled(data: bytes, reduction: int) -> np.ndarray:
    """Pillow's own reduced JPEG decode (libjpeg's DCT scaling), the reference for the fast path."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft(im.mode, (-(-im.size[0] // reduction), -(-im.size[1] // reduction)))
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_reduced_jpegs_are_dct_scaled_unless_asked_for_the_full_decode(photo, mode):
    from glasses_core.image_io import Photo
    data = encode(photo.convert(mode).resize((1000, 700)), "JPEG", quality=90)
    fast, slow = dct_scaled(data, 4), np.asarray(Image.open(io.BytesIO(data)).convert("RGB").reduce(4))
    assert fast.shape == slow.shape == (175, 250, 3) and (fast != slow).any()  # the two paths differ
    np.testing.assert_array_equal(open_photo(data).pixels(0.25)[0], fast)
    np.testing.assert_array_equal(Photo(data, "photo").pixels(0.25)[0], fast)  # the default is the fast path
    np.testing.assert_array_equal(open_photo(data, reduced_decode=False).pixels(0.25)[0], slow)


def test_a_portrait_jpeg_decodes_reduced_to_its_own_shape(photo):
    tall = encode(photo.resize((480, 1600)), "JPEG", quality=90)
    pixels, reduction = open_photo(tall).pixels(0.25)
    assert reduction == 4 and pixels.shape == (400, 120, 3)
    np.testing.assert_array_equal(pixels, dct_scaled(tall, 4))


def test_arrays_and_pil_images_are_labelled_for_messages(photo):
    assert open_photo(np.zeros((4, 4, 3), np.uint8)).label == "<array>"
    assert open_photo(photo).label == "<PIL image>"
    assert open_photo(photo, name="frame 3").label == "frame 3"
    with pytest.raises(ImageLoadError, match=r"^<array>: expected an \(H, W, 3\) uint8 RGB array"):
        open_photo(np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("mode, colour, other", [("RGB", (10, 20, 30), (200, 0, 0)), ("L", 10, 200)])
def test_an_rgb_or_greyscale_png_s_transparent_colour_becomes_white(mode, colour, other):
    im = Image.new(mode, (8, 8), other)
    im.paste(colour, (0, 0, 4, 8))  # left half: the colour declared transparent (PNG tRNS)
    data = encode(im, "PNG", transparency=colour)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    out = load_image(data)
    assert (out[:, :4] == 255).all() and (out[:, 4:] == np.broadcast_to(other, 3)).all()
