"""Prometheus metrics for the API, correct under several gunicorn workers.

Under gunicorn, ``src/ytsentiment/api/gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory per server
start) before any worker imports prometheus_client, so every worker writes its samples to files there and
``/metrics`` merges them with a ``MultiProcessCollector``; gunicorn's ``child_exit`` hook (in
``gunicorn.conf.py``) marks dead workers. Without that variable (the Flask test client, ``flask run``) each app
gets its own in-process registry, so several apps in one process never collide.

Series: ``ytsentiment_http_requests_total{method,route,status}``,
``ytsentiment_http_request_duration_seconds{method,route}`` (histogram),
``ytsentiment_predictions_total{sentiment}``, ``ytsentiment_model_info{name,version,alias}`` (1 for the loaded
model) and ``ytsentiment_model_ready``. Routes are the URL rule (``/predict``), never the raw path, so unknown
paths cannot explode the label set.

Prediction log and feedback (counters, summed over workers like the others):
``ytsentiment_prediction_log_dropped_total`` (rows not spooled: spool past its budget, disk refusing them),
``ytsentiment_prediction_log_written_total`` and ``..._rejected_total`` (the host's log writer's counts, the same
for every worker: ``LogCollector``), ``ytsentiment_feedback_total{label}``
(labels stored by ``POST /feedback``, by the label a person gave: negative/neutral/positive).

The challenger (``ytsentiment.api.shadow``; counters summed over workers): ``ytsentiment_shadow_scored_total``
(comments it scored), ``ytsentiment_shadow_disagreements_total`` (of those, classed otherwise than production),
``ytsentiment_shadow_skipped_total{reason}`` (comments of sampled requests not scored: ``queue_full``, ``too_large``,
``loading``, ``error``), ``ytsentiment_shadow_cpu_seconds_total`` (its scoring thread's CPU) and
``ytsentiment_shadow_model_info{name,version}`` (1 while a worker shadows that version).

Monitoring gauges (``MonitorCollector``): the latest ``monitor_runs`` row of the served model, read from the
database at scrape time (cached MONITOR_CACHE_SECONDS). They are NOT multiprocess files: the values are the same
for every worker (one database), so the scraped worker reports them straight from its own cached read, which
cannot double-count, go stale with a dead worker, or mix two workers' reads. Missing when the database cannot be
read or no run exists; a figure the run did not measure (null) is left out rather than reported as 0:
``ytsentiment_monitor_drift_score{model_version}``, ``ytsentiment_monitor_drift_detected`` (0/1),
``ytsentiment_monitor_live_macro_f1{model_version}`` (only when the run had enough feedback to judge it),
``ytsentiment_monitor_feedback_count``, ``ytsentiment_monitor_class_share{sentiment}`` (predicted class mix of the
window), ``ytsentiment_monitor_last_run_timestamp_seconds``, and the thresholds the run used
(params.yaml ``monitor:``): ``ytsentiment_monitor_drift_threshold`` (``drift_share``) and
``ytsentiment_monitor_live_f1_floor``. With a challenger (``summary["shadow"]``):
``ytsentiment_monitor_shadow_comments``, ``..._shadow_agreement``, ``..._shadow_feedback_count`` (by
``challenger_version``), ``..._shadow_live_macro_f1{model,model_version}`` and
``..._shadow_latency_p50_ms{model}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ytsentiment.contract import NAMES

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "<unmatched>"
SHADOW_SKIP_REASONS = ("queue_full", "too_large", "loading", "error")


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
        self.log_dropped = Counter("ytsentiment_prediction_log_dropped",
                                   "Predictions not logged: the spool was past its budget or the disk refused them.",
                                   registry=self.registry)
        self.feedback = Counter("ytsentiment_feedback", "Feedback labels stored, by the label given.", ["label"],
                                registry=self.registry)
        for label in NAMES:
            self.feedback.labels(label)
        self.shadow_scored = Counter("ytsentiment_shadow_scored", "Comments the challenger scored off the request "
                                     "path.", registry=self.registry)
        self.shadow_disagreements = Counter("ytsentiment_shadow_disagreements", "Comments the challenger classed "
                                            "otherwise than production.", registry=self.registry)
        self.shadow_skipped = Counter("ytsentiment_shadow_skipped", "Comments of sampled requests the challenger did "
                                      "not score, by reason.", ["reason"], registry=self.registry)
        for reason in SHADOW_SKIP_REASONS:
            self.shadow_skipped.labels(reason)
        self.shadow_cpu = Counter("ytsentiment_shadow_cpu_seconds", "CPU time of the challenger's scoring threads.",
                                  registry=self.registry)
        self.shadow_model = Gauge("ytsentiment_shadow_model_info", "The challenger being shadowed (value 1).",
                                  ["name", "version"], registry=self.registry, multiprocess_mode="livemax")
        self.collectors: list[Collector] = []

    def use_collector(self, collector: Collector) -> None:
        """Expose ``collector``'s families (read at scrape time by this process) with every scrape."""
        self.collectors.append(collector)
        if not multiprocess_mode():
            self.registry.register(collector)

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        route = route or UNMATCHED_ROUTE
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_predictions(self, labels: list[str]) -> None:
        for label in NAMES:
            n = labels.count(label)
            if n:
                self.predictions.labels(label).inc(n)

    def set_model(self, info: dict) -> None:
        self.model_info.labels(str(info.get("name")), str(info.get("version")), str(info.get("alias"))).set(1)
        self.model_ready.set(1)

    def set_shadow_model(self, info: dict) -> None:
        self.shadow_model.labels(str(info.get("name")), str(info.get("version"))).set(1)

    def count_shadow_scored(self, comments: int, disagreements: int) -> None:
        self.shadow_scored.inc(comments)
        if disagreements:
            self.shadow_disagreements.inc(disagreements)

    def count_shadow_skipped(self, reason: str, comments: int) -> None:
        self.shadow_skipped.labels(reason).inc(comments)

    def count_feedback(self, label: str) -> None:
        self.feedback.labels(label).inc()

    def render(self) -> bytes:
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            for collector in self.collectors:
                registry.register(collector)
            return generate_latest(registry)
        return generate_latest(self.registry)


