"""API test fixtures: a fake model (contract, errors), apps on the real small model, a real gunicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from flask_app import create_app
from flask_app.model_store import LoadedModel

REPO = Path(__file__).resolve().parents[2]
FAKE_INFO = {"name": "fake", "version": "7", "alias": "production", "uri": "fake://model", "run_id": "r1",
             "metrics": {"test.macro_f1": 0.5}, "trained_at": "2026-01-01T00:00:00+00:00"}


class FakeModel:
    """Keyword model: 'good' -> positive, 'bad' -> negative, else neutral; classes in a shuffled order."""

    classes_ = np.array([1, -1, 0])

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict_proba(self, frame):
        texts = list(frame["text"])
        self.calls.append(texts)
        rows = []
        for text in texts:
            if "good" in text:
                rows.append([0.8, 0.1, 0.1])
            elif "bad" in text:
                rows.append([0.05, 0.9, 0.05])
            else:
                rows.append([0.2, 0.2, 0.6])
        return np.array(rows).reshape(-1, 3)


def fake_loader(model: FakeModel | None = None):
    def load(uri: str) -> LoadedModel:
        return LoadedModel(model or FakeModel(), {**FAKE_INFO, "uri": uri})

    return load


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def app(fake_model):
    return create_app({"model_loader": fake_loader(fake_model), "load_in_background": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def real_app(trained_model_dir):
    app = create_app({"model_uri": str(trained_model_dir), "load_in_background": False})
    assert app.extensions["ytsentiment"].holder.state == "ready", app.extensions["ytsentiment"].holder.error
    return app


@pytest.fixture(scope="session")
def real_client(real_app):
    return real_app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log: Path, started: float) -> None:
        self.url, self.process, self.log, self.started = url, process, log, started

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_gunicorn(model_uri: str, log: Path, workers: int = 2, extra_env: dict | None = None) -> Server:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
           "MODEL_URI": model_uri, "MLFLOW_DISABLE_TELEMETRY": "true", **(extra_env or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "flask_app/gunicorn.conf.py", "flask_app:create_app()"],
        cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return Server(f"http://127.0.0.1:{port}", process, log, started)


def wait_ready(server: Server, timeout: float = 90.0) -> float:
    """Seconds from process start until /ready answered 200 (fails the test on timeout or early exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.log_text()[-3000:]}")
        try:
            if requests.get(f"{server.url}/ready", timeout=2).status_code == 200:
                return time.monotonic() - server.started
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn not ready after {timeout} s:\n{server.log_text()[-3000:]}")


def stop(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


@pytest.fixture(scope="module")
def gunicorn_server(trained_model_dir, tmp_path_factory):
    server = start_gunicorn(str(trained_model_dir), tmp_path_factory.mktemp("gunicorn") / "server.log")
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


class Blocker:
    """A loader that waits for a signal: lets a test observe the app while its model is still loading."""

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.fail = fail

    def __call__(self, uri: str) -> LoadedModel:
        self.release.wait(30)
        if self.fail:
            raise FileNotFoundError(f"no model at {uri}")
        return LoadedModel(FakeModel(), {**FAKE_INFO, "uri": uri})
