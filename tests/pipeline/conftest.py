"""A small, real copy of the pipeline's inputs in a temp dir: samples of the derived training sources written as local
CSV sources with their true sha256, and a params.yaml that is the repo's with those sources and small knobs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# name in params.yaml -> rows sampled; three human sets, one of them two-class.
SAMPLE = {"reddit": 400, "semeval2013_2016": 400, "goemotions_reddit": 300, "youtube_thelwall": 200}
SMALL_KNOBS = {
    "featurize": {"max_features": 3000, "min_df": 2, "char_features": 4096},
    "train": {"n_estimators": 60, "early_stopping_rounds": 10, "num_leaves": 15, "n_jobs": 2},
}


def small_params(data_dir: Path, training_sources: dict[str, pd.DataFrame]) -> dict:
    """The repo's params.yaml with the sampled sources (local CSVs, absolute paths, real sha256) and small knobs."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    catalogue = {s["name"]: s for s in raw["ingest"]["sources"]}
    sources = []
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, n in SAMPLE.items():
        path = data_dir / f"{name}.csv"
        training_sources[name].sample(n=n, random_state=0).to_csv(path, index=False)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        sources.append({"name": name, "group": catalogue[name]["group"], "format": "csv",
                        "files": [{"path": str(path), "sha256": sha256}], "text_column": "text",
                        "label_column": "label", "labels": {-1: -1, 0: 0, 1: 1},
                        "weight": catalogue[name].get("weight", 1.0)})
    raw["ingest"] = {"include": None, "sources": sources}
    for section, knobs in SMALL_KNOBS.items():
        raw[section].update(knobs)
    return raw


def dvc_repo_at(root: Path, params_raw: dict) -> tuple[Path, dict[str, str]]:
    """A git + DVC repository at ``root`` with the repo's dvc.yaml, a copy of src/ (dvc.yaml's code deps must exist;
    the code that runs is the installed package) and the sample params; returns (root, env for dvc commands)."""
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "feedback").mkdir()  # the feedback export's folder, an ingest dep: committed with only its .gitignore
    shutil.copy(REPO / "feedback" / ".gitignore", root / "feedback" / ".gitignore")
    write_params(root / "params.yaml", params_raw)
    # as the repo's .gitignore: what a run writes that is not the same on every run is not committed
    (root / ".gitignore").write_text("mlflow.db\nmlartifacts/\n/reports/run.json\n/reports/timings/\n",
                                     encoding="utf-8")
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, **mlflow_env(root), "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    env.pop("DVC_EXP_NAME", None)
    run_ok(["git", "init", "-q"], root, env)
    run_ok(["dvc", "init", "-q"], root, env)
    return root, env


def run_ok(cmd: list[str], cwd: Path, env: dict) -> str:
    """Run a command; fail the test with its output unless it exits 0; return stdout + stderr."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def write_params(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def mlflow_env(root: Path) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "MLFLOW_ARTIFACT_ROOT": (root / "mlartifacts").as_uri()}


@contextlib.contextmanager
def mlflow_globals_restored():
    """mlflow.set_tracking_uri (called by the evaluate stage) changes process-wide state and os.environ: put
    both back so later tests in the session see what they saw before."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    saved = tracking_utils._tracking_uri, registry_utils._registry_uri
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved


@pytest.fixture(scope="session")
def small_params_raw(training_sources, tmp_path_factory) -> dict:
    return small_params(tmp_path_factory.mktemp("small-data"), training_sources)


STAGE_PATHS = {
    "combined": "data/raw/combined.csv", "provenance": "data/raw/sources.json",
    "train": "data/interim/train.parquet", "test": "data/interim/test.parquet",
    "features": "models/features.joblib", "train_npz": "data/processed/train.npz",
    "test_npz": "data/processed/test.npz", "classifier": "models/classifier.joblib",
    "facts": "reports/train.json", "metrics": "reports/metrics.json", "plots": "reports/plots",
    "run": "reports/run.json", "train_timings": "reports/timings/train.json",
    "evaluate_timings": "reports/timings/evaluate.json",
}


def stage_argv(root: Path, params: Path) -> dict[str, list[str]]:
    """Each stage's argv, exactly as dvc.yaml passes it, with paths under ``root``."""
    p = {k: str(root / v) for k, v in STAGE_PATHS.items()}
    common = ["--params", str(params)]
    return {
        "ingest": [*common, "--out", p["combined"], "--provenance", p["provenance"]],
        "clean": [*common, "--in", p["combined"], "--train", p["train"], "--test", p["test"]],
        "featurize": [*common, "--train", p["train"], "--test", p["test"], "--features", p["features"],
                      "--train-out", p["train_npz"], "--test-out", p["test_npz"]],
        "train": [*common, "--features", p["train_npz"], "--frame", p["train"], "--model", p["classifier"],
                  "--facts", p["facts"], "--timings", p["train_timings"]],
        "evaluate": [*common, "--features", p["features"], "--classifier", p["classifier"],
                     "--test", p["test"], "--provenance", p["provenance"], "--train-facts", p["facts"],
                     "--train-timings", p["train_timings"], "--metrics", p["metrics"],
                     "--plots", p["plots"], "--run", p["run"], "--timings", p["evaluate_timings"]],
    }


@pytest.fixture(scope="session")
def pipeline_run(small_params_raw, tmp_path_factory) -> dict:
    """Every stage's real main(), in dvc.yaml order, in a temp dir with its own MLflow store; returns the
    paths, exit codes and MLflow env. Session-scoped: the run takes ~15 s and the tests only read its outputs."""
    from ytsentiment.logs import run_main
    from ytsentiment.stages import clean, evaluate, featurize, ingest, train

    root = tmp_path_factory.mktemp("pipeline")
    params = write_params(root / "params.yaml", small_params_raw)
    env = mlflow_env(root)
    codes = {}
    with pytest.MonkeyPatch.context() as mp, mlflow_globals_restored():
        for key, value in env.items():
            mp.setenv(key, value)
        mp.chdir(root)
        for name, module in (("ingest", ingest), ("clean", clean), ("featurize", featurize), ("train", train),
                             ("evaluate", evaluate)):
            codes[name] = run_main(module.main, stage_argv(root, params)[name])
            if codes[name] != 0:
                break
    return {"root": root, "params": params, "codes": codes, "env": env,
            "paths": {k: root / v for k, v in STAGE_PATHS.items()}}
