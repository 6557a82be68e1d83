"""A real Prometheus server on loopback for the monitoring tests.

:func:`start_prometheus` runs Debian's ``prometheus`` binary on ``127.0.0.1:<free port>`` (another free port if
that one was taken meanwhile) with its TSDB in a temp dir and ``--web.enable-lifecycle``; it waits for
``/-/ready``. :class:`Prometheus` queries it over its HTTP API.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from support.servers import free_port, stop_group

PROMETHEUS = "prometheus"


def http_ok(url: str, timeout: float = 5.0) -> bool:
    """True when ``url`` answers 200; False on any other answer, a refused connection or a slow answer (a loaded
    machine can take seconds to answer a probe)."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll ``check()`` until it returns something truthy (returned), or fail after ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


@dataclasses.dataclass
class Prometheus:
    """A running Prometheus: its base URL, process and log file."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>; returns ``data`` and fails the test (with Prometheus's error) if not success."""
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            pytest.fail(f"Prometheus {path} {params} answered {response.status_code}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """Instant query; the result vector (an empty list when nothing matches)."""
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        data = self.api("query", **params)
        return data["result"] if data["resultType"] in ("vector", "matrix") else [{"value": data["result"]}]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[dict]:
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def value(self, expr: str) -> float | None:
        """The value of a query that returns one series, or None when it returns none."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def targets(self) -> list[dict]:
        return self.api("targets", state="active")["activeTargets"]

    def rule(self, name: str) -> dict:
        """The rule (alerting or recording) called ``name`` from /api/v1/rules, with its group's evaluation time."""
        for group in self.api("rules")["groups"]:
            for rule in group["rules"]:
                if rule["name"] == name:
                    return {**rule, "groupLastEvaluation": group["lastEvaluation"]}
        pytest.fail(f"no rule {name} loaded")


def finite(series: list[dict]) -> bool:
    """True when at least one sample of an instant or range result is a finite number."""
    for item in series:
        values = item.get("values") or [item["value"]]
        if any(math.isfinite(float(v)) for _, v in values):
            return True
    return False


def start_prometheus(config: Path, workdir: Path, attempts: int = 5, timeout: float = 30.0) -> Prometheus:
    """Start ``prometheus --config.file=config`` on a free loopback port; retry on a port clash.

    Prometheus cannot bind port 0 and say which port it got, so a free port is picked first; if another process
    takes it meanwhile, Prometheus exits with "address already in use" and the next attempt picks another.
    """
    binary = shutil.which(PROMETHEUS)
    if binary is None:
        pytest.fail("the `prometheus` binary is missing: apt-get install prometheus (it also brings promtool)")
    for attempt in range(attempts):
        port = free_port()
        log = workdir / f"prometheus-{attempt}.log"
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / f'tsdb-{attempt}'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", "--log.level=info"],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        server = Prometheus(f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if http_ok(f"{server.url}/-/ready"):
                return server
            time.sleep(0.2)
        stop_group(process)
        if "address already in use" not in server.log_text():
            pytest.fail(f"Prometheus did not become ready (exit {process.returncode}):\n{server.log_text()[-3000:]}")
    pytest.fail(f"no free port for Prometheus after {attempts} attempts")


def stop_prometheus(server: Prometheus) -> None:
    stop_group(server.process)
