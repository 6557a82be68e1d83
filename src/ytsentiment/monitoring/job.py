"""``run_monitor``: one monitoring run of the production version, from the database to a decision.

1. Which version: ``--model-version``, else the registry's ``<name>@production``, else the newest version in the
   prediction log.
2. Its reference: the baseline pinned in ``monitor_baselines`` (its first ``baseline_size`` served predictions,
   pinned by the first run that finds that many). The training data are tweets and Reddit comments, so YouTube
   traffic differs from them from day one: against the training split a drift alarm would always ring. The distance
   to the training test split (``monitor.test_split``, the clean stage's parquet, scored by the same model version)
   is reported beside it, for information only.
3. The window (after the baseline's end), the feedback of that version, ``core.drift`` / ``live_quality`` /
   ``decide``; for information, the terms that moved most between baseline and window (``movers``), when their
   texts were logged.
4. When a challenger shadows production (``alias_version(name, CHALLENGER)``: the registry's ``@challenger``), its
   online evidence against that version (``storage.shadow.online_evidence``: agreement, flips, both models' live
   macro-F1 on the feedback for the shadowed comments, latencies) as ``summary["shadow"]``; it informs, it does not
   decide.
5. Outputs: ``report.html`` + ``summary.json`` in ``out_dir``, one MLflow run in ``monitor.experiment`` tagged with
   the model version (metrics ``drift_score``, ``live_macro_f1`` … so they line up over time in the UI), one
   ``monitor_runs`` row.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError, registry
from ytsentiment.config import MonitorParams
from ytsentiment.loading import predict_frame
from ytsentiment.monitoring import core, movers, report
from ytsentiment.monitoring.descriptors import describe
from ytsentiment.storage.monitor import (
    as_utc,
    get_baseline,
    latest_version,
    load_baseline_frame,
    load_feedback,
    load_window,
    pin_baseline,
    record_monitor_run,
)
from ytsentiment.storage.shadow import online_evidence
from ytsentiment.tracking import use_experiment, use_tracking

log = logging.getLogger(__name__)


def alias_version(model_name: str, alias: str = registry.PRODUCTION) -> str | None:
    """The version behind ``model_name@alias`` in the registry, or None (no alias, or no registry)."""
    try:
        version = registry.alias_version(model_name, alias)
    except Exception as exc:  # noqa: BLE001 - an unreachable registry must not stop the monitor: it says so
        log.warning("cannot ask the registry for %s@%s (%s); going on without it", model_name, alias, exc)
        return None
    return None if version is None else str(version.version)


def score_reference(texts, model=None):
    """A reference frame for raw texts: descriptors, plus the model's class and confidence when a model is given."""
    import pandas as pd

    texts = pd.Series(texts).fillna("").astype(str).reset_index(drop=True)
    frame = pd.concat([pd.DataFrame({"text": texts}), describe(texts)], axis=1)
    if model is not None:
        classes, confidence = predict_frame(model, texts.tolist())
        frame["sentiment"] = classes.astype(int)
        frame["confidence"] = confidence
    return frame


def test_split_reference(path: str | Path, params: MonitorParams, model=None):
    """``params.test_sample`` seeded rows of the training test split, described (and scored by ``model``)."""
    import pandas as pd

    test = pd.read_parquet(path, columns=["text"])
    if len(test) > params.test_sample:
        test = test.sample(n=params.test_sample, random_state=params.seed)
    return score_reference(test["text"], model)


def load_model(uri: str):
    import mlflow

    use_tracking()
    return mlflow.sklearn.load_model(uri)


def _window_bounds(window, now: datetime) -> tuple[datetime, datetime]:
    if len(window) == 0:
        return now, now
    return as_utc(window["created_at"].min()), as_utc(window["created_at"].max())


