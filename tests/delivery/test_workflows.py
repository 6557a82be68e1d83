"""The GitHub workflows' shape: triggers, one-at-a-time CD, OIDC without static keys, pinned actions, and the
Makefile targets they call (so the workflows run the logic the suite tests); CI that needs nothing a fork lacks;
Dependabot's config (GitHub's schema, every lock file). actionlint: test_precommit.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, require_tool

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
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "monitor.yml"])
def test_no_static_aws_keys(name):
    text = (WORKFLOWS / name).read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "aws-access-key-id" not in text


def test_ci_runs_lint_and_the_test_suite_on_pull_requests_and_pushes():
    ci = load("ci.yml")
    assert "pull_request" in ci["on"] and "push" in ci["on"]
    assert runs(ci) == ["scripts/ci-install.sh", "make lint", "make test"]
    assert ci["permissions"] == {"contents": "read"}


def test_ci_and_dot_ci_run_share_the_install_script_and_the_test_command():
    script = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "scripts/ci-install.sh" in commands and "make test" in commands
    assert commands.index("scripts/ci-install.sh") < commands.index("make test")
    assert "apt-get" not in script  # one install script, not two drifting copies
    assert (REPO / "scripts" / "ci-install.sh").stat().st_mode & 0o111


def test_ci_needs_nothing_a_fork_lacks():
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "secrets." not in text and "vars." not in text  # a fork's pull request gets neither
    assert "../shared" not in text


def test_ci_caches_pip_npm_and_the_upstream_downloads():
    ci = load("ci.yml")
    by_action = {s["uses"].split("@")[0]: s for s in steps(ci) if "uses" in s}
    python = by_action["actions/setup-python"]["with"]
    assert python["cache"] == "pip"
    assert set(python["cache-dependency-path"].split()) == {
        "requirements.txt", "requirements-serve.txt", "orchestration/airflow/requirements.txt"}
    node = by_action["actions/setup-node"]["with"]
    assert node["cache"] == "npm"
    assert set(node["cache-dependency-path"].split()) == {"package-lock.json", "tests/delivery/node/package-lock.json"}
    restore, save = by_action["actions/cache/restore"], by_action["actions/cache/save"]
    assert ci["env"]["UPSTREAM_CACHE_DIR"]
    for step in (restore, save):
        assert step["with"]["path"] == "${{ env.UPSTREAM_CACHE_DIR }}"
        assert step["with"]["key"] == "upstream-${{ hashFiles('params.yaml') }}"
    names = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps(ci)]
    # restored before anything runs; saved after the tests (which download), even when one failed
    assert names.index("actions/cache/restore") < names.index("scripts/ci-install.sh")
    assert names.index("actions/cache/save") > names.index("make test")
    assert save["if"] == f"${{{{ !cancelled() && steps.{restore['id']}.outputs.cache-hit != 'true' }}}}"


DEPENDABOT = REPO / ".github" / "dependabot.yml"


def check_dependabot(path: Path) -> subprocess.CompletedProcess:
    """GitHub's schema for dependabot.yml, vendored in check-jsonschema (offline)."""
    local = Path(sys.executable).parent / "check-jsonschema"
    check = require_tool(local if local.exists() else "check-jsonschema", "check-jsonschema", "make install")
    return subprocess.run([check, "--builtin-schema", "vendor.dependabot", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_dependabot_matches_githubs_schema(tmp_path):
    done = check_dependabot(DEPENDABOT)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "dependabot.yml"
    bad.write_text(DEPENDABOT.read_text().replace("interval: weekly", "interval: hourly", 1))
    done = check_dependabot(bad)
    assert done.returncode == 1 and "hourly" in done.stdout


def test_dependabot_watches_every_lock_file_and_the_actions_weekly():
    config = yaml.safe_load(DEPENDABOT.read_text())
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    wanted = {("github-actions", "/")}
    for name in map(Path, files):
        folder = "/" if name.parent == Path(".") else f"/{name.parent}"
        if re.fullmatch(r"requirements[\w-]*\.txt", name.name):
            wanted.add(("pip", folder))
        elif name.name == "package-lock.json":
            wanted.add(("npm", folder))
    assert {("pip", "/orchestration/airflow"), ("npm", "/tests/delivery/node")} <= wanted  # the lookup finds them
    assert watched == wanted
    assert {u["schedule"]["interval"] for u in config["updates"]} == {"weekly"}


def test_cd_triggers_on_model_inputs_on_main_and_by_hand():
    on = load("cd.yml")["on"]
    assert on["push"]["branches"] == ["main"]
    assert {"params.yaml", "dvc.yaml", "src/**"} <= set(on["push"]["paths"])
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
