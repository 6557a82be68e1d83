"""The prediction log's writer: rows go into the database in batches, off the request path.

``PredictionLog.submit(rows)`` only appends the request's rows, as one list, to a bounded in-memory queue (bounded
in rows) and returns; it never waits on the database. A daemon thread takes them off in batches (``batch_size``
rows, or whatever arrived within ``flush_seconds``) and INSERTs each batch in one transaction. One queue item per
request, not per row: the writer thread wakes once per request instead of once per row (measured: per-row puts made
it contend with the serving thread for the GIL 100 times per 100-comment request).

When the database is slow or down, serving does not notice: a batch is retried a bounded number of times (once
when an outage is already known), then dropped; when the queue is full, new rows are dropped at once. Every dropped
row is counted (``dropped``, and the ``on_dropped(n)`` hook, e.g. a Prometheus counter's ``inc``). One WARNING is
logged per outage, not per request or batch, and one INFO when writes succeed again. A batch that the database
refuses for its content (a duplicate id...) is written row by row so the good rows still land.

``close(timeout)`` writes what it can at shutdown; rows still queued when it gives up are counted as dropped.
``flush(timeout)`` waits until every submitted row has been written or dropped (tests, shutdown hooks).
Not fork-safe by design: create it in each worker process (after gunicorn forks), not in the master.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ytsentiment.storage.rows import check_row

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

Hook = Callable[[int], object]


class Counted:
    """The two totals every prediction log keeps (``PredictionLog`` here, ``LogProcess`` in its own process)."""

    _written = _dropped = 0

    @property
    def written(self) -> int:
        return self._written

    @property
    def dropped(self) -> int:
        return self._dropped


class PredictionLog(Counted):
    """Batched, non-blocking writer of ``predictions`` rows (dicts, see ``rows.prediction_row``)."""

    def __init__(self, engine: Engine | str | None = None, *, queue_size: int | None = None,
                 batch_size: int | None = None, flush_seconds: float | None = None, max_retries: int = 2,
                 retry_seconds: float = 0.5, on_written: Hook | None = None, on_dropped: Hook | None = None,
                 start: bool = True):
        from ytsentiment.storage.db import make_engine, safe_url
        from ytsentiment.storage.settings import StorageSettings

        settings = StorageSettings.from_env()
        self.engine = engine if engine is not None and not isinstance(engine, str) else make_engine(engine)
        self.where = safe_url(self.engine.url)
        self.batch_size = batch_size or settings.batch_size
        self.flush_seconds = settings.flush_seconds if flush_seconds is None else flush_seconds
        self.max_retries = max_retries
        self.retry_seconds = retry_seconds
        self.on_written, self.on_dropped = on_written, on_dropped
        self.queue_size = queue_size or settings.queue_size
        self._queue: deque[list[dict]] = deque()  # one list of rows per submit()
        self._queue_rows = 0  # rows in self._queue (the bound is on rows, not on submits)
        self._lock = threading.Condition()  # guards the counters and the queue; the writer waits on it
        self._written = self._dropped = self._pending = 0
        self._statement: tuple[str, tuple[str, ...]] | None = None
        self._outage_dropped = 0
        self.healthy = True
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        if start:
            self.start()

    # -- counters --------------------------------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Rows submitted and not yet written or dropped (in the queue or in the batch being written)."""
        return self._pending

    def stats(self) -> dict[str, int | bool]:
        with self._lock:
            return {"written": self._written, "dropped": self._dropped, "queued": self._pending,
                    "healthy": self.healthy}

    # -- caller side -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background writer (the constructor does, unless ``start=False``)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
            self._thread.start()

    def submit(self, rows: Iterable[Mapping]) -> int:
        """Queue rows for writing; never blocks. Returns how many were accepted (the rest are counted dropped)."""
        if os.getpid() != self._pid:
            raise RuntimeError("PredictionLog was created before a fork; create it in the worker process")
        batch = [dict(row) for row in rows]
        for row in batch:
            check_row(row)
        with self._lock:  # counted before they are queued, so flush() never sees a row it does not wait for
            self._pending += len(batch)
            accepted = 0 if self._closing.is_set() else max(0, min(len(batch), self.queue_size - self._queue_rows))
            if accepted:
                was_empty = not self._queue
                self._queue.append(batch[:accepted] if accepted < len(batch) else batch)
                self._queue_rows += accepted
                if was_empty or self._queue_rows >= self.batch_size:  # the writer waits for one of these two
                    self._lock.notify_all()
        if accepted < len(batch):
            self._count_dropped(len(batch) - accepted, pending=True)
        return accepted

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted row is written or dropped; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> dict[str, int | bool]:
        """Write what can be written within ``timeout`` seconds, stop the thread, count the rest as dropped."""
        self._closing.set()
        with self._lock:
            self._lock.notify_all()  # the thread stops waiting for a batch to fill
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:  # the thread gave up or is stuck on the database: what is queued will never be written
            left = self._queue_rows
            self._queue.clear()
            self._queue_rows = 0
        if left:
            self._count_dropped(left, pending=True)
            log.warning("prediction log: %d rows not written at shutdown (database %s)", left, self.where)
        return self.stats()

    # -- writer thread ---------------------------------------------------------------------------------------------
    def _take(self, limit: int) -> list[dict]:
        """Up to ``limit`` rows off the queue (a request's list may be split between two batches); lock held."""
        taken: list[dict] = []
        while self._queue and len(taken) < limit:
            rows = self._queue.popleft()
            room = limit - len(taken)
            if len(rows) > room:
                self._queue.appendleft(rows[room:])
                rows = rows[:room]
            taken.extend(rows)
        self._queue_rows -= len(taken)
        return taken

    def _next_batch(self) -> list[dict]:
        """``batch_size`` rows, or what arrived within ``flush_seconds`` of the first; [] after 1 s of nothing."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._queue or self._closing.is_set(), timeout=1.0):
                return []
            if not self._queue:
                return []
            if self._queue_rows < self.batch_size and not self._closing.is_set():
                self._lock.wait_for(lambda: self._queue_rows >= self.batch_size or self._closing.is_set(),
                                    timeout=self.flush_seconds)
            return self._take(self.batch_size)

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._write(batch)
            if self._closing.is_set():
                with self._lock:
                    if not self._queue:
                        return

    def _write(self, batch: list[dict]) -> None:
        from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

        attempts = 1 + (self.max_retries if self.healthy else 0)
        error: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                self._closing.wait(self.retry_seconds * 2 ** (attempt - 1))  # shutdown cuts the back-off short
            try:
                self._insert(batch)
            except (IntegrityError, DataError):
                self._write_one_by_one(batch)
                return
            except SQLAlchemyError as exc:
                error = exc
                continue
            except Exception as exc:  # noqa: BLE001 - a driver or programming error: not retried, never fatal
                log.exception("prediction log: writing %d rows to %s failed unexpectedly; dropped", len(batch),
                              self.where)
                error = exc
                break
            self._recovered(len(batch))
            return
        self._outage(batch, error)

    def _insert(self, rows: list[dict]) -> None:
        # The driver's own executemany on the dialect's compiled INSERT: SQLAlchemy's per-row parameter processing
        # cost 2.1 ms of this thread's CPU (and GIL) per 100 rows, the driver's C loop a fraction of it (measured).
        # The one type that needs converting is done here, as UTCDateTime does it.
        from ytsentiment.storage.models import UTCDateTime

        sql, columns = self._compiled()
        to_db = UTCDateTime().process_bind_param
        dialect = self.engine.dialect
        at = columns.index("created_at")
        params = []
        for row in rows:
            values = list(map(row.get, columns))
            values[at] = to_db(values[at], dialect)
            params.append(tuple(values))
        with self.engine.begin() as conn:
            conn.exec_driver_sql(sql, params)

    def _compiled(self) -> tuple[str, tuple[str, ...]]:
        """INSERT INTO predictions for this engine's dialect, with positional parameters, and their column order."""
        if self._statement is None:
            from sqlalchemy import insert

            from ytsentiment.storage.models import PREDICTION_COLUMNS, Prediction

            compiled = insert(Prediction).values({c: None for c in PREDICTION_COLUMNS}).compile(
                dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
            sql = compiled.string
            if compiled.positional:  # qmark / format styles (sqlite3 ...)
                names = list(compiled.positiontup or ())
            else:  # pyformat (psycopg's %(name)s): the names in the order they appear, then plain %s
                names = re.findall(r"%\((\w+)\)s", sql)
                sql = re.sub(r"%\((\w+)\)s", "%s", sql)
            self._statement = (sql, tuple(names))
        return self._statement

    def _write_one_by_one(self, batch: list[dict]) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        good, bad = 0, []
        for row in batch:
            try:
                self._insert([row])
                good += 1
            except SQLAlchemyError as exc:
                bad.append((row.get("id"), type(exc).__name__, str(getattr(exc, "orig", exc)).splitlines()[0]))
        if good:
            self._recovered(good)
        if bad:
            log.warning("prediction log: %d rows refused by the database (first: id %s, %s: %s)", len(bad), *bad[0])
            self._count_dropped(len(bad), pending=True)

    def _recovered(self, n: int) -> None:
        with self._lock:
            self._written += n
            self._pending -= n
            was_down, lost = not self.healthy, self._outage_dropped
            self.healthy, self._outage_dropped = True, 0
            self._lock.notify_all()
        if was_down:
            log.info("prediction log: writing to %s again; %d rows were dropped during the outage", self.where, lost)
        call_hook(self.on_written, n)

    def _outage(self, batch: list[dict], error: Exception | None) -> None:
        with self._lock:
            first = self.healthy
            self.healthy = False
        if first:
            detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            log.warning("prediction log: cannot write to %s (%s: %s); dropping rows until it answers again "
                        "(logged once per outage)", self.where, type(error).__name__, detail)
        self._count_dropped(len(batch), pending=True)

    def _count_dropped(self, n: int, pending: bool = False) -> None:
        with self._lock:
            self._dropped += n
            if not self.healthy:
                self._outage_dropped += n
            if pending:
                self._pending -= n
            self._lock.notify_all()
        call_hook(self.on_dropped, n)


def call_hook(hook: Hook | None, n: int) -> None:
    """``hook(n)`` (a counter's ``inc``...), if any; its failure is logged, never raised into the log's threads."""
    if hook is None:
        return
    try:
        hook(n)
    except Exception:  # noqa: BLE001 - a broken metrics hook must not stop logging
        log.exception("prediction log: the counter hook failed")
