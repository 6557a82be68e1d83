"""gunicorn settings for the API: ``gunicorn -c src/ytsentiment/api/gunicorn.conf.py "ytsentiment.api:create_app()"``.

Environment: ``ServerSettings`` below (HOST, PORT, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT) and
``ytsentiment.logs.LogSettings`` (LOG_LEVEL), read once here, and PROMETHEUS_MULTIPROC_DIR (prometheus_client's own
variable; optional, emptied at start). ``.env`` in the working directory is read first
(``ytsentiment.environ.load_env_file``: a variable already set wins), here in the master, so these settings and every
worker's app see it.

Each worker builds its own app after the fork (``preload_app`` off), so each loads the model once in its own
memory and a crash while loading stays inside one worker; likewise its database work (the schema migration thread,
the prediction log's spool: ``ytsentiment.api.storage``) starts in the worker, and ``worker_exit`` closes its spool
segment. The master starts the host's prediction-log writer (``ytsentiment log-writer``) and restarts it when it
exits, unless PREDICTION_LOG is off or PREDICTION_LOG_WRITER=external (a writer run elsewhere on the host).
Prometheus multiprocess mode needs a directory shared by the workers and empty at every start: one is created
here (or the given one is cleared) before any worker exists.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from gunicorn.workers.gthread import ThreadWorker
from pydantic import Field

# Not ytsentiment.api: prometheus_client, which it imports, must see PROMETHEUS_MULTIPROC_DIR (set in on_starting).
from ytsentiment.environ import EnvSettings, load_env_file
from ytsentiment.logs import LogSettings, configure_logging
from ytsentiment.storage.settings import StorageSettings


class ServerSettings(EnvSettings):
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(5000, ge=0, le=65535)  # 0: a free port the OS picks (the tests)
    web_concurrency: int = Field(2, ge=1)  # workers
    gunicorn_threads: int = Field(32, ge=1, le=1024)  # threads per worker
    gunicorn_timeout: int = Field(60, ge=1)  # seconds a request may take
    prediction_log: bool = True  # PREDICTION_LOG (the API's Settings read it too): off, no writer either


load_env_file()
_settings = ServerSettings.from_env()
_log_settings = LogSettings.from_env()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_concurrency


class _ThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, which on SIGTERM also closes its idle keep-alive connections at once: gthread
    itself waits for them on its poller until graceful_timeout, so one idle client held every shutdown 30 s."""

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        self.method_queue.defer(self._close_idle)

    def _close_idle(self):
        while self.keepalived_conns:
            conn = self.keepalived_conns.popleft()
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()


# Threads, so a client that sends its request slowly holds one thread, not the whole worker (decision 0015).
worker_class = _ThreadWorker
threads = _settings.gunicorn_threads
preload_app = False
timeout = _settings.gunicorn_timeout
graceful_timeout = 30
keepalive = 5  # idle keep-alive connections wait in the poller, not in a thread; a graceful stop waits for them
accesslog = "-"  # stdout
errorlog = "-"  # stderr
loglevel = _log_settings.log_level.lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
proc_name = "ytsentiment-api"
# No runtime control socket (~/.gunicorn/gunicorn.ctl): nothing uses it, and servers side by side
# (tests, bench) would fight over its one path.
control_socket_disable = True

_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
_created_metrics_dir = None
_writer: dict = {"stop": threading.Event(), "pid": None, "thread": None}


def on_starting(server):
    """Configure application logging once and prepare an empty Prometheus multiprocess directory."""
    global _created_metrics_dir
    configure_logging(_log_settings)
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # samples of a previous server would be summed into this one's
            stale.unlink()
    else:
        _created_metrics_dir = tempfile.mkdtemp(prefix="ytsentiment-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir
    server.log.info("Prometheus multiprocess directory: %s", os.environ["PROMETHEUS_MULTIPROC_DIR"])
    _preimport(server)
    if _settings.prediction_log and StorageSettings.from_env().log_writer == "master":
        _writer["thread"] = threading.Thread(target=_supervise_writer, args=(server,), name="log-writer", daemon=True)
        _writer["thread"].start()


def _supervise_writer(server):
    """Run ``ytsentiment log-writer`` until the master exits; start it again (after a second) when it dies.

    ``posix_spawn``, not ``subprocess``: a worker forked meanwhile would inherit Popen's exec-status pipe and hold
    it open, blocking this thread for the worker's lifetime."""
    argv = [sys.executable, "-m", "ytsentiment.storage.commands.log_writer", "--parent", str(os.getpid())]
    while not _writer["stop"].is_set():
        _writer["pid"] = pid = os.posix_spawn(sys.executable, argv, os.environ)
        server.log.info("prediction log writer started (pid %s)", pid)
        code: int | str = "?"  # when gunicorn's own reaping got there first
        with contextlib.suppress(ChildProcessError):
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if not _writer["stop"].wait(1.0):
            server.log.warning("prediction log writer (pid %s) exited with %s; starting another", pid, code)


def _preimport(server):
    """Import the heavy libraries once in the master so every forked worker starts with them (copy-on-write).

    Only code is imported, no app and no model (``preload_app`` stays off): each worker still builds its own
    app and loads its own model. This removes several seconds of per-worker imports from the time to ready.
    """
    import importlib

    for name in ("ytsentiment.api", "mlflow.sklearn", "ytsentiment.model", "skops.io"):
        try:
            importlib.import_module(name)
        except ImportError as exc:  # e.g. no skops: not fatal, the worker says so if the model needs it
            server.log.warning("could not pre-import %s: %s", name, exc)


def worker_exit(server, worker):
    """In the exiting worker: close the prediction log's spool segment (its rows stay for the writer)."""
    from ytsentiment.api.storage import STORAGE_KEY

    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get(STORAGE_KEY)
    if state is not None:
        state.close(timeout=min(5.0, graceful_timeout / 2))


def post_fork(server, worker):
    """Before the worker's threads start: glibc malloc with two arenas, not eight per core for 32 threads, so
    the arrays that requests free are reused instead of each thread's arena keeping its own (decision 0015)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc only (not macOS or musl)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, 2)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    _writer["stop"].set()
    if _writer["thread"] is not None:
        for signum in (signal.SIGTERM, signal.SIGKILL):  # its last pass first, then no more waiting
            with contextlib.suppress(ProcessLookupError):
                os.kill(_writer["pid"], signum)
            _writer["thread"].join(graceful_timeout)
            if not _writer["thread"].is_alive():
                break
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
