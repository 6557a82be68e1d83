"""A CodeDeploy deployment: create it (automatic rollback on failure) and wait for it, bounded.

The wait, :func:`wait_for_deployment`, is a pure function over an injected status source, clock and sleep, so
success, failure, rollback and timeout are each testable although moto never finishes a deployment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ytsentiment.deploy import DeployError

log = logging.getLogger(__name__)

SUCCEEDED = "Succeeded"
TERMINAL_STATUSES = frozenset({SUCCEEDED, "Failed", "Stopped"})

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3

StatusSource = Callable[[str], Mapping[str, Any]]


def create_deployment(codedeploy: Any, application: str, group: str, revision: dict, description: str) -> str:
    """Start a deployment of ``revision``; automatic rollback on failure is requested explicitly."""
    response = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=group,
        revision=revision,
        description=description[:100],
        fileExistsBehavior="OVERWRITE",
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
        },
    )
    return response["deploymentId"]


def codedeploy_status_source(codedeploy: Any) -> StatusSource:
    """The production status source: ``get_deployment`` on the real (or moto) CodeDeploy API."""
    return lambda deployment_id: codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]


@dataclass(frozen=True)
class DeploymentOutcome:
    """How a deployment ended, as far as the bounded wait could see."""

    deployment_id: str
    status: str  # last CodeDeploy status seen
    timed_out: bool
    elapsed_seconds: float
    error_code: str = ""
    error_message: str = ""
    rollback_deployment_id: str = ""
    rollback_status: str = ""  # status of the automatic rollback deployment, when there is one
    overview: Mapping[str, int] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED and not self.timed_out

    @property
    def rolled_back(self) -> bool:
        return bool(self.rollback_deployment_id)

    @property
    def exit_code(self) -> int:
        if self.succeeded:
            return EXIT_OK
        return EXIT_TIMEOUT if self.timed_out else EXIT_FAILED

    def to_markdown(self) -> str:
        lines = ["### CodeDeploy", "", "| field | value |", "| --- | --- |"]
        row = {"deployment": self.deployment_id, "status": "TimedOut" if self.timed_out else self.status}
        row.update({"last status seen": self.status} if self.timed_out else {})
        row["elapsed (s)"] = f"{self.elapsed_seconds:.0f}"
        if self.error_code or self.error_message:
            row["error"] = f"{self.error_code}: {self.error_message}".strip(": ")
        if self.rolled_back:
            row["rollback deployment"] = self.rollback_deployment_id
            row["rollback status"] = self.rollback_status or "unknown"
        if self.overview:
            row["instances"] = ", ".join(f"{k} {v}" for k, v in self.overview.items() if v)
        lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in row.items()]
        return "\n".join(lines) + "\n"


def wait_for_deployment(
    fetch: StatusSource,
    deployment_id: str,
    *,
    timeout: float,
    poll_interval: float = 15.0,
    follow_rollback: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentOutcome:
    """Poll ``fetch(deployment_id)`` (a ``deploymentInfo`` mapping) until a terminal status or ``timeout``.

    When the deployment failed and CodeDeploy started an automatic rollback, the rollback deployment is
    followed within the same time budget, so the report says whether the fleet is back on the old revision.
    """
    if timeout <= 0 or poll_interval <= 0:
        raise DeployError("timeout and poll interval must be positive")
    start = clock()

    def poll(target: str) -> tuple[Mapping[str, Any], bool]:
        last = None
        while True:
            info = fetch(target)
            status = info.get("status", "Unknown")
            if status != last:
                log.info("deployment %s: %s", target, status)
                last = status
            if status in TERMINAL_STATUSES:
                return info, False
            remaining = timeout - (clock() - start)
            if remaining <= 0:
                return info, True
            sleep(min(poll_interval, remaining))

    info, timed_out = poll(deployment_id)
    error = info.get("errorInformation") or {}
    rollback_id = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId", "")
    rollback_status = ""
    if rollback_id and follow_rollback and not timed_out:
        rollback_info, rollback_timed_out = poll(rollback_id)
        rollback_status = rollback_info.get("status", "Unknown") + (" (still running)" if rollback_timed_out else "")
    return DeploymentOutcome(
        deployment_id=deployment_id,
        status=info.get("status", "Unknown"),
        timed_out=timed_out,
        elapsed_seconds=clock() - start,
        error_code=str(error.get("code", "")),
        error_message=str(error.get("message", "")),
        rollback_deployment_id=rollback_id,
        rollback_status=rollback_status,
        overview=info.get("deploymentOverview") or None,
    )
