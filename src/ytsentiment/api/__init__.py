"""The ytsentiment HTTP API: ``create_app(config=None)`` builds a Flask app serving the promoted model.

Run it under gunicorn: ``gunicorn -c src/ytsentiment/api/gunicorn.conf.py "ytsentiment.api:create_app()"``.
Settings are read here, once, from the environment (see ``ytsentiment.api.settings``); ``config`` overrides them
(tests inject a fake ``model_loader``). The model is loaded once per app, in a background thread started here, never
at import; ``/ready`` is 503 until it is in memory.

Layout: the factory (here) wires settings -> ``ApiState`` (``ytsentiment.api.state``) -> CORS -> extensions
(``ytsentiment.api.extensions``: the database of ``ytsentiment.api.storage``, the /feedback rate limiter) -> blueprints
(``ytsentiment.api.blueprints``: one module per concern holding its request models, routes and OpenAPI entries) ->
error handlers (``ytsentiment.api.errors``) -> security headers (``ytsentiment.api.headers``).
Views only validate, call ``SentimentService`` or ``ytsentiment.api.charts``, and shape JSON; every client mistake is
a 4xx ``{"error", "detail"}``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from ytsentiment.api.blueprints import BLUEPRINTS
from ytsentiment.api.endpoints import request_models
from ytsentiment.api.errors import register_error_handlers
from ytsentiment.api.extensions import init_extensions
from ytsentiment.api.headers import register_security_headers
from ytsentiment.api.openapi import build_openapi
from ytsentiment.api.schemas import Limits
from ytsentiment.api.settings import Settings
from ytsentiment.api.state import EXTENSION_KEY, ApiState
from ytsentiment.storage.settings import StorageSettings

__all__ = ["create_app", "ApiState"]

log = logging.getLogger(__name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; start loading the model (in the background unless ``load_in_background`` is False)."""
    overrides = dict(config or {})
    overrides.setdefault("storage", StorageSettings.from_env())
    settings = Settings.from_env(**overrides)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider; keep {"comment", "sentiment", "label", "confidence"} in contract order
    limits = Limits.of(settings)
    requests = request_models(BLUEPRINTS, limits)
    state = ApiState(settings, limits, requests, build_openapi(limits, BLUEPRINTS, requests))
    app.extensions[EXTENSION_KEY] = state
    CORS(app, origins=list(settings.cors_origins), methods=["GET", "POST", "OPTIONS"],
         allow_headers=["Content-Type"], max_age=600)
    init_extensions(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    register_security_headers(app)
    if settings.trusted_proxies:  # the client address is the one the proxies saw (limits, feedback address)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    log.info("serving %s; limits %s; CORS origins %s", settings.model_uri, state.limits,
             ", ".join(settings.cors_origins))
    state.holder.start(background=settings.load_in_background)
    return app
