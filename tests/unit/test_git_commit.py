"""The commit the evaluate stage records: ``-dirty`` for changed code, not for the pipeline's own outputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ytsentiment.stages.graph import pipeline_outputs
from ytsentiment.tracking import git_commit

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env=ENV, capture_output=True, text=True, check=True).stdout


def test_pipeline_outputs_do_not_make_the_commit_dirty(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_bytes((REPO / "dvc.yaml").read_bytes())
    files = {"dvc.lock": "a", "reports/metrics.json": "{}", "reports/train.json": "{}", "src/code.py": "x = 1"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "x")
    sha = _git(tmp_path, "rev-parse", "HEAD").strip()
    monkeypatch.chdir(tmp_path)
    ignore = pipeline_outputs(Path("dvc.yaml"))

    for rel in ("dvc.lock", "reports/metrics.json", "reports/train.json"):
        (tmp_path / rel).write_text("rewritten by the run", encoding="utf-8")
    (tmp_path / "reports" / "run.json").write_text("{}", encoding="utf-8")  # untracked: never counts
    assert git_commit(ignore=ignore) == sha
    assert git_commit() == f"{sha}-dirty"  # without the exclusions the rewrites count

    (tmp_path / "src" / "code.py").write_text("x = 2", encoding="utf-8")
    assert git_commit(ignore=ignore) == f"{sha}-dirty"
    (tmp_path / "src" / "code.py").write_text("x = 1", encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")  # the pipeline definition is code
    assert git_commit(ignore=ignore) == f"{sha}-dirty"


def test_outside_git_is_unknown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_commit(ignore=["dvc.lock"]) == "unknown"
