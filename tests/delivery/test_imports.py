"""The package's imports go downward only: import-linter's contracts (pyproject.toml ``[tool.importlinter]``), no
import cycle at all, and no import of the package's own modules hidden inside a function.

Each check runs on this checkout's ``src/`` and has a negative control: a contract that the code breaks on purpose
must be reported broken, so a linter that checks nothing cannot pass.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "ytsentiment"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# Modules allowed to import the package inside a function: only gunicorn's config, which must not load
# prometheus_client (through ytsentiment.api) before on_starting has set PROMETHEUS_MULTIPROC_DIR.
HIDDEN_IMPORTS_ALLOWED = {"api/gunicorn.conf.py"}


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})


def test_every_import_contract_is_kept():
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_upward_import_is_reported(tmp_path):
    # storage -> api is an upward import the code really has not: the contract turned upside down must break.
    config = tmp_path / "upside_down.toml"
    config.write_text('[tool.importlinter]\nroot_package = "ytsentiment"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "api below storage"\ntype = "layers"\ncontainers = ["ytsentiment"]\n'
                      'layers = ["storage", "api"]\n', encoding="utf-8")
    done = lint_imports("--config", str(config))
    assert done.returncode == 1 and "BROKEN" in done.stdout, done.stdout + done.stderr


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """The modules of a shortest cycle through each import that closes one (none: the graph is acyclic)."""
    found = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                found.add(tuple(sorted(back)))  # back runs imported -> ... -> importer
    return sorted(found)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(SRC))
    try:
        return grimp.build_graph("ytsentiment", cache_dir=None)
    finally:
        sys.path.remove(str(SRC))


def test_no_import_cycle(graph):
    assert cycles(graph) == []


def test_a_cycle_is_found(graph):
    graph.add_import(importer="ytsentiment.contract", imported="ytsentiment.api.service")  # service -> contract
    try:
        assert ("ytsentiment.api.service", "ytsentiment.contract") in cycles(graph)
    finally:
        graph.remove_import(importer="ytsentiment.contract", imported="ytsentiment.api.service")


def hidden_imports(source: str, name: str) -> list[str]:
    """``name:line: statement`` of each import of the package made inside a function of ``source``."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    own = node.level > 0 or (node.module or "").split(".")[0] == "ytsentiment"
                else:
                    own = isinstance(node, ast.Import) and any(a.name.split(".")[0] == "ytsentiment"
                                                               for a in node.names)
                if own:
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_own_modules_are_imported_at_the_top():
    found = [line for path in sorted(PACKAGE.rglob("*.py"))
             if (name := path.relative_to(PACKAGE).as_posix()) not in HIDDEN_IMPORTS_ALLOWED
             for line in hidden_imports(path.read_text(encoding="utf-8"), name)]
    assert found == [], "import these at the top of the module (a cycle is broken by moving code, not imports)"


def test_a_hidden_import_is_found():
    source = "import json\n\n\ndef f():\n    from ytsentiment import config\n    import json\n    from . import x\n"
    assert hidden_imports(source, "probe.py") == ["probe.py:5: from ytsentiment import config",
                                                  "probe.py:7: from . import x"]
