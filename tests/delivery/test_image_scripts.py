"""scripts/build-image.sh and scripts/push-image.sh (what `make image` / `make push-image` run).

No Docker engine runs here, so ``docker`` and ``aws`` are recording fakes; the tag checks, the git checks and
the ECR calls (through `python -m ytsentiment.deploy`, against moto) are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from .conftest import REGION, REPO
from .fakes import install_fakes

BUILD = REPO / "scripts" / "build-image.sh"
PUSH = REPO / "scripts" / "push-image.sh"


@pytest.fixture
def fake_bin(tmp_path):
    _, log, fake_env = install_fakes(tmp_path)
    env = {**os.environ, **fake_env, "PYTHON": sys.executable}
    env.pop("GITHUB_SHA", None)
    return env, log


def git(*args, cwd):
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def checkout(tmp_path) -> tuple[Path, str]:
    """A committed checkout with what the image copies, and an exported model (version 4) in model/."""
    root = tmp_path / "checkout"
    for rel in (
        "Dockerfile",
        "requirements-serve.txt",
        "pyproject.toml",
        "src/ytsentiment/__init__.py",
        "src/ytsentiment/api/__init__.py",
        "scripts/build-serve-env.sh",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    git("init", "-q", cwd=root)
    git("add", ".", cwd=root)
    git("commit", "-q", "-m", "snapshot", cwd=root)
    (root / "model").mkdir()
    (root / "model" / "MLmodel").write_text("flavors: {}\n")
    (root / "model" / "model_info.json").write_text(json.dumps({"name": "ytsentiment", "version": "4"}))
    return root, git("rev-parse", "HEAD", cwd=root)


def run(script, tag, cwd, env):
    return subprocess.run([str(script), tag], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_build_uses_the_tag_of_this_checkout_and_model(checkout, fake_bin):
    root, sha = checkout
    env, log = fake_bin
    done = run(BUILD, f"{sha}-m4", root, env)
    assert done.returncode == 0, done.stderr
    (call,) = log.read_text().splitlines()
    assert call.startswith("docker build --pull ")
    assert f"--build-arg GIT_SHA={sha}" in call and "--build-arg MODEL_VERSION=4" in call
    assert call.endswith(f"--tag ytsentiment:{sha}-m4 .")


@pytest.mark.parametrize("tag", ["latest", "{sha}-m3", "{other}-m4", ""])
def test_build_refuses_a_tag_that_does_not_describe_the_build(checkout, fake_bin, tag):
    root, sha = checkout
    env, log = fake_bin
    done = run(BUILD, tag.format(sha=sha, other="f" * 40), root, env)
    assert done.returncode == 2, done.stderr
    assert log.read_text() == ""


def test_build_refuses_without_an_exported_model_or_with_uncommitted_sources(checkout, fake_bin):
    root, sha = checkout
    env, log = fake_bin
    (root / "src" / "ytsentiment" / "__init__.py").write_text("changed = True\n")
    done = run(BUILD, f"{sha}-m4", root, env)
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    git("checkout", "--", "src", cwd=root)
    (root / "model" / "MLmodel").unlink()
    done = run(BUILD, f"{sha}-m4", root, env)
    assert done.returncode == 2 and "make export" in done.stderr
    assert log.read_text() == ""


def test_push_creates_the_repository_pushes_once_then_skips(aws, fake_bin, tmp_path):
    env, log = fake_bin
    env = {
        **env,
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        "ECR_REPOSITORY": "yts-push",
    }
    tag = "ab12" * 10 + "-m4"
    done = run(PUSH, tag, tmp_path, env)
    assert done.returncode == 0, done.stderr
    ecr = boto3.client("ecr", region_name=REGION)
    (repo,) = ecr.describe_repositories()["repositories"]
    uri = repo["repositoryUri"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    calls = log.read_text().splitlines()
    assert f"docker login --username AWS --password-stdin {uri.split('/')[0]}" in calls
    assert calls[-2:] == [f"docker tag ytsentiment:{tag} {uri}:{tag}", f"docker push {uri}:{tag}"]

    # The tag is in ECR now (moto stands in for the push the fake docker did not do): a re-run is a no-op.
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "cd" * 32},
        "layers": [],
    }
    ecr.put_image(repositoryName="yts-push", imageManifest=json.dumps(manifest), imageTag=tag)
    log.write_text("")
    done = run(PUSH, tag, tmp_path, env)
    assert done.returncode == 0 and "already in ECR" in done.stdout, done.stderr
    assert log.read_text() == ""


def test_push_needs_its_settings(fake_bin, tmp_path):
    env, log = fake_bin
    env = {k: v for k, v in env.items() if k not in ("ECR_REPOSITORY",)}
    done = run(PUSH, "ab12" * 10 + "-m4", tmp_path, env)
    assert done.returncode == 2 and "ECR_REPOSITORY" in done.stderr
    assert run(PUSH, "latest", tmp_path, {**env, "ECR_REPOSITORY": "x", "AWS_REGION": REGION}).returncode != 0
