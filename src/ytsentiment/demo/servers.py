"""The demo's API: the real gunicorn (``ytsentiment/api/gunicorn.conf.py``) in a process group of its own, and ports.

The server runs in its own session, so a Ctrl-C in the terminal reaches the demo only; the demo then stops the
server with SIGTERM (gunicorn's graceful shutdown: workers write their queued prediction-log rows), SIGKILLs the
group after a timeout, and finally signals whatever is still in the group (e.g. an orphaned log process), so
nothing the demo started outlives it.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from ytsentiment import YtSentimentError

LISTENING = re.compile(r"Listening at: (http://\S+)")
HOST = "127.0.0.1"
GUNICORN_CONF = Path("src", "ytsentiment", "api", "gunicorn.conf.py")  # relative to the checkout


def check_port(port: int, what: str) -> None:
    """Fail with a clear message when ``port`` on 127.0.0.1 cannot be bound (0: any free port, always fine)."""
    if not 0 <= port <= 65535:
        raise YtSentimentError(f"{what}: port {port} is not a TCP port (0-65535; 0 = any free port)")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise port_error(what, port, exc) from exc


def port_error(what: str, port: int, exc: OSError) -> YtSentimentError:
    if exc.errno == errno.EADDRINUSE:
        return YtSentimentError(f"{what}: port {port} on {HOST} is in use; stop what listens there "
                                "(`ss -ltnp`) or choose another port (0 = any free port)")
    return YtSentimentError(f"{what}: cannot bind {HOST}:{port} ({exc.strerror}); choose another port (0 = any "
                            "free port)")


def repo_root() -> Path:
    """The checkout of the editable install, where gunicorn runs (its config ``GUNICORN_CONF``, ``.env``)."""
    for candidate in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (candidate / GUNICORN_CONF).is_file():
            return candidate
    raise YtSentimentError(f"{GUNICORN_CONF} not found: run the demo from the repository root of an editable "
                           "install (pip install -e .)")


@dataclass
class ApiServer:
    """A running gunicorn: master process (its pid is the process group id), log file, base URL once listening."""

    process: subprocess.Popen
    log: Path
    url: str = ""

    @classmethod
    def start(cls, model_uri: str, port: int, log: Path, env: dict[str, str], workers: int = 1) -> ApiServer:
        """Start gunicorn on 127.0.0.1:``port`` serving ``model_uri``; returns at once (see ``wait_listening``)."""
        full = {**os.environ, **env, "HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers),
                "MODEL_URI": model_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
        full.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a fresh one and removes it on exit
        root = repo_root()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(root / GUNICORN_CONF),
                 "ytsentiment.api:create_app()"],
                cwd=root, env=full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        return cls(process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""

    def _died(self, what: str) -> YtSentimentError:
        tail = self.log_tail()
        hint = " (the port is in use: choose another --api-port)" if "Connection in use" in tail else ""
        return YtSentimentError(f"the API exited with code {self.process.returncode} {what}{hint}; its log "
                                f"{self.log} ends with:\n{tail}")

    def wait_listening(self, timeout: float = 60.0) -> str:
        """The base URL, read from gunicorn's ``Listening at:`` line (the port the kernel chose for port 0)."""
        deadline = time.monotonic() + timeout
        while not self.url:
            if match := LISTENING.search(self.log_tail(100_000)):
                self.url = match.group(1).rstrip("/")
            elif self.process.poll() is not None:
                raise self._died("before listening")
            elif time.monotonic() > deadline:
                raise YtSentimentError(f"the API did not listen within {timeout:.0f} s; see {self.log}")
            else:
                time.sleep(0.05)
        return self.url

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ``/ready`` answers 200; a clear error when the model fails to load or the server dies."""
        started = time.monotonic()
        last = "no answer"
        while True:
            if self.process.poll() is not None:
                raise self._died("before it was ready")
            try:
                answer = requests.get(f"{self.url}/ready", timeout=5)
                if answer.status_code == 200:
                    return time.monotonic() - started
                last = f"HTTP {answer.status_code}: {answer.text[:300]}"
                if answer.headers.get("Content-Type", "").startswith("application/json") \
                        and answer.json().get("status") == "failed":
                    raise YtSentimentError(f"the API could not load its model ({answer.json().get('detail')}); "
                                           f"see {self.log}")
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = type(exc).__name__
            if time.monotonic() - started > timeout:
                raise YtSentimentError(f"the API was not ready within {timeout:.0f} s (last answer: {last}); see "
                                       f"{self.log}")
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the master, SIGKILL the group after ``timeout``, then end anything left in the group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        end_group(self.pid)
        return self.process.returncode


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def end_group(pgid: int, grace: float = 5.0) -> None:
    """SIGTERM what is left in process group ``pgid``, SIGKILL it after ``grace`` seconds."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _signal_group(pgid, 0):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
