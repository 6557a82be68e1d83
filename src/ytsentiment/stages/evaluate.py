"""Stage evaluate: compose the one Pipeline, score it and two baselines per test source, log one MLflow run.

The fitted feature union and classifier are joined into the served artifact (raw text in, -1/0/1 out) and scored on
the raw test text, exactly as serving will see it. TextBlob-sign and VADER baselines are scored on the same rows.

Outputs: ``reports/metrics.json`` (DVC metrics) and confusion-matrix PNGs per scope (DVC plots), the same bytes for
the same inputs; ``reports/run.json`` (run id, model URI) for the registry and ``--timings`` (prediction throughput)
change on every run, so DVC does not track them. The MLflow run carries every param flattened
(``train.learning_rate``), every metric and timing, the plots, the git commit and data hashes as tags, and the model
with its signature, input example and pinned pip requirements. The commit is ``-dirty`` only when tracked files other
than the pipeline's own outputs (dvc.lock, metrics ...) differ from it.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from ytsentiment.artifact import log_model
from ytsentiment.behaviour import run_all
from ytsentiment.config import flatten, load_params, tracking_uri
from ytsentiment.contract import LABELS
from ytsentiment.io import file_digest, read_json, write_json
from ytsentiment.logs import run_main
from ytsentiment.model import compose
from ytsentiment.scoring import (
    CALIBRATION_BINS,
    OVERALL,
    confusion,
    ece_by_scope,
    expected_calibration_error,
    macro_f1_table,
    reliability,
    scopes,
    score_by_scope,
    textblob_baseline,
    vader_baseline,
)
from ytsentiment.stages.graph import pipeline_outputs
from ytsentiment.tracking import git_commit, use_experiment

log = logging.getLogger(__name__)
# The params sections that shape the model (this stage's `params:` in dvc.yaml): the run logs these, not gate,
# monitor or tune, which are read by other commands and would only be stale copies here.
TRAINING_SECTIONS = ("base", "ingest", "clean", "featurize", "train", "evaluate")


CALIBRATION_SCOPES = (OVERALL, "human", "reddit")  # the scopes with a reliability diagram


def evaluate(pipeline, test: pd.DataFrame, vader_threshold: float) -> tuple[dict, dict, dict, np.ndarray]:
    """Return (metrics, predictions by system, timings, the model's probabilities) on the test frame; only the
    timings depend on the machine.

    Beside macro-F1, each model scope carries its expected calibration error (``ece``), and ``behaviour`` holds
    each behavioural suite's pass rate (``behaviour.run_all``).
    """
    texts = test["text"].tolist()
    started = time.perf_counter()
    proba = np.asarray(pipeline.predict_proba(test[["text"]]))
    predict_seconds = time.perf_counter() - started
    predictions = {"model": pipeline.classes_[proba.argmax(axis=1)]}
    predictions["textblob"] = textblob_baseline(texts)
    predictions["vader"] = vader_baseline(texts, vader_threshold)
    metrics: dict = {name: score_by_scope(test, pred) for name, pred in predictions.items()}
    for scope, ece in ece_by_scope(test, proba, pipeline.classes_).items():
        metrics["model"][scope]["ece"] = ece
    metrics["behaviour"] = {suite.name: suite.pass_rate for suite in run_all(pipeline)}
    timings = {"predict_rows_per_s": round(len(test) / predict_seconds, 1)}
    return metrics, predictions, timings, proba


def plot_reliability(test: pd.DataFrame, proba: np.ndarray, classes, out_dir: Path) -> list[Path]:
    """One reliability diagram per scope of ``CALIBRATION_SCOPES`` present: accuracy against mean confidence per
    confidence bin, the diagonal being perfect calibration, with the bins' row counts beneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    masks, y_true, paths = scopes(test), test["label"].to_numpy(), []
    for scope in (s for s in CALIBRATION_SCOPES if s in masks):
        mask = masks[scope]
        r = reliability(y_true[mask], proba[mask], classes)
        ece = expected_calibration_error(y_true[mask], proba[mask], classes)
        edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        shown = [i for i, n in enumerate(r["rows"]) if n]
        top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        top.bar(centres[shown], [r["accuracy"][i] for i in shown], width=1 / CALIBRATION_BINS, alpha=0.6,
                edgecolor="black", label="share right")
        top.plot([r["confidence"][i] for i in shown], [r["accuracy"][i] for i in shown], marker="o",
                 color="C1", label="(mean confidence, share right)")
        top.set_ylabel("share predicted right")
        top.set_ylim(0, 1)
        top.legend(loc="upper left", fontsize=8)
        top.set_title(f"Reliability, test scope '{scope}' ({int(mask.sum())} rows), ECE {ece:.3f}")
        bottom.bar(centres, r["rows"], width=1 / CALIBRATION_BINS, edgecolor="black")
        bottom.set_xlabel("confidence (probability of the predicted class)")
        bottom.set_ylabel("rows")
        fig.tight_layout()
        path = out_dir / f"reliability_{scope}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


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


def log_run(pipeline, params, metrics: dict, facts: dict, provenance: list, plots: list[Path], inputs: dict,
            timings: dict | None = None) -> dict:
    """One MLflow run per evaluation; returns what reports/run.json records.

    ``timings`` (flat MLflow metric names) are logged as metrics too; they are kept out of the DVC metrics files.
    """
    import mlflow

    experiment_id = use_experiment(params.evaluate.experiment)
    run_name = os.environ.get("DVC_EXP_NAME") or f"evaluate-{time.strftime('%Y%m%d-%H%M%S')}"
    with mlflow.start_run(run_name=run_name) as run:
        trained_by = {section: params.raw[section] for section in TRAINING_SECTIONS if section in params.raw}
        flat = {k: v for k, v in flatten(trained_by).items() if not k.startswith("ingest.sources.")}
        flat["ingest.sources"] = ",".join(s.name for s in params.ingest.sources)
        for s in params.ingest.sources:
            flat[f"ingest.{s.name}.weight"] = s.weight
            flat[f"ingest.{s.name}.max_rows"] = s.max_rows
        mlflow.log_params({k: ("null" if v is None else v) for k, v in flat.items()})
        numeric = {k: v for k, v in flatten(metrics).items() if isinstance(v, int | float)}
        mlflow.log_metrics({k.replace("source.", "src_"): v for k, v in numeric.items()})
        mlflow.log_metrics({f"train.{k}": v for k, v in facts.items()})
        mlflow.log_metrics(dict(timings or {}))
        mlflow.set_tags({
            "git_commit": git_commit(ignore=pipeline_outputs(Path("dvc.yaml"))),
            "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
            **{f"data.{s['name']}.sha256": s["sha256"] for s in provenance if "sha256" in s},  # not skipped
            **{f"data.{name}.md5": file_digest(path, "md5") for name, path in inputs.items()},
        })
        for path in plots:
            mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_dict({"metrics": metrics, "train": facts, "timings": timings or {}, "sources": provenance},
                        "reports/evaluation.json")
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
    ap.add_argument("--train-timings", help="the train stage's timings, logged to MLflow when the file exists")
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--plots", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--timings", help="prediction throughput (JSON, not tracked by DVC)")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    pipeline = compose(joblib.load(args.features), joblib.load(args.classifier))
    test = pd.read_parquet(args.test)
    metrics, predictions, timings, proba = evaluate(pipeline, test, params.evaluate.vader_threshold)
    write_json(args.metrics, metrics)
    if args.timings:
        write_json(args.timings, timings)
    plots = plot_confusions(test, predictions, Path(args.plots))
    plots += plot_reliability(test, proba, pipeline.classes_, Path(args.plots))
    inputs = {"test": args.test, "features": args.features, "classifier": args.classifier}
    # a train stage restored from DVC's cache wrote no timings: then there is no fit time to log
    train_timings = read_json(args.train_timings) if args.train_timings and Path(args.train_timings).is_file() else {}
    logged_timings = {**{f"train.{k}": v for k, v in train_timings.items()},
                      **{f"model.{OVERALL}.{k}": v for k, v in timings.items()}}
    run = log_run(pipeline, params, metrics, read_json(args.train_facts), read_json(args.provenance), plots, inputs,
                  logged_timings)
    write_json(args.run, run)
    log.info("macro-F1 on the test rows:\n%s", macro_f1_table(metrics, (OVERALL, "reddit", "human")))
    log.info("ECE: %s; behaviour: %s", {s: round(metrics["model"][s]["ece"], 4) for s in CALIBRATION_SCOPES
                                        if s in metrics["model"]}, metrics["behaviour"])
    log.info("MLflow run %s (%s)", run["run_id"], run["tracking_uri"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
