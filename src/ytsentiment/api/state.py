"""What one app holds (``ApiState``, in ``app.extensions["ytsentiment"]``) and the error routes raise.

``ApiState`` is built once per app by ``create_app``: the settings, the limits, the request models every
blueprint built from those limits (looked up by name when a request is parsed), the OpenAPI document, the
metrics, the model holder and, once the model is loaded, the ``SentimentService``. Views reach it through
``current_state()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import current_app

from ytsentiment.api.metrics import Metrics
from ytsentiment.api.model_store import LoadedModel, ModelHolder, limit_threads, load_model
from ytsentiment.api.openapi import build_openapi
from ytsentiment.api.schemas import Limits
from ytsentiment.api.service import SentimentService
from ytsentiment.api.settings import Settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ytsentiment.api.endpoints import ApiBlueprint

EXTENSION_KEY = "ytsentiment"
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """A failure answered as ``{"error", "detail"}`` with ``status`` (and ``headers``, e.g. Retry-After)."""

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}


class ApiState:
    """Everything one app holds: settings, request models, OpenAPI, metrics, the model holder, the service."""

    def __init__(self, settings: Settings, blueprints: Sequence[ApiBlueprint]) -> None:
        self.settings = settings
        self.limits = Limits.of(settings)
        self.request_models: dict[str, type[BaseModel]] = {}
        for bp in blueprints:
            models = bp.build_request_models(self.limits)
            if clash := set(models) & set(self.request_models):
                raise ValueError(f"request models {sorted(clash)} are declared by two blueprints; rename one")
            self.request_models.update(models)
        self.openapi = build_openapi(self.limits, blueprints, self.request_models)
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


def current_state() -> ApiState:
    """The ``ApiState`` of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
