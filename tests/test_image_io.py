import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from glasses_core import ImageLoadError, load_image
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
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path)
