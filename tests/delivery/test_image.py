"""The serving image's steps, run without a Docker engine (none runs here; GitHub Actions builds the image).

The build stage's COPY and RUN lines are read from the Dockerfile and executed as they are: the same files
copied into a fresh build context, the same scripts/build-serve-env.sh into a clean venv (no system
site-packages), so a requirement missing from requirements-serve.txt fails here as it would fail the image.
Then the runtime stage's files are laid out like /app, its ENV applied, and its CMD (gunicorn with the repo's
config) started against a real exported model on loopback; /ready, /predict, /model and the HEALTHCHECK
command are exercised.

Deviations from the image, on purpose: pip's cache is kept (PIP_NO_CACHE_DIR is a build-size setting, it does
not change what gets installed), HOST is 127.0.0.1 and PORT a free port (tests never listen beyond loopback).
Run as root, the server drops to the image's uid:gid, so code, model and HOME are read-only for it as in the
image; run as another user, it runs as that user. The apt-get line (libgomp1, present on this machine) and the
base image itself are only exercised by the real build in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from support.servers import free_port, stop_group, wait_until_ok

from . import dockerfile
from .conftest import REPO

pytestmark = pytest.mark.slow

STAGES = {s.name: s for s in dockerfile.stages((REPO / "Dockerfile").read_text())}
VENV_IN_IMAGE = "/opt/venv"
APP_IN_IMAGE = "/app"


def copy_into(sources: list[str], dest: Path, root: Path = REPO) -> None:
    """COPY as this Dockerfile uses it: files into a folder, a folder's contents into a folder."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for source in sources:
        path = root / source
        assert path.exists(), f"COPY source {source} is missing from the repo"
        if path.is_dir():
            shutil.copytree(path, dest, dirs_exist_ok=True, ignore=ignore)
        elif str(dest).endswith("/") or len(sources) > 1:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / path.name)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)


def image_user() -> tuple[int, int]:
    uid, _, gid = STAGES["runtime"].all("USER")[-1].partition(":")
    return int(uid), int(gid or uid)


