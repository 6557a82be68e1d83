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

from flask_app.settings import EXTENSION_ORIGIN

from .conftest import start_gunicorn, stop, wait_ready

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
    sent: collections.Counter = collections.Counter()
    comments: list[int] = []
    failures: list[str] = []
    stop_at = time.monotonic() + DURATION_S
    threads = [threading.Thread(target=client_loop, args=(base, i, stop_at, sent, comments, failures))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
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


def test_metrics_survive_a_killed_worker(gunicorn_server):
    base = gunicorn_server.url
    master = psutil.Process(gunicorn_server.process.pid)
    workers = master.children()
    assert len(workers) == 2
    for _ in range(4):
        requests.post(f"{base}/predict", json={"comments": ["good"]}, timeout=30).raise_for_status()
    before, _, _ = request_totals(base)
    os.kill(workers[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # gunicorn replaces the worker; the new one loads the model
        alive = [p for p in master.children() if p.pid != workers[0].pid]
        if len(alive) == 2:
            break
        time.sleep(0.2)
    wait_ready(gunicorn_server)
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
        stop(server)


def test_sigterm_shuts_down_cleanly_and_removes_the_metrics_dir(trained_model_dir, tmp_path):
    server = start_gunicorn(str(trained_model_dir), tmp_path / "server.log", workers=1)
    wait_ready(server)
    match = re.search(r"Prometheus multiprocess directory: (\S+)", server.log_text())
    assert match and os.path.isdir(match.group(1))
    assert stop(server) == 0
    assert not os.path.exists(match.group(1))
