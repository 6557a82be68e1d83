"""The CodeDeploy hooks, run by bash from a bundle unpacked the way the CodeDeploy agent unpacks it.

No Docker engine or AWS CLI runs here, so ``docker`` and ``aws`` are small fakes on PATH that record their
arguments and answer like the real ones; curl, bash and the readiness server (a real HTTP server on loopback)
are real. What this proves: the hooks call exactly these commands with exactly the bundle's image, refuse
mutable tags, stop gracefully, and ValidateService fails (so CodeDeploy rolls back) unless /ready answers and
the served model is the tagged version.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import stat
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from ytsentiment.deploy.bundle import build_bundle

from .conftest import REPO
from .fakes import FAKE_RECORDER, install_fakes, write_exe

SHA = "deadbeef" * 5  # a 40-digit git sha
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
IMAGE = f"{REGISTRY}/ytsentiment:{SHA}-m3"


@pytest.fixture
def revision(tmp_path) -> Path:
    """The bundle `ytsentiment deploy release` uploads, unpacked with its file modes like the agent does."""
    root = tmp_path / "deployment-archive"
    with zipfile.ZipFile(io.BytesIO(build_bundle(IMAGE, "eu-west-1", REPO))) as bundle:
        for info in bundle.infolist():
            target = root / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bundle.read(info))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    return root


@pytest.fixture
def fakes(tmp_path):
    bin_dir, log, env = install_fakes(tmp_path)
    env.update({"APP_ENV_FILE": str(tmp_path / "app.env"), "LIFECYCLE_EVENT": "Test"})
    return bin_dir, log, env


def only_tools(folder: Path) -> Path:
    """A PATH folder with only the basic tools the hooks use: a real docker/aws on the machine is hidden."""
    folder.mkdir()
    for tool in ("dirname", "date", "cat", "curl", "basename", "grep", "sleep"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed by the hooks"
        (folder / tool).symlink_to(found)
    return folder


def run_hook(revision: Path, name: str, env: dict, **extra) -> subprocess.CompletedProcess:
    script = revision / "scripts" / "codedeploy" / name
    assert os.access(script, os.X_OK), f"{name} lost its execute bit in the bundle"
    return subprocess.run(
        ["/bin/bash", str(script)],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=revision.parent,
    )


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_start_logs_in_pulls_and_runs_exactly_the_bundled_image(revision, fakes):
    _, log, env = fakes
    Path(env["APP_ENV_FILE"]).write_text("CORS_ORIGINS=chrome-extension://abc\n")
    done = run_hook(revision, "start_container.sh", env)
    assert done.returncode == 0, done.stderr
    seen = calls(log)
    # The two sides of the login pipe run concurrently, so their order in the log is not fixed.
    assert set(seen[:3]) == {
        "aws ecr get-login-password --region eu-west-1",
        f"docker login --username AWS --password-stdin {REGISTRY}",
        "password-stdin ecr-token-from-fake",  # the token travels on stdin, never on argv
    }
    assert seen[3] == f"docker pull {IMAGE}"
    run = next(c for c in seen if c.startswith("docker run "))
    assert run.endswith(f" {IMAGE}")
    for part in (
        "--detach",
        "--name ytsentiment",
        "--restart unless-stopped",
        "--publish 80:5000",
        f"--env-file {env['APP_ENV_FILE']}",
    ):
        assert part in run
    assert not any("docker rm" in c for c in seen)  # no leftover container to remove


def test_start_hands_the_database_url_from_ssm_to_the_container_in_a_private_file(revision, fakes, tmp_path):
    _, log, env = fakes
    Path(env["APP_ENV_FILE"]).write_text("CORS_ORIGINS=chrome-extension://abc\nDATABASE_URL_PARAMETER=/yts/db\n")
    secret = tmp_path / "secret.env"
    url = "postgresql+psycopg://app:s3cret@db.internal:5432/yts"  # pragma: allowlist secret
    done = run_hook(revision, "start_container.sh", env, SECRET_ENV_FILE=str(secret), FAKE_SSM_VALUE=url)
    assert done.returncode == 0, done.stderr
    seen = calls(log)
    assert ("aws ssm get-parameter --region eu-west-1 --name /yts/db --with-decryption "
            "--query Parameter.Value --output text") in seen
    run = next(c for c in seen if c.startswith("docker run "))
    assert f"--env-file {secret}" in run and "s3cret" not in run  # never on the command line
    assert secret.read_text() == f"DATABASE_URL={url}\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "s3cret" not in done.stderr


def test_start_fails_when_the_database_parameter_cannot_be_read(revision, fakes, tmp_path):
    _, log, env = fakes
    Path(env["APP_ENV_FILE"]).write_text("DATABASE_URL_PARAMETER=/yts/missing\n")
    done = run_hook(revision, "start_container.sh", env, SECRET_ENV_FILE=str(tmp_path / "secret.env"))
    assert done.returncode == 1 and "cannot read SSM parameter /yts/missing" in done.stderr
    assert not any(c.startswith("docker run ") for c in calls(log))


def test_start_removes_a_leftover_container_first(revision, fakes):
    _, log, env = fakes
    done = run_hook(revision, "start_container.sh", env, FAKE_CONTAINER_EXISTS="1")
    assert done.returncode == 0, done.stderr
    seen = calls(log)
    assert seen.index("docker rm --force ytsentiment") < next(
        i for i, c in enumerate(seen) if "docker run" in c
    )
    assert "--env-file" not in next(c for c in seen if "docker run" in c)  # no app.env on this instance


@pytest.mark.parametrize("image", [f"{REGISTRY}/ytsentiment:latest", f"{REGISTRY}/ytsentiment:{SHA}"])
def test_start_refuses_a_mutable_tag(revision, fakes, image):
    _, log, env = fakes
    (revision / "deploy.env").write_text(f"IMAGE_URI='{image}'\nAWS_REGION='eu-west-1'\n")
    done = run_hook(revision, "start_container.sh", env)
    assert done.returncode == 1
    assert "refusing image tag" in done.stderr
    assert calls(log) == []


def test_start_without_deploy_env_fails_clearly(revision, fakes):
    _, log, env = fakes
    (revision / "deploy.env").unlink()
    done = run_hook(revision, "start_container.sh", env)
    assert done.returncode == 1 and "no deploy.env" in done.stderr
    assert calls(log) == []


def test_stop_is_graceful_and_tolerates_a_fresh_instance(revision, fakes, tmp_path):
    _, log, env = fakes
    done = run_hook(revision, "stop_container.sh", env, FAKE_CONTAINER_EXISTS="1", STOP_GRACE_SECONDS="45")
    assert done.returncode == 0, done.stderr
    assert calls(log)[1:] == ["docker stop --time 45 ytsentiment", "docker rm ytsentiment"]

    log.write_text("")
    done = run_hook(revision, "stop_container.sh", env)
    assert done.returncode == 0 and "nothing to stop" in done.stderr
    assert not any("stop" in c for c in calls(log))

    # A fresh instance (ApplicationStop runs before BeforeInstall has installed anything): no docker at all.
    done = run_hook(revision, "stop_container.sh", {**env, "PATH": str(only_tools(tmp_path / "bare"))})
    assert done.returncode == 0 and "docker is not installed" in done.stderr


def test_install_dependencies_installs_what_is_missing(revision, fakes, tmp_path):
    bin_dir, log, env = fakes
    # Only the tools the hook may use: no docker and no aws yet, apt-get and systemctl are recorders.
    only = only_tools(tmp_path / "only")
    for tool in ("apt-get", "systemctl"):
        write_exe(only / tool, FAKE_RECORDER)
    done = run_hook(revision, "install_dependencies.sh", {**env, "PATH": str(only)})
    # apt-get only pretended to install docker, so the daemon check must fail the hook.
    assert done.returncode == 1 and "docker daemon is not running" in done.stderr
    assert "apt-get install -y docker.io" in calls(log)
    assert "apt-get install -y awscli" in calls(log)

    log.write_text("")
    for tool in ("docker", "aws"):
        (only / tool).symlink_to(bin_dir / tool)
    done = run_hook(revision, "install_dependencies.sh", {**env, "PATH": str(only)})
    assert done.returncode == 0, done.stderr
    assert "systemctl enable --now docker" in calls(log)
    assert not any(c.startswith("apt-get") for c in calls(log))


class ReadinessServer:
    """A real HTTP server on loopback whose /ready and /model answers a test sets."""

    def __init__(self) -> None:
        self.ready_status = 200
        self.model = {"name": "ytsentiment", "version": "3", "alias": "production"}
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                outer.hits += 1
                status, body = {
                    "/ready": (outer.ready_status, {"status": "ready"}),
                    "/model": (200, outer.model),
                }.get(self.path, (404, {"error": "not found"}))
                payload = json.dumps(body, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def app_server():
    server = ReadinessServer()
    yield server
    server.close()


def validate(revision, env, server, **extra):
    base = {
        "BASE_URL": server.url,
        "VALIDATE_TIMEOUT": "2",
        "VALIDATE_INTERVAL": "0.2",
        "FAKE_RUNNING": "true",
        "FAKE_IMAGE": IMAGE,
    }
    return run_hook(revision, "validate_service.sh", env, **{**base, **extra})


def test_validate_passes_when_ready_with_the_tagged_model(revision, fakes, app_server):
    _, _, env = fakes
    done = validate(revision, env, app_server)
    assert done.returncode == 0, done.stderr
    assert "serves model version 3" in done.stderr


def test_validate_fails_when_never_ready(revision, fakes, app_server):
    _, log, env = fakes
    app_server.ready_status = 503
    done = validate(revision, env, app_server)
    assert done.returncode == 1
    assert "did not answer 200 within 2s" in done.stderr
    assert "fake container log line" in done.stderr  # the container's logs land in the deployment log
    assert app_server.hits >= 3  # it polled, it did not give up at once


def test_validate_fails_fast_when_the_container_died(revision, fakes, app_server):
    _, _, env = fakes
    app_server.ready_status = 503
    done = validate(revision, env, app_server, FAKE_RUNNING="false", VALIDATE_TIMEOUT="60")
    assert done.returncode == 1 and "is not running (false)" in done.stderr
    assert app_server.hits == 1


@pytest.mark.parametrize(
    ("extra", "model_version", "message"),
    [
        ({"FAKE_IMAGE": f"{REGISTRY}/ytsentiment:{'f' * 40}-m2"}, "3", "this revision deploys"),
        ({}, "30", "served model is not version 3"),
    ],
)
def test_validate_fails_on_the_wrong_image_or_model(
    revision, fakes, app_server, extra, model_version, message
):
    _, _, env = fakes
    app_server.model["version"] = model_version
    done = validate(revision, env, app_server, **extra)
    assert done.returncode == 1 and message in done.stderr
