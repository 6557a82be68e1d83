"""Sentiment serving logic, free of Flask: handed a model, turns comment texts into predictions and summaries.

The model is the training Pipeline itself (normalise -> features -> classifier); this module never touches the
text, so serving cannot drift from training. One ``predict_proba`` call per request gives both the class and
the confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd

LABELS = {-1: "negative", 0: "neutral", 1: "positive"}


class Prediction(TypedDict):
    comment: str
    sentiment: int
    label: str
    confidence: float


class Summary(TypedDict):
    total: int
    counts: dict[str, int]
    average_sentiment: float


class SentimentService:
    """Predict sentiment with a model exposing ``predict_proba(DataFrame[text])`` and ``classes_`` == {-1, 0,
    1}.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes = np.asarray([int(c) for c in model.classes_])
        if sorted(self.classes.tolist()) != [-1, 0, 1]:
            raise ValueError(f"model classes must be -1, 0, 1; got {self.classes.tolist()}")

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        proba = np.asarray(self.model.predict_proba(pd.DataFrame({"text": list(texts)})), dtype=float)
        best = proba.argmax(axis=1)
        sentiments = self.classes[best].tolist()
        confidences = proba[np.arange(len(texts)), best].round(4).tolist()
        return [
            {"comment": text, "sentiment": s, "label": LABELS[s], "confidence": c}
            for text, s, c in zip(texts, sentiments, confidences, strict=True)
        ]

    @staticmethod
    def summarize(predictions: Sequence[Prediction]) -> Summary:
        """Counts per class and the mean sentiment mapped from [-1, 1] to [0, 10]."""
        counts = {"-1": 0, "0": 0, "1": 0}
        for p in predictions:
            counts[str(p["sentiment"])] += 1
        total = len(predictions)
        mean = (counts["1"] - counts["-1"]) / total if total else 0.0
        return {"total": total, "counts": counts, "average_sentiment": round((mean + 1) * 5, 2)}
