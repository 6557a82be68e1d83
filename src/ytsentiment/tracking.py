"""MLflow tracking setup and the git commit, shared by the evaluate stage, the registry, the CLI and deploy.

The tracking URI and artifact root come from the environment (``config.tracking_uri``/``artifact_root``): the
embedded ``sqlite:///mlflow.db`` + ``mlartifacts/`` by default, a real server when ``MLFLOW_TRACKING_URI`` says so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from ytsentiment import config


def use_tracking() -> str:
    import mlflow

    uri = config.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def use_experiment(name: str) -> str:
    """Select (creating if needed) the experiment; new experiments on the embedded store keep artifacts in-repo."""
    import mlflow

    use_tracking()
    exp = mlflow.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else mlflow.create_experiment(name, artifact_location=config.artifact_root())
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def git_head(cwd: str | Path | None = None) -> str | None:
    """The sha of HEAD in the git checkout at ``cwd`` (default: here); None outside git or without git."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True,
                              timeout=30)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def git_commit(ignore: Iterable[str] = ()) -> str:
    """HEAD's sha, with ``-dirty`` when tracked files differ from it; ``unknown`` outside git.

    Changes to the paths in ``ignore`` (relative to the working directory, e.g. dvc.lock and the metrics a pipeline
    run rewrites itself) do not count.
    """
    sha = git_head()
    if sha is None:
        return "unknown"
    excluded = [f":(exclude){path}" for path in ignore]
    pathspec = ["--", ":/", *excluded] if excluded else []
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", *pathspec],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")
