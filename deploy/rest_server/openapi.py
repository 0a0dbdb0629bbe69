"""The OpenAPI 3.1 description of every endpoint, served at /openapi.json."""
from __future__ import annotations

from glasses_core import __version__

JSON = "application/json"
ERROR_STATUSES = {400: "Malformed request, no or unreadable image, unknown field or query parameter",
                  404: "No such resource", 405: "Method not allowed here (the Allow header lists those that are)",
                  413: "Body over --max-body-mb, or an image over --max-megapixels",
                  431: "Request headers over 64 KB",
                  503: "Not ready (model loading, shutting down) or the decode budget is full; see Retry-After"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _upload(summary: str, many: bool, answer: str, errors=(400, 405, 413, 503)) -> dict:
    image = {"type": "string", "format": "binary"}
    field = {"type": "array", "items": image, "minItems": 1} if many else image
    body = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image"], "additionalProperties": False, "properties": {"image": field}}}}}
    return {"post": {"summary": summary, "requestBody": body,
                     "responses": {"200": _json(_ref(answer), "The answer"), **_errors(*errors)}}}


def _get(summary: str, schema: dict, errors=(405,), content_type: str = JSON) -> dict:
    ok = {"description": "OK", "content": {content_type: {"schema": schema}}}
    return {"get": {"summary": summary, "responses": {"200": ok, **_errors(*errors)}}}


FACE = {"type": "object", "required": ["box", "probability", "answer"], "properties": {
    "box": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
            "description": "x0, y0, x1, y1 in photo pixels; null for the fallback crop (no face found)"},
    "probability": {"type": "number"}, "answer": {"type": "string"}, "score": {"type": ["number", "null"]}}}
PREDICTION = {"type": "object", "properties": {
    "answer": {"type": "string", "enum": ["glass", "no_glass"]}, "probability": {"type": "number"},
    "face_found": {"type": "boolean"}, "faces": {"type": "array", "items": _ref("Face")},
    "image_size": {"type": "array", "items": {"type": "integer"}, "description": "width, height"},
    "model_version": {"type": "string"}, "model_id": {"type": "string"}, "threshold": {"type": "number"},
    "inference_ms": {"type": "number"},
    "time_ms": {"type": "number"}}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "message"],
    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}}}}}
BATCH_ITEM = {"type": "object", "required": ["index"], "properties": {
    "index": {"type": "integer"}, "error": ERROR["properties"]["error"]},
    "description": "A prediction (see Prediction) or the error of that one image"}
SCHEMAS = {
    "Answer": {"type": "object", "required": ["answer"], "additionalProperties": False,
               "properties": {"answer": {"type": "string", "enum": ["glass", "no_glass"]}}},
    "Face": FACE, "Prediction": PREDICTION, "Error": ERROR,
    "Batch": {"type": "object", "required": ["results"], "properties": {
        "results": {"type": "array", "items": {"allOf": [BATCH_ITEM, _ref("Prediction")]}},
        "time_ms": {"type": "number"}}},
    "Health": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string"}, "model_version": {"type": ["string", "null"]},
        "model_id": {"type": ["string", "null"], "description": "version + weights digest"}}},
    "ModelInfo": {"type": "object", "required": ["version", "labels", "threshold", "input", "crop"], "properties": {
        "version": {"type": "string"}, "model_id": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "threshold": {"type": "number"}, "description": {"type": "string"},
        "input": {"type": "object", "properties": {"shape": {"type": "array", "items": {"type": "integer"}},
                                                   "format": {"type": "string"}}},
        "crop": {"type": "object"}, "limits": {"type": "object"}}},
}


def openapi_spec() -> dict:
    """The description, as a JSON-ready dict."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "glasses or not", "version": __version__,
                 "description": "Post a photo, hear whether someone in it wears glasses. Every error is JSON "
                                "(Error); every answer carries an X-Request-Id header."},
        "paths": {
            "/glass_no_glass/": _upload("glass or no_glass for one photo", False, "Answer"),
            "/api/v1/predict": _upload("Faces, boxes, probabilities and the answer for one photo", False,
                                       "Prediction"),
            "/api/v1/predict/batch": _upload("Several photos, one result each (errors per image)", True, "Batch"),
            "/api/v1/model": _get("The model: version, labels, threshold, input, crop, limits",
                                  _ref("ModelInfo"), (405, 503)),
            "/health": _get("Liveness: the process answers", _ref("Health")),
            "/ready": _get("Readiness: 503 while the model loads and during shutdown", _ref("Health"), (405, 503)),
            "/metrics": _get("Prometheus metrics", {"type": "string"}, content_type="text/plain"),
            "/openapi.json": _get("This description", {"type": "object"}),
            "/": _get("The web page", {"type": "string"}, content_type="text/html"),
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": {f"Error{status}": _json(_ref("Error"), text) for status, text in ERROR_STATUSES.items()},
        },
    }
