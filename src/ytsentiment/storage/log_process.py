"""The prediction log in a process of its own: a serving worker hands over raw predictions, a child process builds
the rows and writes them, so logging costs the worker's interpreter almost nothing.

Why a process: building a row (descriptors, hash) and binding its INSERT parameters hold the GIL. In the serving
worker that cost about 1.6 ms per 100 comments, on the same interpreter that answers the next request (measured
with ``make bench-api``). Here the worker pickles one tuple per request (about 30 us for 100 comments) and writes
it into a pipe; the row building and the database run in the child, on another core.

Worker side, ``LogProcess`` (one per serving process, created after gunicorn forks):

- ``submit(served)`` never blocks and never raises: the serving thread writes the request's predictions into the
  child's pipe (non-blocking, 1 MiB of room where Linux allows it) and nothing else wakes; what does not fit waits
  in an in-memory queue that a sender thread writes on, ringing the child awake. The child reads its pipe once per
  ``flush_seconds`` otherwise (see ``serve``). **Bounded in rows**: rows handed over and not yet written or
  dropped by the child (in the queue, the pipe or the child) never exceed ``queue_size``; beyond that, new rows
  are dropped at once and counted.
- ``start()`` launches the child (``python -m ytsentiment.storage.log_process``, fed through two pipes: no
  multiprocessing semaphores, no resource tracker, nothing of the worker's state inherited). Until then rows wait
  in the queue (the API starts it once the schema step is over).
- Counters: the child reports its cumulative figures after every batch; a reader thread turns them into the
  ``on_written(n)`` / ``on_dropped(n)`` hooks (the worker's Prometheus counters, so ``/metrics`` stays correct
  under several workers). ``stats()`` gives written, dropped, queued and the database's health.
- **The child dies** (killed, out of memory): the rows it had not accounted for are counted as dropped, one
  warning is logged, and the next ``submit`` starts a new child (at most one start per ``restart_seconds``;
  rows submitted in between are dropped and counted).
- ``flush(timeout)`` waits until every submitted row is written or dropped; ``close(timeout)`` writes what it
  can, stops the child and counts the rest as dropped.

Child side, ``main()``: reads the configuration (database URL, row settings) from the pipe, never from argv (the
URL may hold a password), builds rows with ``rows.prediction_row`` and writes them with ``writer.PredictionLog``
(batched, retried, one warning per outage). It runs at the worker's priority: at a lower one (niceness +10) it fell
behind when two clients kept both cores busy, and 6 % of the rows were dropped. It imports neither numpy nor
pandas (about 50 MB resident). It ignores SIGINT/SIGTERM (its worker stops it with ``close``); when the worker
disappears without closing, the request pipe ends and the child writes what it holds, then exits.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ytsentiment.storage.writer import Counted, Hook, call_hook

log = logging.getLogger(__name__)
RESTART_SECONDS = 5.0
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20  # Linux's default ceiling for unprivileged processes (/proc/sys/fs/pipe-max-size)
WRITE_DELAY_SECONDS = 0.05


@dataclass(frozen=True)
class Served:
    """One request's predictions, as the child needs them to build its ``predictions`` rows."""

    created_at: datetime
    model_name: str
    model_version: str
    video_id: str | None
    texts: Sequence[str]
    sentiments: Sequence[int]
    proba: Any  # rows of class probabilities in class order (-1, 0, 1): lists (an array makes the child load numpy)
    ids: Sequence[str]
    languages: Sequence[str | None]


@dataclass(frozen=True)
class ChildConfig:
    url: str  # rendered with its password: sent through the pipe only
    timeout: float | None
    log_text: bool
    queue_size: int
    batch_size: int | None = None
    flush_seconds: float | None = None