@pytest.fixture(scope="session")
def image_root():
    """A folder the image's unprivileged user can traverse (pytest's temp root is private to this user)."""
    root = Path(tempfile.mkdtemp(prefix="ytsentiment-image-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def serve_venv(image_root) -> Path:
    """The build stage: its COPY lines into a fresh context, its RUN lines with /opt/venv -> a temp venv."""
    venv, context = image_root / "venv", image_root / "src"
    context.mkdir()
    build = STAGES["build"]
    # pip's own settings (index, certificates) are the machine's, as they are docker build's on a CI runner.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.pop("PIP_NO_CACHE_DIR", None)
    env["PYTHON"] = sys.executable  # its base interpreter makes the venv; nothing of .venv leaks into it
    for keyword, args in build.instructions:
        if keyword == "ENV":
            env.update({k: v for k, v in dockerfile.env_pairs(args).items() if k != "PIP_NO_CACHE_DIR"})
        elif keyword == "COPY":
            flags, sources, dest = dockerfile.copy_args(args)
            assert not flags, f"unexpected COPY flags in the build stage: {flags}"
            target = context / dest if dest not in ("./", ".") else context
            copy_into(sources, Path(str(target) + ("/" if dest.endswith("/") else "")))
        elif keyword == "RUN":
            command = args.replace(VENV_IN_IMAGE, str(venv))
            done = subprocess.run(
                ["sh", "-c", command], cwd=context, env=env, capture_output=True, text=True, timeout=900
            )
            assert done.returncode == 0, f"RUN {args} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        else:
            assert keyword == "WORKDIR", f"the build stage uses {keyword}: teach this test what it means"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
    return venv


@pytest.fixture(scope="session")
def served(serve_venv, trained_model_dir, image_root):
    """The runtime stage: /app laid out from its COPY lines, its ENV, its CMD, run as the image's user."""
    runtime = STAGES["runtime"]
    app = image_root / "app"
    app.mkdir(mode=0o755)
    mapping = {VENV_IN_IMAGE: str(serve_venv), APP_IN_IMAGE: str(app)}

    def localise(value: str) -> str:
        for image_path, here in mapping.items():
            value = value.replace(image_path, here)
        return value

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PYTHON", "MODEL_", "MLFLOW_"))
    }
    for keyword, args in runtime.instructions:
        if keyword == "ENV":
            for key, value in dockerfile.env_pairs(args).items():
                env[key] = localise(value).replace("$PATH", env.get("PATH", ""))
        elif keyword == "COPY":
            flags, sources, dest = dockerfile.copy_args(args)
            if flags.get("from") == "build":
                assert sources == [VENV_IN_IMAGE], sources  # the whole venv, nothing else, crosses stages
                continue
            target = Path(localise(dest))
            if sources == ["model/"]:  # `make export` writes model/; here the session's exported model
                copy_into([str(trained_model_dir)], target, root=Path("/"))
            else:
                copy_into(sources, target)
    port = free_port()
    scratch = image_root / "tmp"  # stands in for the container's own /tmp (MPLCONFIGDIR lives there)
    scratch.mkdir(mode=0o1777)
    scratch.chmod(0o1777)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        HOME=str(app),
        MPLCONFIGDIR=str(scratch / "matplotlib"),
        TMPDIR=str(scratch),
    )
    command = [localise(part) for part in dockerfile.exec_form(runtime.all("CMD")[-1])]
    assert command[0] == "gunicorn"
    command[0] = str(serve_venv / "bin" / "gunicorn")
    if os.geteuid() == 0:
        # As root here, drop to the image's uid/gid: code, model and HOME are then read-only, as in the image.
        uid, gid = image_user()
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *command]
    log = (image_root / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        command, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, env, proc, image_root / "gunicorn.log"
    finally:
        stop_group(proc, timeout=40)
        log.close()


def wait_ready(base: str, proc, log: Path, timeout: float = 120) -> float:
    return wait_until_ok(f"{base}/ready", proc, log, timeout, interval=0.25)


def test_the_venv_is_complete_and_holds_the_installed_package(serve_venv):
    python = serve_venv / "bin" / "python"
    done = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    done = subprocess.run(
        [python, "-c", "import ytsentiment.api; print(ytsentiment.api.__file__)"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert done.returncode == 0 and done.stdout.startswith(str(serve_venv)), done.stdout + done.stderr
    # Training-only tools stay out of the image.
    for absent in ("dvc", "pytest", "boto3"):
        done = subprocess.run([python, "-c", f"import {absent}"], capture_output=True, timeout=60)
        assert done.returncode != 0, f"{absent} is in the serving venv"


def test_the_image_command_serves_the_exported_model(served):
    base, env, proc, log = served
    wait_ready(base, proc, log)
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
    uid = next(
        line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if line.startswith("Uid")
    )
    assert uid.split()[1] == str(image_user()[0] if os.geteuid() == 0 else os.geteuid())

    comments = ["I love this video, thank you!", "worst tutorial ever, total waste of time", "posted at 3pm"]
    response = requests.post(f"{base}/predict", json={"comments": comments}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["comment"] for p in body] == comments
    assert all(p["sentiment"] in (-1, 0, 1) and 0 <= p["confidence"] <= 1 for p in body)
    assert body[0]["label"] == "positive" and body[1]["label"] == "negative"

    model = requests.get(f"{base}/model", timeout=5).json()
    assert model["version"] == "1" and model["alias"] == "production"
    assert set(model) == {"name", "version", "alias", "trained_at", "metrics"}  # no uri, run id or commit


def test_the_healthcheck_command_follows_readiness(served):
    base, env, proc, log = served
    wait_ready(base, proc, log)
    health = dockerfile.healthcheck_command(STAGES["runtime"].all("HEALTHCHECK")[-1])
    assert health[0] == "python"
    health[0] = env["PATH"].split(":")[0] + "/python"  # the venv's python, first on the image's PATH
    # /ready above was one worker's answer; the check may reach the other, still loading (503), and Docker retries
    # it (--retries), so it must pass within a few tries, as it would in the container.
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(health, env=env, capture_output=True, text=True, timeout=30)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert done.returncode == 0, done.stderr
    # Nothing listening: the command must fail, or the HEALTHCHECK could never mark a container unhealthy.
    done = subprocess.run(health, env={**env, "PORT": str(free_port())}, capture_output=True, timeout=30)
    assert done.returncode != 0
