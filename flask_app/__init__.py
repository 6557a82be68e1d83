"""The ytsentiment HTTP API: ``create_app(config=None)`` builds a Flask app serving the promoted model.

Run it under gunicorn: ``gunicorn -c flask_app/gunicorn.conf.py "flask_app:create_app()"``. Settings come from
the environment (see ``flask_app.settings``); ``config`` overrides them (tests inject a fake
``model_loader``). The model is loaded once per app, in a background thread started here, never at import;
``/ready`` is 503 until it is in memory. Routes only validate (pydantic models in ``flask_app.schemas``), call
``SentimentService`` or ``flask_app.charts``, and shape JSON; every client mistake is a 4xx ``{"error",
"detail"}``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_cors import CORS
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from flask_app import charts
from flask_app.metrics import Metrics
from flask_app.model_store import LoadedModel, ModelHolder, limit_threads, load_model
from flask_app.openapi import build_openapi
from flask_app.schemas import build_schemas, parse_timestamp, validation_problem
from flask_app.service import SentimentService
from flask_app.settings import Settings, load_settings

__all__ = ["create_app", "ApiState"]

log = logging.getLogger(__name__)
EXTENSION_KEY = "ytsentiment"
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}


class ApiState:
    """Everything one app holds: settings, request models, metrics, the model holder, the service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = {"max_comments": settings.max_comments, "max_comment_chars": settings.max_comment_chars,
                       "max_content_length": settings.max_content_length}
        self.schemas = build_schemas(settings.max_comments, settings.max_comment_chars)
        self.openapi = build_openapi(self.schemas, self.limits)
        self.metrics = Metrics()
        self.service: SentimentService | None = None
        self.holder = ModelHolder(settings.model_uri, settings.model_loader or load_model)
        self.holder.on_ready.append(self._on_model)

    def _on_model(self, loaded: LoadedModel) -> None:
        limit_threads(loaded.model, self.settings.model_threads)
        self.service = SentimentService(loaded.model)
        self.metrics.set_model(loaded.info)

    def require_service(self) -> SentimentService:
        # A worker still loading accepts connections too: let a prediction wait for the load rather than fail
        # while the other workers are already serving.
        if self.holder.state == "loading":
            self.holder.wait(self.settings.model_wait_seconds)
        if self.holder.state == "ready" and self.service is not None:
            return self.service
        detail = ("the model is still loading; retry shortly" if self.holder.state == "loading"
                  else f"the model failed to load ({self.holder.error}); check MODEL_URI and the server log")
        raise ApiError(503, "model not ready", detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; start loading the model (in the background unless ``load_in_background`` is False)."""
    settings = load_settings(config)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # keep {"comment", "sentiment", "label", "confidence"} in contract order
    state = ApiState(settings)
    app.extensions[EXTENSION_KEY] = state
    CORS(app, origins=list(settings.cors_origins), methods=["GET", "POST", "OPTIONS"],
         allow_headers=["Content-Type"], max_age=600)
    _register_hooks(app, state)
    _register_errors(app, state)
    _register_routes(app, state)
    log.info("serving %s; limits %s; CORS origins %s", settings.model_uri, state.limits,
             ", ".join(settings.cors_origins))
    state.holder.start(background=settings.load_in_background)
    return app


def _parse(state: ApiState, model: type[BaseModel]) -> Any:
    if not request.is_json:
        raise ApiError(415, "unsupported media type",
                       f"send the body as JSON with the header Content-Type: application/json "
                       f"(got {request.mimetype or 'no content type'!r})")
    try:
        return model.model_validate_json(request.get_data(cache=False))
    except ValidationError as exc:
        status, detail = validation_problem(exc, state.limits)
        raise ApiError(status, "invalid request" if status == 400 else "request too large", detail) from None


def _png(data: bytes) -> Response:
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})


def _register_routes(app: Flask, state: ApiState) -> None:
    schemas = state.schemas

    def predict_texts(texts: list[str]) -> list[dict]:
        predictions = state.require_service().predict(texts)
        state.metrics.count_predictions([p["label"] for p in predictions])
        return predictions

    @app.post("/predict")
    def predict():
        body = _parse(state, schemas.PredictRequest)
        state.require_service()  # before any work: a 503 should cost nothing
        return jsonify(predict_texts(body.comments))

    @app.post("/predict_with_timestamps")
    def predict_with_timestamps():
        body = _parse(state, schemas.TimestampedPredictRequest)
        predictions = predict_texts([c.text for c in body.comments])
        pairs = zip(predictions, body.comments, strict=True)
        return jsonify([{**p, "timestamp": c.timestamp} for p, c in pairs])

    @app.post("/analyze")
    def analyze():
        body = _parse(state, schemas.AnalyzeRequest)
        predictions = predict_texts([c.text for c in body.comments])
        summary = SentimentService.summarize(predictions)
        for p, c in zip(predictions, body.comments, strict=True):
            if c.timestamp is not None:
                p["timestamp"] = c.timestamp
        return jsonify({"predictions": predictions, "summary": summary})

    @app.post("/generate_chart")
    def generate_chart():
        counts = _parse(state, schemas.ChartRequest).sentiment_counts
        return _png(charts.sentiment_pie({1: counts.positive, 0: counts.neutral, -1: counts.negative}))

    @app.post("/generate_wordcloud")
    def generate_wordcloud():
        return _png(charts.wordcloud_png(_parse(state, schemas.WordcloudRequest).comments))

    @app.post("/generate_trend_graph")
    def generate_trend_graph():
        body = _parse(state, schemas.TrendRequest)
        points = [(parse_timestamp(p.timestamp), p.sentiment) for p in body.sentiment_data]
        return _png(charts.trend_png(points))

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.get("/ready")
    def ready():
        holder = state.holder
        if holder.state == "ready":
            return jsonify(status="ready")
        detail = ("the model is loading" if holder.state == "loading"
                  else f"the model failed to load: {holder.error}")
        response = jsonify(status=holder.state, error="model not ready", detail=detail)
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.get("/model")
    def model_info():
        state.require_service()
        return jsonify(state.holder.model.info)

    @app.get("/metrics")
    def metrics():
        return Response(state.metrics.render(), mimetype=None, content_type=state.metrics.content_type)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(state.openapi)


def _register_hooks(app: Flask, state: ApiState) -> None:
    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else None
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        state.metrics.observe_request(request.method, rule, response.status_code, elapsed)
        return response


_HTTP_DETAILS = {
    400: "the request could not be read; send a JSON body with Content-Type: application/json",
    404: "no endpoint at {path}; GET /openapi.json lists the API's routes",
    405: "{method} is not allowed on {path}; use {allowed}",
    413: "the body is over MAX_CONTENT_LENGTH={max_bytes} bytes; send fewer or shorter comments at once",
    415: "send the body as JSON with the header Content-Type: application/json",
}


def _register_errors(app: Flask, state: ApiState) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        response = jsonify(error=exc.error, detail=exc.detail)
        response.status_code = exc.status
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        allowed = ", ".join(sorted(m for m in (getattr(exc, "valid_methods", None) or []) if m != "OPTIONS"))
        template = _HTTP_DETAILS.get(exc.code or 500, "{description}")
        detail = template.format(path=request.path, method=request.method, allowed=allowed,
                                 max_bytes=state.settings.max_content_length, description=exc.description)
        response = exc.get_response()  # keeps headers such as Allow on a 405
        response.set_data(app.json.dumps({"error": (exc.name or "error").lower(), "detail": detail}))
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = jsonify(error="internal server error",
                           detail="the server failed on this request and logged why; retry, or report it")
        response.status_code = 500
        return response
