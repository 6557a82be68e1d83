"""The OpenAPI 3.1 document at ``/openapi.json``, assembled from what each blueprint declares beside its routes.

Every ``ApiBlueprint`` (``ytsentiment.api.endpoints``) carries its operations (path entries written next to each
route), its response models and its request-model builder; ``build_openapi`` collects them. Request schemas are
the pydantic models that validate requests, built with the app's limits (``maxItems`` = MAX_COMMENTS ...), so
they cannot drift from the validation; response schemas are checked against real responses by ``tests/api``.

This module also holds the fragments operations are written with (``post``, ``get``, ``json_body``, ...) and the
``Error`` body every 4xx/5xx shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from ytsentiment.api.endpoints import ApiBlueprint, request_models
from ytsentiment.api.schemas import Limits

REF = "#/components/schemas/{model}"


class Error(BaseModel):
    error: str = Field(description="What went wrong, in a few words.")
    detail: str = Field(description="What to fix.")


def json_body(model: str) -> dict:
    """``content`` of a JSON body whose schema is the component ``model``."""
    return {"application/json": {"schema": {"$ref": REF.format(model=model)}}}


def json_list(item: str, description: str) -> dict:
    """A 200 response holding a JSON array of ``item`` components."""
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": REF.format(
                model=item)}}}}}


def ok(description: str, model: str) -> dict:
    return {"description": description, "content": json_body(model)}


def error(description: str) -> dict:
    return {"description": description, "content": json_body("Error")}


PNG = {"description": "A PNG image.", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
CLIENT_ERRORS = {
    "400": error("Invalid JSON (what and where: line, column; an unpaired surrogate escape), or invalid fields "
                 "(e.g. a control character in a text); `detail` names each field and what to fix."),
    "413": error("Too many comments, a comment too long, or a body (chunked or not) over MAX_CONTENT_LENGTH."),
    "415": error("The body is not sent as application/json, or is sent with a Content-Encoding (gzip, br ...); "
                 "`detail` names it."),
}
NOT_READY = {"503": error("The model is loading (or failed to load); retry after Retry-After seconds.")}
PREDICTION_LIMITS = {"429": error("Over PREDICT_RATE_LIMIT requests or PREDICT_CHARS_LIMIT comment characters from "
                                  "this address; retry after Retry-After seconds.")}


def post(summary: str, request: str, response: dict, needs_model: bool) -> dict:
    """A POST operation with a required JSON body (the component ``request``) and the shared client errors."""
    return {
        "summary": summary,
        "requestBody": {"required": True, "content": json_body(request)},
        "responses": {"200": response, **CLIENT_ERRORS,
                      **({**PREDICTION_LIMITS, **NOT_READY} if needs_model else {})},
    }


def get(summary: str, responses: dict) -> dict:
    return {"summary": summary, "responses": responses}


def build_openapi(limits: Limits, blueprints: Iterable[ApiBlueprint],
                  requests: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """The document for an app with these ``limits`` serving these ``blueprints``.

    ``requests`` are the app's own request models (``ApiState.request_models``); built from ``limits`` when not given.
    """
    blueprints = list(blueprints)
    if requests is None:
        requests = request_models(blueprints, limits)
    response_models: list[type[BaseModel]] = [Error, *(m for bp in blueprints for m in bp.response_models)]
    _, defs = models_json_schema([(m, "validation") for m in requests.values()]
                                 + [(m, "serialization") for m in response_models], ref_template=REF)
    paths: dict[str, dict] = {}
    for bp in blueprints:
        for path, operations in bp.operations.items():
            paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ytsentiment API",
            "version": "1.0.0",
            "description": (
                "Sentiment of YouTube comments (-1 negative, 0 neutral, 1 positive) from the promoted model. "
                f"Limits: {limits.max_comments} comments per request, "
                f"{limits.max_comment_chars} characters per comment, "
                f"{limits.max_content_length} bytes per body. Every client error is a 4xx JSON "
                "`{\"error\", \"detail\"}`."
            ),
        },
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }
