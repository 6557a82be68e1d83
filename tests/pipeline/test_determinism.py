"""Same inputs and code, same bytes: two forced `dvc repro` runs of the sample pipeline (with different hash seeds)
write the same dvc.lock and the same metrics, leave the git work tree as committed, and record the commit clean."""

from __future__ import annotations

import json

import pytest

from .conftest import dvc_repo_at, run_ok

pytestmark = pytest.mark.slow


def _mlflow_commits(env: dict) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("ytsentiment")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return [run.data.tags["git_commit"] for run in runs]


def test_two_forced_runs_write_the_same_lock_and_metrics(small_params_raw, tmp_path_factory):
    root, env = dvc_repo_at(tmp_path_factory.mktemp("dvc-determinism"), small_params_raw)
    run_ok(["dvc", "repro", "--force"], root, {**env, "PYTHONHASHSEED": "1"})
    first = {name: (root / name).read_bytes() for name in ("dvc.lock", "reports/metrics.json", "reports/train.json")}
    run_ok(["git", "add", "-A"], root, env)
    run_ok(["git", "commit", "-q", "-m", "first run"], root, env)
    sha = run_ok(["git", "rev-parse", "HEAD"], root, env).strip()

    run_ok(["dvc", "repro", "--force"], root, {**env, "PYTHONHASHSEED": "2"})
    for name, before in first.items():
        assert (root / name).read_bytes() == before, f"{name} changed between two runs of the same inputs"
    # nothing tracked changed (dvc.lock, metrics, DVC's .gitignore files); timings and run.json are not tracked
    assert run_ok(["git", "status", "--porcelain", "--untracked-files=no"], root, env) == ""
    timings = json.loads((root / "reports" / "timings" / "evaluate.json").read_text(encoding="utf-8"))
    assert timings["predict_rows_per_s"] > 0
    # the evaluate stage records the commit of the code, not "-dirty" because the run rewrote its own outputs
    assert _mlflow_commits(env)[-1] == sha