def check_shareable(url: str) -> None:
    """Raise ValueError for a database another process cannot open (in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("the prediction log writes from its own process, which cannot see an in-memory SQLite "
                         "database: use a SQLite file or a server (DATABASE_URL), or PREDICTION_LOG=off")


class _Child:
    """One child process and its three pipes (requests, results, bell), with what it has accounted for."""

    def __init__(self, config: ChildConfig) -> None:
        import ytsentiment

        requests_r, requests_w = os.pipe()
        results_r, results_w = os.pipe()
        bell_r, bell_w = os.pipe()
        env = dict(os.environ)
        package_root = str(Path(ytsentiment.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ytsentiment.storage.log_process", str(requests_r), str(results_w),
                 str(bell_r)],
                pass_fds=(requests_r, results_w, bell_r), stdin=subprocess.DEVNULL, env=env, close_fds=True)
        except BaseException:
            for fd in (requests_w, results_r, bell_w):
                os.close(fd)
            raise
        finally:
            for fd in (requests_r, results_w, bell_r):
                os.close(fd)
        self.requests = Connection(requests_w, readable=False)
        self.results = Connection(results_r, writable=False)
        self.fd, self.bell = requests_w, bell_w
        try:
            self.requests.send(("config", asdict(config)))
        except OSError:  # it died at once (EPIPE): nothing is left behind
            self.process.kill()
            self.process.wait()
            self.close_pipes()
            raise
        os.set_blocking(self.fd, False)  # the serving thread writes without waiting (see LogProcess.submit)
        os.set_blocking(self.bell, False)
        try:  # room for bursts of requests while the child builds rows (Linux; the default is 64 KiB)
            fcntl.fcntl(self.fd, F_SETPIPE_SZ, PIPE_BYTES)
        except (OSError, AttributeError):
            pass
        self.sent = 0  # rows handed to this child
        self.written = self.dropped = 0  # its cumulative figures, as last reported
        self.healthy = True
        self.alive = True

    @property
    def unaccounted(self) -> int:
        return self.sent - self.written - self.dropped

    def gone(self) -> bool:
        """Whether the child has ended (a predicate for ``Condition.wait_for``)."""
        return not self.alive

    def ring(self) -> None:
        """Wake the child now (it otherwise reads its pipe once per flush interval)."""
        try:
            os.write(self.bell, b"!")
        except OSError:  # full (it is ringing already) or the child is gone
            pass

    def write(self, data: memoryview) -> bool:
        """Write all of ``data``, waking the child while the pipe is full; False when the child is gone."""
        while data:
            try:
                data = data[os.write(self.fd, data):]
            except BlockingIOError:
                self.ring()
                waiter = select.poll()
                waiter.register(self.fd, select.POLLOUT)
                waiter.poll(1000)
            except OSError:  # EPIPE: it exited
                return False
        self.ring()
        return True

    def close_pipes(self) -> None:
        for conn in (self.requests, self.results):
            try:
                conn.close()
            except OSError:
                pass
        try:
            os.close(self.bell)
        except OSError:
            pass


def _frame(message: tuple) -> bytes:
    """``message`` as ``multiprocessing.connection.Connection.recv`` reads it: a length header, then the pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    header = struct.pack("!i", len(data)) if len(data) < 0x7FFFFFFF else struct.pack("!iQ", -1, len(data))
    return header + data


