"""Serving settings: read once from the environment by ``create_app`` (``Settings.from_env(**config)``: the keys
of its ``config`` dict override the variables).

Every variable is optional; the defaults serve the promoted model from the embedded MLflow store on one
machine.

========================  ===============================================  ================================
variable                  meaning                                          default
========================  ===============================================  ================================
MODEL_URI                 model to serve: ``models:/NAME@ALIAS``,          ``models:/ytsentiment@production``
                          ``models:/NAME/VERSION`` or a local MLflow
                          model directory (``ytsentiment export``)
CORS_ORIGINS              comma-separated origins allowed by CORS; ``*``   the extension's fixed origin
                          is refused
MAX_COMMENTS              most comments (or chart points) in one request   1000
MAX_COMMENT_CHARS         most characters in one comment                   10000
MAX_CONTENT_LENGTH        largest request body, in bytes                   4194304 (4 MB)
MODEL_THREADS             CPU threads per prediction inside one worker     1
MODEL_WAIT_SECONDS        how long a prediction waits for a model still    20
                          loading before answering 503
PREDICTION_LOG            log every prediction to the database (on/off;    on
                          off for benchmarks and comparisons)
DATABASE_AUTO_MIGRATE     migrate the schema when a worker starts          true
                          (true/false; false when a deploy step runs
                          ``ytsentiment db-upgrade``)
DATABASE_TIMEOUT_SECONDS  longest wait on the database in a request        2
                          (connecting, or a SQLite lock) before /feedback
                          answers 503
FEEDBACK_RATE_LIMIT       labels one client may send to /feedback          30 per minute;500 per day
                          (Flask-Limiter syntax, ``;`` between limits)
FEEDBACK_ADDRESS_RATE_LIMIT  labels one address may send to /feedback,    120 per minute;2000 per day
                          whatever client ids it uses
FEEDBACK_CLIENTS_PER_ADDRESS  client ids one address may send feedback     5
                          under in a day (a new one past it: 429)
PREDICT_RATE_LIMIT        requests one address may send to the prediction  600 per minute
                          routes (/predict, /predict_with_timestamps,
                          /analyze)
PREDICT_CHARS_LIMIT       comment characters one address may send to the   4000000 per minute;
                          prediction routes (what a request costs the      20000000 per hour
                          model; twice with "explain": true)
TRUSTED_PROXIES           proxies in front that set X-Forwarded-For (the   0
                          ALB: 1); the client address is read from it
RATELIMIT_STORAGE_URI     where rate-limit counters live: ``memory://``    ``memory://``
                          (per worker) or a shared store, e.g.
                          ``redis://HOST:6379`` (needs the redis package)
MONITOR_CACHE_SECONDS     how long /metrics reuses the latest monitoring   30
                          run read from the database
MIN_MONTH_COMMENTS        months with fewer scored comments are marked     10
                          sparse (/analyze ``months``, trend chart)
CHALLENGER_URI            the challenger scored beside production, off     ``models:/NAME@challenger`` when
                          the request path (decision 0017); ``none``:      MODEL_URI is ``models:/NAME@…``,
                          no shadow                                        else none
SHADOW_SAMPLE             share of prediction requests the challenger      0.05
                          also scores (0: none)
SHADOW_QUEUE              requests waiting for the challenger per worker;  8
                          past it a sampled request is skipped (counted)
SHADOW_MAX_COMMENTS       larger requests are not shadowed (counted)       500
========================  ===============================================  ================================

The database itself (DATABASE_URL, PREDICTION_LOG_TEXT, PREDICTION_LOG_SPOOL_DIR ...) is configured by
``ytsentiment.storage.settings`` (``Settings.storage``, read by ``create_app``).

gunicorn's own settings (HOST, PORT, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT) are ``ServerSettings`` in
``gunicorn.conf.py``; LOG_LEVEL is ``ytsentiment.logs.LogSettings``.

A bad value fails with ``ytsentiment.environ.SettingsError`` (a ``ValueError``) naming the variable.
Keys of the ``config`` dict use the lower-case names (``max_comments`` ...) plus ``model_loader`` (a callable
``uri -> LoadedModel``, used by tests to inject a fake model), ``load_in_background`` (default True) and, for the
database, ``database_url`` (instead of DATABASE_URL), ``database_engine`` (a SQLAlchemy Engine to use as is; the
prediction log's writer process opens the same URL, so it cannot be an in-memory SQLite database) and
``prediction_log_text`` (instead of PREDICTION_LOG_TEXT).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from ytsentiment.config import DEFAULT_MODEL_URI
from ytsentiment.environ import NOT_FROM_ENV, EnvSettings
from ytsentiment.storage.settings import StorageSettings

EXTENSION_ORIGIN = "chrome-extension://hjpcimaolalbjpklelngebhdenmmbfmd"
Positive = Annotated[int, Field(ge=1)]


class Settings(EnvSettings):
    model_uri: str = Field(DEFAULT_MODEL_URI, min_length=1)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = (EXTENSION_ORIGIN,)
    max_comments: Positive = 1000
    max_comment_chars: Positive = 10_000
    max_content_length: Positive = 4 * 1024 * 1024
    model_threads: Positive = 1
    model_wait_seconds: float = Field(20.0, ge=0, le=3600)
    prediction_log: bool = True
    database_auto_migrate: bool = True
    database_timeout_seconds: float = Field(2.0, ge=0.1, le=60)
    feedback_rate_limit: str = "30 per minute;500 per day"
    feedback_address_rate_limit: str = "120 per minute;2000 per day"
    feedback_clients_per_address: Positive = 5
    trusted_proxies: int = Field(0, ge=0, le=10)
    predict_rate_limit: str = "600 per minute"
    predict_chars_limit: str = "4000000 per minute;20000000 per hour"
    ratelimit_storage_uri: str = "memory://"
    monitor_cache_seconds: float = Field(30.0, ge=0, le=86400)
    min_month_comments: Positive = 10
    challenger_uri: str | None = None
    shadow_sample: float = Field(0.05, ge=0, le=1)
    shadow_queue: Positive = 8
    shadow_max_comments: Positive = 500
    # set by code only (create_app's config), never from a variable of the same name
    model_loader: Callable[[str], Any] | None = Field(None, json_schema_extra=NOT_FROM_ENV)
    load_in_background: bool = Field(True, json_schema_extra=NOT_FROM_ENV)
    database_url: str | None = Field(None, json_schema_extra=NOT_FROM_ENV)
    database_engine: Any = Field(None, json_schema_extra=NOT_FROM_ENV)
    prediction_log_text: bool | None = Field(None, json_schema_extra=NOT_FROM_ENV)
    storage: StorageSettings = Field(default_factory=StorageSettings, json_schema_extra=NOT_FROM_ENV)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        origins = tuple(str(origin).strip().rstrip("/") for origin in value if str(origin).strip())
        if "*" in origins:  # an open API would let any web page spend this server's CPU with a visitor's browser
            raise ValueError("must list explicit origins; '*' is refused")
        return origins

    @field_validator("feedback_rate_limit", "feedback_address_rate_limit", "predict_rate_limit", "predict_chars_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            if parse_many(value):
                return value
        except ValueError:
            pass
        raise ValueError("must be limits such as '30 per minute;500 per day'")

    @field_validator("ratelimit_storage_uri")
    @classmethod
    def _storage_uri(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a storage URI such as memory:// or redis://HOST:6379")
        return value
