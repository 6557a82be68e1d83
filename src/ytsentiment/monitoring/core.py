"""Pure functions of the monitor: measure drift against a reference, score live quality, decide.

Inputs are DataFrames shaped like the database tables (``ytsentiment.storage``): a *predictions* frame (columns
``created_at``, ``text``, ``sentiment`` (-1/0/1), ``confidence`` and the ``descriptors.DESCRIPTORS``) for both the
window and the reference, and a *labelled feedback* frame (``label`` a person gave, ``sentiment`` the model had
predicted). Outputs are plain dicts (JSON-ready) plus, for drift, the Evidently snapshot the HTML report renders.

Drift signals, each compared by Evidently (``ValueDrift``) with a fixed method so that its score has one meaning:

- ``text`` (when logged, PREDICTION_LOG_TEXT): the domain-classifier method (``abs_text_content_drift``): a
  TF-IDF + linear model is trained to tell the reference comments from the window's; its ROC AUC is the score
  (0.5 = indistinguishable). Drift above ``text_drift_threshold``. Without logged text the other signals decide.
- ``sentiment`` (predicted class mix): Jensen-Shannon distance; ``confidence`` and each descriptor: Wasserstein
  distance normed by the reference's standard deviation. Drift above ``stat_threshold``.

``drift_score`` is the share of drifted signals (0..1); the window drifted when text drifted or the share reaches
``drift_share``. Too few rows in the window or the reference gives ``enough_data: false`` and no drift verdict at all.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.config import MonitorParams
from ytsentiment.contract import CLASS_OF, CLASSES, LABELS
from ytsentiment.monitoring.descriptors import DESCRIPTORS

log = logging.getLogger(__name__)

TEXT_METHOD = "abs_text_content_drift"
CLASS_METHOD = "jensenshannon"
NUMERIC_METHOD = "wasserstein"
NUMERIC_SIGNALS = ("confidence", *DESCRIPTORS)
DECISIONS = ("ok", "retrain", "not_enough_data")


def _utc(ts) -> datetime | None:
    import pandas as pd

    if ts is None or (not isinstance(ts, str | datetime) and pd.isna(ts)):
        return None
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def iso(ts) -> str | None:
    value = _utc(ts)
    return None if value is None else value.isoformat(timespec="seconds")


def class_mix(sentiment) -> dict[str, float]:
    """Share of each predicted class, by name, in class order (0.0 for an absent class)."""
    import pandas as pd

    values = pd.Series(sentiment).dropna().astype(int)
    n = len(values)
    return {LABELS[c]: (float((values == c).sum()) / n if n else 0.0) for c in CLASSES}


def _has(frame, column: str) -> bool:
    return column in frame.columns and frame[column].notna().any()


def _prepared(frame, signals: list[str]):
    import pandas as pd

    out = pd.DataFrame(index=range(len(frame)))
    for name in signals:
        col = frame[name].reset_index(drop=True)
        if name == "text":
            out[name] = col.fillna("").astype(str)
        elif name == "sentiment":
            out[name] = col.map(lambda v: LABELS.get(int(v)) if pd.notna(v) else None)
        else:
            out[name] = pd.to_numeric(col, errors="coerce").astype(float)
    return out


def _sample(frame, n: int, seed: int):
    return frame if len(frame) <= n else frame.sample(n=n, random_state=seed).reset_index(drop=True)


def drift(window, reference, params: MonitorParams, reference_name: str = "baseline") -> tuple[dict[str, Any], Any]:
    """Compare the window with a reference: figures (a JSON-ready dict) and the Evidently snapshot (None when
    there is not enough data). Signals missing from either frame (e.g. no predictions on a test split) are skipped.
    """
    n_window, n_reference = len(window), len(reference)
    figures: dict[str, Any] = {"reference": reference_name, "n_window": n_window, "n_reference": n_reference}
    if n_window < params.min_predictions or n_reference < params.min_predictions:
        figures.update(enough_data=False, drift_detected=None, drift_score=None,
                       note=f"not enough data: {n_window} predictions in the window and {n_reference} in the "
                            f"{reference_name} (need at least {params.min_predictions} in each)")
        return figures, None

    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    candidates = ["text", "sentiment", *NUMERIC_SIGNALS]
    signals = [s for s in candidates if _has(window, s) and _has(reference, s)]
    if "text" not in signals:  # PREDICTION_LOG_TEXT off: hashes only, so the descriptors speak for the text
        log.warning("no comment text logged in the window or the %s: text drift is not measured "
                    "(PREDICTION_LOG_TEXT=true keeps it); comparing the other signals", reference_name)
    if not signals:
        raise YtSentimentError(f"monitor: the window and the {reference_name} share no column to compare "
                               f"(expected some of {candidates})")
    cur = _sample(_prepared(window, signals), params.max_drift_rows, params.seed)
    ref = _sample(_prepared(reference, signals), params.max_drift_rows, params.seed)
    definition = DataDefinition(
        text_columns=[s for s in signals if s == "text"],
        categorical_columns=[s for s in signals if s == "sentiment"],
        numerical_columns=[s for s in signals if s in NUMERIC_SIGNALS],
    )
    methods = {s: (TEXT_METHOD, params.text_drift_threshold) if s == "text"
               else (CLASS_METHOD, params.stat_threshold) if s == "sentiment"
               else (NUMERIC_METHOD, params.stat_threshold) for s in signals}
    report = Report([ValueDrift(column=s, method=m, threshold=t) for s, (m, t) in methods.items()])
    snapshot = report.run(Dataset.from_pandas(cur, data_definition=definition),
                          Dataset.from_pandas(ref, data_definition=definition))
    scores = [float(m["value"]) for m in snapshot.dict()["metrics"]]
    per_signal = {}
    for (name, (method, threshold)), score in zip(methods.items(), scores, strict=True):
        per_signal[name] = {"method": method, "score": round(score, 6), "threshold": threshold,
                            "drift": bool(score > threshold)}
    drifted = [name for name, v in per_signal.items() if v["drift"]]
    share = len(drifted) / len(per_signal)
    figures.update(
        enough_data=True,
        signals=per_signal,
        drifted=drifted,
        drift_score=round(share, 6),
        drift_detected=bool(per_signal.get("text", {}).get("drift") or share >= params.drift_share),
        text_drift_auc=per_signal["text"]["score"] if "text" in per_signal else None,
        class_mix_distance=per_signal["sentiment"]["score"] if "sentiment" in per_signal else None,
        class_mix={"window": class_mix(window["sentiment"]), reference_name: class_mix(reference["sentiment"])}
        if "sentiment" in per_signal else None,
        rows_compared={"window": len(cur), reference_name: len(ref)},
    )
    return figures, snapshot


def _as_class(value) -> int | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str) and value.strip().lower() in CLASS_OF:
        return CLASS_OF[value.strip().lower()]
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number in CLASSES else None


def live_quality(labelled, params: MonitorParams) -> dict[str, Any]:
    """Macro-F1 and accuracy of the model on the feedback it received.

    ``labelled`` has one row per feedback: ``label`` (what a person said: -1/0/1 or a class name) and ``sentiment``
    (what the model had predicted for that comment). Rows whose label or prediction is unknown are left out and
    counted. Macro-F1 averages over the classes present in the labels or the predictions (sklearn, zero_division 0).
    """
    from sklearn.metrics import accuracy_score, f1_score

    truth = [_as_class(v) for v in labelled.get("label", [])]
    pred = [_as_class(v) for v in labelled.get("sentiment", [])]
    pairs = [(t, p) for t, p in zip(truth, pred, strict=True) if t is not None and p is not None]
    n = len(pairs)
    out: dict[str, Any] = {"n_feedback": n, "n_unusable": len(truth) - n, "min_feedback": params.min_feedback}
    if n == 0:
        return {**out, "enough_data": False, "macro_f1": None, "accuracy": None}
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    labels = sorted(set(y_true) | set(y_pred))
    out.update(
        macro_f1=round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 6),
        accuracy=round(float(accuracy_score(y_true, y_pred)), 6),
        label_mix={LABELS[c]: y_true.count(c) for c in CLASSES},
        enough_data=n >= params.min_feedback,
    )
    return out


def _signal_text(figures: dict[str, Any]) -> str:
    parts = [f"{name} {v['score']:.3f} > {v['threshold']}" for name, v in figures["signals"].items() if v["drift"]]
    return ", ".join(parts) or "none"


def decide(baseline_view: dict[str, Any], quality: dict[str, Any], params: MonitorParams) -> tuple[str, list[str]]:
    """The retrain decision and its reasons (rules in the README, thresholds in params.yaml ``monitor:``).

    retrain when live macro-F1 on at least ``min_feedback`` rows is below ``live_f1_floor``, or when the window
    drifted from the version's baseline (``retrain_on_drift``); not_enough_data when neither drift nor quality could
    be judged; ok otherwise. Too little data never raises a drift alarm.
    """
    retrain: list[str] = []
    info: list[str] = []
    judged = False
    if baseline_view.get("enough_data"):
        judged = True
        if baseline_view["drift_detected"]:
            msg = (f"drift vs the {baseline_view['reference']}: drift score {baseline_view['drift_score']:.2f} "
                   f"(drifted: {_signal_text(baseline_view)})")
            (retrain if params.retrain_on_drift else info).append(
                msg if params.retrain_on_drift else msg + " - retrain_on_drift is off")
        else:
            auc = baseline_view.get("text_drift_auc")
            text = "text not logged" if auc is None else f"text AUC {auc:.3f} <= {params.text_drift_threshold}"
            info.append(f"no drift vs the {baseline_view['reference']} (drift score "
                        f"{baseline_view['drift_score']:.2f}, {text})")
    else:
        info.append(baseline_view.get("note") or "not enough data for drift")
    if quality.get("enough_data"):
        judged = True
        if quality["macro_f1"] < params.live_f1_floor:
            retrain.append(f"live macro-F1 {quality['macro_f1']:.3f} on {quality['n_feedback']} feedback rows is "
                           f"below the floor {params.live_f1_floor} (accuracy {quality['accuracy']:.3f})")
        else:
            info.append(f"live macro-F1 {quality['macro_f1']:.3f} on {quality['n_feedback']} feedback rows >= "
                        f"{params.live_f1_floor}")
    else:
        info.append(f"not enough feedback: {quality.get('n_feedback', 0)} labelled rows "
                    f"(need at least {params.min_feedback}) - live quality not judged")
    if retrain:
        return "retrain", retrain + info
    return ("ok" if judged else "not_enough_data"), info
