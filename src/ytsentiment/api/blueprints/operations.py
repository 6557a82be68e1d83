"""Operations endpoints: ``/health``, ``/ready``, ``/model``, ``/metrics``, ``/openapi.json``, plus the request
metrics every route is counted in (app-wide hooks of this blueprint).
"""

from __future__ import annotations

import time
from typing import Literal

from flask import Response, g, jsonify, request
from pydantic import BaseModel, Field

from ytsentiment.api import openapi
from ytsentiment.api.endpoints import ApiBlueprint
from ytsentiment.api.state import RETRY_AFTER_SECONDS, current_state
from ytsentiment.contract import public_model_info


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]


class NotReady(BaseModel):
    status: Literal["loading", "failed"]
    error: str
    detail: str


class HeadlineMetrics(BaseModel):  # the keys of ytsentiment.contract.HEADLINE_METRICS
    overall_macro_f1: float | None = Field(description="Macro-F1 on all test rows (null when not recorded).")
    human_macro_f1: float | None = Field(description="Macro-F1 on the human-labelled test rows (null when not "
                                                     "recorded).")


class ModelInfo(BaseModel):  # ytsentiment.contract.public_model_info
    name: str | None
    version: str | None = Field(description="The registered model version (a string, e.g. \"3\").")
    alias: str | None
    trained_at: str | None = Field(description="When the MLflow run that trained and evaluated the model finished "
                                               "(ISO-8601, UTC).")
    metrics: HeadlineMetrics


bp = ApiBlueprint("operations", __name__, response_models=[Health, Ready, NotReady, ModelInfo])


@bp.before_app_request
def start_timer():
    g.started = time.perf_counter()


@bp.after_app_request
def record(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else None
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    current_state().metrics.observe_request(request.method, rule, response.status_code, elapsed)
    return response


@bp.api_route("/health", "GET", openapi.get("Liveness: the process answers.", {
    "200": openapi.ok("Alive.", "Health")}))
def health():
    return jsonify(status="ok")


@bp.api_route("/ready", "GET", openapi.get("Readiness: the model is loaded.", {
    "200": openapi.ok("Ready to predict.", "Ready"),
    "503": openapi.ok("Model loading, or failed to load (see detail).", "NotReady")}))
def ready():
    holder = current_state().holder
    if holder.state == "ready":
        return jsonify(status="ready")
    detail = "the model is loading" if holder.state == "loading" else f"the model failed to load: {holder.error}"
    response = jsonify(status=holder.state, error="model not ready", detail=detail)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@bp.api_route("/model", "GET", openapi.get(
    "The served model: name, version, alias, training time and headline metrics.", {
        "200": openapi.ok("Model facts.", "ModelInfo"), **openapi.NOT_READY}))
def model_info():
    state = current_state()
    state.require_service()
    return jsonify(public_model_info(state.holder.model.info))  # type: ignore[union-attr]  # loaded: require_service() returned


@bp.api_route("/metrics", "GET", openapi.get("Prometheus metrics (all workers).", {"200": {
    "description": "Prometheus text exposition format.",
    "content": {"text/plain": {"schema": {"type": "string"}}}}}))
def metrics():
    metrics = current_state().metrics
    return Response(metrics.render(), mimetype=None, content_type=metrics.content_type)


@bp.api_route("/openapi.json", "GET", openapi.get("This document.", {"200": {
    "description": "OpenAPI 3.1 document.", "content": {"application/json": {"schema": {"type": "object"}}}}}))
def openapi_document():
    return jsonify(current_state().openapi)
