"""The GitHub workflows' shape: triggers, one-at-a-time CD, OIDC without static keys, pinned actions, and the
Makefile targets they call (so the workflows run the logic the suite tests). actionlint: test_lint.py."""

from __future__ import annotations

import re

import pytest
import yaml

from .conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(workflow: dict) -> list[str]:
    return [step["run"] for step in steps(workflow) if "run" in step]


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "monitor.yml"])
def test_actions_are_pinned_to_commit_shas(name):
    for step in steps(load(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "monitor.yml"])
def test_no_static_aws_keys(name):
    text = (WORKFLOWS / name).read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "aws-access-key-id" not in text


def test_ci_runs_lint_and_the_test_suite_on_pull_requests_and_pushes():
    ci = load("ci.yml")
    assert "pull_request" in ci["on"] and "push" in ci["on"]
    assert runs(ci) == ["make install", "make lint", "make test"]
    assert ci["permissions"] == {"contents": "read"}


def test_cd_triggers_on_model_inputs_on_main_and_by_hand():
    on = load("cd.yml")["on"]
    assert on["push"]["branches"] == ["main"]
    assert {"params.yaml", "dvc.yaml", "src/**", "flask_app/**"} <= set(on["push"]["paths"])
    assert "workflow_dispatch" in on


def test_cd_runs_one_at_a_time_with_oidc():
    cd = load("cd.yml")
    assert cd["concurrency"]["cancel-in-progress"] is False  # never kill a rollout half way
    assert cd["permissions"]["id-token"] == "write"
    configure = next(s for s in steps(cd) if "configure-aws-credentials" in s.get("uses", ""))
    assert configure["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert cd["env"]["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    for name in (
        "AWS_REGION",
        "ECR_REPOSITORY",
        "DEPLOY_BUCKET",
        "CODEDEPLOY_APP",
        "CODEDEPLOY_GROUP",
        "DVC_REMOTE_URL",
    ):
        assert cd["env"][name] == f"${{{{ vars.{name} }}}}"


def test_cd_order_is_pull_repro_gate_export_build_push_deploy_summary():
    commands = [line for run in runs(load("cd.yml")) for line in run.splitlines()]
    targets = [m.group(1) for c in commands if (m := re.match(r"make ([\w-]+)", c))]
    assert targets == [
        "install",
        "dvc-pull",
        "feedback-source",
        "repro",
        "dvc-push",
        "register",
        "promote",
        "export",
        "image",
        "push-image",
        "deploy",
        "summary",
    ]
    tag_step = next(s for s in steps(load("cd.yml")) if s.get("id") == "tag")
    assert "-m ytsentiment.deploy tag" in tag_step["run"] and '>> "$GITHUB_ENV"' in tag_step["run"]
    summary = next(s for s in steps(load("cd.yml")) if "make summary" in s.get("run", ""))
    assert "$GITHUB_STEP_SUMMARY" in summary["run"] and summary["if"] == "${{ !cancelled() }}"
    for step in steps(load("cd.yml")):
        if re.match(r"make (image|push-image|deploy)\b", step.get("run", "")):
            assert 'IMAGE_TAG="$IMAGE_TAG"' in step["run"], step["run"]  # never a default or :latest


def test_cd_adds_the_feedback_source_only_when_dispatched_with_feedback():
    cd = load("cd.yml")
    assert cd["on"]["workflow_dispatch"]["inputs"]["feedback"]["type"] == "boolean"
    step = next(s for s in steps(cd) if s.get("run") == "make feedback-source")
    assert step["if"] == "${{ inputs.feedback }}"
    assert cd["env"]["DATABASE_URL"] == "${{ secrets.DATABASE_URL }}"


def test_monitor_runs_daily_and_dispatches_cd_with_feedback_on_retrain():
    monitor = load("monitor.yml")
    assert monitor["on"]["schedule"][0]["cron"] and "workflow_dispatch" in monitor["on"]
    assert monitor["permissions"] == {"contents": "read", "id-token": "write", "actions": "write"}
    assert monitor["env"]["DATABASE_URL"] == "${{ secrets.DATABASE_URL }}"
    configure = next(s for s in steps(monitor) if "configure-aws-credentials" in s.get("uses", ""))
    assert configure["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    check = next(s for s in steps(monitor) if s.get("id") == "monitor")
    assert check["run"].startswith('make monitor MONITOR_ARGS="--github-output $GITHUB_OUTPUT"')
    assert "$GITHUB_STEP_SUMMARY" in check["run"]
    dispatch = steps(monitor)[-1]
    assert dispatch["if"] == "${{ steps.monitor.outputs.decision == 'retrain' }}"
    assert dispatch["run"] == "gh workflow run cd.yml --ref main -f feedback=true"
    assert dispatch["env"]["GH_TOKEN"] == "${{ github.token }}"
