"""Scoring: the model and the two lexicon baselines people would otherwise use, on the same rows, per test source.

Shared by the evaluate stage and the promotion gate (which re-scores production and candidate on the same rows).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ytsentiment import LABELS

OVERALL = "overall"


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
        masks[f"source.{source}"] = (frame["source"] == source).to_numpy()
    return masks


def score_by_scope(frame: pd.DataFrame, y_pred) -> dict[str, dict[str, float]]:
    y_pred = np.asarray(y_pred)
    y_true = frame["label"].to_numpy()
    return {name: scores(y_true[mask], y_pred[mask]) for name, mask in scopes(frame).items()}


def confusion(frame: pd.DataFrame, y_pred, mask) -> np.ndarray:
    return confusion_matrix(frame["label"].to_numpy()[mask], np.asarray(y_pred)[mask], labels=list(LABELS))
