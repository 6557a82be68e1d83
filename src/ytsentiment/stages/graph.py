"""What the DVC pipeline is made of, read from dvc.yaml and the package's own source. Not a stage.

* ``code_deps``: the package files a stage runs. Its module (``python -m ytsentiment.stages.<x>`` in dvc.yaml) and
  every ``ytsentiment`` module it imports, transitively, found statically with ``ast``: ``import ytsentiment.x``,
  ``from ytsentiment.x import y`` (``y`` a module or a name), relative imports and imports inside functions, each with
  the ``__init__.py`` of every package on the way (importing ``ytsentiment.x`` runs ``ytsentiment/__init__.py``).
  Each stage's ``deps`` in dvc.yaml must list exactly these files, so that a change to any code a stage runs re-runs
  it (``tests/pipeline/test_deps.py`` holds dvc.yaml to that).
* ``pipeline_outputs``: every path dvc.yaml says the pipeline writes, plus dvc.lock: a run rewriting its own outputs
  is not an uncommitted code change when the evaluate stage records the git commit.

``python -m ytsentiment.stages.graph`` prints each stage's deps as dvc.yaml lines; ``--check`` exits 2 when dvc.yaml
differs from the import graph; ``--write`` puts the derived src deps into dvc.yaml (other deps and comments kept).
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.logs import run_main

log = logging.getLogger(__name__)

PACKAGE = "ytsentiment"
SRC = "src"
_STAGE_MODULE = re.compile(rf"(?:^|\s)-m\s+({PACKAGE}(?:\.\w+)*)")


def package_modules(src: Path) -> dict[str, Path]:
    """``{"ytsentiment.stages.clean": src/ytsentiment/stages/clean.py, "ytsentiment": .../__init__.py, ...}``."""
    modules = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Dotted names a module's source may import: for ``from a.b import c`` both ``a.b`` and ``a.b.c`` (``c`` may be
    a submodule or a name; callers keep the names that are modules). Relative imports are resolved against
    ``module``; imports anywhere in the file count, and so does ``importlib.import_module("<literal>")``."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return names


def _with_packages(name: str, modules: Mapping[str, Path]) -> set[str]:
    """The module ``name`` (if it is one) and every package above it: what ``import name`` executes."""
    parts = name.split(".")
    return {prefix for i in range(1, len(parts) + 1) if (prefix := ".".join(parts[:i])) in modules}


def closure(module: str, modules: Mapping[str, Path]) -> set[str]:
    """Every package module that running ``module`` (``python -m``) imports, itself and its packages included."""
    if module not in modules:
        raise YtSentimentError(f"module {module} not found under {SRC}/{PACKAGE}: fix the stage's cmd in dvc.yaml")
    seen: set[str] = set()
    todo = _with_packages(module, modules)
    while todo:
        current = todo.pop()
        seen.add(current)
        path = modules[current]
        for name in imported_names(path.read_text(encoding="utf-8"), current, path.name == "__init__.py"):
            if name == PACKAGE or name.startswith(f"{PACKAGE}."):
                todo |= _with_packages(name, modules) - seen
    return seen


def read_stages(dvc_yaml: Path) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages", {})


def stage_module(stage: Mapping[str, Any]) -> str | None:
    """The package module a stage's ``cmd`` runs (``python -m ytsentiment.stages.x``), None for other commands."""
    cmd = stage.get("cmd", "")
    match = _STAGE_MODULE.search(" ".join(cmd) if isinstance(cmd, list) else str(cmd))
    return match.group(1) if match else None


def _paths(entries: Iterable[Any]) -> list[str]:
    """dvc.yaml lists entries as ``path`` or ``{path: {options}}``."""
    return [next(iter(e)) if isinstance(e, Mapping) else str(e) for e in entries or ()]


def code_deps(root: Path, dvc_yaml: Path | None = None) -> dict[str, list[str]]:
    """Stage name -> sorted repo-relative files its module imports (for stages that run a package module)."""
    dvc_yaml = dvc_yaml or root / "dvc.yaml"
    modules = package_modules(root / SRC)
    out = {}
    for name, stage in read_stages(dvc_yaml).items():
        module = stage_module(stage)
        if module is not None:
            out[name] = sorted(modules[m].relative_to(root).as_posix() for m in closure(module, modules))
    return out


