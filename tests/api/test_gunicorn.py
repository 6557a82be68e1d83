"""A real gunicorn (2 workers) on loopback with the real small model: concurrent clients, metrics across
workers, a killed worker, a bad MODEL_URI, a clean shutdown.
"""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import threading
import time

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.servers import start_gunicorn, workers_and_writers

from ytsentiment.api.settings import EXTENSION_ORIGIN
from ytsentiment.storage.spool import read_stats

pytestmark = pytest.mark.slow

CLIENTS = 10
DURATION_S = 3.0
WORDS = "great awful video love hate boring thanks useless amazing not really the a of 😂 🤬 lol".split()


def request_totals(base_url: str) -> tuple[dict[tuple[str, str, str], float], dict[str, float], str]:
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    totals: dict[tuple[str, str, str], float] = collections.defaultdict(float)
    predictions: dict[str, float] = collections.defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ytsentiment_http_requests_total":
                labels = sample.labels
                totals[labels["method"], labels["route"], labels["status"]] += sample.value
            elif sample.name == "ytsentiment_predictions_total":
                predictions[sample.labels["sentiment"]] += sample.value
    return totals, predictions, text


def client_loop(base_url: str, seed: int, stop_at: float, sent: collections.Counter, comments: list,
                failures: list) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    while time.monotonic() < stop_at:
        kind = rng.random()
        try:
            if kind < 0.6:
                size = rng.randint(1, 30)
                batch = [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(size)]
                response = session.post(f"{base_url}/predict", json={"comments": batch}, timeout=30)
                route, method = "/predict", "POST"
                if response.status_code == 200:
                    comments.append(len(batch))
            elif kind < 0.75:
                batch = [{"text": rng.choice(WORDS), "timestamp": f"2024-0{rng.randint(1, 9)}-01T00:00:00Z"}
                         for _ in range(rng.randint(1, 10))]
                response = session.post(f"{base_url}/analyze", json={"comments": batch}, timeout=30)
                route, method = "/analyze", "POST"
                if response.status_code == 200:
                    comments.append(len(batch))
            elif kind < 0.85:
                response = session.post(f"{base_url}/predict", json={"comments": []}, timeout=30)
                route, method = "/predict", "POST"
            elif kind < 0.9:
                response = session.get(f"{base_url}/no-such-route", timeout=30)
                route, method = "<unmatched>", "GET"
            else:
                response = session.get(f"{base_url}/health", timeout=30)
                route, method = "/health", "GET"
        except requests.RequestException as exc:  # a dropped connection is a failure too
            failures.append(repr(exc))
            continue
        sent[method, route, str(response.status_code)] += 1


