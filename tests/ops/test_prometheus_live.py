"""The monitoring stack for real: Debian's Prometheus scraping a real gunicorn API (2 workers, the small real model)
on loopback, with the repo's rules, sending its alerts to Debian's Alertmanager running the repo's
alertmanager.yml, and the Grafana dashboard's every query run against it.

What is real: prometheus.yml and the rules (a copy in a temp dir with 1 s scrape/evaluation intervals, the loopback
Alertmanager as its alerting target and every alert's ``for:`` set to FOR_IN_TEST, the Watchdog's to
WATCHDOG_FOR_IN_TEST — expressions, labels and annotations are untouched, asserted below), alertmanager.yml as it
is, the API and its /metrics, its database and the traffic. The monitoring gauges come the way they do in production: a
monitoring run is a ``monitor_runs`` row in the API's database (``ytsentiment.storage.record_monitor_run``, as
``ytsentiment monitor`` writes it), which the API reads for /metrics (cached MONITOR_CACHE_SECONDS, 1 s here).
"""

from __future__ import annotations

import collections
import dataclasses
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from support.prometheus import Prometheus, finite, http_ok, start_prometheus, stop_prometheus
from support.prometheus import wait_for as poll
from support.servers import free_port, start_gunicorn, stop_group

from .conftest import JOB, MONITORING, PROMETHEUS_DIR, TINY_MODEL_INFO, load_yaml

pytestmark = pytest.mark.slow

FOR_IN_TEST = "2s"
# Prometheus evaluates its rules before it has discovered its Alertmanager (discovery updates are throttled to 5 s),
# drops what it cannot send and resends a minute later (--rules.alert.resend-delay). The Watchdog, firing from the
# first evaluation in production, waits this long here so that its first notification finds the Alertmanager.
WATCHDOG_FOR_IN_TEST = "10s"
RATE_INTERVAL = "1m"  # stands in for Grafana's $__rate_interval: wider than the whole test, so no sample is missed
MODEL_VERSION = TINY_MODEL_INFO["version"]
POSITIVE = ["I love this video, thank you so much!", "Amazing work, great explanation", "best tutorial ever"]
NEGATIVE = ["This is awful and boring", "worst video I have ever seen, I hate it", "terrible, useless content"]
NEUTRAL = ["The video is 10 minutes long", "He uploaded it on Tuesday", "part two is next week"]


@dataclasses.dataclass
class Api:
    url: str
    address: str  # host:port, as Prometheus labels its instance
    database_url: str


@pytest.fixture(scope="module")
def api(tiny_model_dir, tmp_path_factory):
    """The real API under gunicorn (2 workers, Prometheus multiprocess mode) on a loopback port, shadowing every
    request with a challenger (the same model: it agrees, so no challenger alert fires)."""
    workdir = tmp_path_factory.mktemp("api")
    database_url = f"sqlite:///{workdir / 'api.db'}"
    server = start_gunicorn(str(tiny_model_dir), workdir / "gunicorn.log", workers=2,
                            extra_env={"DATABASE_URL": database_url, "MONITOR_CACHE_SECONDS": "1",
                                       "CHALLENGER_URI": str(tiny_model_dir), "SHADOW_SAMPLE": "1"})
    try:
        def ready() -> bool:
            if server.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.log_text()[-3000:]}")
            return http_ok(f"{server.url}/ready")

        poll(ready, 120, "the API's /ready")
        yield Api(server.url, server.url.removeprefix("http://"), database_url)
    finally:
        server.stop()


class MonitorSource:
    """Monitoring runs written to the API's database, as ``ytsentiment monitor`` writes them."""

    def __init__(self, database_url: str) -> None:
        from ytsentiment.storage.db import make_engine
        from ytsentiment.storage.migrate import upgrade

        upgrade(database_url)  # the API migrates it too; upgrading twice is a no-op
        self.engine = make_engine(database_url)

    def record_monitoring_run(self, drift_score: float, live_f1: float, shares: dict[str, float],
                              feedback_rows: int) -> None:
        """One monitoring run's row; thresholds as params.yaml monitor.drift_share / live_f1_floor."""
        from ytsentiment.storage.monitor import record_monitor_run

        now = datetime.now(UTC)
        record_monitor_run(
            self.engine, model_name=TINY_MODEL_INFO["name"], model_version=MODEL_VERSION,
            window_start=now - timedelta(hours=1), window_end=now, n_predictions=2000, n_feedback=feedback_rows,
            decision="retrain" if drift_score >= 0.5 else "ok", drift_score=drift_score,
            drift_detected=drift_score >= 0.5, live_macro_f1=live_f1,
            summary={"params": {"drift_share": 0.5, "live_f1_floor": 0.6},
                     "live_quality": {"enough_data": True, "macro_f1": live_f1},
                     "drift": {"class_mix": {"window": shares}},
                     "shadow": {"production_version": MODEL_VERSION, "challenger_version": "2", "n_shadowed": 300,
                                "agreement": 0.9, "live": {"n_feedback": feedback_rows,
                                                           "production": {"macro_f1": live_f1},
                                                           "challenger": {"macro_f1": live_f1 + 0.01}},
                                "latency_ms": {"production_p50": 3.0, "challenger_p50": 4.0}}})

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="module")
def monitor_source(api):
    """THE gauge source of this module: monitoring runs in the API's own database."""
    source = MonitorSource(api.database_url)
    source.record_monitoring_run(0.25, 0.72, {"negative": 0.3, "neutral": 0.3, "positive": 0.4}, 12)
    yield source
    source.close()


