"""The API's database (``storage`` extension): prediction log, feedback labels, the monitoring gauges' source.

``storage.init_app(app)`` gives each app (one per gunicorn worker, built after the fork) a ``StorageState``, reached
by views through ``current_storage()``. Its engine comes from ``Settings.storage`` (DATABASE_URL) or the
``database_url`` / ``database_engine`` of ``create_app(config)``, waiting at most DATABASE_TIMEOUT_SECONDS. With
DATABASE_AUTO_MIGRATE it migrates the schema in a background thread, retried every minute while that fails.
``record(...)`` spools a request's predictions once its answer is sent (``storage.spool``; the host's writer loads
them), keeping the text only when PREDICTION_LOG_TEXT says so. ``close()`` (gunicorn's ``worker_exit``) closes this
worker's spool segment and the engine.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from ytsentiment.api.metrics import LogCollector, Metrics, MonitorCollector
from ytsentiment.api.settings import Settings
from ytsentiment.api.state import EXTENSION_KEY
from ytsentiment.config import model_name as default_model_name
from ytsentiment.storage.db import make_engine, safe_url
from ytsentiment.storage.errors import UnknownPrediction
from ytsentiment.storage.feedback import address_hash, record_feedback
from ytsentiment.storage.migrate import upgrade
from ytsentiment.storage.monitor import monitor_runs
from ytsentiment.storage.spool import NO_STATS, Spool, encode, insert_statement, read_stats, spooled_row

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

STORAGE_KEY = "ytsentiment.storage"
SPOOL_RACE_SECONDS = 0.2
MIGRATE_RETRY_SECONDS = 60.0


class StorageState:
    """One app's database: engine, schema step, prediction log, feedback, cached monitoring run."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.storage_settings = settings.storage
        self.log_text = self._log_text(settings)
        self.logging_enabled = settings.prediction_log
        if settings.database_engine is not None:
            self.engine: Engine = settings.database_engine
            self._owns_engine = False
        else:
            self.engine = make_engine(settings.database_url or self.storage_settings.database_url,
                                      timeout=settings.database_timeout_seconds)
            self._owns_engine = True
        self.where = safe_url(self.engine.url)
        if self.logging_enabled and self.engine.url.get_backend_name() == "sqlite" \
                and self.engine.url.database in (None, "", ":memory:"):
            raise ValueError("the prediction log is loaded by a writer process, which cannot see an in-memory SQLite "
                             "database: use a SQLite file or a server (DATABASE_URL), or PREDICTION_LOG=off")
        self.schema_ready = threading.Event()  # set when the schema step is over (migrated, failed, or skipped)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._pid: int | None = None
        self._log: Spool | None = None
        self._monitor_lock = threading.Lock()
        self._monitor_cache: tuple[float, str, dict | None] | None = None

    def _log_text(self, settings: Settings) -> bool:
        if settings.prediction_log_text is not None:
            return bool(settings.prediction_log_text)
        if (settings.database_url or settings.database_engine is not None) and not self.storage_settings.log_text_set:
            return False  # storage's rule: the text is kept by default on the embedded store only
        return self.storage_settings.log_text

    # -- schema --------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the schema step in the background (or mark it done when DATABASE_AUTO_MIGRATE is off)."""
        if not self.settings.database_auto_migrate:
            self.schema_ready.set()
            return
        threading.Thread(target=self._migrate, name="db-migrate", daemon=True).start()

    def _migrate(self) -> None:
        url = self.engine.url.render_as_string(hide_password=False)
        failures = 0
        while not self._closing.is_set():
            try:
                revision = upgrade(url)
            except Exception as exc:  # noqa: BLE001 - a database that is down must not stop the worker
                failures += 1
                if failures == 1:
                    log.warning("database %s: cannot migrate the schema (%s); predictions are still served, the "
                                "prediction log drops rows and /feedback answers 503 until it works. Retrying "
                                "every %.0f s", self.where, exc, MIGRATE_RETRY_SECONDS)
                    self.schema_ready.set()
                self._closing.wait(MIGRATE_RETRY_SECONDS)
                continue
            log.info("database %s at schema %s%s", self.where, revision,
                     f" after {failures} failed attempts" if failures else "")
            self.schema_ready.set()
            return

    # -- prediction log ------------------------------------------------------------------------------------------
    def _log_here(self) -> Spool:
        """This process's spool, made on first use (never inherited from a parent process)."""
        with self._lock:
            if self._log is None or self._pid != os.getpid():
                s = self.storage_settings
                self._log = Spool(s.spool_dir, budget_bytes=s.spool_bytes, segment_bytes=s.segment_bytes,
                                  segment_seconds=s.segment_seconds, on_dropped=self.metrics.log_dropped.inc)
                self._pid = os.getpid()
            return self._log

    def record(self, *, model_info: dict, video_id: str | None, predictions: Sequence[Mapping[str, Any]],
               proba, ms: float | None = None) -> None:
        """Spool one request's predictions (``ms``: the model's time for them); never waits for the database. The
        prediction routes call it once their answer is sent (see the module docstring)."""
        if not self.logging_enabled or not predictions:
            return
        self._log_here().append(encode({
            "at": datetime.now(UTC).isoformat(), "model": str(model_info.get("name") or default_model_name()),
            "version": str(model_info.get("version") or "unknown"), "video": video_id, "keep_text": self.log_text,
            "ms": None if ms is None else round(ms, 3),
            "ids": [p["prediction_id"] for p in predictions], "texts": [p["comment"] for p in predictions],
            "sentiments": [p["sentiment"] for p in predictions], "proba": proba.tolist(),
            "languages": [p["language"] for p in predictions]}), len(predictions))

    def record_shadow(self, *, model_info: dict, at: datetime, ids: Sequence[str], sentiments: Sequence[int], proba,
                      ms: float) -> None:
        """Spool the challenger's answers for production's ``ids`` (``api.shadow``'s sink)."""
        if not self.logging_enabled or not ids:
            return
        self._log_here().append(encode({
            "kind": "shadow", "at": at.isoformat(), "model": str(model_info.get("name") or default_model_name()),
            "version": str(model_info.get("version") or "unknown"), "ms": round(ms, 3), "ids": list(ids),
            "sentiments": list(sentiments), "proba": proba.tolist()}), len(ids))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the writer has loaded every prediction this process recorded (tests)."""
        return self._log is None or self._pid != os.getpid() or self._log.flush(timeout)

    def stats(self) -> dict[str, int | bool]:
        if self._log is None:
            return {"written": 0, "dropped": 0, "queued": 0, "healthy": True}
        return self._log.stats()

    def close(self, timeout: float = 5.0) -> None:
        """Close this process's spool segment (its rows stay for the writer), then the engine."""
        self._closing.set()
        if self._log is not None and self._pid == os.getpid():
            closed = self._log.close()
            log.info("prediction log closed: %d rows of this worker left in the spool for the writer, %d dropped",
                     closed["queued"], closed["dropped"])
        if self._owns_engine:
            self.engine.dispose()

    # -- feedback and monitoring ---------------------------------------------------------------------------------
    def record_feedback(self, *, label: int, client_id: str, prediction_id: str | None, text: str | None,
                        model_info: dict | None, address: str | None = None,
                        max_clients_per_address: int | None = None):
        """``storage.record_feedback``. A prediction still waiting in this host's spool is written first (as the
        writer would write it: its later load adds nothing), so a label right after the answer is taken. Raises
        UnknownPrediction, NotLoggedYet (too far behind to tell), InvalidFeedback, TooManyClients or
        SQLAlchemyError."""
        info = model_info or {}

        def record():
            return record_feedback(self.engine, label=label, client_id=client_id, prediction_id=prediction_id,
                                   text=text, model_name=info.get("name") or default_model_name(),
                                   model_version=None if info.get("version") is None else str(info["version"]),
                                   address=address, max_clients_per_address=max_clients_per_address)

        try:
            return record()
        except UnknownPrediction:
            if not (prediction_id and self.logging_enabled):
                raise
        for _ in range(2):  # its line is appended after the answer is sent (call_on_close): look twice
            row = spooled_row(self.storage_settings.spool_dir, prediction_id)
            if row is not None:
                with self.engine.begin() as conn:
                    conn.execute(insert_statement(self.engine), [row])
                break
            time.sleep(SPOOL_RACE_SECONDS)
        return record()  # also when the writer loaded it (and deleted its segment) meanwhile; else UnknownPrediction

    def queue_feedback(self, *, label: int, client_id: str, prediction_id: str | None, text: str | None,
                       model_info: dict | None, address: str | None = None,
                       max_clients_per_address: int | None = None) -> bool:
        """Spool a label the database could not take: the host's writer stores it with ``record_feedback`` (at the
        time it was sent) once the database answers, after the predictions spooled before it. False when the
        prediction log is off or its spool is full."""
        if not self.logging_enabled:
            return False
        info = model_info or {}
        return self._log_here().append(encode({
            "kind": "feedback", "at": datetime.now(UTC).isoformat(), "label": label, "client_id": client_id,
            "prediction_id": prediction_id, "text": text, "model_name": str(info.get("name") or default_model_name()),
            "model_version": None if info.get("version") is None else str(info["version"]),
            "hashed_address": address_hash(address), "max_clients_per_address": max_clients_per_address}), 0)

    def latest_monitor_run(self, model_name: str) -> dict | None:
        """The newest ``monitor_runs`` row of ``model_name`` (``storage.monitor_runs`` shape), cached for
        MONITOR_CACHE_SECONDS; None when there is none or the database cannot be read (failures are cached too,
        so a database that is down costs a scrape at most one timeout per period)."""
        now = time.monotonic()
        with self._monitor_lock:
            cached = self._monitor_cache
            if cached is not None and cached[1] == model_name and now - cached[0] < self.settings.monitor_cache_seconds:
                return cached[2]
            try:
                rows = monitor_runs(self.engine, model_name=model_name, limit=1)
                run = rows[0] if rows else None
            except Exception as exc:  # noqa: BLE001 - no database, no schema yet, a bad summary: no gauges
                log.debug("monitoring gauges: cannot read monitor_runs from %s: %s", self.where, exc)
                run = None
            self._monitor_cache = (now, model_name, run)
            return run


class Storage:
    """The extension object: ``init_app(app)`` builds and starts the app's ``StorageState``."""

    def init_app(self, app: Flask) -> None:
        api = app.extensions[EXTENSION_KEY]
        state = StorageState(api.settings, api.metrics)
        app.extensions[STORAGE_KEY] = state

        def read_monitor() -> dict | None:
            info = api.holder.model.info if api.holder.model is not None else {}
            return state.latest_monitor_run(str(info.get("name") or default_model_name()))

        def read_log() -> dict:
            return read_stats(state.storage_settings.spool_dir) if state.logging_enabled else NO_STATS

        if state.logging_enabled:
            api.shadow.sink = state.record_shadow
        api.metrics.use_collector(MonitorCollector(read_monitor))
        api.metrics.use_collector(LogCollector(read_log))
        state.start()
        log.info("database %s; prediction log %s (text %s)", state.where,
                 "on" if state.logging_enabled else "off (PREDICTION_LOG)", "kept" if state.log_text else "not kept")


def current_storage() -> StorageState | None:
    """The storage of the app handling the current request (None when no storage is bound)."""
    return current_app.extensions.get(STORAGE_KEY)


storage = Storage()
