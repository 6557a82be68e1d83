"""The challenger's online evidence, read from the prediction log: one computation for the monitor and the gate.

``online_evidence(engine, name, production_version, challenger_version)`` compares, on the comments production
served while the challenger shadowed it (``shadow_predictions`` joined to ``predictions`` on ``prediction_id``):

- ``n_shadowed``, ``agreement`` (share of comments both models put in the same class, 95 % Wilson interval) and
  ``flips``: comments by production's class (rows) and the challenger's (columns), by class name;
- ``live``: on the feedback rows people sent about those comments (``feedback.prediction_id``; one row per
  client), each model's macro-F1 and accuracy, macro-F1 with a 95 % percentile bootstrap interval, and the paired
  difference (challenger - production) with its interval. A model's macro-F1 averages over the classes present in
  the labels or in its own answers (as the monitor's live quality), a class it never gets right counting zero;
- ``latency_ms``: the median, per shadowed comment, of each model's time for the request's batch (production's
  ``predictions.latency_ms``, NULL for rows logged before migration 0004, the challenger's
  ``shadow_predictions.latency_ms``).

``challenger_in_log`` names the newest challenger version the log holds (when the registry cannot say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from ytsentiment.contract import CLASSES, LABELS
from ytsentiment.scoring import wilson
from ytsentiment.storage.models import Feedback, Prediction, ShadowPrediction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BOOTSTRAP_RESAMPLES = 1000


def _shadowed(model_name: str, production_version: str, challenger_version: str):
    p, s = Prediction, ShadowPrediction
    return (p.__table__.join(s.__table__, s.prediction_id == p.id),
            (p.model_name == model_name, s.model_name == model_name, p.model_version == str(production_version),
             s.model_version == str(challenger_version)))


def challenger_in_log(engine: Engine, model_name: str) -> str | None:
    """The challenger version of the newest shadow row of ``model_name`` (None: no shadow row)."""
    s = ShadowPrediction
    stmt = select(s.model_version).where(s.model_name == model_name).order_by(s.created_at.desc()).limit(1)
    with engine.connect() as conn:
        return conn.scalar(stmt)


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean F1 over the classes present in ``truth`` or ``predicted`` (sklearn's macro-F1 without ``labels``)."""
    scores = []
    for c in np.unique(np.concatenate([truth, predicted])):
        tp = np.sum((predicted == c) & (truth == c))
        denominator = np.sum(predicted == c) + np.sum(truth == c)
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def _bootstrap(truth, production, challenger, seed: int, resamples: int) -> dict[str, list[float]]:
    """Both macro-F1s and their difference on ``resamples`` seeded resamples of the feedback rows."""
    rng = np.random.default_rng(seed)
    n = len(truth)
    out: dict[str, list[float]] = {"production": [], "challenger": [], "difference": []}
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        p, c = macro_f1(truth[pick], production[pick]), macro_f1(truth[pick], challenger[pick])
        out["production"].append(p)
        out["challenger"].append(c)
        out["difference"].append(c - p)
    return out


def _interval(values: list[float]) -> dict[str, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return {"low": round(float(low), 4), "high": round(float(high), 4)}


def compare(pairs: list[tuple[int, int, float | None, float]], labelled: list[tuple[int, int, int]], *,
            seed: int = 42, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """The figures (see the module docstring) of ``pairs`` = (production class, challenger class, production ms,
    challenger ms) per shadowed comment and ``labelled`` = (label, production class, challenger class) per
    feedback row."""
    n = len(pairs)
    agree = sum(1 for p, c, _, _ in pairs if p == c)
    flips = {LABELS[a]: {LABELS[b]: 0 for b in CLASSES} for a in CLASSES}
    for p, c, _, _ in pairs:
        flips[LABELS[p]][LABELS[c]] += 1
    shares = wilson(agree, n)
    production_ms = [ms for _, _, ms, _ in pairs if ms is not None]
    challenger_ms = [ms for _, _, _, ms in pairs]
    out: dict[str, Any] = {
        "n_shadowed": n, "agreement": shares["share"], "agreement_low": shares["low"],
        "agreement_high": shares["high"], "flips": flips,
        "latency_ms": {"production_p50": round(float(np.median(production_ms)), 3) if production_ms else None,
                       "challenger_p50": round(float(np.median(challenger_ms)), 3) if challenger_ms else None},
    }
    m = len(labelled)
    live: dict[str, Any] = {"n_feedback": m}
    if m:
        truth, production, challenger = (np.asarray(col) for col in zip(*labelled, strict=True))
        boot = _bootstrap(truth, production, challenger, seed, resamples)
        for who, predicted in (("production", production), ("challenger", challenger)):
            live[who] = {"macro_f1": round(macro_f1(truth, predicted), 4),
                         "accuracy": round(float(np.mean(truth == predicted)), 4), **_interval(boot[who])}
        live["difference"] = {"macro_f1": round(live["challenger"]["macro_f1"] - live["production"]["macro_f1"], 4),
                              **_interval(boot["difference"])}
    out["live"] = live
    return out


def online_evidence(engine: Engine, model_name: str, production_version: str, challenger_version: str, *,
                    seed: int = 42, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """The challenger's figures against production from the database (``compare``), with both versions."""
    p, s, f = Prediction, ShadowPrediction, Feedback
    joined, where = _shadowed(model_name, production_version, challenger_version)
    with engine.connect() as conn:
        pairs = conn.execute(select(p.sentiment, s.sentiment, p.latency_ms, s.latency_ms).select_from(joined)
                             .where(*where).order_by(p.id)).all()
        labelled = conn.execute(select(f.label, p.sentiment, s.sentiment)
                                .select_from(joined.join(f.__table__, f.prediction_id == p.id))
                                .where(*where).order_by(f.id)).all()
        first, last = conn.execute(select(func.min(s.created_at), func.max(s.created_at)).select_from(joined)
                                   .where(*where)).one()
    figures = compare([(r[0], r[1], r[2], r[3]) for r in pairs], [(r[0], r[1], r[2]) for r in labelled], seed=seed,
                      resamples=resamples)
    return {"model_name": model_name, "production_version": str(production_version),
            "challenger_version": str(challenger_version),
            "first": None if first is None else first.isoformat(timespec="seconds"),
            "last": None if last is None else last.isoformat(timespec="seconds"), **figures}
