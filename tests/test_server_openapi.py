"""The OpenAPI description against the live server, checked by a property-based API tester.

schemathesis reads /openapi.json from deploy/rest_server/server.py (one process, the light
environment), generates requests for every operation from it and checks every answer against
it: documented status, content type and headers, the response schema (every field present,
no other, enums), and no 500. Valid requests (positive mode) must be answered with a 2xx; the
uploads' binary fields are real photos here (glasses, none, a pair, one turned by its EXIF
orientation, a grey picture without a face), since "any bytes" is not an image the schema could
describe. Requests that break the description (negative mode) must be refused, except in a
batch, which answers each image's error inside its 200 by design (and a multipart form cannot
tell one image from an array of one). A small, fixed budget: a few seconds.
"""
from __future__ import annotations

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.specs.openapi.checks import negative_data_rejection

from serving import MTFL_GLASSES, MTFL_NO_GLASSES, SHIPPED_MODEL, running_server

EXAMPLES = 40  # per operation and mode


def photos(data_dir) -> list[bytes]:
    def encoded(image: Image.Image, fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    glasses, bare = (Image.open(data_dir / "mtfl" / name).convert("RGB") for name in (MTFL_GLASSES[0], MTFL_NO_GLASSES[0]))
    pair = Image.new("RGB", (500, 260), (120, 120, 120))
    pair.paste(glasses.resize((250, 250)), (0, 5))
    pair.paste(bare.resize((250, 250)), (250, 5))
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: upright, the pair again
    return [encoded(glasses, "JPEG"), encoded(bare, "PNG"), encoded(pair, "JPEG"),
            encoded(pair.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif),
            encoded(Image.new("RGB", (160, 120), (128, 128, 128)), "PNG")]


@pytest.fixture(scope="module")
def live_schema(data_dir):
    schemathesis.openapi.format("binary", st.sampled_from(photos(data_dir)))
    try:
        with running_server(SHIPPED_MODEL) as server:
            yield server.url, schemathesis.openapi.from_url(server.url + "/openapi.json")
    finally:
        schemathesis.specs.openapi.formats.unregister_string_format("binary")


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_every_answer_is_what_the_description_says(live_schema, mode):
    url, schema = live_schema
    statuses = {}
    for found in schema.get_all_operations():
        operation = found.ok()
        if mode == schemathesis.GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to break in a GET that takes nothing
        excluded = [negative_data_rejection] if operation.path == "/api/v1/predict/batch" else []

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answered_as_described(case):
            response = case.call_and_validate(base_url=url, excluded_checks=excluded, timeout=30)
            statuses.setdefault(operation.label, set()).add(response.status_code)

        answered_as_described()
    if mode == schemathesis.GenerationMode.POSITIVE:
        assert len(statuses) == 8 and all(200 in found for found in statuses.values()), statuses
    else:
        assert all(400 in statuses[f"POST {path}"] for path in ("/glass_no_glass/", "/api/v1/predict")), statuses
