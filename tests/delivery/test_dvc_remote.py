"""DVC's S3 remote, round-tripped through moto's S3 on loopback with scripts/dvc-s3.sh (what `make dvc-push` /
`make dvc-pull` and the CD workflow run): push from one clone, pull into a clean one, same bytes back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import boto3

from .conftest import REGION, REPO

DVC = Path(REPO / ".venv" / "bin" / "dvc")
SCRIPT = REPO / "scripts" / "dvc-s3.sh"
BUCKET = "ytsentiment-dvc-test"


def sh(args, cwd, env, check=True):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def test_push_then_pull_into_a_clean_clone(aws, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    env = {
        **os.environ,
        "DVC": str(DVC if DVC.exists() else shutil.which("dvc")),
        "DVC_REMOTE_URL": f"s3://{BUCKET}/dvcstore",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    origin = tmp_path / "origin"
    (origin / "data" / "raw").mkdir(parents=True)
    payload = "text,label\nthis is great,1\nthis is awful,-1\n" * 50
    (origin / "data" / "raw" / "combined.csv").write_text(payload)
    (origin / "data" / "raw" / "part2.csv").write_text("text,label\nmeh,0\n")
    sh(["git", "init", "-q"], origin, env)
    sh([env["DVC"], "init", "-q"], origin, env)
    sh([env["DVC"], "add", "-q", "data/raw"], origin, env)

    pushed = sh([str(SCRIPT), "push"], origin, env)
    assert "3 files pushed" in pushed.stdout  # two files and the directory's manifest
    keys = [
        o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)["Contents"]
    ]
    assert keys and all(k.startswith("dvcstore/files/md5/") for k in keys)
    # The bucket lives only in the git-ignored local config, never in the committed .dvc/config.
    assert BUCKET not in (origin / ".dvc" / "config").read_text()
    assert BUCKET in (origin / ".dvc" / "config.local").read_text()

    # A clean clone: only what git would carry (.dvc/config and the .dvc pointer file), no cache, no data.
    clone = tmp_path / "clone"
    (clone / "data").mkdir(parents=True)
    shutil.copytree(
        origin / ".dvc", clone / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local")
    )
    shutil.copy(origin / "data" / "raw.dvc", clone / "data" / "raw.dvc")
    sh(["git", "init", "-q"], clone, env)

    sh([str(SCRIPT), "pull"], clone, env)
    assert (clone / "data" / "raw" / "combined.csv").read_text() == payload
    assert (clone / "data" / "raw" / "part2.csv").read_text() == "text,label\nmeh,0\n"


def test_script_refuses_a_missing_or_malformed_remote(tmp_path):
    for url in ("", "/tmp/local-remote", "s3://", "gs://bucket/x"):
        done = sh([str(SCRIPT), "pull"], tmp_path, {**os.environ, "DVC_REMOTE_URL": url}, check=False)
        assert done.returncode == 2 and "DVC_REMOTE_URL must be s3://" in done.stderr, url
    done = sh(
        [str(SCRIPT), "fetch"], tmp_path, {**os.environ, "DVC_REMOTE_URL": "s3://bucket/x"}, check=False
    )
    assert done.returncode == 2 and "usage" in done.stderr
