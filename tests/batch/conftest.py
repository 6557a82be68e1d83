"""Fixtures for the batch tier: run `ytsentiment collect` in-process against a FakeYouTube, read what it wrote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from support.database import engine, sqlite_template, sqlite_url  # noqa: F401 - fixtures

YOUTUBE_VARS = ("YOUTUBE_API_KEY", "YOUTUBE_API_BASE_URL", "YOUTUBE_MAX_RETRIES", "YOUTUBE_BACKOFF_BASE",
                "YOUTUBE_MAX_WAIT", "YOUTUBE_TIMEOUT")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def no_youtube_env(monkeypatch):
    """No YOUTUBE_* setting from the caller's shell leaks into a test."""
    for name in YOUTUBE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def collect_cli(monkeypatch, capsys, caplog):
    """``collect_cli(fake_or_env, *argv)`` → CliResult of ``ytsentiment collect *argv`` (stderr includes the log)."""
    from ytsentiment.cli import main

    def run(env, *argv: str) -> CliResult:
        env = env.env() if hasattr(env, "env") else dict(env)
        for name in YOUTUBE_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        caplog.clear()
        code = main(["collect", *map(str, argv)])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err + caplog.text)

    return run


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "comments"
