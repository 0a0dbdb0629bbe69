"""The OpenAPI 3.1 description of every endpoint, served at /openapi.json.

Strict on purpose: every field an answer always carries is required, no other field is
allowed, answers are enums, and a batch item is either a prediction or an error, never both
(tests/test_server_openapi.py holds the live server to it with schemathesis). ``info.version``
is the served model's version, as every answer's ``model_version`` is.
"""
from __future__ import annotations

import dataclasses

from glasses_core import CropConfig
from glasses_core.config import KINDS

JSON = "application/json"
ERROR_STATUSES = {400: "Malformed request, no or unreadable image, unknown field or query parameter",
                  405: "Method not allowed here (the Allow header lists those that are)",
                  413: "Body over --max-body-mb, or an image over a limit read from its header (--max-megapixels, a side over 16,384 pixels, too many JPEG scans, ...)",
                  431: "Request headers over 64 KB",
                  503: "Not ready (model loading, shutting down) or the decode budget is full; see Retry-After"}
UPLOAD_ERRORS = (400, 405, 413, 431, 503)
ANSWERS = ["glass", "no_glass"]  # a face's answer, and the fallback crop's guess
NO_FACE = "no_face"  # a photo's answer when no face was found (without ?fallback=1)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _object(properties: dict, description: str = "") -> dict:
    """An object with exactly these properties, every one of them present."""
    schema = {"type": "object", "required": list(properties), "additionalProperties": False,
              "properties": properties}
    return {**schema, "description": description} if description else schema


FALLBACK_QUERY = {"name": "fallback", "in": "query", "required": False, "schema": {"type": "boolean"},
                  "description": "true (or 1): a photo in which no face is found answers the model's guess on "
                                 "its fallback centre crop instead of no_face (face_found stays false)"}


def _upload(summary: str, answer: str, most: int = 1, fallback: bool = True) -> dict:
    """A POST of ``most`` 'image' fields (more than 1: an array) answered by schema ``answer``."""
    image = {"type": "string", "format": "binary"}
    field = {"type": "array", "items": image, "minItems": 1, "maxItems": most} if most > 1 else image
    body = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image"], "additionalProperties": False, "properties": {"image": field}}}}}
    operation = {"summary": summary, "requestBody": body,
                 "responses": {"200": _json(_ref(answer), "The answer"), **_errors(*UPLOAD_ERRORS)}}
    if fallback:
        operation["parameters"] = [FALLBACK_QUERY]
    return {"post": operation}


def _get(summary: str, schema: dict, errors=(405, 431), content_type: str = JSON) -> dict:
    ok = {"description": "OK", "content": {content_type: {"schema": schema}}}
    return {"get": {"summary": summary, "responses": {"200": ok, **_errors(*errors)}}}


PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
KIND = {"type": ["string", "null"], "enum": [*KINDS, None],
        "description": "which glasses: clear (eyeglasses) or dark (sunglasses); null without glasses, or when "
                       "the model does not say which"}
DARK = {"type": ["number", "null"], "minimum": 0, "maximum": 1,
        "description": "P(dark | glasses), the model's second answer; null when the model has none"}
FACE = _object({
    "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
            "description": "x0, y0, x1, y1 in the photo's upright (EXIF-applied) pixels"},
    "probability": PROBABILITY, "answer": {"type": "string", "enum": ANSWERS},
    "score": {"type": "number", "description": "the face detector's confidence"},
    "kind": KIND, "dark_probability": DARK},
    "A face found, largest first")
GUESS = _object({
    "box": {"type": "null"}, "probability": PROBABILITY, "answer": {"type": "string", "enum": ANSWERS},
    "score": {"type": "null"}, "kind": KIND, "dark_probability": DARK},
    "The model's guess on the fallback crop (a centre square) of a photo in which no face was found")
