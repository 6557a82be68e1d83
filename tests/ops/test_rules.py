"""Prometheus config and rules: promtool check config / check rules / test rules, and what every alert must carry.

The promtool unit tests live beside the rules (ops/prometheus/tests/*.test.yml); this module runs them so
they are part of the suite, checks that each alert has a case where it fires and one where it does not, and shows
that the harness fails on a broken rule or a wrong expectation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import COMPOSE, JOB, MONITORING, PROMETHEUS_DIR, REPO, RULES, load_yaml

REQUIRED_ALERTS = {
    "YtSentimentApiDown", "YtSentimentHighErrorRatio", "YtSentimentHighLatency", "YtSentimentModelNotReady",
    "YtSentimentPredictionLogDrops", "YtSentimentDriftDetected", "YtSentimentLiveF1BelowFloor",
    "YtSentimentClassMixSkew", "YtSentimentMonitorStale", "Watchdog",
}
ALWAYS_FIRING = {"Watchdog"}  # no quiet case can exist; severity none, no `for:` (it proves the alert path)
# staleness alerts: each must also fire when its series is missing altogether (absent()), with a promtool case where
# the series never appears
STALENESS = {"YtSentimentMonitorStale": "ytsentiment_monitor_last_run_timestamp_seconds",
             "YtSentimentApiDown": 'up{job="ytsentiment-api"}'}
UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: apt-get install prometheus")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)([smhd])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * units[u] for n, u in parts)


def test_check_config_with_targets(tmp_path):
    config_dir = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, config_dir)
    shutil.copy(MONITORING / "compose" / "targets" / "api.yml", config_dir / "targets" / "api.yml")
    result = promtool("check", "config", str(config_dir / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr  # the compose targets file is found and valid


def test_check_config_in_place():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout)


def test_promtool_unit_tests_pass():
    assert len(UNIT_TESTS) >= 2
    result = promtool("test", "rules", *[str(p.relative_to(PROMETHEUS_DIR)) for p in UNIT_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TESTS), result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case(alerts):
    names = {a["alert"] for a in alerts}
    assert REQUIRED_ALERTS <= names, REQUIRED_ALERTS - names
    fires: dict[str, int] = dict.fromkeys(names, 0)
    quiet: dict[str, int] = dict.fromkeys(names, 0)
    for path in UNIT_TESTS:
        spec = load_yaml(path)
        assert spec["rule_files"] == ["../rules/ytsentiment.rules.yml"], path
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                assert check["alertname"] in names, (path, check["alertname"])
                (fires if check["exp_alerts"] else quiet)[check["alertname"]] += 1
    assert not [n for n, c in fires.items() if c == 0], fires
    assert not [n for n, c in quiet.items() if c == 0 and n not in ALWAYS_FIRING], quiet
    assert not [n for n in ALWAYS_FIRING if quiet[n]], quiet


def has_series(case: dict, selector: str) -> bool:
    """True when one of the case's input series matches ``selector`` (a metric name with equality matchers)."""
    metric, _, matchers = selector.partition("{")
    wanted = set(re.findall(r'\w+="[^"]*"', matchers))
    for series in case["input_series"]:
        name, _, labels = series["series"].partition("{")
        if name == metric and wanted <= set(re.findall(r'\w+="[^"]*"', labels)):
            return True
    return False


def test_staleness_alerts_fire_when_their_series_is_absent(alerts):
    """A staleness check on a series that never existed compares nothing and stays silent unless absent() guards it;
    each such alert has a firing promtool case whose input never has the series."""
    exprs = {a["alert"]: a["expr"] for a in alerts}
    for alert, selector in STALENESS.items():
        assert f"absent({selector})" in "".join(exprs[alert].split()), (alert, exprs[alert])
        never = [case for path in UNIT_TESTS for case in load_yaml(path)["tests"]
                 if not has_series(case, selector)
                 and any(c["alertname"] == alert and c["exp_alerts"] for c in case.get("alert_rule_test", []))]
        assert never, f"{alert}: no firing case without {selector}"


def test_every_alert_is_actionable(alerts):
    for alert in alerts:
        name = alert["alert"]
        if name in ALWAYS_FIRING:
            assert "for" not in alert and alert["labels"] == {"severity": "none"}, name
        else:
            assert 60 <= seconds(alert["for"]) <= 3600, name
            assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert alert["annotations"]["runbook_url"] == f"docs/runbooks/{name}.md", name
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook", "runbook_url"}, name
        assert all(isinstance(v, str) and len(v) > 20 for v in annotations.values()), name
        assert "\n" not in annotations["summary"], name
        assert annotations["runbook"].rstrip().endswith((".", "?")), name


def test_recorded_series_follow_the_naming_convention(rules):
    records = [r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r]
    assert records
    assert all(re.fullmatch(r"ytsentiment:[a-z0-9_]+:[a-z0-9_]+|ytsentiment:[a-z0-9_]+", r) for r in records)
    assert len(records) == len(set(records))


def test_threshold_constants_mirror_params(rules):
    """Without the API's threshold gauges the rules alert at constants, which must equal params.yaml monitor."""
    monitor = load_yaml(REPO / "params.yaml")["monitor"]
    exprs = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    for record, gauge, key in (("ytsentiment:monitor_drift_threshold", "ytsentiment_monitor_drift_threshold",
                                "drift_share"),
                               ("ytsentiment:monitor_live_f1_floor", "ytsentiment_monitor_live_f1_floor",
                                "live_f1_floor")):
        match = re.fullmatch(rf"max\({gauge}\) or vector\(([0-9.]+)\)", exprs[record])
        assert match, exprs[record]
        assert float(match[1]) == float(monitor[key]), (record, match[1], key, monitor[key])


def test_promtool_fails_on_a_wrong_expectation(tmp_path):
    """The harness can fail: a unit test expecting the drift alert where the score is under the threshold."""
    (tmp_path / "rules").mkdir()
    shutil.copy(RULES, tmp_path / "rules" / RULES.name)
    spec = {
        "rule_files": [f"rules/{RULES.name}"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": 'ytsentiment_monitor_drift_score{model_version="1"}', "values": "0.3x20"}],
            "alert_rule_test": [{"eval_time": "15m", "alertname": "YtSentimentDriftDetected",
                                 "exp_alerts": [{"exp_labels": {"severity": "warning", "model_version": "1"}}]}],
        }],
    }
    (tmp_path / "wrong.test.yml").write_text(yaml.safe_dump(spec))
    result = promtool("test", "rules", "wrong.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "YtSentimentDriftDetected" in result.stdout + result.stderr


def test_promtool_fails_on_a_broken_rule(tmp_path):
    broken = RULES.read_text().replace("histogram_quantile(0.95, sum by (route, le) (",
                                       "histogram_quantile(0.95, sum by (route, le) ((", 1)
    assert broken != RULES.read_text()
    path = tmp_path / "broken.rules.yml"
    path.write_text(broken)
    result = promtool("check", "rules", str(path))
    assert result.returncode != 0


def test_scrape_config_names_no_host():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == JOB
    assert "static_configs" not in job
    assert job["file_sd_configs"] == [{"files": ["targets/*.yml"], "refresh_interval": "30s"}]
    assert config["rule_files"] == ["rules/*.rules.yml"]


def test_compose_targets_point_at_the_compose_api():
    (group,) = load_yaml(MONITORING / "compose" / "targets" / "api.yml")
    compose = load_yaml(COMPOSE)
    host, port = group["targets"][0].split(":")
    assert host in compose["services"] and host == "api"
    assert any(p.endswith(f":{port}") for p in compose["services"]["api"]["ports"])
