"""Logging and error handling for entry points: configured once here, never in library modules."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from ytsentiment import YtSentimentError


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run an entry point: configure logging, turn an expected error into one clear line and exit code 2.

    Unexpected exceptions propagate with their traceback (exit code 1), so DVC never caches a failed stage.
    """
    configure_logging()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home from stages and CLI commands
    try:
        return main(argv) or 0
    except YtSentimentError as exc:
        logging.getLogger("ytsentiment").error("%s", exc)
        return 2
