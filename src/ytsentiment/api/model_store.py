"""Load the served model once per worker and say what it is.

``load_model(uri)`` and :class:`LoadedModel` live in ``ytsentiment.loading`` (the ``ytsentiment predict`` command
loads models the same way) and are re-exported here: the Pipeline as training logged it, checked against the
output contract, plus the facts ``GET /model`` reports.

:class:`ModelHolder` runs the load in a background thread so the worker answers ``/health`` at once and
``/ready`` with 503 until the model is in memory; a failed load is logged and keeps the worker not-ready, with
the reason in ``/ready`` (a load balancer's health check then never routes traffic to it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ytsentiment.loading import LoadedModel, limit_threads, load_model

__all__ = ["LoadedModel", "ModelHolder", "limit_threads", "load_model"]

log = logging.getLogger(__name__)


class ModelHolder:
    """Holds the worker's one model; loads it once, in the background or in the caller's thread."""

    def __init__(self, uri: str, loader: Callable[[str], LoadedModel] = load_model) -> None:
        self.uri = uri
        self._loader = loader
        self._loaded = threading.Event()
        self.state = "loading"
        self.error: str | None = None
        self.model: LoadedModel | None = None
        self.on_ready: list[Callable[[LoadedModel], None]] = []

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._load, name="model-loader", daemon=True).start()
        else:
            self._load()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load finished (either way); True if the model is ready."""
        self._loaded.wait(timeout)
        return self.state == "ready"

    def _load(self) -> None:
        try:
            loaded = self._loader(self.uri)
            for callback in self.on_ready:
                callback(loaded)
        except Exception as exc:  # the worker keeps serving /health and reports the reason on /ready
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.exception("could not load model %s; this worker stays not-ready", self.uri)
        else:
            self.model = loaded
            self.state = "ready"
        finally:
            self._loaded.set()
