"""The API with its database, on SQLite and a real PostgreSQL: the prediction log (also with the database down),
``POST /feedback`` (every answer, the rate limit, conflicting labels), the monitoring gauges of /metrics.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.servers import free_port

from ytsentiment.api.storage import STORAGE_KEY

from .test_contract import assert_error

VIDEO = "dQw4w9WgXcQ"
CLIENT_A, CLIENT_B = "client-aaaa-0001", "client-bbbb-0002"
SPANISH = "Esto es muy malo y no me gusta nada de nada"


def samples(client) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(client, name: str, **labels) -> float | None:
    return samples(client).get((name, tuple(sorted(labels.items()))))


def rows(url: str, table: str = "predictions") -> list[dict]:
    from sqlalchemy import text

    from ytsentiment.storage.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table}")).mappings()]
    finally:
        engine.dispose()


def storage_of(app):
    return app.extensions[STORAGE_KEY]


# ---- prediction log ----------------------------------------------------------------------------------------

ROUTES = {
    "/predict": ["so good", "bad one", SPANISH],
    "/predict_with_timestamps": [{"text": t, "timestamp": "2024-05-01T12:00:00Z"}
                                 for t in ("so good", "bad one", SPANISH)],
    "/analyze": [{"text": t, "likes": 3} for t in ("so good", "bad one", SPANISH)],
}


@pytest.mark.parametrize("path", list(ROUTES))
def test_every_prediction_is_logged_with_its_facts(make_db_app, db_url, path):
    app = make_db_app(db_url)
    client = app.test_client()
    response = client.post(path, json={"comments": ROUTES[path], "video_id": VIDEO})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    answered = body["predictions"] if path == "/analyze" else body
    assert storage_of(app).flush(30)
    logged = {r["id"]: r for r in rows(db_url)}
    assert set(logged) == {p["prediction_id"] for p in answered}
    assert len(logged) == 3
    good, bad, spanish = (logged[p["prediction_id"]] for p in answered)
    # FakeModel: classes_ [1, -1, 0]; "good" -> [0.8, 0.1, 0.1] in that order, "bad" -> [0.05, 0.9, 0.05]
    assert (good["sentiment"], good["confidence"]) == (1, 0.8)
    assert (good["proba_negative"], good["proba_neutral"], good["proba_positive"]) == (0.1, 0.1, 0.8)
    assert (bad["sentiment"], bad["proba_negative"], bad["proba_positive"]) == (-1, 0.9, 0.05)
    assert spanish["sentiment"] == 0 and spanish["language"] == "es"
    assert good["language"] == "und"  # two words: too short to tell, so scored as usual
    for row in logged.values():
        assert (row["model_name"], row["model_version"], row["video_id"]) == ("fake", "7", VIDEO)
        assert row["text"] is None  # DATABASE_URL is set: the text is kept only when PREDICTION_LOG_TEXT says so
    assert (good["n_chars"], good["n_words"], good["emoji_share"], good["non_letter_share"]) == (7, 2, 0.0, 0.0)
    from ytsentiment.storage.rows import sha256_text

    assert good["text_sha256"] == sha256_text("so good")
    assert metric(client, "ytsentiment_prediction_log_written_total") == 3
    assert metric(client, "ytsentiment_prediction_log_dropped_total") == 0


@pytest.mark.parametrize("how", ["config", "environment"])
def test_the_text_is_logged_only_when_asked(make_db_app, tmp_path, sqlite_template, monkeypatch, how):
    import shutil

    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'text.db')}"
    if how == "environment":
        monkeypatch.setenv("PREDICTION_LOG_TEXT", "true")
    app = make_db_app(url, **({"prediction_log_text": True} if how == "config" else {}))
    app.test_client().post("/predict", json={"comments": ["so good 👍"]})
    assert storage_of(app).flush(30)
    [row] = rows(url)
    assert row["text"] == "so good 👍" and row["video_id"] is None
    assert row["n_chars"] == 9 and row["emoji_share"] == pytest.approx(1 / 9)


def test_prediction_log_off_logs_nothing(make_db_app, db_url):
    app = make_db_app(db_url, prediction_log=False)
    client = app.test_client()
    response = client.post("/predict", json={"comments": ["so good"], "video_id": VIDEO})
    assert response.status_code == 200 and response.get_json()[0]["prediction_id"]
    assert storage_of(app).flush(5)
    assert rows(db_url) == []
    assert metric(client, "ytsentiment_prediction_log_written_total") == 0


def test_an_in_memory_database_is_refused_for_the_prediction_log(fake_model):
    from ytsentiment.api import create_app

    from .conftest import fake_loader

    config = {"model_loader": fake_loader(fake_model), "load_in_background": False, "database_url": "sqlite://",
              "database_auto_migrate": False}
    with pytest.raises(ValueError, match="in-memory SQLite"):
        create_app({**config, "prediction_log": True})
    app = create_app({**config, "prediction_log": False})  # nothing to share with another process: fine
    assert app.test_client().post("/predict", json={"comments": ["so good"]}).status_code == 200
    storage_of(app).close()


@pytest.mark.parametrize("video_id", ["dQw4w9WgXc", "dQw4w9WgXcQQ", "dQw4w9WgX?Q", 12345678901, ""])
def test_a_bad_video_id_is_400(client, video_id):
    assert_error(client.post("/predict", json={"comments": ["a"], "video_id": video_id}), 400, "video_id")


def test_video_id_may_be_null_or_absent(client):
    assert client.post("/analyze", json={"comments": [{"text": "a"}], "video_id": None}).status_code == 200
    assert client.post("/predict_with_timestamps", json={
        "comments": [{"text": "a", "timestamp": "2024-01-01"}], "video_id": "a-b_c-D_e-F"}).status_code == 200


def test_database_down_predictions_still_fast_and_no_row_lost(make_db_app, db_url, outage):
    app = make_db_app(db_url, database_timeout_seconds=0.5)  # SQLite waits 0.5 s for its lock per attempt
    client = app.test_client()
    comments = [f"good comment {i}" for i in range(100)]
    latencies, served = [], []
    with outage(db_url):
        for _ in range(5):
            started = time.perf_counter()
            response = client.post("/predict", json={"comments": comments})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            served += [p["prediction_id"] for p in response.get_json()]
        assert not storage_of(app).flush(1)  # the rows wait in the spool
        assert storage_of(app).stats()["queued"] == 500
        assert metric(client, "ytsentiment_prediction_log_written_total") == 0
    # The writer waits on the locked or refusing database; the requests never did.
    assert max(latencies) < 1.0, latencies
    print(f"database down: /predict (100 comments, fake model) p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert storage_of(app).flush(60)
    assert sorted(r["id"] for r in rows(db_url)) == sorted(served)
    assert metric(client, "ytsentiment_prediction_log_written_total") == 500
    assert metric(client, "ytsentiment_prediction_log_dropped_total") == 0


def test_unreachable_database_at_start_does_not_stop_serving(make_db_app, caplog):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    app = make_db_app(url)  # the schema step fails (logged) and is retried in the background
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    started = time.perf_counter()
    response = client.post("/predict", json={"comments": ["so good"] * 100})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and elapsed < 1.0
    assert not storage_of(app).flush(1) and storage_of(app).stats()["queued"] == 100  # waiting in the spool
    assert metric(client, "ytsentiment_prediction_log_dropped_total") == 0
    assert "cannot migrate the schema" in caplog.text
    # feedback is not queued: the person is told
    response = client.post("/feedback", json={"text": "nice", "label": 1, "client_id": CLIENT_A})
    assert_error(response, 503, "not saved")
    assert response.headers["Retry-After"] == "30"
    # no monitoring gauges without a database, and /metrics still answers
    assert not any(name.startswith("ytsentiment_monitor_") for name, _ in samples(client))


# ---- feedback ----------------------------------------------------------------------------------------------

def predict_ids(client, texts) -> list[str]:
    response = client.post("/predict", json={"comments": list(texts), "video_id": VIDEO})
    assert response.status_code == 200
    return [p["prediction_id"] for p in response.get_json()]


def test_feedback_created_updated_unchanged(make_db_app, db_url):
    app = make_db_app(db_url)
    client = app.test_client()
    [pid] = predict_ids(client, ["so good"])
    assert storage_of(app).flush(30)
    first = client.post("/feedback", json={"prediction_id": pid, "label": -1, "client_id": CLIENT_A})
    assert first.status_code == 201
    ack = first.get_json()
    assert ack == {"feedback_id": ack["feedback_id"], "status": "created", "prediction_id": pid, "label": -1}
    again = client.post("/feedback", json={"prediction_id": pid, "label": -1, "client_id": CLIENT_A})
    assert again.status_code == 200 and again.get_json() == {**ack, "status": "unchanged"}
    changed = client.post("/feedback", json={"prediction_id": pid, "label": 0, "client_id": CLIENT_A})
    assert changed.status_code == 200 and changed.get_json() == {**ack, "status": "updated", "label": 0}
    text_only = client.post("/feedback", json={"text": "a comment never predicted", "label": 1,
                                               "client_id": CLIENT_A})
    assert text_only.status_code == 201 and text_only.get_json()["prediction_id"] is None
    [stored, by_text] = sorted(rows(db_url, "feedback"), key=lambda r: r["id"])
    assert (stored["prediction_id"], stored["label"], stored["client_id"]) == (pid, 0, CLIENT_A)
    assert (stored["model_name"], stored["model_version"]) == ("fake", "7")
    assert (by_text["text"], by_text["label"], by_text["model_version"]) == ("a comment never predicted", 1, "7")
    # counted when a label is stored or changed, not on a no-op repeat
    assert metric(client, "ytsentiment_feedback_total", label="negative") == 1
    assert metric(client, "ytsentiment_feedback_total", label="neutral") == 1
    assert metric(client, "ytsentiment_feedback_total", label="positive") == 1


def test_feedback_right_after_its_prediction_is_stored_and_the_writer_adds_no_second_row(make_db_app, db_url):
    from support.log_writer import running_writer

    from ytsentiment.storage.spool import read_stats

    app = make_db_app(db_url, log_writer=False, prediction_log_text=True)  # the writer is behind: rows wait
    client = app.test_client()
    [pid, other] = predict_ids(client, ["so good", "not this one"])
    response = client.post("/feedback", json={"prediction_id": pid, "label": -1, "client_id": CLIENT_A})
    assert response.status_code == 201 and response.get_json()["prediction_id"] == pid
    [row] = rows(db_url, "predictions")  # written from the spool for the label; the other still waits there
    assert (row["id"], row["text"], row["sentiment"]) == (pid, "so good", 1)
    [label] = rows(db_url, "feedback")
    assert (label["prediction_id"], label["text"], label["label"]) == (pid, "so good", -1)
    spool = storage_of(app).storage_settings.spool_dir
    with running_writer(spool, db_url):
        assert storage_of(app).flush(30)
    assert sorted(r["id"] for r in rows(db_url, "predictions")) == sorted([pid, other])
    # the writer counts the rows it loaded, the early one included: counter == table
    assert read_stats(spool)["written"] == 2 and read_stats(spool)["rejected"] == 0


def test_feedback_while_the_writer_loads_its_prediction_is_stored_not_404(make_db_app, db_url, monkeypatch):
    from support.log_writer import running_writer

    import ytsentiment.api.storage as api_storage

    app = make_db_app(db_url, log_writer=False)
    client = app.test_client()
    [pid] = predict_ids(client, ["so good"])
    spool = storage_of(app).storage_settings.spool_dir

    def loaded_meanwhile(directory, prediction_id):  # the writer loads and deletes the segment just before the scan
        with running_writer(spool, db_url):
            assert storage_of(app).flush(30)
        return None

    monkeypatch.setattr(api_storage, "spooled_row", loaded_meanwhile)
    response = client.post("/feedback", json={"prediction_id": pid, "label": -1, "client_id": CLIENT_A})
    assert response.status_code == 201, response.get_json()


def test_feedback_on_an_unknown_prediction_is_404(make_db_app, db_url):
    client = make_db_app(db_url).test_client()
    response = client.post("/feedback", json={"prediction_id": "00000000-0000-4000-8000-000000000000",
                                              "label": 1, "client_id": CLIENT_A})
    assert_error(response, 404, "00000000-0000-4000-8000-000000000000", "text")


def test_conflicting_labels_are_both_stored_and_the_export_drops_them(make_db_app, db_url, tmp_path):
    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.export import export_feedback

    app = make_db_app(db_url, prediction_log_text=True)
    client = app.test_client()
    conflicted, agreed = predict_ids(client, ["is this good or bad", "so good"])
    assert storage_of(app).flush(30)
    for client_id, label, address in ((CLIENT_A, 1, "192.0.2.1"), (CLIENT_B, -1, "192.0.2.2")):
        response = client.post("/feedback", json={"prediction_id": conflicted, "label": label, "client_id": client_id},
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 201
    assert client.post("/feedback", json={"prediction_id": agreed, "label": 1, "client_id": CLIENT_A},
                       environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 201
    stored = rows(db_url, "feedback")
    assert sorted((r["client_id"], r["label"]) for r in stored if r["prediction_id"] == conflicted) == [
        (CLIENT_A, 1), (CLIENT_B, -1)]
    engine = make_engine(db_url)
    try:
        sidecar = export_feedback(engine, tmp_path, max_per_client=200, min_agreement=1.0, burst=10)
    finally:
        engine.dispose()
    assert sidecar["rows"] == 1 and sidecar["dropped"]["conflicting_texts"] == 1
    assert (tmp_path / sidecar["csv"]).read_text(encoding="utf-8") == "text,label\nso good,1\n"


def test_feedback_rate_limit_per_client(make_db_app, tmp_path, sqlite_template):
    import shutil

    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'flood.db')}"
    client = make_db_app(url, feedback_rate_limit="5 per minute;50 per day").test_client()
    answers = [client.post("/feedback", json={"text": f"comment {i}", "label": 1, "client_id": CLIENT_A})
               for i in range(7)]
    assert [r.status_code for r in answers] == [201] * 5 + [429] * 2
    limited = assert_error(answers[5], 429, "5 per minute", "Retry-After")
    assert limited["error"] == "too many requests"
    assert 0 < int(answers[5].headers["Retry-After"]) <= 61  # the window, rounded up to whole seconds
    assert "Retry-After" not in answers[0].headers
    # another client is not affected
    assert client.post("/feedback", json={"text": "comment 0", "label": -1, "client_id": CLIENT_B}).status_code == 201
    # a client id that is not well-formed is keyed on the address: its flood is limited too, as a 400 or a 429
    statuses = [client.post("/feedback", json={"text": "x", "label": 1, "client_id": "bad id!"}).status_code
                for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    assert len(rows(url, "feedback")) == 6


def test_feedback_database_down_is_503_and_nothing_is_queued(make_db_app, db_url, outage):
    app = make_db_app(db_url)
    client = app.test_client()
    with outage(db_url):
        started = time.perf_counter()
        response = client.post("/feedback", json={"text": "nice", "label": 1, "client_id": CLIENT_A})
        elapsed = time.perf_counter() - started
    assert_error(response, 503, "not saved", "retry")
    assert response.headers["Retry-After"] == "30"
    assert elapsed < 10  # SQLite waits DATABASE_TIMEOUT_SECONDS (2 s) for its lock; PostgreSQL is refused at once
    assert rows(db_url, "feedback") == []
    assert client.post("/feedback", json={"text": "nice", "label": 1, "client_id": CLIENT_A}).status_code == 201


UUID = "12345678-1234-4234-8234-123456789abc"
BAD_FEEDBACK = [
    ({"prediction_id": UUID, "text": "both", "label": 1, "client_id": CLIENT_A}, 400, "exactly one"),
    ({"label": 1, "client_id": CLIENT_A}, 400, "exactly one"),
    ({"prediction_id": None, "label": 1, "client_id": CLIENT_A}, 400, "prediction_id"),
    ({"prediction_id": "not-a-uuid", "label": 1, "client_id": CLIENT_A}, 400, "prediction_id"),
    ({"prediction_id": UUID + "0", "label": 1, "client_id": CLIENT_A}, 400, "prediction_id"),
    ({"text": "", "label": 1, "client_id": CLIENT_A}, 400, "text"),
    ({"text": "   ", "label": 1, "client_id": CLIENT_A}, 400, "text"),
    ({"text": 5, "label": 1, "client_id": CLIENT_A}, 400, "text"),
    ({"text": "ok", "label": 2, "client_id": CLIENT_A}, 400, "label"),
    ({"text": "ok", "label": "1", "client_id": CLIENT_A}, 400, "label"),
    ({"text": "ok", "label": True, "client_id": CLIENT_A}, 400, "label"),
    ({"text": "ok", "label": 0.5, "client_id": CLIENT_A}, 400, "label"),
    ({"text": "ok", "label": None, "client_id": CLIENT_A}, 400, "label"),
    ({"text": "ok", "client_id": CLIENT_A}, 400, "label: Field required"),
    ({"text": "ok", "label": 1}, 400, "client_id: Field required"),
    ({"text": "ok", "label": 1, "client_id": "short"}, 400, "client_id"),
    ({"text": "ok", "label": 1, "client_id": "x" * 65}, 400, "client_id"),
    ({"text": "ok", "label": 1, "client_id": "has space 123"}, 400, "client_id"),
    ({"text": "ok", "label": 1, "client_id": "ünïcode-1234"}, 400, "client_id"),
    ({"text": "ok", "label": 1, "client_id": 12345678}, 400, "client_id"),
    ({"text": "x" * 10_001, "label": 1, "client_id": CLIENT_A}, 413, "MAX_COMMENT_CHARS=10000"),
    ({"text": "a\u0001b", "label": 1, "client_id": CLIENT_A}, 400, "text: holds the control character U+0001"),
]


def test_feedback_text_with_a_nul_is_400_on_every_database(make_db_app, db_url):
    """PostgreSQL refuses NUL in text (it was a 503 "database cannot be reached"), SQLite cut the text at it."""
    client = make_db_app(db_url).test_client()
    assert_error(client.post("/feedback", json={"text": "nul\u0000here", "label": 1, "client_id": CLIENT_A}), 400,
                 "text: holds the control character U+0000")
    assert rows(db_url, "feedback") == []


@pytest.mark.parametrize(("body", "status", "needle"), BAD_FEEDBACK)
def test_feedback_rejects_bad_bodies(make_db_app, tmp_path, sqlite_template, body, status, needle):
    import shutil

    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'bad.db')}"
    client = make_db_app(url).test_client()
    assert_error(client.post("/feedback", json=body), status, needle)
    assert rows(url, "feedback") == []


@pytest.mark.parametrize(("data", "content_type", "status", "needle"), [
    (b"{", "application/json", 400, "not valid JSON"),
    (b"[]", "application/json", 400, "object"),
    (b"null", "application/json", 400, "object"),
    (b'{"text": "ok", "label": 1, "client_id": "client-aaaa-0001"}', "text/plain", 415, "application/json"),
    (b"label=1", "application/x-www-form-urlencoded", 415, "application/json"),
    (b'{"text": "' + b"x" * 5_000_000 + b'"}', "application/json", 413, "MAX_CONTENT_LENGTH"),
])
def test_feedback_rejects_unreadable_bodies(client, data, content_type, status, needle):
    assert_error(client.post("/feedback", data=data, content_type=content_type), status, needle)


def test_feedback_wrong_method_is_405(client):
    assert_error(client.get("/feedback"), 405, "POST")


# ---- monitoring gauges -------------------------------------------------------------------------------------

def monitor_run(url: str, run_at: datetime, **overrides) -> None:
    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.monitor import record_monitor_run

    summary = {"drift": {"class_mix": {"window": {"negative": 0.25, "neutral": 0.35, "positive": 0.4}}},
               "live_quality": {"enough_data": True}, "params": {"drift_share": 0.5, "live_f1_floor": 0.6}}
    values = dict(model_name="fake", model_version="7", window_start=run_at - timedelta(days=1),
                  window_end=run_at, n_predictions=2000, n_feedback=64, decision="retrain",
                  summary=summary, run_at=run_at, drift_score=0.75, drift_detected=True, live_macro_f1=0.55)
    values.update(overrides)
    engine = make_engine(url)
    try:
        record_monitor_run(engine, **values)
    finally:
        engine.dispose()


def test_monitoring_gauges_come_from_the_latest_run(make_db_app, db_url):
    old = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    latest = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    monitor_run(db_url, old, drift_score=0.1, model_version="6")
    monitor_run(db_url, latest)
    monitor_run(db_url, latest + timedelta(hours=1), model_name="another-model", drift_score=0.99)
    client = make_db_app(db_url, monitor_cache_seconds=0).test_client()
    got = samples(client)
    assert got[("ytsentiment_monitor_drift_score", (("model_version", "7"),))] == 0.75
    assert got[("ytsentiment_monitor_drift_detected", ())] == 1
    assert got[("ytsentiment_monitor_live_macro_f1", (("model_version", "7"),))] == 0.55
    assert got[("ytsentiment_monitor_feedback_count", ())] == 64
    assert got[("ytsentiment_monitor_last_run_timestamp_seconds", ())] == latest.timestamp()
    assert got[("ytsentiment_monitor_drift_threshold", ())] == 0.5
    assert got[("ytsentiment_monitor_live_f1_floor", ())] == 0.6
    assert {labels[0][1]: v for (name, labels), v in got.items() if name == "ytsentiment_monitor_class_share"} == {
        "negative": 0.25, "neutral": 0.35, "positive": 0.4}
    assert ("ytsentiment_monitor_drift_score", (("model_version", "6"),)) not in got


def test_unmeasured_monitoring_figures_are_absent_not_zero(make_db_app, db_url):
    monitor_run(db_url, datetime(2026, 3, 2, tzinfo=UTC), drift_score=None, drift_detected=None,
                live_macro_f1=0.3, summary={"live_quality": {"enough_data": False}})
    client = make_db_app(db_url, monitor_cache_seconds=0).test_client()
    names = {name for name, _ in samples(client)}
    assert {n for n in names if n.startswith("ytsentiment_monitor_")} == {
        "ytsentiment_monitor_feedback_count", "ytsentiment_monitor_last_run_timestamp_seconds"}


def test_monitoring_gauges_are_cached(make_db_app, db_url):
    client = make_db_app(db_url, monitor_cache_seconds=3600).test_client()
    assert not any(name.startswith("ytsentiment_monitor_") for name, _ in samples(client))
    monitor_run(db_url, datetime(2026, 3, 2, tzinfo=UTC))
    assert not any(name.startswith("ytsentiment_monitor_") for name, _ in samples(client))  # within the period
