"""The API's gunicorn config reads `.env` from the working directory; a variable already in the environment wins.

``gunicorn --print-config`` evaluates src/ytsentiment/api/gunicorn.conf.py exactly as a server start does, then
prints the settings and exits: no app, no model, no port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def print_config(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"HOST", "PORT", "WEB_CONCURRENCY"}}
    return subprocess.run([str(GUNICORN), "-c", str(REPO / "src" / "ytsentiment" / "api" / "gunicorn.conf.py"),
                           "--print-config", "ytsentiment.api:create_app()"], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def printed_config(cwd: Path, **env: str) -> dict[str, str]:
    done = print_config(cwd, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {key.strip(): value.strip() for key, _, value in
            (line.partition("=") for line in done.stdout.splitlines()) if value}


def test_gunicorn_config_reads_dotenv_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("HOST=127.0.0.2\nPORT=5999\nWEB_CONCURRENCY=\n", encoding="utf-8")
    from_file = printed_config(tmp_path)
    assert from_file["bind"] == "['127.0.0.2:5999']"
    assert from_file["workers"] == "2"  # blank in .env: the default
    from_env = printed_config(tmp_path, PORT="6001")
    assert from_env["bind"] == "['127.0.0.2:6001']"


def test_without_dotenv_the_defaults_hold(tmp_path):
    assert printed_config(tmp_path)["bind"] == "['127.0.0.1:5000']"


def test_bad_server_settings_stop_gunicorn_with_one_line_per_variable(tmp_path):
    (tmp_path / ".env").write_text("WEB_CONCURRENCY=0\n", encoding="utf-8")
    done = print_config(tmp_path, PORT="70000", GUNICORN_TIMEOUT="1m")
    assert done.returncode != 0
    assert "PORT='70000': must be an integer between 0 and 65535\n" in done.stderr + done.stdout
    assert "WEB_CONCURRENCY='0': must be an integer >= 1\n" in done.stderr + done.stdout
    assert "GUNICORN_TIMEOUT='1m': must be an integer >= 1" in done.stderr + done.stdout
