"""Scoring: the model and the two lexicon baselines people would otherwise use, on the same rows, per test source.

Shared by the evaluate stage and the promotion gate (which re-scores production and candidate on the same rows);
``macro_f1_table`` is the one rendering of the model-vs-baselines figures (model card, CI summary, logs, bench).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ytsentiment.contract import LABELS

Z_95 = 1.959963984540054  # standard normal quantile for a two-sided 95 % interval
OVERALL = "overall"
SOURCE_PREFIX = "source."  # per-source scopes: ``source.<name>``; the others are groups (overall, reddit, human)
SYSTEMS = ("model", "textblob", "vader")


def wilson(k: int, n: int, z: float = Z_95) -> dict[str, float | None]:
    """Share ``k / n`` with its Wilson score interval (95 % by default), each to 4 decimals; None when n = 0.

    Unlike the normal approximation it stays within [0, 1] and is not zero-width at 0 or n, which matters for the
    small comment sections the extension often sees (5 of 10 positive: 0.2366..0.7634).
    """
    if n <= 0:
        return {"share": None, "low": None, "high": None}
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return {"share": round(p, 4), "low": round(max(0.0, centre - half), 4), "high": round(min(1.0, centre + half), 4)}


def textblob_baseline(texts: Iterable[str]) -> np.ndarray:
    """sign(TextBlob polarity): exactly how the course's Reddit labels were made."""
    from textblob import TextBlob

    return np.array([int(np.sign(TextBlob(t).sentiment.polarity)) for t in texts])


def vader_baseline(texts: Iterable[str], threshold: float) -> np.ndarray:
    """VADER compound >= t -> 1, <= -t -> -1, else 0 (the thresholds VADER's authors recommend, t = 0.05)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in texts])
    return np.where(compound >= threshold, 1, np.where(compound <= -threshold, -1, 0))


def scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support.

    Macro-F1 averages over the classes present in ``y_true``: a two-class source (no neutral rows) is scored on its
    two classes, while a neutral prediction there still costs recall.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = sorted(set(y_true.tolist()))
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "rows": int(len(y_true)),
    }
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(LABELS), zero_division=0)
    for i, label in enumerate(LABELS.values()):
        if s[i]:
            out.update({f"{label}.precision": float(p[i]), f"{label}.recall": float(r[i]),
                        f"{label}.f1": float(f[i]), f"{label}.support": int(s[i])})
    return out


def scopes(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean row masks: overall, each group (e.g. reddit, human) and each source (``source.<name>``)."""
    masks = {OVERALL: np.ones(len(frame), dtype=bool)}
    for group in sorted(frame["group"].unique()):
        masks[group] = (frame["group"] == group).to_numpy()
    for source in sorted(frame["source"].unique()):
        masks[f"{SOURCE_PREFIX}{source}"] = (frame["source"] == source).to_numpy()
    return masks


def score_by_scope(frame: pd.DataFrame, y_pred) -> dict[str, dict[str, float]]:
    y_pred = np.asarray(y_pred)
    y_true = frame["label"].to_numpy()
    return {name: scores(y_true[mask], y_pred[mask]) for name, mask in scopes(frame).items()}


def confusion(frame: pd.DataFrame, y_pred, mask) -> np.ndarray:
    return confusion_matrix(frame["label"].to_numpy()[mask], np.asarray(y_pred)[mask], labels=list(LABELS))


def headline_scopes(scopes: Iterable[str]) -> list[str]:
    """The group scopes (overall, reddit, human, ...) in their order, without the per-source ones."""
    return [s for s in scopes if not s.startswith(SOURCE_PREFIX)]


def macro_f1_table(metrics: Mapping[str, Mapping[str, Mapping[str, Any]]], scopes: Iterable[str] | None = None,
                   digits: int = 3) -> str:
    """Markdown table of macro-F1 per scope: the model, TextBlob and VADER on the same rows, and the row count.

    ``metrics`` is shaped like reports/metrics.json (system -> scope -> scores). ``scopes`` defaults to the group
    scopes then the sources, sorted; scopes the model was not scored on are left out, a missing system shows "–".
    """
    model = metrics["model"]
    if scopes is None:
        scopes = headline_scopes(model) + sorted(s for s in model if s.startswith(SOURCE_PREFIX))
    lines = ["| scope | model | TextBlob sign | VADER (±0.05) | rows |", "|---|---|---|---|---|"]
    for scope in (s for s in scopes if s in model):
        cells = [f"{metrics[system][scope]['macro_f1']:.{digits}f}" if scope in metrics.get(system, {}) else "–"
                 for system in SYSTEMS]
        lines.append(f"| {scope} | {' | '.join(cells)} | {model[scope].get('rows', '')} |")
    return "\n".join(lines)
