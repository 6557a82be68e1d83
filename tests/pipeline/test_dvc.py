"""The real DVC pipeline on the small sample: `dvc repro` runs every stage, a second one runs none, changing a
train param reruns exactly train and evaluate, and changing code that only evaluate imports reruns evaluate."""

from __future__ import annotations

import re

import pytest
import yaml

from ytsentiment.stages import graph

from .conftest import dvc_repo_at, run_ok, write_params

pytestmark = pytest.mark.slow
STAGES = ("ingest", "clean", "featurize", "train", "evaluate")


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


@pytest.fixture(scope="module")
def dvc_repo(small_params_raw, tmp_path_factory):
    return dvc_repo_at(tmp_path_factory.mktemp("dvc-repo"), small_params_raw)


def test_dvc_repro_then_nothing_then_only_what_changed(dvc_repo):
    root, env = dvc_repo
    first = run_ok(["dvc", "repro"], root, env)
    assert _ran(first) == set(STAGES), first
    assert (root / "dvc.lock").is_file() and (root / "reports" / "metrics.json").is_file()

    second = run_ok(["dvc", "repro"], root, env)
    assert _ran(second) == set(), second
    assert "up to date" in second or "didn't change" in second

    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    changed = raw["train"]["learning_rate"] / 2
    raw["train"]["learning_rate"] = changed
    write_params(root / "params.yaml", raw)
    third = run_ok(["dvc", "repro"], root, env)
    assert _ran(third) == {"train", "evaluate"}, third
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["learning_rate"] == changed

    # code evaluate imports and no other stage does (the scoring module, say): a change re-runs evaluate alone
    deps = graph.code_deps(root)
    only_evaluate = sorted(set(deps["evaluate"]) - {f for name, files in deps.items() if name != "evaluate"
                                                    for f in files} - {"src/ytsentiment/stages/evaluate.py"})
    assert only_evaluate, deps
    with (root / only_evaluate[0]).open("a", encoding="utf-8") as fh:
        fh.write("\n# a comment: the file's hash changes\n")
    fourth = run_ok(["dvc", "repro"], root, env)
    assert _ran(fourth) == {"evaluate"}, (only_evaluate[0], fourth)
