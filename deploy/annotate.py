"""--annotate: a copy of a photo with each face's box, number, answer and probability drawn on.

The boxes are the core's, in the photo's upright (EXIF-applied) full-resolution pixels, so
they are drawn on the photo decoded upright at full size; faces are numbered largest first,
as every output numbers them. A photo without a face says so in its corner.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import ImageDraw, ImageFont

from glasses_core import PhotoResult, open_photo

COLOURS = {"glass": (34, 197, 94), "no_glass": (249, 115, 22)}  # the web page's green and orange
OTHER = (255, 255, 255)  # any other answer (no face found)
JPEG_QUALITY = 90


def annotated(photo: Path, result: PhotoResult) -> bytes:
    """The photo as a JPEG with ``result``'s faces drawn on it."""
    image = open_photo(photo).image(1.0)[0].copy()  # upright and full size: the boxes' pixels
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))
    font = ImageFont.load_default(size=max(12, 7 * line))
    for number, face in enumerate(result.faces, 1):
        colour = COLOURS.get(face.answer, OTHER)
        draw.rectangle(face.box, outline=colour, width=line)
        _label(draw, (face.box[0], face.box[1]), f"{number} {face.answer} {face.probability:.2f}", colour, font)
    if not result.faces:
        guess = "" if result.probability is None else f": {result.answer} {result.probability:.2f} (a guess)"
        _label(draw, (0, 0), "no face found" + guess, OTHER, font, below=True)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _label(draw: ImageDraw.ImageDraw, corner: tuple[float, float], text: str, colour, font,
           below: bool = False) -> None:
    """``text`` on a dark band, above ``corner`` (below it when there is no room, or ``below``)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    height = bottom - top + 6
    x, y = corner[0], corner[1] - height
    if below or y < 0:
        y = corner[1]
    draw.rectangle((x, y, x + right - left + 6, y + height), fill=(0, 0, 0))
    draw.text((x + 3 - left, y + 3 - top), text, fill=colour, font=font)
