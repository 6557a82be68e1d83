"""The challenger in one app (fake models, real spool and writer, SQLite and PostgreSQL): its answers logged beside
production's, never on the request path, skips counted, resolution rules. The real-gunicorn, real-model path is
tests/registry/test_shadow.py."""

from __future__ import annotations

import random
import shutil
import threading
import time

import pytest

from ytsentiment.api import create_app
from ytsentiment.api.model_store import LoadedModel
from ytsentiment.api.settings import Settings
from ytsentiment.api.shadow import challenger_uri

from .conftest import FAKE_INFO, FakeModel
from .test_storage import metric, rows, samples, storage_of

PRODUCTION, CHALLENGER = "fake://production", "fake://challenger"
COMMENTS = ["so good", "bad one", "plain words"]


class Contrarian(FakeModel):
    """Reads 'good' as negative and 'bad' as positive (and anything else as neutral, like production)."""

    def predict_proba(self, frame):
        return FakeModel.predict_proba(self, frame)[:, [1, 0, 2]]


class Stuck(FakeModel):
    """A challenger that holds its scoring thread until released (or raises when ``fail``)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.entered, self.release, self.fail = threading.Event(), threading.Event(), fail

    def predict_proba(self, frame):
        self.entered.set()
        self.release.wait(30)
        if self.fail:
            raise RuntimeError("challenger broke")
        return FakeModel.predict_proba(self, frame)


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    """A fresh copy of the migrated SQLite template."""
    shutil.copy(sqlite_template, tmp_path / "shadow.db")
    return f"sqlite:///{tmp_path / 'shadow.db'}"


def loader(challenger: FakeModel):
    models = {PRODUCTION: (FakeModel(), FAKE_INFO), CHALLENGER: (challenger, {**FAKE_INFO, "version": "8",
                                                                              "alias": "challenger"})}

    def load(uri: str) -> LoadedModel:
        model, info = models[uri]
        return LoadedModel(model, {**info, "uri": uri})

    return load


def shadowing(make_db_app, url, challenger: FakeModel, **config):
    app = make_db_app(url, model_loader=loader(challenger), model_uri=PRODUCTION, challenger_uri=CHALLENGER,
                      shadow_sample=1.0, **config)
    shadow = app.extensions["ytsentiment"].shadow
    deadline = time.monotonic() + 30
    while shadow.state == "loading" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shadow.state == "ready", shadow.reason
    return app, shadow


@pytest.mark.parametrize("path", ["/predict", "/analyze"])
def test_the_challengers_answers_are_logged_beside_productions(make_db_app, db_url, path):
    app, shadow = shadowing(make_db_app, db_url, Contrarian())
    client = app.test_client()
    body = client.post(path, json={"comments": COMMENTS if path == "/predict" else [{"text": t} for t in COMMENTS]})
    assert body.status_code == 200
    answered = body.get_json() if path == "/predict" else body.get_json()["predictions"]
    assert [p["sentiment"] for p in answered] == [1, -1, 0]  # production's answers, whatever the challenger says
    assert shadow.wait_idle(30) and storage_of(app).flush(30)
    logged = {r["prediction_id"]: r for r in rows(db_url, "shadow_predictions")}
    assert set(logged) == {p["prediction_id"] for p in answered}
    good, bad, plain = (logged[p["prediction_id"]] for p in answered)
    assert [(r["sentiment"], r["model_version"], r["model_name"]) for r in (good, bad, plain)] == [
        (-1, "8", "fake"), (1, "8", "fake"), (0, "8", "fake")]
    assert (good["proba_negative"], good["proba_neutral"], good["proba_positive"]) == (0.8, 0.1, 0.1)
    assert all(r["latency_ms"] >= 0 for r in logged.values())
    assert all(r["latency_ms"] is not None for r in rows(db_url))  # production's own time, beside it
    assert metric(client, "ytsentiment_shadow_scored_total") == 3
    assert metric(client, "ytsentiment_shadow_disagreements_total") == 2
    assert samples(client)[("ytsentiment_shadow_model_info", (("name", "fake"), ("version", "8")))] == 1
    assert metric(client, "ytsentiment_prediction_log_written_total") == 3  # production's rows only


def test_skips_are_counted_and_answers_never_wait(make_db_app, sqlite_url):
    stuck = Stuck()
    app, shadow = shadowing(make_db_app, sqlite_url, stuck, shadow_queue=1, shadow_max_comments=3)
    client = app.test_client()
    try:
        assert client.post("/predict", json={"comments": COMMENTS}).status_code == 200
        assert stuck.entered.wait(10)  # the scoring thread holds the first request
        started = time.perf_counter()
        for _ in range(3):  # the second waits in the queue (size 1); the next two find it full
            assert client.post("/predict", json={"comments": COMMENTS}).status_code == 200
        assert time.perf_counter() - started < 5  # answered while the challenger is stuck
        assert client.post("/predict", json={"comments": [*COMMENTS, "one more"]}).status_code == 200
        assert metric(client, "ytsentiment_shadow_skipped_total", reason="queue_full") == 6
        assert metric(client, "ytsentiment_shadow_skipped_total", reason="too_large") == 4
    finally:
        stuck.release.set()
    assert shadow.wait_idle(30)
    assert metric(client, "ytsentiment_shadow_scored_total") == 6
    assert metric(client, "ytsentiment_shadow_skipped_total", reason="error") == 0


def test_a_failing_challenger_is_counted_and_the_answer_stands(make_db_app, sqlite_url):
    broken = Stuck(fail=True)
    broken.release.set()
    app, shadow = shadowing(make_db_app, sqlite_url, broken)
    client = app.test_client()
    response = client.post("/predict", json={"comments": COMMENTS})
    assert response.status_code == 200 and [p["sentiment"] for p in response.get_json()] == [1, -1, 0]
    assert shadow.wait_idle(30)
    assert metric(client, "ytsentiment_shadow_skipped_total", reason="error") == 3
    assert metric(client, "ytsentiment_shadow_scored_total") == 0


def test_only_the_sampled_share_is_shadowed(make_db_app, sqlite_url):
    app, shadow = shadowing(make_db_app, sqlite_url, FakeModel())
    shadow.settings = shadow.settings.model_copy(update={"shadow_sample": 0.25})
    shadow._random.seed(7)
    draws = random.Random(7)  # the same draws, one per request
    expected = sum(draws.random() < 0.25 for _ in range(200))
    client = app.test_client()
    for _ in range(200):
        client.post("/predict", json={"comments": ["so good"]})
    assert shadow.wait_idle(30)
    assert metric(client, "ytsentiment_shadow_scored_total") == expected
    assert 25 < expected < 75


def test_no_challenger_without_a_uri_a_log_or_a_sample(make_db_app, sqlite_url):
    def state(**config):
        app = create_app({"model_loader": loader(FakeModel()), "load_in_background": False, "model_uri": PRODUCTION,
                          **config})
        return app.extensions["ytsentiment"].shadow

    assert state(challenger_uri=CHALLENGER, prediction_log=False).state == "off"  # its answers could not be kept
    assert state(challenger_uri=CHALLENGER, prediction_log=True, shadow_sample=0,
                 database_url=sqlite_url).state == "off"
    assert state(prediction_log=True, database_url=sqlite_url).state == "off"  # fake:// has no @challenger


def test_the_challenger_uri_follows_the_served_alias():
    assert challenger_uri(Settings.from_env(model_uri="models:/yt@production")) == "models:/yt@challenger"
    assert challenger_uri(Settings.from_env(model_uri="models:/yt/3")) is None
    assert challenger_uri(Settings.from_env(model_uri="model")) is None
    assert challenger_uri(Settings.from_env(model_uri="model", challenger_uri="other")) == "other"
    assert challenger_uri(Settings.from_env(model_uri="models:/yt@production", challenger_uri="none")) is None


@pytest.mark.parametrize(("alias", "state"), [(None, "absent"), ("7", "absent"), ("8", "ready")])
def test_an_absent_alias_or_productions_own_version_is_no_challenger(make_db_app, sqlite_url, monkeypatch,
                                                                   alias, state):
    from types import SimpleNamespace

    from ytsentiment import registry

    monkeypatch.setattr(registry, "alias_version",
                        lambda name, a: None if alias is None else SimpleNamespace(version=alias))
    models = {"models:/fake@production": (FakeModel(), FAKE_INFO),
              "models:/fake@challenger": (Contrarian(), {**FAKE_INFO, "version": "8"})}
    app = make_db_app(sqlite_url, model_loader=lambda uri: LoadedModel(*models[uri]),
                      model_uri="models:/fake@production", shadow_sample=1.0)
    shadow = app.extensions["ytsentiment"].shadow
    deadline = time.monotonic() + 30
    while shadow.state == "loading" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shadow.state == state


def test_the_monitor_runs_challenger_figures_become_gauges():
    from ytsentiment.api.metrics import monitor_families

    shadow = {"production_version": "4", "challenger_version": "5", "n_shadowed": 300, "agreement": 0.85,
              "live": {"n_feedback": 60, "production": {"macro_f1": 0.61}, "challenger": {"macro_f1": 0.66}},
              "latency_ms": {"production_p50": 3.5, "challenger_p50": None}}
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in monitor_families({"model_version": "4", "summary": {"shadow": shadow}})
           for s in family.samples}
    assert {k: v for k, v in got.items() if "shadow" in k[0]} == {
        ("ytsentiment_monitor_shadow_comments", (("challenger_version", "5"),)): 300,
        ("ytsentiment_monitor_shadow_agreement", (("challenger_version", "5"),)): 0.85,
        ("ytsentiment_monitor_shadow_feedback_count", (("challenger_version", "5"),)): 60,
        ("ytsentiment_monitor_shadow_live_macro_f1", (("model", "production"), ("model_version", "4"))): 0.61,
        ("ytsentiment_monitor_shadow_live_macro_f1", (("model", "challenger"), ("model_version", "5"))): 0.66,
        ("ytsentiment_monitor_shadow_latency_p50_ms", (("model", "production"),)): 3.5,
    }
    assert not [f for f in monitor_families({"model_version": "4", "summary": {}}) if "shadow" in f.name]


def test_requests_while_the_challenger_loads_are_counted_as_skipped(make_db_app, sqlite_url):
    release = threading.Event()
    load = loader(Contrarian())

    def slow(uri: str) -> LoadedModel:
        if uri == CHALLENGER:
            release.wait(30)
        return load(uri)

    app = make_db_app(sqlite_url, model_loader=slow, model_uri=PRODUCTION, challenger_uri=CHALLENGER,
                      shadow_sample=1.0)
    shadow = app.extensions["ytsentiment"].shadow
    client = app.test_client()
    try:
        assert shadow.state == "loading"
        assert client.post("/predict", json={"comments": COMMENTS}).status_code == 200  # production does not wait
        assert metric(client, "ytsentiment_shadow_skipped_total", reason="loading") == 3
    finally:
        release.set()