@dataclasses.dataclass
class Alertmanager:
    url: str
    address: str  # host:port, as Prometheus's alerting target
    process: subprocess.Popen
    log: Path

    def alerts(self, alertname: str) -> list[dict]:
        """GET /api/v2/alerts filtered on the alert's name (active, silenced and inhibited ones)."""
        response = requests.get(f"{self.url}/api/v2/alerts", params={"filter": f'alertname="{alertname}"'},
                                timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    """Debian's Alertmanager with the repo's alertmanager.yml (untouched), on a free loopback port, clustering off,
    state in a temp dir."""
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is missing: apt-get install prometheus-alertmanager")
    workdir = tmp_path_factory.mktemp("alertmanager")
    for attempt in range(5):
        port = free_port()
        log = workdir / f"alertmanager-{attempt}.log"
        process = subprocess.Popen(
            [binary, f"--config.file={MONITORING / 'alertmanager' / 'alertmanager.yml'}",
             f"--storage.path={workdir / f'data-{attempt}'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address=", "--log.level=info"],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        server = Alertmanager(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None and not http_ok(f"{server.url}/-/ready"):
            time.sleep(0.2)
        if process.poll() is None and http_ok(f"{server.url}/-/ready"):
            break
        stop_group(process)
        if "address already in use" not in log.read_text(errors="replace"):
            pytest.fail(f"Alertmanager did not become ready:\n{log.read_text(errors='replace')[-3000:]}")
    else:
        pytest.fail("no free port for Alertmanager after 5 attempts")
    try:
        yield server
    finally:
        stop_group(server.process)


def write_test_config(workdir: Path, targets: list[str], alertmanager: str) -> Path:
    """A copy of ops/prometheus with test intervals, ``for:`` shortened, loopback targets and the loopback
    Alertmanager in the compose service's place."""
    config_dir = workdir / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, config_dir, ignore=shutil.ignore_patterns("tests"))
    config = load_yaml(config_dir / "prometheus.yml")
    config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    (config_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    rules_path = config_dir / "rules" / "ytsentiment.rules.yml"
    production = load_yaml(rules_path)
    shortened = load_yaml(rules_path)
    for group in shortened["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = WATCHDOG_FOR_IN_TEST if rule["alert"] == "Watchdog" else FOR_IN_TEST
    rules_path.write_text(yaml.safe_dump(shortened))
    # nothing but `for:` differs from the production rules
    for group in shortened["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    for group in production["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    assert shortened == production
    (config_dir / "targets" / "api.yml").write_text(yaml.safe_dump([{"targets": targets}]))
    return config_dir / "prometheus.yml"



@dataclasses.dataclass
class Traffic:
    sent: collections.Counter  # (method, route, status) -> requests, as the client saw them
    predicted: int  # comments classified (200 answers)
    started: float = 0.0

    def add(self, other: Traffic) -> Traffic:
        return Traffic(self.sent + other.sent, self.predicted + other.predicted, self.started or other.started)


def send_traffic(api: Api, rounds: int) -> Traffic:
    """Each round: four /predict batches, one /analyze, one empty /predict (a 400)."""
    traffic = Traffic(collections.Counter(), 0, time.time())
    session = requests.Session()
    for i in range(rounds):
        for batch in (POSITIVE, NEGATIVE, NEUTRAL, POSITIVE + NEGATIVE + NEUTRAL):
            response = session.post(f"{api.url}/predict", json={"comments": batch}, timeout=30)
            traffic.sent["POST", "/predict", str(response.status_code)] += 1
            traffic.predicted += len(batch) if response.status_code == 200 else 0
        body = {"comments": [{"text": t, "timestamp": f"2024-0{i % 9 + 1}-01T00:00:00Z"} for t in NEGATIVE]}
        response = session.post(f"{api.url}/analyze", json=body, timeout=30)
        traffic.sent["POST", "/analyze", str(response.status_code)] += 1
        traffic.predicted += len(NEGATIVE) if response.status_code == 200 else 0
        response = session.post(f"{api.url}/predict", json={"comments": []}, timeout=30)  # a client mistake
        traffic.sent["POST", "/predict", str(response.status_code)] += 1
    expected = {("POST", "/predict", "200"): 4 * rounds, ("POST", "/analyze", "200"): rounds,
                ("POST", "/predict", "400"): rounds}
    assert traffic.sent == expected, traffic.sent
    return traffic


@pytest.fixture(scope="module")
def warm_up(api, monitor_source) -> Traffic:
    """One round before Prometheus starts: every series exists at its first scrape, so later rates see increases
    (a counter first seen at its final value has a rate of 0)."""
    return send_traffic(api, 1)


@pytest.fixture(scope="module")
def prometheus(api, monitor_source, warm_up, alertmanager, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    config = write_test_config(workdir, [api.address], alertmanager.address)
    server = start_prometheus(config, workdir)
    try:
        poll(lambda: [t["health"] for t in server.targets()] == ["up"], 30, "the API scraped")
        yield server
    finally:
        stop_prometheus(server)


@pytest.fixture(scope="module")
def traffic(api, prometheus, monitor_source, warm_up) -> Traffic:
    """The main traffic, sent once Prometheus has scraped the warm-up; returns all traffic once it is scraped and
    the rate-based recording rules see it."""
    on_api = f'instance="{api.address}", route="/predict", status="200"'
    poll(lambda: prometheus.value(f"sum(ytsentiment_http_requests_total{{{on_api}}})") == 4, 30,
         "the warm-up to be scraped")
    main = send_traffic(api, 6)
    total = warm_up.add(main)
    poll(lambda: prometheus.value(f"sum(ytsentiment_http_requests_total{{{on_api}}})") == 28, 30,
         "the traffic to be scraped")
    poll(lambda: (prometheus.value('ytsentiment:http_requests:rate5m{route="/predict", status="200"}') or 0) > 0,
         30, "the recording rules to see the traffic")
    return total


def wait_evaluated_after(prometheus: Prometheus, alert: str, since: float) -> dict:
    """The alert rule once its group has been evaluated after ``since`` (Unix time)."""

    def evaluated():
        rule = prometheus.rule(alert)
        stamp = rule["groupLastEvaluation"]
        if stamp.startswith("0001-"):  # never evaluated yet
            return None
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00")))
        return rule if when.timestamp() > since else None

    return poll(evaluated, 20, f"an evaluation of {alert}")


def test_api_target_up_and_series_match_the_traffic(api, prometheus, traffic):
    health = {t["labels"]["instance"]: (t["health"], t["lastError"]) for t in prometheus.targets()}
    assert health[api.address] == ("up", ""), health
    assert prometheus.value(f'up{{job="{JOB}", instance="{api.address}"}}') == 1
    on_api = f'instance="{api.address}"'
    for (method, route, status), count in traffic.sent.items():
        got = prometheus.value(f'sum(ytsentiment_http_requests_total{{{on_api}, method="{method}", '
                               f'route="{route}", status="{status}"}})')
        assert got == count, (method, route, status, got, count)
        if route in ("/predict", "/analyze"):
            assert prometheus.value(f'sum(ytsentiment_http_request_duration_seconds_count{{{on_api}, '
                                    f'route="{route}"}})') >= count
    assert prometheus.value(f"sum(ytsentiment_predictions_total{{{on_api}}})") == traffic.predicted
    sentiments = {s["metric"]["sentiment"] for s in prometheus.query(f"ytsentiment_predictions_total{{{on_api}}}")}
    assert sentiments <= {"negative", "neutral", "positive"} and sentiments
    buckets = prometheus.query(f'ytsentiment_http_request_duration_seconds_bucket{{{on_api}, route="/predict"}}')
    assert {b["metric"]["le"] for b in buckets} >= {"0.005", "1.0", "+Inf"}
    (info,) = prometheus.query(f"ytsentiment_model_info{{{on_api}}}")
    assert (info["metric"]["version"], info["metric"]["alias"], info["value"][1]) == (MODEL_VERSION, "production", "1")
    assert prometheus.value(f"ytsentiment_model_ready{{{on_api}}}") == 1


def test_rules_are_quiet_on_a_healthy_api(api, prometheus, traffic):
    assert prometheus.value("ytsentiment:http_5xx_ratio:rate5m") == 0
    p95 = prometheus.query('ytsentiment:http_request_duration_seconds:p95_5m{route="/predict"}')
    assert finite(p95) and 0 < float(p95[0]["value"][1]) < 1
    assert prometheus.value("ytsentiment:monitor_drift_threshold") == 0.5  # the API's gauge, from the run
    since = time.time()
    for alert in ("YtSentimentApiDown", "YtSentimentModelNotReady", "YtSentimentHighErrorRatio",
                  "YtSentimentHighLatency", "YtSentimentPredictionLogDrops", "YtSentimentLiveF1BelowFloor",
                  "YtSentimentMonitorStale", "YtSentimentDriftDetected"):
        rule = wait_evaluated_after(prometheus, alert, since)
        assert rule["health"] == "ok", (alert, rule.get("lastError"))
        assert rule["state"] == "inactive", (alert, rule["alerts"])


def test_watchdog_reaches_alertmanager_and_its_own_receiver(prometheus, alertmanager):
    """The whole alert path: Prometheus evaluates the Watchdog, sends it to Alertmanager, which routes it to the
    watchdog receiver (never the default one)."""
    (manager,) = prometheus.api("alertmanagers")["activeAlertmanagers"]
    assert manager["url"] == f"{alertmanager.url}/api/v2/alerts"
    (alert,) = poll(lambda: alertmanager.alerts("Watchdog"), 20, "the Watchdog in Alertmanager")
    assert alert["status"]["state"] == "active", alert
    assert [r["name"] for r in alert["receivers"]] == ["watchdog"]
    assert alert["labels"] == {"alertname": "Watchdog", "severity": "none"}
    assert alert["annotations"]["runbook_url"] == "docs/runbooks/Watchdog.md"
    assert prometheus.rule("Watchdog")["state"] == "firing"


def substitute(expr: str, variables: dict[str, str]) -> str:
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr, expr
    return expr


def resolve_variables(prometheus: Prometheus, dashboard: dict) -> dict[str, str]:
    """Grafana's job: run each template variable's label_values() query against Prometheus, pick a value."""
    variables = {"__rate_interval": RATE_INTERVAL, "__interval": "1s", "__range": "5m"}
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        selector = substitute(match[1], variables)
        values = prometheus.api(f"label/{match[2]}/values", **{"match[]": selector})
        assert values, (variable["name"], selector)
        if variable["name"] == "job":
            assert JOB in values
            variables["job"] = JOB
        else:
            variables[variable["name"]] = variable["allValue"] if variable.get("includeAll") else values[0]
    return variables


def test_every_dashboard_query_returns_data(prometheus, traffic, dashboard):
    variables = resolve_variables(prometheus, dashboard)
    assert variables["instance"] == ".*"
    end = time.time()
    empty = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], variables)
            if target.get("instant"):
                result = prometheus.query(expr)
            else:
                result = prometheus.query_range(expr, traffic.started - 2, end, step=1)
            if not finite(result):
                empty.append((panel["title"], target["refId"], expr, result))
    assert not empty, empty


def test_drift_alert_fires_when_the_gauge_crosses_the_threshold(prometheus, alertmanager, monitor_source, traffic,
                                                                 dashboard):
    alert = "YtSentimentDriftDetected"
    score = "ytsentiment_monitor_drift_score"
    poll(lambda: prometheus.value(score) == 0.25, 20, "the 0.25 drift score scraped")
    rule = wait_evaluated_after(prometheus, alert, time.time())
    assert rule["health"] == "ok" and rule["state"] == "inactive", rule
    assert prometheus.query(f'ALERTS{{alertname="{alert}"}}') == []

    monitor_source.record_monitoring_run(0.75, 0.72, {"negative": 0.3, "neutral": 0.3, "positive": 0.4}, 12)
    firing = poll(lambda: prometheus.query(f'ALERTS{{alertname="{alert}", alertstate="firing"}}'), 30,
                  "the drift alert to fire")
    (series,) = firing
    assert series["metric"]["model_version"] == MODEL_VERSION and series["metric"]["severity"] == "warning"
    (active,) = [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == alert]
    assert active["state"] == "firing"
    assert active["annotations"]["summary"] == f"Live comments drifted for model {MODEL_VERSION} (drift score 0.75)"
    assert active["annotations"]["runbook"]
    # the dashboard's alert annotation query sees it
    (annotation,) = dashboard["annotations"]["list"]
    assert any(s["metric"]["alertname"] == alert for s in prometheus.query(annotation["expr"]))
    # and it reaches Alertmanager's default receiver (ALERT_WEBHOOK_URL's)
    (routed,) = poll(lambda: alertmanager.alerts(alert), 20, "the drift alert in Alertmanager")
    assert [r["name"] for r in routed["receivers"]] == ["default"]
    assert routed["labels"]["model_version"] == MODEL_VERSION

    monitor_source.record_monitoring_run(0.25, 0.72, {"negative": 0.3, "neutral": 0.3, "positive": 0.4}, 12)
    poll(lambda: not prometheus.query(f'ALERTS{{alertname="{alert}"}}'), 30, "the drift alert to resolve")