class LogProcess(Counted):
    """The worker's handle on its logging child (see the module docstring)."""

    def __init__(self, url: str, *, timeout: float | None = None, log_text: bool = True,
                 queue_size: int | None = None, batch_size: int | None = None, flush_seconds: float | None = None,
                 on_written: Hook | None = None, on_dropped: Hook | None = None,
                 restart_seconds: float = RESTART_SECONDS) -> None:
        from ytsentiment.storage.settings import StorageSettings

        check_shareable(url)
        self.config = ChildConfig(url=url, timeout=timeout, log_text=log_text,
                                  queue_size=queue_size or StorageSettings.from_env().queue_size,
                                  batch_size=batch_size, flush_seconds=flush_seconds)
        self.queue_size = self.config.queue_size
        self.on_written, self.on_dropped = on_written, on_dropped
        self.restart_seconds = restart_seconds
        self._lock = threading.Condition()
        # Framed messages for the child, in order, as (bytes, rows, kind); kind "rest" is the remainder of a frame
        # the serving thread could not write whole (it belongs to that child's stream), "close" the last one.
        self._outbox: deque[tuple[memoryview, int, str]] = deque()
        self._outbox_rows = 0  # rows in the outbox, not yet counted as sent to a child
        self._sending = False  # the sender thread is writing a frame
        self._child: _Child | None = None
        self._started_at = float("-inf")
        self._wanted = False  # start() was called: a dead child may be replaced
        self._closing = False
        self._written = self._dropped = 0  # totals over every child, plus the drops made here
        self._flush_tokens = itertools.count(1)
        self._flushed = 0  # the newest flush token answered (the child answers them in order)
        self._pid = os.getpid()
        self._sender: threading.Thread | None = None

    # -- figures ---------------------------------------------------------------------------------------------------
    def _in_flight(self) -> int:
        """Rows submitted and not yet written or dropped (lock held)."""
        return self._outbox_rows + (self._child.unaccounted if self._child is not None else 0)

    def stats(self) -> dict[str, int | bool]:
        with self._lock:
            healthy = self._child.healthy if self._child is not None and self._child.alive else self._child is None
            return {"written": self._written, "dropped": self._dropped, "queued": self._in_flight(),
                    "healthy": healthy}

    # -- caller side -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the child (and the sender thread); rows submitted before wait in the queue."""
        if os.getpid() != self._pid:
            raise RuntimeError("LogProcess was created before a fork; create it in the worker process")
        with self._lock:
            self._wanted = True
            if self._closing or (self._child is not None and self._child.alive):
                return
            self._launch()

    def _launch(self) -> None:
        """A new child; lock held. A failure to start is logged, and the queued rows wait for the next attempt."""
        self._started_at = time.monotonic()
        try:
            child = _Child(self.config)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("prediction log: cannot start its process (%s); rows are dropped and counted until it "
                        "starts", exc)
            return
        self._child = child
        threading.Thread(target=self._read, args=(child,), name="prediction-log-results", daemon=True).start()
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="prediction-log-sender", daemon=True)
            self._sender.start()
        self._lock.notify_all()

    def submit(self, served: Served) -> bool:
        """Hand one request's predictions to the child; never blocks. False when they were dropped (counted).

        In the common case the calling (serving) thread writes the pickled request straight into the pipe, which
        is non-blocking and has room for many requests: no second thread wakes in the worker. Only when the pipe is
        full, or messages are already waiting, does the rest go to the outbox for the sender thread. (Waking a
        thread or the child after every request cost the workers about 0.9 ms of CPU per 100-comment request in
        a probe; see the README's "Serve the API".)
        """
        n = len(served.texts)
        if not n:
            return True
        frame = memoryview(_frame(("rows", served)))
        with self._lock:
            if self._wanted and not self._closing and (self._child is None or not self._child.alive) \
                    and time.monotonic() - self._started_at >= self.restart_seconds:
                self._launch()
            child = self._child
            live = child is not None and child.alive
            accept = not self._closing and self._in_flight() + n <= self.queue_size and (not self._wanted or live)
            if not accept:
                self._dropped += n
            elif live and child is not None and not self._outbox and not self._sending:
                child.sent += n
                try:
                    written = os.write(child.fd, frame)
                except BlockingIOError:
                    written = 0
                except OSError:  # EPIPE: the child is gone; its reader thread counts these rows with the rest
                    written = len(frame)
                if written < len(frame):  # the pipe is full: the sender thread waits for room, waking the child
                    self._outbox.append((frame[written:], 0, "rest"))
                    self._lock.notify_all()
            else:
                self._outbox.append((frame, n, "message"))
                self._outbox_rows += n
                self._lock.notify_all()
        if not accept:
            call_hook(self.on_dropped, n)
        return accept

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted row is written or dropped; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._in_flight() == 0:
                return True
            token = next(self._flush_tokens)
            self._outbox.append((memoryview(_frame(("flush", token, timeout))), 0, "message"))
            self._lock.notify_all()
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._lock.wait_for(lambda: self._flushed >= token or self._in_flight() == 0
                                or (self._child is not None and not self._child.alive and not self._outbox_rows),
                                left)
            return self._in_flight() == 0

    def close(self, timeout: float = 5.0) -> dict[str, int | bool]:
        """Write what can be written within ``timeout`` seconds, stop the child, count the rest as dropped."""
        with self._lock:
            self._closing = True
            child = self._child
            if child is not None and child.alive:
                self._outbox.append((memoryview(_frame(("close", timeout))), 0, "close"))
                self._lock.notify_all()
        if child is not None:
            try:
                child.process.wait(timeout + 5.0)  # the child's close() takes at most ``timeout``
            except subprocess.TimeoutExpired:
                log.warning("prediction log: its process did not stop within %.0f s; killed", timeout + 5.0)
                child.process.kill()
                child.process.wait(5.0)
            self._lost(child, "at shutdown", wait_for_reader=True)
        with self._lock:
            left = self._outbox_rows
            self._outbox.clear()
            self._outbox_rows = 0
            self._dropped += left
            self._lock.notify_all()
        if left:
            log.warning("prediction log: %d rows not handed to its process at shutdown", left)
            call_hook(self.on_dropped, left)
        return self.stats()

    # -- threads ---------------------------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        """Write the outbox into the current child's pipe, waiting while it is full (off the request path)."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: (self._outbox and self._child is not None and self._child.alive)
                                    or (self._closing and not self._outbox))
                if self._closing and not self._outbox:
                    return
                data, rows, kind = self._outbox.popleft()
                child = self._child
                assert child is not None  # wait_for returned with an outbox: only for a live child
                self._outbox_rows -= rows
                child.sent += rows
                self._sending = True
            delivered = child.write(data)
            with self._lock:
                self._sending = False
                self._lock.notify_all()
                if not delivered:  # the child is gone: the reader thread accounts for its rows
                    self._lock.wait_for(child.gone, 5.0)
            if kind == "close":
                return

    def _read(self, child: _Child) -> None:
        """Apply the child's reports until its pipe ends; then account for what it never reported."""
        while True:
            try:
                message = child.results.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind in ("stats", "flushed", "closed"):
                self._apply(child, message[-1])
            if kind == "flushed":
                with self._lock:
                    self._flushed = max(self._flushed, message[1])
                    self._lock.notify_all()
        if child.process.poll() is None:
            try:
                child.process.wait(5.0)
            except subprocess.TimeoutExpired:
                child.process.kill()
        self._lost(child, f"its process exited with code {child.process.returncode}")

    def _apply(self, child: _Child, figures: dict) -> None:
        with self._lock:
            new_written = figures["written"] - child.written
            new_dropped = figures["dropped"] - child.dropped
            child.written, child.dropped, child.healthy = figures["written"], figures["dropped"], figures["healthy"]
            self._written += new_written
            self._dropped += new_dropped
            self._lock.notify_all()
        if new_written:
            call_hook(self.on_written, new_written)
        if new_dropped:
            call_hook(self.on_dropped, new_dropped)

    def _lost(self, child: _Child, why: str, wait_for_reader: bool = False) -> None:
        """The child is gone: rows it never reported are dropped (counted once, by whichever thread is first)."""
        with self._lock:
            if wait_for_reader:  # close(): let the reader apply the last report first
                self._lock.wait_for(lambda: not child.alive, 2.0)
            if not child.alive:
                return
            child.alive = False
            # a frame's remainder belongs to the dead child's stream: a new child must not read it
            self._outbox = deque(item for item in self._outbox if item[2] != "rest")
            lost = max(0, child.unaccounted)
            child.dropped += lost
            self._dropped += lost
            expected = self._closing
            self._lock.notify_all()
        child.close_pipes()
        if lost or not expected:
            log.warning("prediction log: %s; %d rows it held were dropped%s", why, lost,
                        "" if expected else f" (a new process starts with the next request, at most one per "
                                            f"{self.restart_seconds:g} s)")
        if lost:
            call_hook(self.on_dropped, lost)


