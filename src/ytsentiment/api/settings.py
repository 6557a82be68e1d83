"""Serving settings: read once from the environment, overridable by the ``config`` dict of ``create_app``.

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
RATELIMIT_STORAGE_URI     where rate-limit counters live: ``memory://``    ``memory://``
                          (per worker) or a shared store, e.g.
                          ``redis://HOST:6379`` (needs the redis package)
MONITOR_CACHE_SECONDS     how long /metrics reuses the latest monitoring   30
                          run read from the database
MIN_MONTH_COMMENTS        months with fewer scored comments are marked     10
                          sparse (/analyze ``months``, trend chart)
========================  ===============================================  ================================

The database itself (DATABASE_URL, PREDICTION_LOG_TEXT, PREDICTION_LOG_SPOOL_DIR ...) is configured by
``ytsentiment.storage.settings``.

Keys of the ``config`` dict use the lower-case names (``max_comments`` ...) plus ``model_loader`` (a callable
``uri -> LoadedModel``, used by tests to inject a fake model), ``load_in_background`` (default True) and, for the
database, ``database_url`` (instead of DATABASE_URL), ``database_engine`` (a SQLAlchemy Engine to use as is; the
prediction log's own process opens the same URL, so it cannot be an in-memory SQLite database) and
``prediction_log_text`` (instead of PREDICTION_LOG_TEXT).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.config import DEFAULT_MODEL_URI
from ytsentiment.environ import parse_bool

EXTENSION_ORIGIN = "chrome-extension://hjpcimaolalbjpklelngebhdenmmbfmd"


@dataclasses.dataclass(frozen=True)
class Settings:
    model_uri: str = DEFAULT_MODEL_URI
    cors_origins: tuple[str, ...] = (EXTENSION_ORIGIN,)
    max_comments: int = 1000
    max_comment_chars: int = 10_000
    max_content_length: int = 4 * 1024 * 1024
    model_threads: int = 1
    model_wait_seconds: float = 20.0
    model_loader: Callable[[str], Any] | None = None
    load_in_background: bool = True
    prediction_log: bool = True
    database_auto_migrate: bool = True
    database_timeout_seconds: float = 2.0
    feedback_rate_limit: str = "30 per minute;500 per day"
    ratelimit_storage_uri: str = "memory://"
    monitor_cache_seconds: float = 30.0
    min_month_comments: int = 10
    database_url: str | None = None
    database_engine: Any = None
    prediction_log_text: bool | None = None

    def __post_init__(self) -> None:
        for name in _INT_VARS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.upper()} must be a positive integer, got {value!r}")
        if not 0 <= self.model_wait_seconds <= 3600:
            raise ValueError(f"MODEL_WAIT_SECONDS must be within 0..3600, got {self.model_wait_seconds!r}")
        if not self.model_uri:
            raise ValueError("MODEL_URI must not be empty")
        if not 0.1 <= self.database_timeout_seconds <= 60:
            raise ValueError(f"DATABASE_TIMEOUT_SECONDS must be within 0.1..60, got {self.database_timeout_seconds!r}")
        if not 0 <= self.monitor_cache_seconds <= 86400:
            raise ValueError(f"MONITOR_CACHE_SECONDS must be within 0..86400, got {self.monitor_cache_seconds!r}")
        _check_rate_limit(self.feedback_rate_limit)
        if not self.ratelimit_storage_uri or "://" not in self.ratelimit_storage_uri:
            raise ValueError(f"RATELIMIT_STORAGE_URI must be a storage URI such as memory:// or "
                             f"redis://HOST:6379, got {self.ratelimit_storage_uri!r}")
        if any(origin.strip() == "*" for origin in self.cors_origins):
            # An open API would let any web page spend this server's CPU with a visitor's browser.
            raise ValueError("CORS_ORIGINS must list explicit origins; '*' is refused")


_INT_VARS = ("max_comments", "max_comment_chars", "max_content_length", "model_threads", "min_month_comments")
_FLOAT_VARS = ("model_wait_seconds", "database_timeout_seconds", "monitor_cache_seconds")
_BOOL_VARS = ("prediction_log", "database_auto_migrate")
_STR_VARS = ("feedback_rate_limit", "ratelimit_storage_uri")


def _check_rate_limit(value: str) -> None:
    from limits import parse_many

    try:
        if not parse_many(value):
            raise ValueError("no limit")
    except ValueError:
        raise ValueError(f"FEEDBACK_RATE_LIMIT must be limits such as '30 per minute;500 per day', "
                         f"got {value!r}") from None


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None


def _seconds(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


def _parse_bool(name: str, raw: str) -> bool:
    try:
        return parse_bool(name, raw)
    except YtSentimentError as exc:  # settings errors are ValueErrors here, like every other variable's
        raise ValueError(str(exc)) from None


def load_settings(config: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default ``os.environ``), then apply ``config`` overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if environ.get("MODEL_URI"):
        values["model_uri"] = environ["MODEL_URI"].strip()
    if environ.get("CORS_ORIGINS") is not None:
        values["cors_origins"] = _split_origins(environ["CORS_ORIGINS"])
    for names, convert in ((_INT_VARS, _int), (_FLOAT_VARS, _seconds), (_BOOL_VARS, _parse_bool),
                           (_STR_VARS, lambda _name, raw: raw.strip())):
        for name in names:
            raw = environ.get(name.upper())
            if raw is not None and raw.strip():
                values[name] = convert(name.upper(), raw)
    overrides = dict(config or {})
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    if isinstance(overrides.get("cors_origins"), str):
        overrides["cors_origins"] = _split_origins(overrides["cors_origins"])
    values.update(overrides)
    if "cors_origins" in values:
        values["cors_origins"] = tuple(values["cors_origins"])
    return Settings(**values)


def _split_origins(raw: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