def test_concurrent_clients_get_no_5xx_and_metrics_add_up(gunicorn_server):
    base = gunicorn_server.url
    before, predictions_before, _ = request_totals(base)
    # One Counter and list per thread (``counter[k] += 1`` is not atomic), summed once every thread has ended.
    per_thread = [(collections.Counter(), [], []) for _ in range(CLIENTS)]
    stop_at = time.monotonic() + DURATION_S
    threads = [threading.Thread(target=client_loop, args=(base, i, stop_at, *per_thread[i]))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [t.name for t in threads if t.is_alive()], "client threads still running after 60 s"
    sent = sum((counter for counter, _, _ in per_thread), collections.Counter())
    comments = [n for _, batch_sizes, _ in per_thread for n in batch_sizes]
    failures = [f for _, _, thread_failures in per_thread for f in thread_failures]
    assert not failures, failures[:5]
    assert sum(sent.values()) > 50, sent  # the load really happened
    assert not [k for k in sent if k[2].startswith("5")], sent
    assert set(s for _, _, s in sent) <= {"200", "400", "404"}, sent

    after, predictions_after, text = request_totals(base)
    for key, count in sent.items():
        assert after.get(key, 0) - before.get(key, 0) == count, (key, count, after.get(key))
    predicted = sum(predictions_after.values()) - sum(predictions_before.values())
    assert predicted == sum(comments)
    # latency histogram counts every request of the route, across workers
    for route in ("/predict", "/analyze"):
        count = sum(v for k, v in sent.items() if k[1] == route)
        series = f'ytsentiment_http_request_duration_seconds_count{{method="POST",route="{route}"}}'
        match = re.search(re.escape(series) + r" ([0-9.e+]+)", text)
        assert match and float(match.group(1)) >= count
    assert 'ytsentiment_model_info{alias="production",name="ytsentiment",version="1"} 1.0' in text


def metric_total(base_url: str, name: str) -> float:
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def test_prediction_log_feedback_and_monitor_gauges_across_workers(gunicorn_server, gunicorn_db_url):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.monitor import record_monitor_run

    base = gunicorn_server.url
    session = requests.Session()
    ids = []
    for i in range(20):  # one request at a time, new connections spread over the workers: both serve some
        response = session.post(f"{base}/predict", timeout=30, json={
            "comments": [f"comment {i}.{j}: great video" for j in range(10)], "video_id": "gunicorn-01"})
        assert response.status_code == 200
        ids += [p["prediction_id"] for p in response.json()]
    # labels right after the answer, each on a new connection (any worker): taken before the writer loaded them
    early = [requests.post(f"{base}/feedback", json={"prediction_id": pid, "label": -1, "client_id": "gunicorn-early"},
                           timeout=30) for pid in ids[-5:]]
    assert [r.status_code for r in early] == [201] * 5, [r.text for r in early]
    engine = make_engine(gunicorn_db_url)
    try:
        query = text("SELECT id, video_id, model_version, text FROM predictions WHERE video_id = 'gunicorn-01'")
        deadline = time.monotonic() + 60  # the host's writer loads a worker's segment within about 1.5 s
        while True:
            with engine.connect() as conn:
                by_id = {row[0]: row for row in conn.execute(query).all()}
            if len(by_id) >= len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert set(by_id) == set(ids)
        assert {row[1:3] for row in by_id.values()} == {("gunicorn-01", "1")}
        assert by_id[ids[0]][3] == "comment 0.0: great video"
        # the written rows are counted by the host's writer, so both workers report its count; none dropped
        assert metric_total(base, "ytsentiment_prediction_log_written_total") >= len(ids)
        assert metric_total(base, "ytsentiment_prediction_log_dropped_total") == 0

        first = session.post(f"{base}/feedback", json={"prediction_id": ids[0], "label": 1,
                                                       "client_id": "gunicorn-test-1"}, timeout=30)
        assert first.status_code == 201, first.text
        repeats = [session.post(f"{base}/feedback", json={"prediction_id": ids[0], "label": 1,
                                                          "client_id": "gunicorn-test-1"}, timeout=30)
                   for _ in range(4)]  # whichever worker answers, the database makes them repeats
        assert {(r.status_code, r.json()["status"]) for r in repeats} == {(200, "unchanged")}
        assert metric_total(base, "ytsentiment_feedback_total") == 1 + len(early)

        run_at = datetime(2026, 3, 2, 6, tzinfo=UTC)
        record_monitor_run(engine, model_name="ytsentiment", model_version="1", window_start=run_at - timedelta(1),
                           window_end=run_at, n_predictions=200, n_feedback=1, decision="ok", run_at=run_at,
                           summary={"params": {"drift_share": 0.5, "live_f1_floor": 0.6}}, drift_score=0.2,
                           drift_detected=False)
    finally:
        engine.dispose()
    for _ in range(4):  # every worker reports the one database row, once per scrape: never summed over workers
        scraped = requests.get(f"{base}/metrics", timeout=10).text
        assert scraped.count('ytsentiment_monitor_drift_score{model_version="1"} 0.2') == 1
        assert scraped.count("ytsentiment_monitor_drift_threshold 0.5") == 1


def test_metrics_survive_a_killed_worker(gunicorn_server):
    base = gunicorn_server.url
    master = psutil.Process(gunicorn_server.process.pid)
    workers = workers_and_writers(master.pid)[0]
    assert len(workers) == 2
    for _ in range(4):
        requests.post(f"{base}/predict", json={"comments": ["good"]}, timeout=30).raise_for_status()
    before, _, _ = request_totals(base)
    os.kill(workers[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # gunicorn replaces the worker; the new one loads the model
        alive = [p for p in workers_and_writers(master.pid)[0] if p.pid != workers[0].pid]
        if len(alive) == 2:
            break
        time.sleep(0.2)
    gunicorn_server.wait_ready()
    after, _, text = request_totals(base)
    # counters of the dead worker stay in the totals (files persist); only the /metrics scrape itself is new
    key = ("POST", "/predict", "200")
    assert after[key] == before[key]
    assert text.count("ytsentiment_model_info{") == 1  # one series per model, no dead-worker duplicate


def test_cors_and_errors_through_gunicorn(gunicorn_server):
    base = gunicorn_server.url
    response = requests.options(f"{base}/analyze", timeout=10, headers={
        "Origin": EXTENSION_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    response = requests.post(f"{base}/predict", data=b"x" * (5 * 1024 * 1024), timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "MAX_CONTENT_LENGTH" in response.json()["detail"]


def test_chunked_uploads_and_headers_through_gunicorn(gunicorn_server):
    base = gunicorn_server.url

    def chunks(n: int):  # a generator body: requests sends it chunked, without Content-Length
        yield b'{"comments": ['
        for i in range(n):
            yield (b", " if i else b"") + b'"' + b"x" * 9000 + b'"'
        yield b"]}"

    response = requests.post(f"{base}/predict", data=chunks(500), timeout=30,  # ~4.5 MB > 4 MiB
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "MAX_CONTENT_LENGTH" in response.json()["detail"]
    response = requests.post(f"{base}/predict", data=chunks(2), timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and len(response.json()) == 2
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    # gunicorn 26 sends its name without a version and has no setting to drop it (docs/api/index.md)
    assert response.headers["Server"] == "gunicorn"


def test_bad_model_uri_keeps_workers_alive_but_not_ready(tmp_path):
    server = start_gunicorn(str(tmp_path / "no-model-here"), tmp_path / "server.log", workers=1,
                            extra_env={"MODEL_WAIT_SECONDS": "0"})
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"{server.url}/ready", timeout=2)
                body = response.json()
                if body["status"] == "failed":
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert body and body["status"] == "failed", body
        assert "no-model-here" in body["detail"]
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        response = requests.post(f"{server.url}/predict", json={"comments": ["a"]}, timeout=5)
        assert response.status_code == 503 and "MODEL_URI" in response.json()["detail"]
        assert "could not load model" in server.log_text()
    finally:
        server.stop()


def test_sigterm_shuts_down_cleanly_and_removes_the_metrics_dir(trained_model_dir, tmp_path):
    server = start_gunicorn(str(trained_model_dir), tmp_path / "server.log", workers=1)
    try:
        server.wait_ready()
        match = re.search(r"Prometheus multiprocess directory: (\S+)", server.log_text())
        assert match and os.path.isdir(match.group(1))
    finally:
        code = server.stop()
    assert code == 0
    assert not os.path.exists(match.group(1))


def _log_writers(master_pid: int) -> list[psutil.Process]:
    return workers_and_writers(master_pid)[1]


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _logged(url: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from ytsentiment.storage.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM predictions"))
    except OperationalError:  # no table yet: the worker's schema step runs in the background
        return 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("how", ["SIGTERM to gunicorn", "SIGKILL to the worker", "SIGKILL to the writer"])
def test_no_row_is_lost_when_the_server_the_worker_or_the_writer_ends(trained_model_dir, tmp_path, how):
    """Segments stay open for 30 s here (PREDICTION_LOG_SEGMENT_SECONDS; 1 s when the writer is killed), so the rows
    below are still in the worker's open segment when it ends: a clean shutdown (worker_exit closes it, the
    writer's last pass loads it) and a killed worker (the kernel releases its lock) both get them loaded; a killed
    writer is started again by the master."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    server = start_gunicorn(str(trained_model_dir), tmp_path / "server.log", workers=1, extra_env={
        "DATABASE_URL": url, "PREDICTION_LOG": "on",
        "PREDICTION_LOG_SEGMENT_SECONDS": "1" if how == "SIGKILL to the writer" else "30"})
    try:
        server.wait_ready()
        [writer] = _log_writers(server.process.pid)
        if how == "SIGKILL to the writer":
            writer.send_signal(signal.SIGKILL)
        session = requests.Session()
        for i in range(5):
            session.post(f"{server.url}/predict", json={"comments": [f"great video {i}.{j}" for j in range(10)]},
                         timeout=30).raise_for_status()
        assert how == "SIGKILL to the writer" or _logged(url) == 0  # still in the open segment
        deadline = time.monotonic() + 30  # the schema step (in the worker's background) must be over
        while " at schema " not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        if how == "SIGKILL to the worker":
            [worker] = workers_and_writers(server.process.pid)[0]
            worker.send_signal(signal.SIGKILL)
        elif how == "SIGTERM to gunicorn":
            assert server.stop() == 0
            assert _gone(writer), "the writer outlived gunicorn"
        else:
            deadline = time.monotonic() + 30
            while not _log_writers(server.process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [p.pid for p in _log_writers(server.process.pid)] not in ([], [writer.pid])
        deadline = time.monotonic() + 30
        while _logged(url) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _logged(url) == 50
        # the counters agree with the table: the writer's own figures (what /metrics serves) and, on a clean stop,
        # what the worker's last log line says
        assert read_stats(tmp_path / "server.spool") == {**read_stats(tmp_path / "server.spool"), "written": 50,
                                                          "rejected": 0, "healthy": True}
        if how != "SIGTERM to gunicorn":
            server.wait_ready()
            assert metric_total(server.url, "ytsentiment_prediction_log_written_total") == 50
            assert metric_total(server.url, "ytsentiment_prediction_log_dropped_total") == 0
        else:
            logged = server.log_text()
            assert "prediction log closed: 50 rows of this worker left in the spool for the writer, 0 dropped" in logged
            assert re.search(r"writer stopped: 50 rows written in all, 0 rejected; 0 segments left in \S+\n", logged)
    finally:
        server.stop()
