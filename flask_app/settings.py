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
========================  ===============================================  ================================

Keys of the ``config`` dict use the lower-case names (``max_comments`` ...) plus ``model_loader`` (a callable
``uri -> LoadedModel``, used by tests to inject a fake model) and ``load_in_background`` (default True).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

EXTENSION_ORIGIN = "chrome-extension://hjpcimaolalbjpklelngebhdenmmbfmd"
DEFAULT_MODEL_URI = "models:/ytsentiment@production"


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

    def __post_init__(self) -> None:
        for name in ("max_comments", "max_comment_chars", "max_content_length", "model_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.upper()} must be a positive integer, got {value!r}")
        if not 0 <= self.model_wait_seconds <= 3600:
            raise ValueError(f"MODEL_WAIT_SECONDS must be within 0..3600, got {self.model_wait_seconds!r}")
        if not self.model_uri:
            raise ValueError("MODEL_URI must not be empty")
        if any(origin.strip() == "*" for origin in self.cors_origins):
            # An open API would let any web page spend this server's CPU with a visitor's browser.
            raise ValueError("CORS_ORIGINS must list explicit origins; '*' is refused")


_INT_VARS = ("max_comments", "max_comment_chars", "max_content_length", "model_threads")


def load_settings(config: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default ``os.environ``), then apply ``config`` overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if environ.get("MODEL_URI"):
        values["model_uri"] = environ["MODEL_URI"].strip()
    if environ.get("CORS_ORIGINS") is not None:
        values["cors_origins"] = _split_origins(environ["CORS_ORIGINS"])
    for name in _INT_VARS:
        raw = environ.get(name.upper())
        if raw is not None and raw.strip():
            try:
                values[name] = int(raw)
            except ValueError:
                raise ValueError(f"{name.upper()} must be a positive integer, got {raw!r}") from None
    raw = environ.get("MODEL_WAIT_SECONDS")
    if raw is not None and raw.strip():
        try:
            values["model_wait_seconds"] = float(raw)
        except ValueError:
            raise ValueError(f"MODEL_WAIT_SECONDS must be a number of seconds, got {raw!r}") from None
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