def listed_code_deps(dvc_yaml: Path) -> dict[str, list[str]]:
    """Stage name -> the deps under ``src/`` that dvc.yaml lists."""
    return {name: [p for p in _paths(stage.get("deps")) if p.startswith(f"{SRC}/")]
            for name, stage in read_stages(dvc_yaml).items()}


def differences(root: Path, dvc_yaml: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """Per stage whose src deps differ: ``{"missing": [...], "extra": [...], "expected": [...]}``."""
    dvc_yaml = dvc_yaml or root / "dvc.yaml"
    derived, listed = code_deps(root, dvc_yaml), listed_code_deps(dvc_yaml)
    out = {}
    for name, expected in derived.items():
        missing = sorted(set(expected) - set(listed.get(name, [])))
        extra = sorted(set(listed.get(name, [])) - set(expected))
        if missing or extra:
            out[name] = {"missing": missing, "extra": extra, "expected": expected}
    return out


def describe(diff: Mapping[str, Mapping[str, list[str]]]) -> str:
    """A ``differences`` result as lines a person can act on."""
    lines = []
    for name, d in diff.items():
        parts = ([f"missing {', '.join(d['missing'])}"] if d["missing"] else []) + (
            [f"no longer imported {', '.join(d['extra'])}"] if d["extra"] else [])
        lines.append(f"  stage {name}: {'; '.join(parts)}")
    return "\n".join(lines)


def deps_yaml(root: Path, dvc_yaml: Path | None = None) -> str:
    """Each stage's full ``deps:`` block as it should read in dvc.yaml: non-code deps as listed, then code deps."""
    dvc_yaml = dvc_yaml or root / "dvc.yaml"
    derived, stages = code_deps(root, dvc_yaml), read_stages(dvc_yaml)
    lines = []
    for name, expected in derived.items():
        keep = [p for p in _paths(stages[name].get("deps")) if not p.startswith(f"{SRC}/")]
        lines += [f"  {name}:", "    deps:", *(f"      - {p}" for p in keep + expected)]
    return "\n".join(lines) + "\n"


def rewrite(dvc_yaml: Path, derived: Mapping[str, list[str]]) -> str:
    """dvc.yaml's text with each stage's ``src/`` deps replaced by ``derived[stage]`` (placed after its other deps).

    Works on the text, so comments and layout stay; expects the block style dvc.yaml uses (``deps:`` then one
    ``- path`` line per dep).
    """
    out: list[str] = []
    stage: str | None = None
    in_deps = False
    indent = ""

    def close_deps():
        if in_deps and stage is not None and stage in derived:
            out.extend(f"{indent}- {p}" for p in derived[stage])

    for line in dvc_yaml.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if in_deps and stripped and not (stripped.startswith("- ") and depth >= len(indent)):
            close_deps()
            in_deps = False
        if match := re.fullmatch(r"  (\w[\w-]*):\s*(#.*)?", line):
            stage = match.group(1)
        elif stripped == "deps:" and stage in derived:
            in_deps, indent = True, " " * (depth + 2)
        elif in_deps and stripped.startswith("- "):
            if stripped[2:].strip().startswith(f"{SRC}/"):
                continue
            indent = " " * depth
        out.append(line)
    close_deps()
    return "\n".join(out) + "\n"


def pipeline_outputs(dvc_yaml: Path) -> list[str]:
    """dvc.lock and every ``outs``/``metrics``/``plots`` path in dvc.yaml, relative to its folder; [] without it."""
    if not dvc_yaml.is_file():
        return []
    paths = ["dvc.lock"]
    for stage in read_stages(dvc_yaml).values():
        for kind in ("outs", "metrics", "plots"):
            paths += _paths(stage.get(kind))
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="the repository root (dvc.yaml and src/ are here)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 2 when dvc.yaml's src deps differ from the imports")
    mode.add_argument("--write", action="store_true", help="put the derived src deps into dvc.yaml")
    args = ap.parse_args(argv)
    root = Path(args.root)
    if args.write:
        (root / "dvc.yaml").write_text(rewrite(root / "dvc.yaml", code_deps(root)), encoding="utf-8")
        log.info("dvc.yaml: src deps of every stage written from the import graph")
    elif args.check and (diff := differences(root)):
        raise YtSentimentError(f"dvc.yaml's src deps differ from what each stage imports:\n{describe(diff)}\n"
                               "Fix: python -m ytsentiment.stages.graph --write")
    elif not args.check:
        sys.stdout.write(deps_yaml(root))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
