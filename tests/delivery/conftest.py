"""Fixtures for the delivery tier: a moto server on loopback standing in for AWS, and the repo paths.

boto3 (and DVC's s3fs) honour ``AWS_ENDPOINT_URL``, so the code under test runs its production path and
only the endpoint differs. Credentials are moto's throwaway placeholders; shared config files are blanked so
nothing on the machine can redirect a call to a real account.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import requests
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request drowns real failures
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch, tmp_path):
    """Point boto3 at a freshly reset moto server; returns the endpoint URL."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    blank = tmp_path / "aws-config"
    blank.write_text("")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "moto-placeholder",
        "AWS_SECRET_ACCESS_KEY": "moto-placeholder",  # pragma: allowlist secret
        "AWS_CONFIG_FILE": str(blank),
        "AWS_SHARED_CREDENTIALS_FILE": str(blank),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "GITHUB_STEP_SUMMARY", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint


def require_tool(path: str | Path | None, name: str, how: str) -> str:
    """The path of a lint tool, or a test failure (never a skip) saying how to install it."""
    found = shutil.which(str(path)) if path else None
    if not found:
        pytest.fail(f"{name} is not installed: {how}")
    return found