class LogCollector(Collector):
    """The prediction log writer's counters, from ``read()`` (``storage.spool.read_stats``): one file for the host,
    so every worker reports the same values."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self.read()
        yield CounterMetricFamily("ytsentiment_prediction_log_written", "Predictions written to the prediction log.",
                                  value=stats["written"])
        yield CounterMetricFamily("ytsentiment_prediction_log_rejected", "Predictions the database refused to "
                                  "store for their content (kept in the spool's rejected/ folder).",
                                  value=stats["rejected"])


class MonitorCollector(Collector):
    """The monitoring gauges, from ``read()``: the latest ``monitor_runs`` row as a dict (or None)."""

    def __init__(self, read: Callable[[], dict[str, Any] | None]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        run = self.read()
        if not run:
            return
        yield from monitor_families(run)


def _gauge(name: str, doc: str, value: Any, labels: dict[str, str] | None = None) -> GaugeMetricFamily | None:
    if value is None:
        return None
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), float(value))
    return family


def monitor_families(run: dict[str, Any]) -> list[GaugeMetricFamily]:
    """The gauges of one ``monitor_runs`` row (``storage.monitor_runs`` shape: ``summary`` decoded)."""
    summary = run.get("summary") or {}
    version = {"model_version": str(run.get("model_version"))}
    quality = summary.get("live_quality") or {}
    live_f1 = run.get("live_macro_f1") if quality.get("enough_data", True) is not False else None
    drift_detected = run.get("drift_detected")
    run_at = run.get("run_at")
    params = summary.get("params") or {}
    families = [
        _gauge("ytsentiment_monitor_drift_score", "Share of drift signals that drifted in the latest monitoring run.",
               run.get("drift_score"), version),
        _gauge("ytsentiment_monitor_drift_detected", "1 when the latest monitoring run found drift.",
               None if drift_detected is None else int(bool(drift_detected))),
        _gauge("ytsentiment_monitor_live_macro_f1", "Macro-F1 on the feedback of the latest monitoring window.",
               live_f1, version),
        _gauge("ytsentiment_monitor_feedback_count", "Feedback labels in the latest monitoring window.",
               run.get("n_feedback")),
        _gauge("ytsentiment_monitor_last_run_timestamp_seconds", "When the latest monitoring run ran (Unix time).",
               run_at.timestamp() if isinstance(run_at, datetime) else None),
        _gauge("ytsentiment_monitor_drift_threshold", "Drift score at which a window counts as drifted "
               "(params.yaml monitor.drift_share).", params.get("drift_share")),
        _gauge("ytsentiment_monitor_live_f1_floor", "Live macro-F1 under which the monitor asks for a retrain "
               "(params.yaml monitor.live_f1_floor).", params.get("live_f1_floor")),
    ]
    mix = ((summary.get("drift") or {}).get("class_mix") or {}).get("window")
    if isinstance(mix, dict) and mix:
        shares = GaugeMetricFamily("ytsentiment_monitor_class_share",
                                   "Share of each predicted class in the latest monitoring window.",
                                   labels=["sentiment"])
        for name in NAMES:
            if isinstance(mix.get(name), int | float):
                shares.add_metric([name], float(mix[name]))
        families.append(shares)
    return [f for f in families if f is not None] + shadow_families(summary.get("shadow"))


def shadow_families(shadow: dict[str, Any] | None) -> list[GaugeMetricFamily]:
    """The challenger's gauges of a monitoring run's ``summary["shadow"]`` (none without a challenger)."""
    if not isinstance(shadow, dict):
        return []
    version = {"challenger_version": str(shadow.get("challenger_version"))}
    live = shadow.get("live") or {}
    families = [
        _gauge("ytsentiment_monitor_shadow_comments", "Comments the challenger shadowed (latest monitoring run).",
               shadow.get("n_shadowed"), version),
        _gauge("ytsentiment_monitor_shadow_agreement", "Share of shadowed comments the challenger classed as "
               "production did.", shadow.get("agreement"), version),
        _gauge("ytsentiment_monitor_shadow_feedback_count", "Feedback rows about shadowed comments.",
               live.get("n_feedback"), version),
    ]
    f1 = GaugeMetricFamily("ytsentiment_monitor_shadow_live_macro_f1", "Live macro-F1 of each model on the feedback "
                           "about shadowed comments.", labels=["model", "model_version"])
    for who, v in (("production", shadow.get("production_version")), ("challenger", shadow.get("challenger_version"))):
        if isinstance((live.get(who) or {}).get("macro_f1"), int | float):
            f1.add_metric([who, str(v)], float(live[who]["macro_f1"]))
    latency = GaugeMetricFamily("ytsentiment_monitor_shadow_latency_p50_ms", "Median time of each model for a "
                                "shadowed request's batch (ms).", labels=["model"])
    for who in ("production", "challenger"):
        if isinstance((shadow.get("latency_ms") or {}).get(f"{who}_p50"), int | float):
            latency.add_metric([who], float(shadow["latency_ms"][f"{who}_p50"]))
    return [f for f in families if f is not None] + [f for f in (f1, latency) if f.samples]

