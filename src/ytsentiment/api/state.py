"""What one app holds: ``ApiState``, in ``app.extensions["ytsentiment"]``.

``ApiState`` is built once per app by ``create_app``: the settings, the limits, the request models every
blueprint built from those limits (looked up by name when a request is parsed), the OpenAPI document, the
metrics, the model holder and, once the model is loaded, the ``SentimentService`` and the challenger's ``Shadow``
(``ytsentiment.api.shadow``). Views reach it through
``current_state()``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import current_app
from pydantic import BaseModel

from ytsentiment.api.errors import ApiError
from ytsentiment.api.metrics import Metrics
from ytsentiment.api.model_store import LoadedModel, ModelHolder, limit_threads, load_model
from ytsentiment.api.schemas import Limits
from ytsentiment.api.service import SentimentService
from ytsentiment.api.settings import Settings
from ytsentiment.api.shadow import Shadow

EXTENSION_KEY = "ytsentiment"
RETRY_AFTER_SECONDS = 5


class ApiState:
    """Everything one app holds: settings, request models, OpenAPI, metrics, the model holder, the service."""

    def __init__(self, settings: Settings, limits: Limits, request_models: Mapping[str, type[BaseModel]],
                 openapi: dict[str, Any]) -> None:
        self.settings = settings
        self.limits = limits
        self.request_models = request_models
        self.openapi = openapi
        self.metrics = Metrics()
        self.service: SentimentService | None = None
        self.holder = ModelHolder(settings.model_uri, settings.model_loader or load_model)
        self.holder.on_ready.append(self._on_model)
        self.shadow = Shadow(settings, self.metrics, settings.model_loader or load_model)
        # One large prediction at a time per worker (its threads share one GIL anyway): two at once would double the
        # worker's peak memory. Small ones never wait behind it.
        self.large_prediction = threading.Lock()

    def _on_model(self, loaded: LoadedModel) -> None:
        limit_threads(loaded.model, self.settings.model_threads)
        self.service = SentimentService(loaded.model)
        self.metrics.set_model(loaded.info)
        self.shadow.start(loaded)

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
