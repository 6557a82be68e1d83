"""The OpenAPI 3.1 document at ``/openapi.json``, built from the pydantic models that validate requests.

Request schemas therefore carry the configured limits (``maxItems`` = MAX_COMMENTS ...) and cannot drift from
the validation; response schemas are documented here and checked against real responses by ``tests/api``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from flask_app.schemas import Schemas

REF = "#/components/schemas/{model}"
Confidence = Annotated[float, Field(ge=0, le=1, description="Probability of the predicted class.")]


class Prediction(BaseModel):
    comment: str = Field(description="The comment as sent.")
    sentiment: Literal[-1, 0, 1]
    label: Literal["negative", "neutral", "positive"]
    confidence: Confidence


class TimestampedPrediction(Prediction):
    timestamp: str = Field(description="The timestamp as sent.")


class AnalyzedComment(Prediction):
    timestamp: str | None = Field(None, description="The timestamp as sent, when one was sent.")


class Counts(BaseModel):
    negative: int = Field(alias="-1", ge=0)
    neutral: int = Field(alias="0", ge=0)
    positive: int = Field(alias="1", ge=0)


class Summary(BaseModel):
    total: int = Field(ge=1)
    counts: Counts
    average_sentiment: float = Field(ge=0, le=10, description="Mean sentiment mapped to [0, 10].")


class AnalyzeResponse(BaseModel):
    predictions: list[AnalyzedComment]
    summary: Summary


class Error(BaseModel):
    error: str = Field(description="What went wrong, in a few words.")
    detail: str = Field(description="What to fix.")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]


class NotReady(BaseModel):
    status: Literal["loading", "failed"]
    error: str
    detail: str


class ModelInfo(BaseModel):
    name: str | None
    version: str | None
    alias: str | None
    uri: str
    run_id: str | None = None
    metrics: dict[str, float]
    trained_at: str | None = Field(description="ISO-8601 time the training run finished.")


def _json(ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": REF.format(model=ref)}}}


def _error(description: str) -> dict:
    return {"description": description, "content": _json("Error")}


_PNG = {"description": "A PNG image.",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
_CLIENT_ERRORS = {
    "400": _error("Invalid JSON or fields; `detail` names each field and what to fix."),
    "413": _error("Too many comments, a comment too long, or a body over MAX_CONTENT_LENGTH."),
    "415": _error("The body is not sent as application/json."),
}
_NOT_READY = {"503": _error("The model is loading (or failed to load); retry after Retry-After seconds.")}


def _post(summary: str, request: str, ok: dict, needs_model: bool) -> dict:
    return {"post": {
        "summary": summary,
        "requestBody": {"required": True, "content": _json(request)},
        "responses": {"200": ok, **_CLIENT_ERRORS, **(_NOT_READY if needs_model else {})},
    }}


def _get(summary: str, responses: dict) -> dict:
    return {"get": {"summary": summary, "responses": responses}}


def build_openapi(schemas: Schemas, limits: dict[str, int]) -> dict[str, Any]:
    request_models = [schemas.PredictRequest, schemas.TimestampedPredictRequest, schemas.AnalyzeRequest,
                      schemas.ChartRequest, schemas.WordcloudRequest, schemas.TrendRequest]
    response_models = [Prediction, TimestampedPrediction, AnalyzeResponse, Error, Health, Ready, NotReady,
                       ModelInfo]
    _, defs = models_json_schema([(m, "validation") for m in request_models]
                                 + [(m, "serialization") for m in response_models], ref_template=REF)

    def ok_list(item: str, description: str) -> dict:
        return {"description": description,
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": REF.format(
                    model=item)}}}}}

    paths = {
        "/predict": _post("Classify comments (one prediction per comment, in order).", "PredictRequest",
                          ok_list("Prediction", "Predictions."), True),
        "/predict_with_timestamps": _post("Classify timestamped comments; timestamps are echoed.",
                                          "TimestampedPredictRequest",
                                          ok_list("TimestampedPrediction", "Predictions."), True),
        "/analyze": _post("Predictions plus summary figures in one round trip.", "AnalyzeRequest",
                          {"description": "Predictions and summary.", "content": _json("AnalyzeResponse")},
                          True),
        "/generate_chart": _post("Pie chart of sentiment counts.", "ChartRequest", _PNG, False),
        "/generate_wordcloud": _post("Word cloud of the comments (stopwords, URLs and @handles removed).",
                                     "WordcloudRequest", _PNG, False),
        "/generate_trend_graph": _post("Monthly share of each sentiment.", "TrendRequest", _PNG, False),
        "/health": _get("Liveness: the process answers.",
                        {"200": {"description": "Alive.", "content": _json("Health")}}),
        "/ready": _get("Readiness: the model is loaded.", {
            "200": {"description": "Ready to predict.", "content": _json("Ready")},
            "503": {"description": "Model loading, or failed to load (see detail).",
                    "content": _json("NotReady")}}),
        "/model": _get("The served model: name, version, alias, URI, training metrics, training time.", {
            "200": {"description": "Model facts.", "content": _json("ModelInfo")}, **_NOT_READY}),
        "/metrics": _get("Prometheus metrics (all workers).", {"200": {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}),
        "/openapi.json": _get("This document.", {"200": {
            "description": "OpenAPI 3.1 document.",
            "content": {"application/json": {"schema": {"type": "object"}}}}}),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ytsentiment API",
            "version": "1.0.0",
            "description": (
                "Sentiment of YouTube comments (-1 negative, 0 neutral, 1 positive) from the promoted model. "
                f"Limits: {limits['max_comments']} comments per request, "
                f"{limits['max_comment_chars']} characters per comment, "
                f"{limits['max_content_length']} bytes per body. Every client error is a 4xx JSON "
                "`{\"error\", \"detail\"}`."
            ),
        },
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }
