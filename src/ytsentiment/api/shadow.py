"""The challenger, scored off the request path: one worker's ``Shadow`` (decision 0017).

Resolved once, when the worker's production model is ready (as production itself, which a worker loads once at
start): CHALLENGER_URI, else ``models:/NAME@challenger`` beside a MODEL_URI of the form ``models:/NAME@ALIAS``. No
such alias, the same version as production, SHADOW_SAMPLE 0 or no prediction log: no shadow. A challenger that fails
to load is logged and leaves production untouched.

``offer`` runs once the answer is sent and costs a random draw and a non-blocking ``put``: a sampled request
(SHADOW_SAMPLE) joins a bounded queue (SHADOW_QUEUE requests); a full queue, a request above SHADOW_MAX_COMMENTS or a
challenger still loading is skipped and counted, never waited for. One background thread per worker scores the queue
with the challenger, counts what it scored and where it disagreed with production, and hands the answers to ``sink``
(the prediction log's ``record_shadow``): same ``prediction_id`` as production's row, the challenger's version,
class, probabilities and time. An error there is counted (and logged once); the answer was sent long before.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ytsentiment import registry
from ytsentiment.api.metrics import Metrics
from ytsentiment.api.service import SentimentService
from ytsentiment.api.settings import Settings
from ytsentiment.loading import LoadedModel, limit_threads

log = logging.getLogger(__name__)

NO_CHALLENGER = "none"


def challenger_uri(settings: Settings) -> str | None:
    """The challenger's URI: CHALLENGER_URI (``none``: no shadow), else ``@challenger`` beside MODEL_URI's alias."""
    if settings.challenger_uri:
        return None if settings.challenger_uri.lower() == NO_CHALLENGER else settings.challenger_uri
    match = registry.ALIAS_URI.match(settings.model_uri)
    return f"models:/{match['name']}@{registry.CHALLENGER}" if match else None


class Shadow:
    """One worker's challenger: its model, queue and scoring thread (see the module docstring)."""

    def __init__(self, settings: Settings, metrics: Metrics, loader: Callable[[str], LoadedModel]) -> None:
        self.settings, self.metrics, self._loader = settings, metrics, loader
        self.uri = challenger_uri(settings) if settings.shadow_sample > 0 else None
        self.state = "off"  # off -> loading -> ready | failed | absent
        self.reason = "SHADOW_SAMPLE is 0" if settings.shadow_sample == 0 else "no challenger URI"
        self.loaded: LoadedModel | None = None
        self.service: SentimentService | None = None
        self.sink: Callable[..., Any] | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=settings.shadow_queue)
        self._random = random.Random()
        self._erred = False

    def start(self, production: LoadedModel) -> None:
        """Resolve and load the challenger in a thread of its own, then start scoring (production is ready)."""
        if self.uri is None:
            return
        if self.sink is None:
            self.reason = "the prediction log is off (PREDICTION_LOG): the challenger's answers could not be kept"
            log.info("shadow: off: %s", self.reason)
            return
        self.state = "loading"
        threading.Thread(target=self._load, args=(production,), name="shadow-loader", daemon=True).start()

    def _load(self, production: LoadedModel) -> None:
        try:
            if (match := registry.ALIAS_URI.match(self.uri or "")) is not None:
                version = registry.alias_version(match["name"], match["alias"])
                if version is None:
                    self._absent(f"{self.uri} does not exist")
                    return
                if str(version.version) == str(production.info.get("version")):
                    self._absent(f"{self.uri} is v{version.version}, the version production serves")
                    return
            loaded = self._loader(self.uri)  # type: ignore[arg-type]  # not None: start() returned otherwise
            limit_threads(loaded.model, self.settings.model_threads)
            self.service = SentimentService(loaded.model)
        except Exception as exc:  # noqa: BLE001 - a challenger must never take production down with it
            self.state, self.reason = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("shadow: cannot load the challenger %s; production serves alone", self.uri)
            return
        self.loaded, self.state = loaded, "ready"
        self.metrics.set_shadow_model(loaded.info)
        threading.Thread(target=self._run, name="shadow-scorer", daemon=True).start()
        log.info("shadow: challenger %s v%s scores %.0f %% of prediction requests (queue %d, requests up to %d "
                 "comments)", loaded.info.get("name"), loaded.info.get("version"), self.settings.shadow_sample * 100,
                 self.settings.shadow_queue, self.settings.shadow_max_comments)

    def _absent(self, why: str) -> None:
        self.state, self.reason = "absent", why
        log.info("shadow: no challenger (%s)", why)

    def offer(self, texts: Sequence[str], predictions: Sequence[dict[str, Any]]) -> None:
        """A served request: queue it for the challenger when sampled; never blocks."""
        if self.state not in ("ready", "loading") or self._random.random() >= self.settings.shadow_sample:
            return
        if self.state == "loading":
            self.metrics.count_shadow_skipped("loading", len(texts))
            return
        if len(texts) > self.settings.shadow_max_comments:
            self.metrics.count_shadow_skipped("too_large", len(texts))
            return
        job = (datetime.now(UTC), list(texts), [p["prediction_id"] for p in predictions],
               [p["sentiment"] for p in predictions])
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.metrics.count_shadow_skipped("queue_full", len(texts))

    def _run(self) -> None:
        while True:  # a daemon thread: it ends with its worker (what is still queued then is not scored)
            job = self._queue.get()
            try:
                self.score(*job)
            finally:
                self._queue.task_done()

    def score(self, at: datetime, texts: list[str], ids: list[str], production: list[int]) -> None:
        """Score one request with the challenger, count it and hand its answers to the sink."""
        cpu, started = time.thread_time(), time.perf_counter()
        try:
            classes, proba = self.service.scores(texts)  # type: ignore[union-attr]  # ready: service is set
            ms = (time.perf_counter() - started) * 1000
            sentiments = [int(s) for s in classes]
            info = self.loaded.info  # type: ignore[union-attr]
            self.sink(model_info=info, at=at, ids=ids, sentiments=sentiments,  # type: ignore[misc]
                      proba=proba, ms=ms)
        except Exception:  # noqa: BLE001 - counted and logged; the answer was sent long ago
            self.metrics.count_shadow_skipped("error", len(texts))
            if not self._erred:
                self._erred = True
                log.exception("shadow: the challenger could not score a request of %d comments (logged once; "
                              "ytsentiment_shadow_skipped_total{reason=\"error\"} counts them)", len(texts))
            return
        finally:
            self.metrics.shadow_cpu.inc(time.thread_time() - cpu)
        self.metrics.count_shadow_scored(len(texts), sum(a != b for a, b in zip(sentiments, production, strict=True)))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until the queue is empty (tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks
