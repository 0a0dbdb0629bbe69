"""The worst image of each accepted format, one request each to a server of its own: time and memory.

    .venv-deploy/bin/python benchmarks/worst_images.py [--out benchmarks/worst_images.md]

For every format the server accepts (glasses_core/image_header.py), the images that cost it
most within its default limits (40 MP, a side of 16,384 pixels, 64 JPEG scans, 2 MB of RLE
BMP, a 10 MB body): blank, so that they are small on the wire, in the modes that cost most to
turn into RGB (benchmarks/hostile_images.py builds them). Each is posted once to
/api/v1/predict of a fresh server (--processes 1, the default limits otherwise), after one
ordinary photo: the request's wall time, and the server's peak memory (VmHWM) over its memory
before the request (VmRSS). The attack images of issue 30 are measured the same way: they are
refused from their header now. Writes a Markdown table (--out) and the same rows as JSON beside it.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_images import (avif_claiming, blank, bmp_rle8, encode, ico_holding,  # noqa: E402
                            jpeg_with_scans, png_claiming)
from photos import photo_640x480  # noqa: E402
from serving import SHIPPED_MODEL, multipart, running_server  # noqa: E402

from glasses_core.image_header import (MAX_JPEG_SCANS, MAX_PIXELS, MAX_RLE_BYTES, MAX_SIDE, UNIT_BYTES,  # noqa: E402
                                       decode_weight, jpeg_scans, read_header)

SIDE = 6324  # 6,324 x 6,324 = 39,992,976 pixels: the largest square under the 40 MP limit


def candidates() -> list[tuple[str, str, bytes]]:
    """(format, what the image is, its bytes), the worst of each format within the limits."""
    square = (SIDE, SIDE)
    rgb = Image.new("RGB", square)
    progressive_scans = jpeg_scans(encode(Image.new("RGB", (64, 64)), "JPEG", progressive=True))
    return [
        ("PNG", "40 MP, RGB", blank("PNG", square, "RGB")),
        ("JPEG", "40 MP, RGB", blank("JPEG", square, "RGB", quality=10)),
        ("JPEG", f"40 MP, progressive, {MAX_JPEG_SCANS} scans (the most accepted)",
         jpeg_with_scans(rgb, MAX_JPEG_SCANS - progressive_scans)),
        ("JPEG", "40 MP, CMYK", blank("JPEG", square, "CMYK", quality=10)),
        ("MPO", "40 MP first image, a second one after it",
         encode(rgb, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 64))], quality=10)),
        ("PNG", "40 MP, 16-bit greyscale", blank("PNG", square, "I;16")),
        ("PNG", "40 MP, RGBA", blank("PNG", square, "RGBA")),
        ("PNG", f"{MAX_PIXELS // MAX_SIDE:,} x {MAX_SIDE:,} (the longest side), RGB",
         blank("PNG", (MAX_PIXELS // MAX_SIDE, MAX_SIDE), "RGB")),
        ("PNG", f"1 x {MAX_SIDE:,} (the thinnest accepted), RGB", blank("PNG", (1, MAX_SIDE), "RGB")),
        ("GIF", "40 MP", blank("GIF", square, "P")),
        ("GIF", "40 MP, a transparent colour", blank("GIF", square, "P", transparency=0)),
        ("WEBP", "40 MP, RGB, lossy", blank("WEBP", square, "RGB", quality=10)),
        ("WEBP", "40 MP, RGBA, lossless", blank("WEBP", square, "RGBA", lossless=True)),
        ("BMP", "10 MP, 8-bit palette, uncompressed (the 10 MB body)", blank("BMP", (3160, 3160), "P")),
        ("BMP", f"40 MP, RLE8 in 1-pixel runs up to {MAX_RLE_BYTES / 2**20:g} MB",
         bmp_rle8(SIDE, SIDE, 1, MAX_RLE_BYTES)),
        ("TIFF", "40 MP, 32-bit float greyscale, deflate", blank("TIFF", square, "F", compression="tiff_deflate")),
        ("TIFF", "40 MP, 16-bit greyscale, deflate", blank("TIFF", square, "I;16", compression="tiff_deflate")),
        ("TIFF", "40 MP, RGBA, deflate", blank("TIFF", square, "RGBA", compression="tiff_deflate")),
        ("HEIF", "40 MP, RGB", blank("HEIF", square, "RGB", quality=10)),
        ("HEIF", "40 MP, RGBA", blank("HEIF", square, "RGBA", quality=10)),
        ("AVIF", "40 MP, RGB", blank("AVIF", square, "RGB", quality=10, speed=10)),
        ("AVIF", "40 MP, RGBA", blank("AVIF", square, "RGBA", quality=10, speed=10)),
        ("refused", "issue 30, 3: ICO of 16 x 16 holding a 13,000 x 13,000 RGBA PNG",
         ico_holding(blank("PNG", (13000, 13000), "RGBA"))),
        ("refused", "issue 30, 4: PNG of 1 x 39,999,999", blank("PNG", (1, 39_999_999), "L")),
        ("refused", "PNG of 1 x 65,535 (a 1 GB canvas for the widened look before)", blank("PNG", (1, 65_535), "RGB")),
        ("refused", "AVIF saying 16 x 16, holding a 16,000 x 16,000 frame", avif_claiming(16000, 16)),
        ("refused", "1,000 scans, 40 MP", jpeg_with_scans(rgb, 1000 - progressive_scans)),
        ("refused", "PNG claiming 20,000 x 20,000", png_claiming(20000, 20000)),
    ]


def memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def post(url: str, name: str, data: bytes) -> tuple[int, float]:
    content_type, body = multipart({"image": (name, data)})
    request = urllib.request.Request(f"{url}/api/v1/predict", data=body, headers={"Content-Type": content_type})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    return status, time.perf_counter() - start


def measure(fmt: str, what: str, data: bytes) -> dict:
    """One image, posted once to a fresh server after one ordinary photo."""
    try:
        header = read_header(data, what)
        megapixels, size, mode, cost = header.pixels / 1e6, list(header.size), header.mode, header.cost
        with Image.open(io.BytesIO(data)) as image:
            transparent = "transparency" in image.info
        weight = decode_weight(header.format, mode, transparent)
    except Exception:  # noqa: BLE001 -- refused from its header: no cost to report
        megapixels = size = mode = cost = transparent = weight = None
    with running_server(SHIPPED_MODEL, "--processes", "1") as server:
        pid = server.proc.pid
        assert post(server.url, "photo.jpg", photo_640x480())[0] == 200
        before = memory_kb(pid, "VmRSS")
        status, seconds = post(server.url, "worst", data)
        peak = memory_kb(pid, "VmHWM")
    return {"format": fmt, "image": what, "bytes": len(data), "megapixels": megapixels, "size": size, "mode": mode,
            "transparent_colour": transparent, "weight": weight, "budget_cost": cost, "status": status, "seconds": round(seconds, 2),
            "peak_over_before_mb": round((peak - before) / 1024)}


def table(rows: list[dict], note: str) -> str:
    """The Markdown table: what decoding each image took (its peak memory less twice the upload,
    which the server holds as the form's part and as the image's bytes) in millions of
    UNIT_BYTES, beside what the decode budget counts it for (Header.cost), which should cover it."""
    lines = [f"# Worst images per accepted format\n\nWritten by `benchmarks/worst_images.py` ({note}). One request "
             "each to a fresh server (`--processes 1`, default limits), after one ordinary photo: the wall time "
             "of the request, the server's peak memory over its memory before it, that peak less twice the "
             f"upload in millions of {UNIT_BYTES} bytes (\"taken\"), and what the decode budget counts the image "
             "for (`glasses_core/image_header.py`: its pixels times its weight).\n",
             "| format | image | bytes | MP | status | time (s) | peak memory (MB) | taken | budget cost |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        decoded = row["megapixels"] is not None
        mp = f"{row['megapixels']:.1f}" if decoded else ""
        taken = f"{taken_units(row) / 1e6:.1f}" if decoded else ""
        cost = f"{row['budget_cost'] / 1e6:.1f}" if decoded else ""
        lines.append(f"| {row['format']} | {row['image']} | {row['bytes']:,} | {mp} | {row['status']} | "
                     f"{row['seconds']:.2f} | {row['peak_over_before_mb']} | {taken} | {cost} |")
    return "\n".join(lines) + "\n"


def taken_units(row: dict) -> float:
    """The memory decoding the row's image took, in UNIT_BYTES: its peak less twice the upload."""
    return (row["peak_over_before_mb"] * 2**20 - 2 * row["bytes"]) / UNIT_BYTES


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "worst_images.md")
    parser.add_argument("--note", default="", help="what the machine was doing, for the table's heading")
    parser.add_argument("--table-only", action="store_true",
                        help="measure nothing: write the table again from the JSON beside --out")
    args = parser.parse_args(argv)
    if args.table_only:
        measured = json.loads(args.out.with_suffix(".json").read_text())
        args.out.write_text(table(measured["rows"], measured["machine"]))
        return measured["rows"]
    rows = []
    for fmt, what, data in candidates():
        rows.append(measure(fmt, what, data))
        print(json.dumps(rows[-1]), file=sys.stderr)
    machine = f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores"
    note = f"{machine}{'; ' + args.note if args.note else ''}"
    args.out.write_text(table(rows, note))
    args.out.with_suffix(".json").write_text(json.dumps({"machine": note, "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
