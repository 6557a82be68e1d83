"""Stage evaluate: compose the one Pipeline, score it and two baselines per test source, log one MLflow run.

The fitted feature union and classifier are joined into the served artifact (raw text in, -1/0/1 out) and scored on
the raw test text, exactly as serving will see it. TextBlob-sign and VADER baselines are scored on the same rows.

Outputs: ``reports/metrics.json`` (DVC metrics), confusion-matrix PNGs per scope (DVC plots), and
``reports/run.json`` (run id, model URI) for the registry. The MLflow run carries every param flattened
(``train.learning_rate``), every metric, the plots, the git commit and data hashes as tags, and the model with its
signature, input example and pinned pip requirements.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import joblib
import pandas as pd

from ytsentiment import LABELS
from ytsentiment.artifact import log_model
from ytsentiment.config import flatten, load_params, tracking_uri
from ytsentiment.evaluate import OVERALL, confusion, scopes, score_by_scope, textblob_baseline, vader_baseline
from ytsentiment.io import read_json, write_json
from ytsentiment.logs import run_main
from ytsentiment.model import compose
from ytsentiment.tracking import git_commit, md5_of, use_experiment

log = logging.getLogger(__name__)


def evaluate(pipeline, test: pd.DataFrame, vader_threshold: float) -> tuple[dict, dict]:
    """Return (metrics, predictions by system) on the test frame."""
    texts = test["text"].tolist()
    started = time.perf_counter()
    predictions = {"model": pipeline.predict(test[["text"]])}
    predict_seconds = time.perf_counter() - started
    predictions["textblob"] = textblob_baseline(texts)
    predictions["vader"] = vader_baseline(texts, vader_threshold)
    metrics = {name: score_by_scope(test, pred) for name, pred in predictions.items()}
    metrics["model"][OVERALL]["predict_rows_per_s"] = round(len(test) / predict_seconds, 1)
    return metrics, predictions


def plot_confusions(test: pd.DataFrame, predictions: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for scope, mask in scopes(test).items():
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        for ax, name in zip(axes, ("model", "textblob", "vader"), strict=True):
            ConfusionMatrixDisplay(confusion(test, predictions[name], mask), display_labels=list(LABELS.values())
                                   ).plot(ax=ax, colorbar=False, values_format="d")
            ax.set_title(name)
        fig.suptitle(f"Confusion matrices, test scope '{scope}' ({int(mask.sum())} rows)")
        fig.tight_layout()
        path = out_dir / f"confusion_{scope.replace('.', '_')}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def log_run(pipeline, params, metrics: dict, facts: dict, provenance: list, plots: list[Path], inputs: dict) -> dict:
    """One MLflow run per evaluation; returns what reports/run.json records."""
    import mlflow

    experiment_id = use_experiment(params.evaluate.experiment)
    run_name = os.environ.get("DVC_EXP_NAME") or f"evaluate-{time.strftime('%Y%m%d-%H%M%S')}"
    with mlflow.start_run(run_name=run_name) as run:
        flat = {k: v for k, v in flatten(params.raw).items() if not k.startswith("ingest.sources.")}
        flat["ingest.sources"] = ",".join(s.name for s in params.ingest.sources)
        for s in params.ingest.sources:
            flat[f"ingest.{s.name}.weight"] = s.weight
            flat[f"ingest.{s.name}.max_rows"] = s.max_rows
        mlflow.log_params({k: ("null" if v is None else v) for k, v in flat.items()})
        numeric = {k: v for k, v in flatten(metrics).items() if isinstance(v, int | float)}
        mlflow.log_metrics({k.replace("source.", "src_"): v for k, v in numeric.items()})
        mlflow.log_metrics({f"train.{k}": v for k, v in facts.items()})
        mlflow.set_tags({
            "git_commit": git_commit(),
            "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
            **{f"data.{s['name']}.sha256": s["sha256"] for s in provenance},
            **{f"data.{name}.md5": md5_of(path) for name, path in inputs.items()},
        })
        for path in plots:
            mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_dict({"metrics": metrics, "train": facts, "sources": provenance}, "reports/evaluation.json")
        info = log_model(pipeline, metadata={"human_macro_f1": metrics["model"].get("human", {}).get("macro_f1")})
        return {"run_id": run.info.run_id, "experiment_id": experiment_id, "model_uri": info.model_uri,
                "run_model_uri": f"runs:/{run.info.run_id}/model", "tracking_uri": tracking_uri()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--features", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--provenance", required=True)
    ap.add_argument("--train-facts", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--plots", required=True)
    ap.add_argument("--run", required=True)
    args = ap.parse_args(argv)
    params = load_params(args.params)
    pipeline = compose(joblib.load(args.features), joblib.load(args.classifier))
    test = pd.read_parquet(args.test)
    metrics, predictions = evaluate(pipeline, test, params.evaluate.vader_threshold)
    write_json(args.metrics, metrics)
    plots = plot_confusions(test, predictions, Path(args.plots))
    inputs = {"test": args.test, "features": args.features, "classifier": args.classifier}
    run = log_run(pipeline, params, metrics, read_json(args.train_facts), read_json(args.provenance), plots, inputs)
    write_json(args.run, run)
    for scope in (OVERALL, "reddit", "human"):
        if scope in metrics["model"]:
            log.info("%-8s macro-F1 model %.3f | textblob %.3f | vader %.3f", scope,
                     *(metrics[s][scope]["macro_f1"] for s in ("model", "textblob", "vader")))
    log.info("MLflow run %s (%s)", run["run_id"], run["tracking_uri"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
