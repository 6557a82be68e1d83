"""Linters pre-commit does not run, each with a negative control (a linter that checks nothing fails).

cfn-lint (infra/) and check-jsonschema (appspec.yml against the schema kept in tests/delivery/schemas); the
scripts' executable bits. ruff, detect-secrets, shellcheck, hadolint and actionlint run as pre-commit hooks:
test_precommit.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO, require_tool

VENV_BIN = Path(sys.executable).parent
SCHEMA = Path(__file__).parent / "schemas" / "appspec.schema.json"


def venv_tool(name: str) -> str:
    local = VENV_BIN / name
    return require_tool(
        local if local.exists() else name, name, f"pip install {name} (it is in requirements.txt)"
    )


def run(args, cwd=REPO, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def shell_scripts() -> list[Path]:
    scripts = sorted((REPO / "scripts").rglob("*.sh"))
    assert len(scripts) >= 6, scripts
    return scripts


def test_scripts_are_executable():
    for script in shell_scripts():
        if script.name != "common.sh":  # sourced, never run
            assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_cfn_lint_clean(tmp_path):
    cfn_lint = venv_tool("cfn-lint")
    templates = sorted((REPO / "infra").glob("*.yaml"))
    assert templates
    done = run([cfn_lint, *templates])
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Versioning: on\n"
    )
    done = run([cfn_lint, bad])
    assert done.returncode != 0 and "Versioning" in done.stdout


def test_appspec_matches_the_schema(tmp_path):
    check = venv_tool("check-jsonschema")
    done = run([check, "--check-metaschema", SCHEMA])
    assert done.returncode == 0, done.stdout + done.stderr
    done = run([check, "--schemafile", SCHEMA, "appspec.yml"])
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "appspec.yml"
    bad.write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterStart:\n    - location: /abs/start.sh\n      timeout: 4000\n"
    )
    done = run([check, "--schemafile", SCHEMA, bad])
    assert done.returncode == 1
    assert "AfterStart" in done.stdout and "4000" in done.stdout and "/abs/start.sh" in done.stdout
