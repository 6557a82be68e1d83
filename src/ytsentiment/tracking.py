"""MLflow tracking setup shared by the evaluate stage, the registry and the CLI.

The tracking URI and artifact root come from the environment (``config.tracking_uri``/``artifact_root``): the
embedded ``sqlite:///mlflow.db`` + ``mlartifacts/`` by default, a real server when ``MLFLOW_TRACKING_URI`` says so.
"""

from __future__ import annotations

import hashlib
import subprocess
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


def git_commit() -> str:
    """HEAD's sha, with ``-dirty`` when the work tree has uncommitted changes; ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def md5_of(path: str | Path) -> str:
    """The content hash DVC records for a file (md5), so MLflow tags line up with dvc.lock."""
    digest = hashlib.md5()  # noqa: S324 - matches DVC's content addressing, not used for security
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
