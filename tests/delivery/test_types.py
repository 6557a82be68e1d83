"""mypy over src/ytsentiment with the settings of pyproject.toml ([tool.mypy]), as `make typecheck` runs it.

Every error fails the test, with mypy's own lines as the message. Negative controls: the same settings reject a
plainly wrong assignment, and the strict settings of the small shared modules reject an unannotated function
there; a checker that checks nothing fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "src" / "ytsentiment"


def mypy(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_src_type_checks_clean():
    done = mypy()  # files, flags and per-module overrides: pyproject.toml
    assert done.returncode == 0, f"mypy found errors (run `make typecheck`):\n{done.stdout}{done.stderr}"
    checked = int(done.stdout.split("no issues found in ")[1].split()[0])
    modules = len(list(PACKAGE.rglob("*.py")))
    assert checked == modules, f"mypy checked {checked} files of the package's {modules}: {done.stdout}"


def test_mypy_rejects_a_type_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('count: int = "three"\n')
    done = mypy("--config-file", REPO / "pyproject.toml", bad)
    assert done.returncode == 1 and "[assignment]" in done.stdout, done.stdout + done.stderr


def test_shared_modules_must_be_annotated(tmp_path):
    # A copy of the package where one strict module (contract.py) gains an unannotated function.
    tree = tmp_path / "src"
    copy = tree / "ytsentiment"
    copy.mkdir(parents=True)
    for name in ("__init__.py", "contract.py"):
        (copy / name).write_text((PACKAGE / name).read_text(encoding="utf-8"), encoding="utf-8")
    with (copy / "contract.py").open("a", encoding="utf-8") as fh:
        fh.write("\n\ndef untyped(value):\n    return value\n")
    done = mypy("--config-file", REPO / "pyproject.toml", copy / "contract.py", cwd=tmp_path)
    assert done.returncode == 1 and "[no-untyped-def]" in done.stdout, done.stdout + done.stderr