# -- the child ---------------------------------------------------------------------------------------------------
def build_rows(served: Served, log_text: bool) -> list[dict]:
    """The ``predictions`` rows of one request."""
    from ytsentiment.storage.rows import prediction_row

    proba = served.proba.tolist() if hasattr(served.proba, "tolist") else served.proba
    return [prediction_row(text=text, sentiment=int(s), proba=p, model_name=served.model_name,
                           model_version=served.model_version, created_at=served.created_at, log_text=log_text,
                           prediction_id=pid, video_id=served.video_id, language=language)
            for text, s, p, pid, language in zip(served.texts, served.sentiments, proba, served.ids,
                                                  served.languages, strict=True)]


def serve(requests: Connection, results: Connection, bell: int) -> None:
    """The child's loop: configuration first, then rows, flushes and the final close, in order.

    The child sleeps and reads its pipe once per ``flush_seconds`` (the pipe holds about a second of one worker's
    requests), or sooner when its worker rings ``bell``: a full pipe, a flush, the close. It then builds and writes
    everything it read. Reading after every request woke the child as its worker finished each answer, and cost
    the workers 0.9 ms of CPU per 100-comment request on average in a probe (the README's "Serve the API" says
    how, and what we think the cause is); waking once a second costs nothing measurable (``make bench-api``: the
    workers' CPU per request with the log on and off). When the worker ends without closing, the bell's pipe
    ends: the child writes what it read and exits.
    """
    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.settings import StorageSettings
    from ytsentiment.storage.writer import PredictionLog

    kind, raw = requests.recv()
    if kind != "config":
        raise RuntimeError(f"prediction log process: expected its configuration first, got {kind!r}")
    config = ChildConfig(**raw)
    settings = StorageSettings.from_env()
    window = settings.flush_seconds if config.flush_seconds is None else config.flush_seconds
    send_lock = threading.Lock()
    unbuilt = 0  # rows dropped because they could not be built
    waiting: list[Served] = []  # read, not yet built

    def report(kind: str, *extra) -> None:
        figures = prediction_log.stats()
        figures["dropped"] += unbuilt
        with send_lock:
            try:
                results.send((kind, *extra, figures))
            except OSError:  # the worker is gone; the loop below ends on its own
                pass

    def drain() -> None:
        nonlocal unbuilt
        for served in waiting:
            try:
                rows = build_rows(served, config.log_text)
            except Exception:  # noqa: BLE001 - a bad request's rows must not stop logging
                log.exception("prediction log: could not build rows for %d predictions; dropped", len(served.texts))
                unbuilt += len(served.texts)
                report("stats")
                continue
            prediction_log.submit(rows)
        waiting.clear()

    engine = make_engine(config.url, **({} if config.timeout is None else {"timeout": config.timeout}))
    # The child's sleep is the wait for a batch to fill: what it hands over is written at once (a partial batch
    # after WRITE_DELAY_SECONDS).
    prediction_log = PredictionLog(engine, queue_size=config.queue_size, batch_size=config.batch_size,
                                   flush_seconds=min(WRITE_DELAY_SECONDS, window),
                                   on_written=lambda n: report("stats"), on_dropped=lambda n: report("stats"))
    close_timeout, stop, gone = 5.0, False, False
    waiter = select.poll()
    waiter.register(bell, select.POLLIN)
    try:
        while not (stop or gone):
            if waiter.poll(window * 1000):
                try:
                    gone = not os.read(bell, 4096)  # end of file: the worker is gone
                except BlockingIOError:
                    pass
            while not stop and requests.poll(0):
                try:
                    message = requests.recv()
                except (EOFError, OSError):
                    gone = True
                    break
                if message[0] == "rows":
                    waiting.append(message[1])
                elif message[0] == "flush":
                    drain()
                    report("flushed", message[1], prediction_log.flush(message[2]))
                elif message[0] == "close":
                    close_timeout, stop = message[1], True
            drain()
        if gone and not stop:
            log.warning("prediction log process: its worker is gone; writing what it holds, then exiting")
    finally:
        drain()
        prediction_log.close(close_timeout)
        report("closed")
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: python -m ytsentiment.storage.log_process REQUESTS_FD RESULTS_FD BELL_FD (started by "
              "LogProcess)", file=sys.stderr)
        return 2
    from ytsentiment.logs import configure_logging

    configure_logging()
    for sig in (signal.SIGINT, signal.SIGTERM):  # its worker stops it; a Ctrl-C or a group signal must not
        signal.signal(sig, signal.SIG_IGN)
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
