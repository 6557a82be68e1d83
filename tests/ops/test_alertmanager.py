"""Alertmanager as code: `amtool check-config`, every alert's route (`amtool config routes test`), the compose
start command that puts ALERT_WEBHOOK_URL in the placeholder's place, and Prometheus pointing at the compose service.

amtool is Debian's (prometheus-alertmanager, the version the compose image pins); a missing amtool fails the suite.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import COMPOSE, MONITORING, PROMETHEUS_DIR, load_yaml

ALERTMANAGER = MONITORING / "alertmanager" / "alertmanager.yml"
PLACEHOLDER = "http://127.0.0.1:9/ytsentiment-alerts"
# the receiver each alert must reach; every alert of the rules file must be listed (test_every_alert_...)
WATCHDOG = "Watchdog"
RECEIVER = {WATCHDOG: "watchdog"}
DEFAULT_RECEIVER = "default"
# labels an alert can carry beside alertname and its rule's labels (from its expression), to route realistically
EXTRA_LABELS = {"YtSentimentApiDown": {"job": "ytsentiment-api", "instance": "10.0.0.1:5000"},
                "YtSentimentHighLatency": {"route": "/predict"}, "YtSentimentModelNotReady": {"instance": "a"},
                "YtSentimentClassMixSkew": {"sentiment": "positive"},
                "YtSentimentDriftDetected": {"model_version": "3"},
                "YtSentimentLiveF1BelowFloor": {"model_version": "3"}}


def amtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("amtool")
    if binary is None:
        pytest.fail("amtool is missing: apt-get install prometheus-alertmanager")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def routes_test(config: Path, labels: dict[str, str], expected: str) -> subprocess.CompletedProcess:
    return amtool("config", "routes", "test", f"--config.file={config}", f"--verify.receivers={expected}",
                  *[f"{k}={v}" for k, v in sorted(labels.items())])


def test_check_config():
    result = amtool("check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "2 receivers" in result.stdout, result.stdout


def test_check_config_fails_on_a_broken_config(tmp_path):
    """The harness can fail: a route to a receiver that does not exist."""
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(ALERTMANAGER.read_text().replace("  - receiver: watchdog", "  - receiver: watchdgo", 1))
    assert broken.read_text() != ALERTMANAGER.read_text()
    result = amtool("check-config", str(broken))
    assert result.returncode != 0
    assert "watchdgo" in result.stdout + result.stderr


def test_every_alert_reaches_its_receiver(alerts):
    """Each alert's labels (alertname, its rule's labels, the ones its expression keeps) route to the receiver it
    must reach: the Watchdog to its own, every other alert to the default one."""
    names = {a["alert"] for a in alerts}
    assert WATCHDOG in names and set(RECEIVER) <= names
    reached = set()
    for alert in alerts:
        expected = RECEIVER.get(alert["alert"], DEFAULT_RECEIVER)
        labels = {"alertname": alert["alert"], **alert.get("labels", {}), **EXTRA_LABELS.get(alert["alert"], {})}
        result = routes_test(ALERTMANAGER, labels, expected)
        assert result.returncode == 0, (alert["alert"], result.stdout + result.stderr)
        assert result.stdout.split() == [expected], (alert["alert"], result.stdout)
        reached.add(expected)
    receivers = {r["name"] for r in load_yaml(ALERTMANAGER)["receivers"]}
    assert reached == receivers  # no receiver that no alert reaches


def test_routes_test_fails_on_the_wrong_receiver():
    """The harness can fail: the Watchdog does not reach the default receiver (it would page someone forever)."""
    result = routes_test(ALERTMANAGER, {"alertname": WATCHDOG, "severity": "none"}, DEFAULT_RECEIVER)
    assert result.returncode != 0


def test_no_host_in_the_config():
    """The only target written down is the loopback placeholder that ALERT_WEBHOOK_URL replaces."""
    config = load_yaml(ALERTMANAGER)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {DEFAULT_RECEIVER, "watchdog"}
    assert receivers[DEFAULT_RECEIVER]["webhook_configs"] == [{"url": PLACEHOLDER, "send_resolved": True}]
    assert set(receivers["watchdog"]) == {"name"}  # no target until a dead man's switch is configured
    assert "global" not in config or set(config["global"]) == {"resolve_timeout"}
    assert ALERTMANAGER.read_text().count("://") == 1


def start_command(tmp_path: Path) -> tuple[str, Path]:
    """The compose service's start command as the container's shell sees it ($$ is Compose's escaped $), its paths
    moved into ``tmp_path`` and Alertmanager itself replaced by `true`."""
    service = load_yaml(COMPOSE)["services"]["alertmanager"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    (command,) = service["command"]
    mounted = {v.split(":")[1]: MONITORING / v.split(":")[0] for v in service["volumes"] if v.startswith(".")}
    assert mounted == {"/etc/alertmanager/alertmanager.yml": ALERTMANAGER}
    shutil.copy(ALERTMANAGER, tmp_path / "source.yml")
    out = tmp_path / "rendered.yml"
    script = (command.replace("$$", "$").replace("/etc/alertmanager/alertmanager.yml", str(tmp_path / "source.yml"))
              .replace("/alertmanager/alertmanager.yml", str(out)).replace("exec /bin/alertmanager ", "exec true "))
    assert str(out) in script and "exec true --config.file=" + str(out) in script
    return script, out


@pytest.mark.parametrize("url", ["", "https://hooks.invalid/services/T0/B0/x?a=1&b=%2F\\1#frag"])
def test_compose_start_command_puts_the_webhook_url_in_place(tmp_path, url):
    script, out = start_command(tmp_path)
    done = subprocess.run(["sh", "-c", script], env={"PATH": "/usr/bin:/bin", "ALERT_WEBHOOK_URL": url},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = ALERTMANAGER.read_text().replace(PLACEHOLDER, url) if url else ALERTMANAGER.read_text()
    assert out.read_text() == expected
    (default,) = [r for r in yaml.safe_load(out.read_text())["receivers"] if r["name"] == DEFAULT_RECEIVER]
    assert default["webhook_configs"][0]["url"] == (url or PLACEHOLDER)
    result = amtool("check-config", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_sends_alerts_to_the_compose_alertmanager():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (manager,) = config["alerting"]["alertmanagers"]
    assert set(manager) == {"static_configs"}
    (target,) = [t for group in manager["static_configs"] for t in group["targets"]]
    host, port = target.split(":")
    services = load_yaml(COMPOSE)["services"]
    assert host == "alertmanager" and host in services
    assert f"127.0.0.1:{port}:{port}" in services["alertmanager"]["ports"]
    assert "alertmanager" in services["prometheus"]["depends_on"]
