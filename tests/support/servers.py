"""Start-and-stop plumbing for the real servers the tests (and ``scripts/bench_api.py``) run on loopback.

- ``free_port()``: THE one helper for a port nothing listens on (e.g. a URL that must be refused). Do not use
  it to pick a port a server binds later: another process can take it meanwhile.
- ``start_gunicorn(...)``: the API under gunicorn (``src/ytsentiment/api/gunicorn.conf.py``) bound to port 0; the port
  the kernel chose is read from gunicorn's own log line ``Listening at: http://127.0.0.1:NNNN``, so two
  servers can never race for one port.
- ``wait_until_ok`` / ``stop_group``: poll a URL until 200; stop a server's whole process group.

Each server runs in its own session (``start_new_session=True``), so stopping it signals its process group: the
master and its workers, and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"Listening at: (http://\S+)")


def free_port() -> int:
    """A loopback port free at this instant (for "nothing listens here"; servers bind port 0 instead)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float, interval: float = 0.3) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited. Fails with the log's tail if the process dies
    or ``timeout`` passes."""
    start = time.monotonic()
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode} before {url} answered:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or too busy loading to answer
            pass
        if time.monotonic() - start > timeout:
            pytest.fail(f"{url} not 200 after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(interval)


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the server's process group, SIGKILL it if it has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclasses.dataclass
class GunicornServer:
    """A running gunicorn: its base URL, master process, log file and start time (``time.monotonic()``)."""

    url: str
    process: subprocess.Popen
    log: Path
    started: float

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds from process start until ``/ready`` answered 200 (fails on timeout or early exit)."""
        wait_until_ok(f"{self.url}/ready", self.process, self.log, timeout, interval=0.1)
        return time.monotonic() - self.started

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the master (gunicorn's graceful shutdown); SIGKILL the group after ``timeout``. Exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode


def start_gunicorn(model_uri: str, log: Path, workers: int = 2, extra_env: dict | None = None,
                   listen_timeout: float = 60.0) -> GunicornServer:
    """Start the API under gunicorn on 127.0.0.1, port 0, and return once it listens (not yet ready).

    Raises RuntimeError with the log's tail when gunicorn exits or does not listen within ``listen_timeout``.
    """
    # The prediction log (its spool, its database) goes beside the server's log, never to the repo's var/, unless
    # the caller names one.
    database = f"sqlite:///{log.with_suffix('.db')}"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "WEB_CONCURRENCY": str(workers),
           "MODEL_URI": model_uri, "MLFLOW_DISABLE_TELEMETRY": "true", "DATABASE_URL": database,
           "PREDICTION_LOG_SPOOL_DIR": str(log.with_suffix(".spool")),
           **(extra_env or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a fresh one per server
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "src/ytsentiment/api/gunicorn.conf.py",
             "ytsentiment.api:create_app()"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = GunicornServer("", process, log, started)
    while not server.url:
        if match := _LISTENING.search(server.log_text()):
            server.url = match.group(1)
        elif process.poll() is not None or time.monotonic() - started > listen_timeout:
            server.stop()
            raise RuntimeError(f"gunicorn did not start listening (exit code {process.returncode}):\n"
                               f"{server.log_text()[-3000:]}")
        else:
            time.sleep(0.05)
    return server


def workers_and_writers(master_pid: int):
    """(workers, prediction-log writers) among a gunicorn master's children, told apart by their command lines;
    a child already gone or a zombie not yet reaped is in neither."""
    import psutil

    workers, writers = [], []
    for child in psutil.Process(master_pid).children():
        try:
            (writers if "ytsentiment.storage.commands.log_writer" in child.cmdline() else workers).append(child)
        except psutil.Error:
            pass
    return workers, writers
