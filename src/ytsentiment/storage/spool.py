"""The prediction log: API workers spool raw predictions to local disk; one writer per host loads them.

``Spool`` (worker side) appends one JSON line per request (``encode``) to the worker's open segment
``<dir>/<ns>-<pid>.seg`` with one unbuffered ``os.write`` (no fsync): a killed worker loses nothing it appended; a
power cut loses what the kernel had not written back (Linux: within about 30 s), a torn last line is skipped. A
segment is locked (``flock``) while open and closed at ``segment_bytes``, after ``segment_seconds``, by ``flush`` /
``close``, or by the kernel when its worker dies. Past ``budget_bytes`` of segments on disk (each worker may pass it
by one segment) rows are dropped and counted, as when the disk refuses them; it never waits on the database.

``SpoolWriter`` (one per host: it holds ``<dir>/writer.lock``) loads each closed segment, oldest first, in one
transaction of INSERT ... ON CONFLICT (primary key) DO NOTHING (``predictions``, and ``shadow_predictions`` for the
challenger's lines), then deletes it, so a segment loaded again after a crash adds
no duplicate. While the database is down segments wait (nothing is lost within the budget). Rows refused for their
content go to ``<dir>/rejected/``. Its figures (written, rejected, healthy, last segment counted) are replaced
atomically in ``<dir>/writer.json`` after each segment: a successor continues them and counts no segment twice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from ytsentiment.storage.db import safe_url
from ytsentiment.storage.errors import NotLoggedYet
from ytsentiment.storage.models import Prediction, ShadowPrediction
from ytsentiment.storage.rows import prediction_row, shadow_row

log = logging.getLogger(__name__)
STATS = "writer.json"
NO_STATS = {"written": 0, "shadow_written": 0, "rejected": 0, "healthy": True, "last": ""}


TABLES = (Prediction, ShadowPrediction)  # loaded in this order within a segment's transaction


def encode(request: Mapping) -> bytes:
    """One request as a spool line: ``at`` (ISO time), ``model``, ``version``, ``video``, ``keep_text``, ``ms`` (the
    model's time for the batch) and the parallel lists ``ids``, ``texts``, ``sentiments``, ``proba`` (class order
    -1, 0, 1), ``languages``. The challenger's answers (``"kind": "shadow"``) have ``at``, ``model``, ``version``,
    ``ms``, ``ids``, ``sentiments`` and ``proba``."""
    return (json.dumps(request, separators=(",", ":")) + "\n").encode()


def rows_of(request: Mapping) -> tuple[type, list[dict]]:
    """The table and rows of one spooled line."""
    at = datetime.fromisoformat(request["at"])
    if request.get("kind") == "shadow":
        return ShadowPrediction, [
            shadow_row(prediction_id=pid, sentiment=sentiment, proba=proba, model_name=request["model"],
                       model_version=request["version"], created_at=at, latency_ms=request["ms"])
            for pid, sentiment, proba in zip(request["ids"], request["sentiments"], request["proba"], strict=True)]
    return Prediction, [
        prediction_row(text=text, sentiment=sentiment, proba=proba, model_name=request["model"],
                       model_version=request["version"], created_at=at, log_text=request["keep_text"],
                       prediction_id=pid, video_id=request["video"], language=language, latency_ms=request.get("ms"))
        for pid, text, sentiment, proba, language in zip(request["ids"], request["texts"], request["sentiments"],
                                                         request["proba"], request["languages"], strict=True)]


def read_stats(directory: Path | str) -> dict:
    """The writer's cumulative figures (``NO_STATS`` before its first segment)."""
    try:
        return {**NO_STATS, **json.loads((Path(directory) / STATS).read_text())}
    except (OSError, ValueError):
        return dict(NO_STATS)


