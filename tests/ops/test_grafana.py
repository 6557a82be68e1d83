"""Grafana as code, checked statically: provisioning files, and a dashboard whose every panel is wired right.

Each query of the dashboard is also run against a real Prometheus by test_prometheus_live.py.
"""

from __future__ import annotations

import json
import re

from .conftest import COMPOSE, DASHBOARD, GRAFANA_DIR, load_yaml

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s", "__dashboard"}
# What the dashboard must show (issue 10 §5), as the series each topic reads.
TOPICS = {
    "traffic": "ytsentiment_http_requests_total",
    "latency": "ytsentiment_http_request_duration_seconds_bucket",
    "class mix": "ytsentiment_predictions_total",
    "drift": "ytsentiment_monitor_drift_score",
    "live F1": "ytsentiment_monitor_live_macro_f1",
    "feedback": "ytsentiment_feedback_total",
    "logging drops": "ytsentiment_prediction_log_dropped_total",
    "model version": "ytsentiment_model_info",
    "model ready": "ytsentiment_model_ready",
    "challenger": "ytsentiment_shadow_scored_total",
    "challenger disagreement": "ytsentiment_shadow_disagreements_total",
    "online evidence": "ytsentiment_monitor_shadow_live_macro_f1",
}


def data_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def all_exprs(dashboard: dict) -> list[str]:
    exprs = [t["expr"] for p in data_panels(dashboard) for t in p["targets"]]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    return exprs


def test_dashboard_is_valid_json_with_identity():
    text = DASHBOARD.read_text()
    dashboard = json.loads(text)
    assert text.endswith("\n")
    assert dashboard["uid"] == "ytsentiment-api" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert "id" not in dashboard or dashboard["id"] is None  # an id would clash with the database's


def test_panel_ids_are_unique(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), ids


def test_every_datasource_is_the_provisioned_uid(dashboard, datasource_uid):
    refs = [p["datasource"] for p in data_panels(dashboard)]
    refs += [t["datasource"] for p in data_panels(dashboard) for t in p["targets"]]
    refs += [v["datasource"] for v in dashboard["templating"]["list"]]
    refs += [a["datasource"] for a in dashboard["annotations"]["list"]]
    assert refs
    for ref in refs:
        assert ref == {"type": "prometheus", "uid": datasource_uid}, ref
    assert "${" not in json.dumps(dashboard)  # no datasource variable or exported-dashboard placeholder


def test_every_target_has_an_expr_and_a_unique_ref(dashboard):
    for panel in data_panels(dashboard):
        assert panel["targets"], panel["title"]
        assert panel.get("description"), panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert isinstance(target["expr"], str) and target["expr"].strip(), (panel["title"], target)
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_every_variable_used_is_defined(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for expr in all_exprs(dashboard):
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= defined | GRAFANA_BUILTINS, (expr, used - defined - GRAFANA_BUILTINS)


def test_panels_do_not_overlap(dashboard):
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, (panel["title"], cells[x, y])
                cells[x, y] = panel["title"]


def test_dashboard_covers_every_topic(dashboard):
    exprs = " ".join(all_exprs(dashboard))
    missing = [topic for topic, series in TOPICS.items() if series not in exprs]
    assert not missing, missing


def test_datasource_provisioning():
    spec = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    assert spec["apiVersion"] == 1
    (source,) = spec["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", source["uid"])
    assert source["url"] == "${PROMETHEUS_URL}"  # no host in the repo: Grafana's environment gives it
    compose = load_yaml(COMPOSE)
    assert compose["services"]["grafana"]["environment"]["PROMETHEUS_URL"].startswith("http://prometheus:")


def test_dashboard_provider_reads_the_mounted_folder():
    spec = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "ytsentiment.yml")
    (provider,) = spec["providers"]
    assert provider["type"] == "file"
    mounts = dict(v.split(":")[:2] for v in load_yaml(COMPOSE)["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
