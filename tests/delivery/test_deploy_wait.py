"""The bounded wait on a CodeDeploy deployment, driven by injected status sequences and a fake clock.

moto never moves a deployment past "Created", so success, failure, automatic rollback and timeout are proven
here on the pure function; test_deploy_aws.py proves the same function against moto's real API responses.
"""

from __future__ import annotations

import pytest

from ytsentiment.deploy import DeployError
from ytsentiment.deploy.codedeploy import DeploymentOutcome, wait_for_deployment


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def source(**sequences: list[dict]):
    """A status source: each deployment id yields its responses in order, then repeats the last one."""
    calls: dict[str, int] = {}

    def fetch(deployment_id: str) -> dict:
        seq = sequences[deployment_id]
        i = calls.get(deployment_id, 0)
        calls[deployment_id] = i + 1
        return {"deploymentId": deployment_id, **seq[min(i, len(seq) - 1)]}

    fetch.calls = calls
    return fetch


def wait(fetch, clock, deployment_id="d-1", **kw) -> DeploymentOutcome:
    kw.setdefault("timeout", 600)
    kw.setdefault("poll_interval", 10)
    return wait_for_deployment(fetch, deployment_id, clock=clock, sleep=clock.sleep, **kw)


def test_success_after_progress():
    clock = FakeClock()
    fetch = source(
        **{
            "d-1": [
                {"status": "Created"},
                {"status": "InProgress"},
                {"status": "InProgress"},
                {"status": "Succeeded", "deploymentOverview": {"Succeeded": 2, "Failed": 0}},
            ]
        }
    )
    outcome = wait(fetch, clock)
    assert outcome.succeeded and not outcome.timed_out and not outcome.rolled_back
    assert outcome.exit_code == 0
    assert outcome.status == "Succeeded"
    assert clock.sleeps == [10, 10, 10]
    assert outcome.elapsed_seconds == 30
    assert outcome.overview == {"Succeeded": 2, "Failed": 0}
    assert "| status | Succeeded |" in outcome.to_markdown()


def test_failure_with_automatic_rollback_is_followed_to_its_end():
    clock = FakeClock()
    failed = {
        "status": "Failed",
        "errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "ValidateService failed on i-0abc"},
        "rollbackInfo": {"rollbackDeploymentId": "d-2", "rollbackMessage": "rolled back"},
    }
    fetch = source(
        **{
            "d-1": [{"status": "InProgress"}, failed],
            "d-2": [{"status": "Created"}, {"status": "InProgress"}, {"status": "Succeeded"}],
        }
    )
    outcome = wait(fetch, clock)
    assert not outcome.succeeded
    assert outcome.exit_code == 1
    assert outcome.rolled_back and outcome.rollback_deployment_id == "d-2"
    assert outcome.rollback_status == "Succeeded"
    assert outcome.error_code == "HEALTH_CONSTRAINTS"
    assert "ValidateService failed" in outcome.error_message
    assert fetch.calls == {"d-1": 2, "d-2": 3}
    markdown = outcome.to_markdown()
    assert "| rollback deployment | d-2 |" in markdown and "| rollback status | Succeeded |" in markdown


def test_failure_without_rollback():
    clock = FakeClock()
    fetch = source(
        **{
            "d-1": [
                {"status": "Failed", "errorInformation": {"code": "NO_INSTANCES", "message": "no instances"}}
            ]
        }
    )
    outcome = wait(fetch, clock)
    assert outcome.exit_code == 1 and not outcome.rolled_back and not outcome.timed_out
    assert clock.sleeps == []


def test_stopped_counts_as_failed():
    outcome = wait(source(**{"d-1": [{"status": "Stopped"}]}), FakeClock())
    assert not outcome.succeeded and outcome.exit_code == 1


def test_timeout_is_bounded_and_reports_last_status():
    clock = FakeClock()
    fetch = source(**{"d-1": [{"status": "Created"}, {"status": "InProgress"}]})
    outcome = wait(fetch, clock, timeout=95, poll_interval=10)
    assert outcome.timed_out and not outcome.succeeded
    assert outcome.exit_code == 3
    assert outcome.status == "InProgress"
    # Never sleeps past the deadline: nine full intervals, then the 5 s that remain.
    assert clock.sleeps == [10] * 9 + [5]
    assert outcome.elapsed_seconds == 95
    assert "| status | TimedOut |" in outcome.to_markdown()


def test_rollback_still_running_when_time_runs_out():
    clock = FakeClock()
    failed = {"status": "Failed", "rollbackInfo": {"rollbackDeploymentId": "d-2"}}
    fetch = source(**{"d-1": [{"status": "InProgress"}, failed], "d-2": [{"status": "InProgress"}]})
    outcome = wait(fetch, clock, timeout=60, poll_interval=20)
    assert not outcome.timed_out  # the deployment itself ended: it failed
    assert outcome.exit_code == 1
    assert outcome.rollback_status == "InProgress (still running)"
    assert clock.now - 1000.0 == 60


def test_rollback_not_followed_when_disabled():
    failed = {"status": "Failed", "rollbackInfo": {"rollbackDeploymentId": "d-2"}}
    fetch = source(**{"d-1": [failed], "d-2": [{"status": "InProgress"}]})
    outcome = wait(fetch, FakeClock(), follow_rollback=False)
    assert outcome.rolled_back and outcome.rollback_status == ""
    assert "d-2" not in fetch.calls


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"timeout": -5}, {"poll_interval": 0}])
def test_rejects_non_positive_bounds(kw):
    with pytest.raises(DeployError, match="positive"):
        wait(source(**{"d-1": [{"status": "Succeeded"}]}), FakeClock(), **kw)
