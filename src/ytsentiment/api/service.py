"""Sentiment serving logic, free of Flask: handed a model, turns comment texts into predictions and summaries.

The model is the training Pipeline itself (normalise -> features -> classifier); this module never touches the
text, so serving cannot drift from training. One ``predict_proba`` call per request gives both the class and
the confidence. Each prediction also gets its id (``prediction_id``, a UUID made now: what ``POST /feedback``
names) and its language (``ytsentiment.language``: the model reads English; a comment in another language is
still classified but is left out of the summary's figures).

``summarize`` computes every figure the extension's popup shows (it renders them as sent): the totals, and over
the *scored* comments (English or undetermined) the counts, means, class shares with 95 % Wilson intervals and
the monthly counts.

``explain`` gives each prediction its ``why`` (asked with ``"explain": true``): the ``EXPLAIN_TERMS`` terms that
pushed the comment most toward its label (``ytsentiment.explain``), for the comments the model reads only; a comment
in another language gets ``None``, and so does every comment when the served model cannot explain (a Pipeline from
before explanations, e.g. after a rollback: logged once, the predictions are still answered).

Predictions and summaries are plain dicts (jsonify answers them, the prediction log reads them); their shapes are
the response models of ``ytsentiment.api.blueprints.prediction``, which /openapi.json documents and tests/api checks
real answers against.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from ytsentiment.contract import CLASSES, LABELS, TEXT_COLUMN
from ytsentiment.explain import explain as why_terms
from ytsentiment.language import identify, is_supported
from ytsentiment.scoring import wilson
from ytsentiment.storage.rows import new_prediction_ids

log = logging.getLogger(__name__)

DEFAULT_MIN_MONTH_COMMENTS = 10
EXPLAIN_TERMS = 3  # terms per comment in a prediction's `why`


def ten_scale(mean: float) -> float:
    """A mean sentiment in [-1, 1] on the API's 0-10 scale, to 2 decimals."""
    return round((mean + 1) * 5, 2)


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of an aware UTC datetime (years 1..9999)."""
    return f"{moment.year:04d}-{moment.month:02d}"


def like_weight(likes: int | None) -> float:
    """1 + ln(1 + likes): an unliked comment counts 1, one with 1000 likes ~7.9, so no comment decides alone."""
    return 1 + math.log1p(likes or 0)


class SentimentService:
    """Predict sentiment with a model exposing ``predict_proba(DataFrame[text])`` and ``classes_`` holding the
    contract's classes (-1, 0, 1) in any order (``predict_proba``'s columns follow ``classes_``).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes = np.asarray([int(c) for c in model.classes_])
        if sorted(self.classes.tolist()) != sorted(CLASSES):
            raise ValueError(f"model classes must be {', '.join(map(str, CLASSES))}; got {self.classes.tolist()}")
        self._order = [int(np.flatnonzero(self.classes == c)[0]) for c in CLASSES]  # model column of each class
        self.explains: bool | None = None  # whether the model can explain: known after the first explanation

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return self.predict_with_proba(texts)[0]

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The model's class (-1/0/1) of each text, and the class probabilities in the contract's class order
        (-1, 0, 1), one row per text: one ``predict_proba`` call, nothing else."""
        if not texts:
            return np.zeros(0, dtype=int), np.zeros((0, len(CLASSES)))
        return self._ordered(self.model.predict_proba(pd.DataFrame({TEXT_COLUMN: list(texts)})))

    def _ordered(self, proba) -> tuple[np.ndarray, np.ndarray]:
        proba = np.asarray(proba, dtype=float)
        return self.classes[proba.argmax(axis=1)], proba[:, self._order]

    def predict_with_proba(self, texts: Sequence[str], timings: dict[str, float] | None = None,
                           explain: bool = False) -> tuple[list[dict[str, Any]], np.ndarray]:
        """The predictions, and the class probabilities in the contract's class order (-1, 0, 1), one row per
        text (what the prediction log stores). ``timings["model_ms"]`` gets the model's own time. With ``explain``,
        each prediction also gets its ``why`` (``explain``), from the features its prediction was made from."""
        started = time.perf_counter()
        inputs = None
        if explain and texts and isinstance(self.model, Pipeline):  # the features once, for both
            data: Any = pd.DataFrame({TEXT_COLUMN: list(texts)})
            for _, step in self.model.steps[:-1]:
                data = step.transform(data)
            inputs = sp.csr_matrix(data)
            classes, in_class_order = self._ordered(self.model.steps[-1][1].predict_proba(inputs))
        else:
            classes, in_class_order = self.scores(texts)
        if timings is not None:
            timings["model_ms"] = (time.perf_counter() - started) * 1000
        sentiments = classes.tolist()
        confidences = in_class_order[np.arange(len(texts)), [CLASSES.index(s) for s in sentiments]].round(4).tolist()
        predictions: list[dict[str, Any]] = []
        for text, s, c, pid in zip(texts, sentiments, confidences, new_prediction_ids(len(texts)), strict=True):
            language = identify(text)
            predictions.append({"comment": text, "sentiment": s, "label": LABELS[s], "confidence": c,
                                "prediction_id": pid, "language": language,
                                "language_supported": is_supported(language)})
        if explain:
            self.explain(predictions, inputs=inputs)
        return predictions, in_class_order

    def explain(self, predictions: Sequence[dict[str, Any]], k: int = EXPLAIN_TERMS, inputs=None) -> None:
        """Set each prediction's ``why``: at most ``k`` ``{"term", "weight"}`` (largest first, weight > 0) that
        pushed its comment toward its label; ``None`` for a comment the model does not read
        (``language_supported`` false), which costs nothing. ``inputs``: the model's last step's input rows of
        ``predictions`` (one each), if already computed."""
        read = [i for i, p in enumerate(predictions) if p["language_supported"]]
        for p in predictions:
            p["why"] = None
        if not read or self.explains is False:
            return
        try:
            terms = why_terms(self.model, [predictions[i]["comment"] for i in read], k,
                              inputs=None if inputs is None else inputs[read])
        except (AttributeError, KeyError, TypeError) as exc:
            if self.explains:  # it explained before: a fault, not a model that cannot
                raise
            self.explains = False
            log.warning("the served model cannot explain its predictions (%s: %s); every `why` is null",
                        type(exc).__name__, exc)
            return
        self.explains = True
        for i, why in zip(read, terms, strict=True):
            predictions[i]["why"] = why

    @staticmethod
    def summarize(predictions: Sequence[dict[str, Any]], likes: Sequence[int | None] | None = None,
                  authors: Sequence[str | None] | None = None,
                  timestamps: Sequence[datetime | None] | None = None,
                  min_month_comments: int = DEFAULT_MIN_MONTH_COMMENTS) -> dict[str, Any]:
        """The summary figures of ``predictions`` (with each comment's ``likes``, ``authors`` and UTC
        ``timestamps`` when known).

        ``total`` counts every comment; ``other_languages`` those whose language the model does not read
        (``language_supported`` false), by language in ``languages``; ``scored`` = total - other_languages. Every
        other figure is over the scored comments only (``None`` when there is none):

        - ``counts``: comments per class; ``shares``: each class's share with its 95 % Wilson interval;
        - ``average_sentiment``: mean sentiment mapped from [-1, 1] to [0, 10];
        - ``like_weighted_sentiment``: the same mean weighted by ``like_weight(likes)`` = 1 + ln(1 + likes);
        - ``average_words``: mean number of whitespace-separated words per comment;
        - ``unique_commenters``: distinct non-empty authors;
        - ``months``: per calendar month (UTC) with a timestamped comment, its count, counts per class and
          ``sparse`` (fewer than ``min_month_comments``), oldest first.
        """
        n = len(predictions)
        likes = list(likes) if likes is not None else [None] * n
        authors = list(authors) if authors is not None else [None] * n
        timestamps = list(timestamps) if timestamps is not None else [None] * n
        if not len(likes) == len(authors) == len(timestamps) == n:
            raise ValueError(f"got {len(likes)} likes, {len(authors)} authors and {len(timestamps)} timestamps "
                             f"for {n} predictions")
        scored = [i for i, p in enumerate(predictions) if p.get("language_supported", True)]
        languages = Counter(predictions[i].get("language", "und") for i in range(n)
                            if not predictions[i].get("language_supported", True))
        m = len(scored)
        counts = {str(c): 0 for c in CLASSES}
        months: dict[str, dict[str, int]] = {}
        for i in scored:
            label = str(predictions[i]["sentiment"])
            counts[label] += 1
            if (timestamp := timestamps[i]) is not None:
                month = months.setdefault(month_of(timestamp), {str(c): 0 for c in CLASSES})
                month[label] += 1
        sentiments = [predictions[i]["sentiment"] for i in scored]
        weights = [like_weight(likes[i]) for i in scored]
        weighted = sum(w * s for w, s in zip(weights, sentiments, strict=True)) / sum(weights) if m else 0.0
        return {
            "total": n,
            "scored": m,
            "other_languages": n - m,
            "languages": dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
            "counts": counts,
            "shares": {label: wilson(k, m) for label, k in counts.items()},
            "average_sentiment": ten_scale(sum(sentiments) / m) if m else None,
            "like_weighted_sentiment": ten_scale(weighted) if m else None,
            "average_words": round(sum(len(predictions[i]["comment"].split()) for i in scored) / m, 2) if m else None,
            "unique_commenters": len({authors[i] for i in scored if authors[i]}),
            "months": [{"month": month, "count": sum(c.values()), "counts": c,
                        "sparse": sum(c.values()) < min_month_comments} for month, c in sorted(months.items())],
        }
