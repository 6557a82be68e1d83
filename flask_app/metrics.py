"""Prometheus metrics for the API, correct under several gunicorn workers.

Under gunicorn, ``flask_app/gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory per server
start) before any worker imports prometheus_client, so every worker writes its samples to files there and
``/metrics`` merges them with a ``MultiProcessCollector``; the ``child_exit`` hook marks dead workers. Without
that variable (the Flask test client, ``flask run``) each app gets its own in-process registry, so several
apps in one process never collide.

Series: ``ytsentiment_http_requests_total{method,route,status}``,
``ytsentiment_http_request_duration_seconds{method,route}`` (histogram),
``ytsentiment_predictions_total{sentiment}``, ``ytsentiment_model_info{name,version,alias}`` (1 for the loaded
model) and ``ytsentiment_model_ready``. Routes are the URL rule (``/predict``), never the raw path, so unknown
paths cannot explode the label set.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "<unmatched>"


def multiprocess_mode() -> bool:
    # prometheus_client picks its value store when it is first imported; follow that choice, not today's env.
    return values.ValueClass is not values.MutexValue and bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ytsentiment_http_requests", "HTTP requests answered, by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("ytsentiment_http_request_duration_seconds",
                                 "Time to answer a request, by route.", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("ytsentiment_predictions", "Comments classified, by predicted class.",
                                   ["sentiment"], registry=self.registry)
        # livemax: one series per label set, ignoring workers that have exited.
        self.model_info = Gauge("ytsentiment_model_info", "The served model (value 1).",
                                ["name", "version", "alias"], registry=self.registry,
                                multiprocess_mode="livemax")
        self.model_ready = Gauge("ytsentiment_model_ready", "1 when this worker's model is loaded.",
                                 registry=self.registry, multiprocess_mode="livemin")
        self.model_ready.set(0)

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        route = route or UNMATCHED_ROUTE
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_predictions(self, labels: list[str]) -> None:
        for label in ("negative", "neutral", "positive"):
            n = labels.count(label)
            if n:
                self.predictions.labels(label).inc(n)

    def set_model(self, info: dict) -> None:
        self.model_info.labels(str(info.get("name")), str(info.get("version")), str(info.get("alias"))).set(1)
        self.model_ready.set(1)

    def render(self) -> bytes:
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def mark_process_dead(pid: int) -> None:
    """gunicorn ``child_exit`` hook body: drop the live gauges of a worker that exited."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)