def run_monitor(engine, params: MonitorParams, model_name: str, out_dir: str | Path, *,
                model_version: str | None = None, test_reference=None, now: datetime | None = None,
                track: bool = True, challenger: str | None = None,
                model: Callable[[], Any] = lambda: None) -> dict[str, Any]:
    """One monitoring run (see the module docstring); returns the summary that ``summary.json`` holds.

    ``test_reference``: a frame from ``test_split_reference`` (or None to skip the informative view);
    ``challenger``: the version shadowing production (None: no challenger figures); ``model()``: the monitored
    version's Pipeline, or None when it cannot be loaded (called only when the term movers need it).
    """
    now = now or datetime.now(UTC)
    version = model_version or alias_version(model_name) or latest_version(engine, model_name)
    if version is None:
        raise YtSentimentError(f"monitor: no version of {model_name!r} to monitor: the registry has no "
                               f"{model_name}@production and the prediction log has no predictions of it (is "
                               "DATABASE_URL right? pass --model-version)")
    pinned = get_baseline(engine, model_name, version)
    status = "pinned earlier"
    if pinned is None:
        pinned, first = pin_baseline(engine, model_name, version, params.baseline_size, now=now)
        status = "pinned now" if pinned else f"not pinned yet ({len(first)} of {params.baseline_size} predictions)"
        baseline_frame = first
    else:
        baseline_frame = load_baseline_frame(engine, model_name, version, pinned)
    window = load_window(engine, model_name, version, params.window_by, params.window_size, params.window_hours,
                         after=pinned["window_end"], now=now) if pinned else baseline_frame.iloc[0:0]

    if pinned:
        baseline_view, baseline_snapshot = core.drift(window, baseline_frame, params, "baseline")
    else:
        baseline_view, baseline_snapshot = {
            "reference": "baseline", "n_window": 0, "n_reference": len(baseline_frame), "enough_data": False,
            "drift_detected": None, "drift_score": None,
            "note": f"not enough data: the baseline of v{version} is pinned once it has served "
                    f"{params.baseline_size} predictions ({len(baseline_frame)} so far)"}, None
    test_view, test_snapshot = (core.drift(window, test_reference, params, "test split")
                                if test_reference is not None else (None, None))
    quality = core.live_quality(load_feedback(engine, model_name, version), params)
    if pinned:
        term_view = movers.term_movers(baseline_frame, window, params, model)
    else:
        term_view = {"computed": False, "movers": [], "note": "not computed: the baseline is not pinned yet"}
    decision, reasons = core.decide(baseline_view, quality, params)
    start, end = _window_bounds(window, now)
    summary: dict[str, Any] = {
        "model_name": model_name, "model_version": str(version), "run_at": core.iso(now),
        "decision": decision, "reasons": reasons,
        "window": {"by": params.window_by, "size_or_hours": params.window_size if params.window_by == "count"
                   else params.window_hours, "start": core.iso(start), "end": core.iso(end),
                   "n_predictions": len(window)},
        "baseline": {"status": status, **({k: core.iso(v) if isinstance(v, datetime) else v
                                           for k, v in pinned.items()} if pinned else {})},
        "drift": baseline_view, "test_split": test_view, "live_quality": quality, "term_movers": term_view,
        "shadow": (online_evidence(engine, model_name, str(version), challenger, seed=params.seed)
                   if challenger and str(challenger) != str(version) else None),
        "params": dataclasses.asdict(params),
    }
    summary["metrics"] = metrics_of(summary)
    snapshots = {"window vs baseline": baseline_snapshot, "window vs training test split": test_snapshot}
    if track:
        summary["mlflow_run_id"] = _start_tracking(summary, params)
    try:
        paths = _record(engine, summary, snapshots, out_dir, start, end)
        if track:
            _finish_tracking(summary, paths)
    except BaseException:
        if track:
            import mlflow

            mlflow.end_run(status="FAILED")
        raise
    log.info("monitor %s v%s: %s (%s)", model_name, version, decision, "; ".join(reasons))
    return summary


def _record(engine, summary: dict[str, Any], snapshots: dict[str, Any], out_dir, start, end) -> dict[str, Path]:
    """The ``monitor_runs`` row, then the report and the summary (which carries the row's id)."""
    base, quality = summary["drift"], summary["live_quality"]
    summary["monitor_run_id"] = record_monitor_run(
        engine,
        run_at=as_utc(summary["run_at"]), model_name=summary["model_name"],
        model_version=summary["model_version"], window_start=as_utc(start), window_end=as_utc(end),
        n_predictions=summary["window"]["n_predictions"], n_feedback=quality["n_feedback"],
        drift_score=base.get("drift_score"), drift_detected=base.get("drift_detected"),
        class_mix_distance=base.get("class_mix_distance"),
        live_macro_f1=quality.get("macro_f1"), live_accuracy=quality.get("accuracy"),
        decision=summary["decision"], reasons=summary["reasons"], summary=summary,
    )
    return report.write_outputs(out_dir, summary, snapshots)


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """The figures logged as MLflow metrics (only those that were measured)."""
    d, t, q = summary["drift"], summary.get("test_split") or {}, summary["live_quality"]
    moved = (summary.get("term_movers") or {}).get("movers") or []
    out = {
        "n_predictions": summary["window"]["n_predictions"], "n_feedback": q["n_feedback"],
        "drift_score": d.get("drift_score"), "drift_detected": d.get("drift_detected"),
        "text_drift_auc": d.get("text_drift_auc"), "class_mix_distance": d.get("class_mix_distance"),
        "live_macro_f1": q.get("macro_f1") if q.get("enough_data") else None,
        "live_accuracy": q.get("accuracy") if q.get("enough_data") else None,
        "retrain": summary["decision"] == "retrain",
        "test_split.drift_score": t.get("drift_score"), "test_split.text_drift_auc": t.get("text_drift_auc"),
        "test_split.class_mix_distance": t.get("class_mix_distance"),
        "term_movers.max_change": max((abs(m["change"]) for m in moved), default=None),
    }
    for name, v in (d.get("signals") or {}).items():
        out[f"signal.{name}"] = v["score"]
    if shadow := summary.get("shadow"):
        live = shadow["live"]
        out.update({"shadow.n_shadowed": shadow["n_shadowed"], "shadow.agreement": shadow["agreement"],
                    "shadow.n_feedback": live["n_feedback"],
                    "shadow.production_latency_p50_ms": shadow["latency_ms"]["production_p50"],
                    "shadow.challenger_latency_p50_ms": shadow["latency_ms"]["challenger_p50"]})
        for who in ("production", "challenger"):
            out[f"shadow.{who}_live_macro_f1"] = (live.get(who) or {}).get("macro_f1")
    return {k: float(v) for k, v in out.items() if v is not None}


def _start_tracking(summary: dict[str, Any], params: MonitorParams) -> str:
    import mlflow

    use_experiment(params.experiment)
    run = mlflow.start_run(run_name=f"monitor {summary['model_name']} v{summary['model_version']}", tags={
        "model_name": summary["model_name"], "model_version": summary["model_version"],
        "decision": summary["decision"], "window_by": summary["window"]["by"],
        **({"challenger_version": summary["shadow"]["challenger_version"]} if summary.get("shadow") else {})})
    return run.info.run_id


def _finish_tracking(summary: dict[str, Any], paths: dict[str, Path]) -> None:
    import mlflow

    mlflow.log_params({f"monitor.{k}": v for k, v in summary["params"].items()})
    mlflow.log_metrics(summary["metrics"])
    for path in paths.values():
        mlflow.log_artifact(str(path))
    mlflow.end_run()
