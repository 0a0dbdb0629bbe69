"""The conventions of model serving: OpenAPI, liveness and readiness, model info, Prometheus
metrics, a batch endpoint, CORS behind a flag (issue 15)."""
from __future__ import annotations

import dataclasses
import json

import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families
from tornado.testing import AsyncHTTPTestCase

from deploy.rest_server.handlers import JsonHandler
from deploy.rest_server.server import make_app, make_serving
from glasses_core import GlassesClassifier
from serving import MTFL_GLASSES, MTFL_NO_GLASSES, SHIPPED_MODEL, multipart


@pytest.fixture(scope="class")
def photos(request, data_dir):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL)
    request.cls.photos = [(data_dir / "mtfl" / p).read_bytes() for p in (MTFL_GLASSES[0], MTFL_NO_GLASSES[0])]


class ServingTestCase(AsyncHTTPTestCase):
    cors_origin = None

    def get_app(self):
        self.serving = make_serving(self.classifier)
        return make_app(self.serving, cors_origin=self.cors_origin)

    def post(self, path: str, images: list[tuple[str, bytes]]):
        boundary = "b0und4ry"
        body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n\r\n'
                        .encode() + data + b"\r\n" for name, data in images) + f"--{boundary}--\r\n".encode()
        return self.fetch(path, method="POST", body=body, raise_error=False,
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def get_json(self, path: str, status: int = 200) -> dict:
        response = self.fetch(path, raise_error=False)
        assert response.code == status, response.body[:300]
        return json.loads(response.body)


@pytest.mark.usefixtures("photos")
class ConventionsTest(ServingTestCase):
    # --- OpenAPI ----------------------------------------------------------------------------------

    def test_openapi_description_is_valid_and_covers_every_route(self):
        spec = self.get_json("/openapi.json")
        validate(spec)  # raises on an invalid OpenAPI document
        routes = {rule.target.endpoint for rule in self._app.wildcard_router.rules
                  if issubclass(rule.target, JsonHandler) and rule.target.endpoint != "static"}
        assert routes | {"/"} == set(spec["paths"])
        assert spec["components"]["responses"].keys() >= {"Error400", "Error413", "Error503"}

    def test_openapi_description_is_strict(self):
        """Issue 29: it was loose (no required fields, a batch error item also matched a
        prediction, responses defined and never used, free-text answers, the package's version
        for model 0.2.0). The live server is held to it by tests/test_server_openapi.py."""
        spec = self.get_json("/openapi.json")
        assert spec["info"]["version"] == self.classifier.version
        schemas = spec["components"]["schemas"]
        for name in ("Prediction", "BatchPrediction", "BatchError", "Face", "FallbackGuess", "Answer", "Error",
                     "Health", "ModelInfo"):
            assert sorted(schemas[name]["required"]) == sorted(schemas[name]["properties"]), name
            assert schemas[name]["additionalProperties"] is False, name
        assert schemas["Face"]["properties"]["answer"]["enum"] == ["glass", "no_glass"]
        assert schemas["Prediction"]["properties"]["answer"]["enum"] == ["glass", "no_glass", "no_face"]
        items = schemas["Batch"]["properties"]["results"]["items"]
        assert items == {"oneOf": [{"$ref": "#/components/schemas/BatchPrediction"},
                                   {"$ref": "#/components/schemas/BatchError"}]}
        used = json.dumps(spec["paths"])
        assert all(f'"#/components/responses/{name}"' in used for name in spec["components"]["responses"])

    # --- liveness, readiness, model info ---------------------------------------------------------

    def test_ready_says_no_while_loading_and_in_shutdown(self):
        self.serving.classifier = None  # as between listening and the model being loaded
        assert self.get_json("/ready", 503)["error"]["message"] == "not ready: the model is still loading"
        assert self.get_json("/health") == {"status": "ok", "model_version": None, "model_id": None}
        response = self.post("/glass_no_glass/", [("a.jpg", self.photos[0])])
        assert response.code == 503 and response.headers["Retry-After"].isdigit()
        self.serving.model_loaded(self.classifier)
        assert self.get_json("/ready") == {"status": "ready", "model_version": self.classifier.version,
                                           "model_id": self.classifier.model_id}
        self.serving.stopping = True
        assert "shutting down" in self.get_json("/ready", 503)["error"]["message"]
        assert self.post("/api/v1/predict", [("a.jpg", self.photos[0])]).code == 503

    def test_model_info(self):
        info = self.get_json("/api/v1/model")
        config = self.classifier.config
        assert info["version"] == config.version and info["labels"] == ["no_glass", "glass"]
        assert info["model_id"] == config.identity
        assert info["threshold"] == self.classifier.threshold
        assert info["input"]["shape"] == [1, config.crop.size, config.crop.size, 3]
        assert info["crop"] == dataclasses.asdict(config.crop)
        assert info["limits"] == {"max_body_mb": 10.0, "max_megapixels": 40.0, "max_batch_images": 16}
        assert info["input"]["format"] == "RGB uint8 0-255, rescaled inside the model"  # the int8 file

    # --- metrics ---------------------------------------------------------------------------------

    def test_prometheus_metrics(self):
        self.post("/glass_no_glass/", [("a.jpg", self.photos[0])])
        self.post("/glass_no_glass/", [("a.jpg", b"not an image")])
        self.fetch("/nowhere")
        response = self.fetch("/metrics")
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(response.body.decode()) for s in family.samples}

        def requests(endpoint, status):
            return samples.get(("glasses_http_requests_total", (("endpoint", endpoint), ("method", "POST" if
                               endpoint != "other" else "GET"), ("status", status))), 0)
        assert requests("/glass_no_glass/", "200") == 1 and requests("/glass_no_glass/", "400") == 1
        assert requests("other", "404") == 1
        assert samples[("glasses_http_request_duration_seconds_count", (("endpoint", "/glass_no_glass/"),))] == 2
        assert samples[("glasses_http_requests_in_flight", ())] == 1  # this very request
        assert samples[("glasses_model_info", (("model_id", self.classifier.model_id),
                                               ("threshold", f"{self.classifier.threshold:g}"),
                                               ("version", self.classifier.version)))] == 1
        assert samples[("glasses_decode_megapixels_in_use", ())] == 0

    # --- batch -----------------------------------------------------------------------------------

    def test_batch_gives_one_result_per_image_in_order_and_errors_per_image(self):
        response = self.post("/api/v1/predict/batch", [("g.jpg", self.photos[0]), ("broken.jpg", b"junk"),
                                                       ("n.jpg", self.photos[1])])
        assert response.code == 200
        results = json.loads(response.body)["results"]
        assert [r["index"] for r in results] == [0, 1, 2]
        for result, photo in ((results[0], self.photos[0]), (results[2], self.photos[1])):
            expected = self.classifier.predict(photo).to_dict()
            assert {k: result[k] for k in expected} == expected and "error" not in result
        assert results[1]["error"]["status"] == 400 and "broken.jpg" in results[1]["error"]["message"]

    def test_batch_limits(self):
        too_many = self.post("/api/v1/predict/batch", [("a.jpg", self.photos[1])] * 17)
        assert too_many.code == 400 and "at most 16" in json.loads(too_many.body)["error"]["message"]
        assert self.post("/api/v1/predict/batch", []).code == 400

    # --- CORS ------------------------------------------------------------------------------------

    def test_cors_is_off_by_default(self):
        response = self.fetch("/health")
        assert "Access-Control-Allow-Origin" not in response.headers
        preflight = self.fetch("/api/v1/predict", method="OPTIONS", raise_error=False)
        assert preflight.code == 405 and preflight.headers["Allow"] == "POST"


@pytest.mark.usefixtures("photos")
class CorsOnTest(ServingTestCase):
    cors_origin = "https://app.example"

    def test_cors_when_switched_on(self):
        response = self.post("/glass_no_glass/", [("a.jpg", self.photos[0])])
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
        preflight = self.fetch("/api/v1/predict", method="OPTIONS")
        assert preflight.code == 204
        assert preflight.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
        error = self.fetch("/nowhere", raise_error=False)
        assert error.code == 404 and error.headers["Access-Control-Allow-Origin"] == "https://app.example"


@pytest.fixture(scope="class")
def float_model(request):
    request.cls.classifier = GlassesClassifier(SHIPPED_MODEL.parent / "glasses_float32.json")


@pytest.mark.usefixtures("float_model")
class FloatModelTest(ServingTestCase):
    def test_model_info_says_what_the_model_file_takes(self):
        """Issue 29: /api/v1/model said "RGB uint8" for a float model (the metadata's words);
        it now reads the input type from the model file."""
        info = self.get_json("/api/v1/model")
        assert info["input"]["format"] == "RGB float32 0-255, rescaled inside the model"
