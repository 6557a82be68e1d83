"""Logging and error handling for entry points: configured once here, never in library modules."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any, Literal

from pydantic import field_validator

from ytsentiment import YtSentimentError
from ytsentiment.environ import EnvSettings


class LogSettings(EnvSettings):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"  # LOG_LEVEL, any case

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def configure_logging(settings: LogSettings | None = None) -> None:
    """Log to stderr at LOG_LEVEL (``settings``, else read from the environment)."""
    logging.basicConfig(
        level=(settings or LogSettings.from_env()).log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run an entry point: configure logging, turn an expected error into one clear line and exit code 2.

    Unexpected exceptions propagate with their traceback (exit code 1), so DVC never caches a failed stage.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home from stages and CLI commands
    try:
        configure_logging()
        return main(argv) or 0
    except YtSentimentError as exc:
        logging.getLogger("ytsentiment").error("%s", exc)
        return 2
