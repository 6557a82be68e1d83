"""What both ytsentiment DAGs share: settings read at RUN time from Airflow Variables, and shell quoting.

Airflow runs in its own virtualenv; every task runs the project's own CLI (``ytsentiment …``) from the project's
venv, so Airflow's dependencies never meet the model's. Nothing here touches a database, the network or a heavy
library at import: the DAG processor parses these files often.

Variables (set in the UI / ``airflow variables set``, or as environment variables ``AIRFLOW_VAR_<NAME>``):

    ytsentiment_bin            the project venv's CLI, e.g. /srv/ytsentiment/.venv/bin/ytsentiment (default: on PATH)
    ytsentiment_project_dir    working directory of every command (params.yaml, var/, mlflow.db); default: this repo
    ytsentiment_data_dir       comments, scores, reports, monitor output; default <project>/var/airflow
    ytsentiment_channels       JSON list or comma-separated UC… ids / @handles; default: params.yaml `channels:`
    ytsentiment_model_uri      model for `score` (default: the CLI's MODEL_URI, else models:/ytsentiment@production)
    ytsentiment_score_args     extra `score` arguments, e.g. "--engine spark --master spark://host:7077"
    ytsentiment_collect_args   extra `collect` arguments, e.g. "--max-videos 20 --since 2024-01-01"
    ytsentiment_monitor_cmd    default: "<bin> monitor --out <data>/monitor/<ds>"
    ytsentiment_retrain_cmd    default: "make repro && make register"
    ytsentiment_gate_cmd       default: "<bin> promote" (exit 2 = refused: the task is skipped, CD is not triggered)
    ytsentiment_cd_cmd         default: export, build, push and deploy the promoted model (the CD workflow's steps)
"""

from __future__ import annotations

import re
import shlex
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OWNER = "ytsentiment"
# Retries are for idempotent tasks: a task that is not (retrain registers a new model version, trigger_cd deploys)
# sets NO_RETRY. Every task sets its own execution_timeout (none is inherited, so a new task must choose one).
DEFAULT_ARGS = {"owner": OWNER, "retries": 2, "retry_delay": timedelta(minutes=5),
                "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=30)}
NO_RETRY = {"retries": 0}
# The pool every task calling the YouTube Data API runs in, so mapped collect tasks (and other DAGs) cannot spend
# one API key's daily quota (10,000 units) in parallel. Create it once per Airflow, with YOUTUBE_POOL_SLOTS slots:
#   airflow pools set youtube_api 1 "YouTube Data API quota: one collect at a time"
YOUTUBE_POOL = "youtube_api"
YOUTUBE_POOL_SLOTS = 1
CD_DEFAULT = ('make export && tag="$(make -s image-tag)" && make image IMAGE_TAG="$tag" && '
              'make push-image IMAGE_TAG="$tag" && make deploy IMAGE_TAG="$tag"')


def var(name: str, default: str = "") -> str:
    """An Airflow Variable (or AIRFLOW_VAR_<NAME>), read when a task runs, never at parse time."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return default if value is None or str(value).strip() == "" else str(value).strip()


def q(value: str | Path) -> str:
    return shlex.quote(str(value))


def project_dir() -> str:
    return var("ytsentiment_project_dir", str(REPO))


def data_dir() -> str:
    return var("ytsentiment_data_dir", str(Path(project_dir()) / "var" / "airflow"))


def cli() -> str:
    return var("ytsentiment_bin", "ytsentiment")


def in_project(command: str) -> str:
    """``command`` run from the project directory, failing on the first error."""
    return f"set -euo pipefail; cd {q(project_dir())}; {command}"


def slug(channel: str) -> str:
    """A channel reference as a directory name (@handles and UC… ids are already safe; anything else is made so)."""
    return re.sub(r"[^A-Za-z0-9@._-]", "_", channel)


def parse_channels(raw: str) -> list[str]:
    import json

    raw = raw.strip()
    items = json.loads(raw) if raw.startswith("[") else raw.split(",")
    return list(dict.fromkeys(str(c).strip() for c in items if str(c).strip()))


def channels() -> list[str]:
    """Variable ``ytsentiment_channels``, else ``channels:`` of the project's params.yaml, read by the project's own
    loader (``ytsentiment params channels``: this virtualenv does not have the package)."""
    raw = var("ytsentiment_channels")
    if raw:
        return parse_channels(raw)
    import json
    import subprocess

    done = subprocess.run([cli(), "params", "channels"], cwd=project_dir(), capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise ValueError(f"`{cli()} params channels` failed in {project_dir()}: {done.stderr.strip()[-2000:]}")
    listed = json.loads(done.stdout)
    if not listed:
        raise ValueError("no channels configured: set the Airflow Variable ytsentiment_channels (JSON list) or add "
                         f"`channels: [UC…, @handle]` to {Path(project_dir()) / 'params.yaml'}")
    return parse_channels(",".join(map(str, listed)))
