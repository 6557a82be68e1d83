"""API test fixtures: a fake model (contract, errors), apps on the real small model, a real gunicorn, databases.

Every app of this tier uses a throw-away SQLite database (DATABASE_URL, set for the session, also inherited by the
gunicorn servers) with the prediction log off (PREDICTION_LOG=off), so no test writes to ``var/``; the tests of
the log and of /feedback turn it on and get their own empty database, on SQLite and on a real PostgreSQL server
(``db_url``, as in tests/storage).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from flask.testing import FlaskClient
from support.database import backend, db_url, outage, pg_migrated, pg_server, sqlite_template  # noqa: F401
from support.servers import start_gunicorn

from ytsentiment.api import create_app
from ytsentiment.api.model_store import LoadedModel

FAKE_INFO = {"name": "fake", "version": "7", "alias": "production", "uri": "fake://model", "run_id": "r1",
             "metrics": {"model.overall.macro_f1": 0.61, "test.macro_f1": 0.5, **{f"m{i}": 0.1 for i in range(400)}},
             "trained_at": "2026-01-01T00:00:00+00:00", "git_commit": "0123abc"}


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


@pytest.fixture(scope="package", autouse=True)
def api_database_env(tmp_path_factory):
    """DATABASE_URL -> one SQLite file and PREDICTION_LOG=off for every app of this tier, restored when the tier
    ends (package scope: later tiers, whose servers inherit the environment, never see these)."""
    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "PREDICTION_LOG")}
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
    os.environ["PREDICTION_LOG"] = "off"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ClosingClient(FlaskClient):
    """A test client whose responses are buffered and closed, so their ``call_on_close`` hooks run."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def make_db_app(fake_model, tmp_path, monkeypatch):
    """``make_db_app(url, log_writer=True, **config)``: an app on the fake model logging to ``url`` through a spool
    of its own (PREDICTION_LOG_SPOOL_DIR) and, unless ``log_writer`` is False, a writer loading it; closed after the
    test. Its test client closes each response once read, as a WSGI server does after sending it: the prediction
    log's line is spooled then (``call_on_close``).
    """
    from contextlib import ExitStack

    from support.log_writer import running_writer

    from ytsentiment.api.storage import STORAGE_KEY

    apps = []
    with ExitStack() as writers:

        def make(url: str, log_writer: bool = True, **config):
            spool = tmp_path / f"spool-{len(apps)}"
            monkeypatch.setenv("PREDICTION_LOG_SPOOL_DIR", str(spool))
            app = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False,
                              "database_url": url, "prediction_log": True, **config})
            app.test_client_class = ClosingClient
            apps.append(app)
            assert app.extensions[STORAGE_KEY].schema_ready.wait(60)
            if log_writer:
                writers.enter_context(running_writer(spool, url))
            return app

        yield make
        for app in apps:
            app.extensions[STORAGE_KEY].close(timeout=5)


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


@pytest.fixture(scope="module")
def gunicorn_db_url(tmp_path_factory) -> str:
    """The database of ``gunicorn_server`` (SQLite; its workers migrate it when they start)."""
    return f"sqlite:///{tmp_path_factory.mktemp('gunicorn-db') / 'api.db'}"


@pytest.fixture(scope="module")
def gunicorn_server(trained_model_dir, tmp_path_factory, gunicorn_db_url):
    """A 2-worker gunicorn on the small real model, logging its predictions (as in production) to
    ``gunicorn_db_url``; the monitoring gauges are read at every scrape (no cache)."""
    server = start_gunicorn(str(trained_model_dir), tmp_path_factory.mktemp("gunicorn") / "server.log",
                            extra_env={"DATABASE_URL": gunicorn_db_url, "PREDICTION_LOG": "on",
                                       "PREDICTION_LOG_TEXT": "true", "MONITOR_CACHE_SECONDS": "0"})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class Blocker:
    """A loader that waits for a signal: lets a test observe the app while its model is still loading.

    Use it through the ``blocker`` fixture (released after the test whatever happens), or release it in a
    ``finally``: a blocked loader thread would otherwise wait 30 s for nothing.
    """

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.fail = fail

    def __call__(self, uri: str) -> LoadedModel:
        self.release.wait(30)
        if self.fail:
            raise FileNotFoundError(f"no model at {uri}")
        return LoadedModel(FakeModel(), {**FAKE_INFO, "uri": uri})


@pytest.fixture
def blocker():
    """A ``Blocker`` released at teardown, even when the test failed before releasing it."""
    loader = Blocker()
    try:
        yield loader
    finally:
        loader.release.set()
