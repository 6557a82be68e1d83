"""What the Dockerfile, .dockerignore and requirements-serve.txt promise, checked statically.

test_image.py runs the steps; this file pins the properties a reviewer would look for: slim Python 3.11,
multi-stage, non-root, pinned requirements equal to the dev venv's, model baked in, readiness HEALTHCHECK,
gunicorn with the repo's config, and a build context that can only contain what the image copies.
"""

from __future__ import annotations

import fnmatch
import re
from importlib.metadata import PackageNotFoundError, version

import pytest

from . import dockerfile
from .conftest import REPO

TEXT = (REPO / "Dockerfile").read_text()
STAGES = dockerfile.stages(TEXT)
RUNTIME = STAGES[-1]


def test_slim_python_311_multi_stage():
    assert [s.name for s in STAGES] == ["build", "runtime"]
    for stage in STAGES:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stage.base), stage.base
    assert not any(":latest" in args for _, args in dockerfile.instructions(TEXT))


def test_runtime_runs_as_a_numeric_non_root_user():
    user = RUNTIME.all("USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user


def test_model_is_baked_in_and_served_from_it():
    env = {}
    for args in RUNTIME.all("ENV"):
        env.update(dockerfile.env_pairs(args))
    copies = [dockerfile.copy_args(a) for a in RUNTIME.all("COPY")]
    model_dest = next(dest for flags, sources, dest in copies if sources == ["model/"])
    assert env["MODEL_URI"].rstrip("/") == model_dest.rstrip("/")
    assert env["HOST"] == "0.0.0.0"  # inside the container's own network namespace


def test_command_is_gunicorn_with_the_repo_config_and_healthcheck_is_readiness():
    command = dockerfile.exec_form(RUNTIME.all("CMD")[-1])
    assert command[:2] == ["gunicorn", "-c"] and command[-1] == "ytsentiment.api:create_app()"
    copies = {dest: sources for _, sources, dest in (dockerfile.copy_args(a) for a in RUNTIME.all("COPY"))}
    assert copies[command[2]] == ["src/ytsentiment/api/gunicorn.conf.py"]
    health = " ".join(dockerfile.healthcheck_command(RUNTIME.all("HEALTHCHECK")[-1]))
    assert "/ready" in health and "PORT" in health


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements-serve.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, pinned = line.partition("==")
            assert sep and pinned, f"requirements-serve.txt: {line!r} is not pinned with =="
            pins[name.split("[")[0]] = pinned  # psycopg[binary] -> psycopg: extras name no distribution
    return pins


def test_serving_requirements_are_pinned_to_the_dev_venv_versions():
    pins = requirement_pins()
    assert {"gunicorn", "flask", "mlflow-skinny", "scikit-learn", "lightgbm"} <= set(pins)
    assert not {"dvc", "mlflow", "pytest", "boto3", "moto"} & set(pins), "training/test tools in the image"
    mismatched = {}
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert not mismatched, f"requirements-serve.txt vs this venv (pinned, installed): {mismatched}"


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a folder pattern covers what is inside it."""
    allowed = True
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatch(p, pattern) for p in prefixes)
        if hit:
            allowed = negate
    return allowed


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_copy_source_is_in_the_build_context(stage):
    for flags, sources, _ in (dockerfile.copy_args(a) for a in stage.all("COPY")):
        if "from" in flags:
            continue
        for source in sources:
            assert dockerignore_allows(source.rstrip("/") + ("/x.py" if source.endswith("/") else "")), source


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "mlflow.db",
        "data/raw/combined.csv",
        "mlruns/0/meta.yaml",
        "tests/conftest.py",
        "chrome-extension/manifest.json",
        "src/ytsentiment/__pycache__/x.cpython-311.pyc",
        ".dvc/config.local",
        "ytsentiment.egg-info/PKG-INFO",
        "src/ytsentiment/api/__pycache__/service.cpython-311.pyc",
    ],
)
def test_secrets_and_bulk_stay_out_of_the_build_context(path):
    assert not dockerignore_allows(path)