def spool_bytes(directory: Path) -> int:
    return sum(_size(path) for path in Path(directory).glob("*.seg"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # loaded and deleted meanwhile
        return 0


def spooled_row(directory: Path | str, prediction_id: str, max_bytes: int = 64 * 2**20) -> dict | None:
    """The ``predictions`` row of ``prediction_id`` from the segments waiting in the spool (newest first), or None
    when none holds it. Raises ``NotLoggedYet`` when the waiting segments hold more than ``max_bytes`` and the ones
    read did not have it: it may be in an older one, so the answer is "later", not "unknown"."""
    needle, read = f'"{prediction_id}"'.encode(), 0
    for path in sorted(Path(directory).glob("*.seg"), reverse=True):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # loaded and deleted meanwhile
            continue
        read += len(data)
        if read > max_bytes:
            raise NotLoggedYet(prediction_id)
        for line in data.split(b"\n")[:-1] if needle in data else ():  # a torn last line has no newline
            if needle in line:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    table, rows = rows_of(json.loads(line))
                    if table is Prediction:  # not the challenger's line for the same id
                        return next((row for row in rows if row["id"] == prediction_id), None)
    return None


def insert_statement(engine, table: type = Prediction):
    """INSERT ... ON CONFLICT (primary key) DO NOTHING into ``table``, for SQLite or PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    keys = [c.name for c in table.__table__.primary_key.columns]  # type: ignore[attr-defined]
    return dialect.insert(table).on_conflict_do_nothing(index_elements=keys)


class Spool:
    """A serving process's side of the log (see the module docstring)."""

    def __init__(self, directory: Path | str, *, budget_bytes: int, segment_bytes: int, segment_seconds: float,
                 on_dropped: Callable[[int], object] | None = None) -> None:
        self.dir, self.budget, self.on_dropped = Path(directory), budget_bytes, on_dropped
        self.segment_bytes, self.segment_seconds = segment_bytes, segment_seconds
        self.dropped = self._size = self._rows = 0
        self._lock, self._stop, self._full = threading.Lock(), threading.Event(), False
        self._fd: int | None = None
        self._path, self._opened = self.dir, 0.0
        self._closed: dict[Path, int] = {}  # segments this process closed, and their rows, until they are loaded
        self._used, self._scanned = spool_bytes(self.dir), time.monotonic()
        threading.Thread(target=self._age_out, name="spool-segments", daemon=True).start()

    def append(self, line: bytes, rows: int) -> bool:
        """Spool one request's ``rows`` (its ``encode``d line); False when they were dropped (and counted)."""
        with self._lock:
            if self._fd is not None and self._size + len(line) > self.segment_bytes:
                self._close_segment()
            if self._used + len(line) > self.budget and time.monotonic() - self._scanned >= 1.0:
                self._used, self._scanned = spool_bytes(self.dir), time.monotonic()
            if self._stop.is_set() or self._used + len(line) > self.budget:
                return self._drop(rows, f"the spool {self.dir} is full (PREDICTION_LOG_SPOOL_BYTES)")
            try:
                if self._fd is None:
                    self._open_segment()
                if os.write(self._fd, line) != len(line):  # type: ignore[arg-type]  # opened above
                    raise OSError(errno.ENOSPC, "short write")
            except OSError as exc:
                if self._fd is not None:
                    self._close_segment()  # nothing is appended after a partial line
                return self._drop(rows, f"cannot write to the spool {self.dir} ({exc})")
            self._size += len(line)
            self._used += len(line)
            self._rows += rows
            self._full = False
            return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Close the open segment and wait until the writer has loaded every row this process spooled."""
        with self._lock:
            if self._fd is not None:
                self._close_segment()
        deadline = time.monotonic() + timeout
        while self.waiting() and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.waiting()

    def waiting(self) -> int:
        """Rows this process spooled that the writer has not loaded yet."""
        with self._lock:
            for path in [p for p in self._closed if not p.exists()]:
                del self._closed[path]
            return sum(self._closed.values()) + self._rows

    def stats(self) -> dict[str, int | bool]:
        """``written`` (by the host's writer, all workers), ``dropped`` and ``queued`` (this process), ``healthy``."""
        writer = read_stats(self.dir)
        return {"written": writer["written"], "dropped": self.dropped, "queued": self.waiting(),
                "healthy": bool(writer["healthy"]) and not self._full}

    def close(self) -> dict[str, int | bool]:
        """Close the open segment (its rows stay on disk for the writer); later rows are dropped and counted."""
        with self._lock:
            self._stop.set()
            if self._fd is not None:
                self._close_segment()
        return self.stats()

    def _open_segment(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{time.time_ns():020d}-{os.getpid()}.seg"
        new = path.with_suffix(".new")
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(new, path)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._path, self._opened, self._size, self._rows = fd, path, time.monotonic(), 0, 0

    def _close_segment(self) -> None:
        os.close(self._fd)  # type: ignore[arg-type]  # unlocks it: the writer may take it now
        self._fd = None
        self._closed[self._path] = self._rows
        self._rows = 0
        self._used, self._scanned = spool_bytes(self.dir), time.monotonic()

    def _drop(self, rows: int, why: str) -> bool:
        self.dropped += rows
        if not self._full:
            self._full = True
            log.warning("prediction log: %s; dropping rows (counted) until it has room", why)
        if self.on_dropped is not None:
            self.on_dropped(rows)
        return False

    def _age_out(self) -> None:
        while not self._stop.wait(self.segment_seconds / 2):
            with self._lock:
                if self._fd is not None and time.monotonic() - self._opened >= self.segment_seconds:
                    self._close_segment()


class SpoolWriter:
    """The host's loader of closed segments into ``predictions`` (see the module docstring)."""

    def __init__(self, directory: Path | str, engine, *, poll_seconds: float = 0.5, retry_seconds: float = 5.0):
        self.dir = Path(directory)
        (self.dir / "rejected").mkdir(parents=True, exist_ok=True)
        self.engine, self.where = engine, safe_url(engine.url)
        self.poll_seconds, self.retry_seconds = poll_seconds, retry_seconds
        self.stats = read_stats(self.dir)

    def run(self, stop: threading.Event) -> None:
        """Take the host's writer lock (waiting for it), then load closed segments until ``stop`` is set."""
        with open(self.dir / "writer.lock", "ab") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if stop.wait(1.0):
                        return
            self.stats = read_stats(self.dir)  # the predecessor's final figures
            log.info("prediction log writer: loading %s into %s", self.dir, self.where)
            while not stop.wait(self.poll_seconds if self.load_ready() else self.retry_seconds):
                pass
            done = self.load_ready()  # what the workers closed while it stopped
            left = sum(1 for _ in self.dir.glob("*.seg"))
            log.info("prediction log writer stopped: %d rows written in all, %d rejected; %d segments left in %s%s",
                     self.stats["written"], self.stats["rejected"], left, self.dir,
                     "" if done else f" ({self.where} cannot be reached)")

    def load_ready(self) -> bool:
        """Load every closed segment, oldest first; False when the database cannot take them (they wait)."""
        for path in sorted(self.dir.glob("*.seg")):
            try:
                with open(path, "rb") as segment:
                    fcntl.flock(segment, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    data = segment.read()
            except (BlockingIOError, FileNotFoundError):  # still open in its worker / already loaded
                continue
            if not self.load(path, data):
                return False
        return True

    def load(self, path: Path, data: bytes) -> bool:
        """Write one segment's rows, count them once, delete it; False (segment kept) when the database is down."""
        from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

        rows: dict[type, list[dict]] = {table: [] for table in TABLES}
        bad = []
        for line in data.split(b"\n")[:-1]:  # a torn last line has no newline
            try:
                table, found = rows_of(json.loads(line))
                rows[table].extend(found)
            except (ValueError, KeyError, TypeError):
                bad.append(line.decode(errors="replace"))
        try:
            try:
                with self.engine.begin() as conn:
                    for table, some in rows.items():
                        if some:
                            conn.execute(insert_statement(self.engine, table), some)
            except (IntegrityError, DataError):  # some row's content: write the others one by one
                good: dict[type, list[dict]] = {table: [] for table in TABLES}
                for table, some in rows.items():
                    for row in some:
                        try:
                            with self.engine.begin() as conn:
                                conn.execute(insert_statement(self.engine, table), [row])
                            good[table].append(row)
                        except (IntegrityError, DataError):
                            bad.append(json.dumps(row, default=str))
                rows = good
        except SQLAlchemyError as exc:
            self._health(False, exc)
            return False
        if bad:
            (self.dir / "rejected" / f"{path.stem}.jsonl").write_text("\n".join(bad) + "\n")
            log.warning("prediction log: %d rows or lines of %s refused; kept in %s", len(bad), path.name,
                        self.dir / "rejected")
        if self.stats["last"] != path.name:  # not counted before a crash between counting and deleting
            self.stats.update(written=self.stats["written"] + len(rows[Prediction]),
                              shadow_written=self.stats["shadow_written"] + len(rows[ShadowPrediction]),
                              rejected=self.stats["rejected"] + len(bad), last=path.name)
        self._health(True)
        path.unlink()
        return True

    def _health(self, healthy: bool, error: Exception | None = None) -> None:
        if healthy and not self.stats["healthy"]:
            log.info("prediction log: writing to %s again", self.where)
        elif not healthy and self.stats["healthy"]:
            log.warning("prediction log: cannot write to %s (%s); rows wait in %s until it answers (logged once per "
                        "outage)", self.where, " ".join(str(getattr(error, "orig", None) or error).split())[:300],
                        self.dir)
        self.stats["healthy"] = healthy
        (self.dir / f"{STATS}.tmp").write_text(json.dumps(self.stats))
        os.replace(self.dir / f"{STATS}.tmp", self.dir / STATS)
