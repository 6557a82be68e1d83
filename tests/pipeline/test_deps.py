"""Every DVC stage lists, under deps, exactly the src/ files its module imports (transitively), so a change to any
code a stage runs re-runs it, and `dvc repro` never calls stale outputs "up to date"."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from ytsentiment.stages import graph

from .conftest import REPO


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, source in files.items():
        path = root / "src" / "ytsentiment" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


# A made-up package with every import form; the expected closures below are worked out by hand.
FAKE = {
    "__init__.py": "",
    "a.py": "from ytsentiment.b import thing\n",           # from-import of a name
    "b.py": "import os\nimport ytsentiment.sub.c\n",         # plain dotted import (runs sub/__init__ too)
    "sub/__init__.py": "from . import d\n",                  # relative import of a sibling module
    "sub/c.py": "def late():\n    from ..e import f\n",     # two levels up, inside a function
    "sub/d.py": "x = 1\n",
    "e.py": "import importlib\n\ndef g():\n    return importlib.import_module('ytsentiment.h')\n",
    "f.py": "",                                              # "from ..e import f": f is a name, not this module
    "h.py": "from ytsentiment import a\n",                   # a cycle back to a
    "unused.py": "import ytsentiment.a\n",
    "stages/__init__.py": "",
    "stages/run.py": "from ytsentiment.sub import d\nfrom .. import e\n",
}


def _closure(root: Path, module: str) -> set[str]:
    modules = graph.package_modules(root / "src")
    return {modules[m].relative_to(root / "src" / "ytsentiment").as_posix() for m in graph.closure(module, modules)}


def test_closure_follows_every_import_form(tmp_path):
    root = _package(tmp_path, FAKE)
    assert _closure(root, "ytsentiment.sub.d") == {"__init__.py", "sub/__init__.py", "sub/d.py"}
    assert _closure(root, "ytsentiment.a") == {
        "__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/c.py", "sub/d.py", "e.py", "h.py"}
    assert _closure(root, "ytsentiment.stages.run") == {
        "__init__.py", "stages/__init__.py", "stages/run.py", "sub/__init__.py", "sub/d.py", "e.py", "h.py", "a.py",
        "b.py", "sub/c.py"}


def _dvc_yaml(root: Path, deps: dict[str, list[str]]) -> Path:
    text = "# comment kept\nstages:\n"
    for name, listed in deps.items():
        text += f"  {name}:\n    cmd: python -m ytsentiment.{name.replace('_', '.')} --x 1\n    deps:\n"
        text += "".join(f"      - {p}\n" for p in listed)
        text += "    outs:\n      - out/" + name + "\n"
    path = root / "dvc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_differences_name_missing_and_stale_deps_and_write_fixes_them(tmp_path):
    root = _package(tmp_path, FAKE)
    dvc_yaml = _dvc_yaml(root, {
        "sub_d": ["data/in.csv", "src/ytsentiment/sub/d.py", "src/ytsentiment/unused.py"],
        "stages_run": ["src/ytsentiment/stages/run.py"],
    })
    diff = graph.differences(root)
    assert diff["sub_d"]["missing"] == ["src/ytsentiment/__init__.py", "src/ytsentiment/sub/__init__.py"]
    assert diff["sub_d"]["extra"] == ["src/ytsentiment/unused.py"]
    assert len(diff["stages_run"]["missing"]) == 9 and diff["stages_run"]["extra"] == []
    assert "stage sub_d: missing src/ytsentiment/__init__.py" in graph.describe(diff)

    dvc_yaml.write_text(graph.rewrite(dvc_yaml, graph.code_deps(root)), encoding="utf-8")
    assert graph.differences(root) == {}
    text = dvc_yaml.read_text(encoding="utf-8")
    assert text.startswith("# comment kept\n")
    stages = yaml.safe_load(text)["stages"]
    assert stages["sub_d"]["deps"] == ["data/in.csv", "src/ytsentiment/__init__.py",
                                       "src/ytsentiment/sub/__init__.py", "src/ytsentiment/sub/d.py"]
    assert stages["sub_d"]["outs"] == ["out/sub_d"]


def test_every_stage_lists_exactly_the_code_it_imports():
    diff = graph.differences(REPO)
    assert not diff, (
        "dvc.yaml's src deps differ from what each stage imports:\n" + graph.describe(diff)
        + "\nFix: python -m ytsentiment.stages.graph --write, or paste these deps into dvc.yaml:\n"
        + graph.deps_yaml(REPO)
    )


def test_every_stage_runs_a_package_module_whose_files_exist():
    stages = graph.read_stages(REPO / "dvc.yaml")
    derived = graph.code_deps(REPO)
    assert set(derived) == set(stages)  # no stage escapes the check by running something else
    for name, files in derived.items():
        assert f"src/ytsentiment/stages/{name}.py" in files and "src/ytsentiment/__init__.py" in files
        assert all((REPO / f).is_file() for f in files)


def test_pipeline_outputs_are_what_a_run_rewrites():
    outputs = set(graph.pipeline_outputs(REPO / "dvc.yaml"))
    assert {"dvc.lock", "reports/metrics.json", "reports/train.json", "reports/plots", "models/classifier.joblib",
            "data/raw/combined.csv"} <= outputs
    assert not any(p.startswith("src/") or p == "params.yaml" for p in outputs)