PHOTO = {  # what every answered photo carries, alone or in a batch
    "answer": {"type": "string", "enum": [*ANSWERS, NO_FACE],
               "description": "glass when any face wears glasses; no_face when no face was found "
                              "(with ?fallback=1, the fallback crop's guess instead)"},
    "probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                    "description": "the highest face probability of glasses; null when no face was found "
                                   "(with ?fallback=1, the fallback crop's)"},
    "kind": {**KIND, "description": "which glasses the face most likely to wear them wears (clear or dark); null "
                                    "when the answer is not glass or the model does not say which"},
    "face_found": {"type": "boolean"}, "faces": {"type": "array", "items": _ref("Face")},
    "fallback": {"anyOf": [_ref("FallbackGuess"), {"type": "null"}],
                 "description": "null when a face was found"},
    "image_size": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2,
                   "description": "width, height (upright)"},
    "model_version": {"type": "string"}, "model_id": {"type": "string"}, "threshold": PROBABILITY,
    "inference_ms": {"type": "number", "minimum": 0}}
TIME = {"time_ms": {"type": "number", "minimum": 0}}
INDEX = {"index": {"type": "integer", "minimum": 0, "description": "the image's place among the request's"}}
ERROR_BODY = _object({"status": {"type": "integer", "minimum": 400, "maximum": 599}, "message": {"type": "string"}})
JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}
CROP = _object({f.name: {"type": JSON_TYPES[type(f.default)]} for f in dataclasses.fields(CropConfig)})
SCHEMAS = {
    "Answer": _object({"answer": {"type": "string", "enum": ANSWERS}},
                      "glass or no_glass; a photo without a face gets its fallback crop's guess"),
    "Face": FACE, "FallbackGuess": GUESS,
    "Prediction": _object({**PHOTO, **TIME}),
    "BatchPrediction": _object({**INDEX, **PHOTO}),
    "BatchError": _object({**INDEX, "error": ERROR_BODY}, "This one image's error; the others still answer"),
    "Batch": _object({"results": {"type": "array", "items": {"oneOf": [_ref("BatchPrediction"),
                                                                       _ref("BatchError")]}}, **TIME}),
    "Error": _object({"error": ERROR_BODY}),
    "Health": _object({"status": {"type": "string", "enum": ["ok"]}, "model_version": {"type": ["string", "null"]},
                       "model_id": {"type": ["string", "null"], "description": "version + weights digest"}},
                      "model_version and model_id are null while the model loads"),
    "Ready": _object({"status": {"type": "string", "enum": ["ready"]}, "model_version": {"type": "string"},
                      "model_id": {"type": "string"}}),
    "ModelInfo": _object({
        "version": {"type": "string"}, "model_id": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        "threshold": PROBABILITY, "description": {"type": "string"},
        "input": _object({"shape": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4},
                          "format": {"type": "string"}}),
        "crop": CROP,
        "limits": _object({"max_body_mb": {"type": "number"}, "max_megapixels": {"type": "number"},
                           "max_batch_images": {"type": "integer"}})}),
}


def openapi_spec(model_version: str, max_batch: int) -> dict:
    """The description, as a JSON-ready dict, for a server of the model ``model_version`` that
    takes up to ``max_batch`` images in a batch."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "glasses or not", "version": model_version,
                 "description": "Post a photo, hear whether someone in it wears glasses. Every error is JSON "
                                "(Error), a path not described here included (404); every answer carries an "
                                "X-Request-Id header. The version is the served model's."},
        "paths": {
            "/glass_no_glass/": _upload("glass or no_glass for one photo (a photo without a face: the fallback "
                                        "crop's guess)", "Answer", fallback=False),
            "/api/v1/predict": _upload("Faces, boxes, probabilities and the answer for one photo", "Prediction"),
            "/api/v1/predict/batch": _upload("Several photos, one result each (errors per image)", "Batch",
                                             most=max_batch),
            "/api/v1/model": _get("The model: version, labels, threshold, input, crop, limits",
                                  _ref("ModelInfo"), (405, 431, 503)),
            "/health": _get("Liveness: the process answers", _ref("Health")),
            "/ready": _get("Readiness: 503 while the model loads and during shutdown", _ref("Ready"),
                           (405, 431, 503)),
            "/metrics": _get("Prometheus metrics of the whole server (every process)", {"type": "string"},
                             content_type="text/plain"),
            "/openapi.json": _get("This description (503 while the model loads)", {"type": "object"},
                                  (405, 431, 503)),
            "/": _get("The web page", {"type": "string"}, content_type="text/html"),
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": {f"Error{status}": _json(_ref("Error"), text) for status, text in ERROR_STATUSES.items()},
        },
    }
