"""The real DVC pipeline on the small sample: `dvc repro` runs every stage, a second one runs none, and
changing a train param reruns exactly train and evaluate."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, mlflow_env, write_params

pytestmark = pytest.mark.slow
STAGES = ("ingest", "clean", "featurize", "train", "evaluate")


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


@pytest.fixture(scope="module")
def dvc_repo(small_params_raw, tmp_path_factory):
    root = tmp_path_factory.mktemp("dvc-repo")
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    # dvc.yaml's deps name the stage sources: a copy makes them exist (the code that runs is the installed
    # package)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    write_params(root / "params.yaml", small_params_raw)
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, **mlflow_env(root), "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("DVC_EXP_NAME", None)
    _run(["git", "init", "-q"], root, env)
    _run(["dvc", "init", "-q"], root, env)
    return root, env


def test_dvc_repro_then_nothing_then_only_what_changed(dvc_repo):
    root, env = dvc_repo
    first = _run(["dvc", "repro"], root, env)
    assert _ran(first) == set(STAGES), first
    assert (root / "dvc.lock").is_file() and (root / "reports" / "metrics.json").is_file()

    second = _run(["dvc", "repro"], root, env)
    assert _ran(second) == set(), second
    assert "up to date" in second or "didn't change" in second

    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    changed = raw["train"]["learning_rate"] / 2
    raw["train"]["learning_rate"] = changed
    write_params(root / "params.yaml", raw)
    third = _run(["dvc", "repro"], root, env)
    assert _ran(third) == {"train", "evaluate"}, third
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["learning_rate"] == changed
