"""The model: ONE sklearn Pipeline, raw comments in, -1/0/1 with probabilities out.

    DataFrame[text] ─┬─ normalise (text.py) ─ TF-IDF ──────────────┐   ┌─ LightGBM multiclass ──────┐
                     └─ VADER scores + YouTube slang (optional) ───┴───┴─ logistic regression ──────┴─ blend

The blend (``BlendedClassifier``) averages the two models' probabilities (``train.linear_weight`` for the linear
one) and can apply a prior correction (per-class log-probability offsets tuned for macro-F1, ``prior_correct``).

The DVC stages fit the parts separately (featurize fits the feature union, train the classifier) and ``compose``
joins them into the artifact that is logged, registered and served, so training and serving share every step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import emoji
import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import FeatureUnion, Pipeline
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from ytsentiment import YtSentimentError
from ytsentiment.config import FeaturizeParams, TrainParams
from ytsentiment.contract import TEXT_COLUMN
from ytsentiment.text import normalize, youtube_idiom


def _texts(X) -> list[str]:
    """Accept a DataFrame with a ``text`` column (the model signature), a Series, or a list of strings."""
    if isinstance(X, pd.DataFrame):
        X = X[TEXT_COLUMN]
    return ["" if not isinstance(t, str) else t for t in X]


class TextNormalizer(BaseEstimator, TransformerMixin):
    """Stateless step: raw comments -> normalised token strings (``ytsentiment.text.normalize``)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return [normalize(t) for t in _texts(X)]


VADER_MAX_CHARS = 1000
VADER_MAX_EMOJI = 20
_REPEATS = re.compile(r"(.)\1{2,}", re.DOTALL)


def vader_input(text: str) -> str:
    """Bound VADER's work: its cost grows with the square of the sentiment words (each emoji becomes several), so a
    10,000-character wall of emoji took 90 s. Long runs collapse, the text is cut, and emoji past the 20th dropped.
    """
    text = youtube_idiom(_REPEATS.sub(r"\1\1", text[: 4 * VADER_MAX_CHARS])[:VADER_MAX_CHARS])
    if text.isascii():
        return text
    seen = 0

    def keep(chars: str, data: dict) -> str:
        nonlocal seen
        seen += 1
        return chars if seen <= VADER_MAX_EMOJI else " "

    return emoji.replace_emoji(text, replace=keep)


class VaderFeatures(BaseEstimator, TransformerMixin):
    """Stateless step: raw comments -> VADER's neg, neu, pos, compound (a sparse n x 4 block).

    VADER reads case, punctuation, emoji and emoticons, so it gets the raw text (bounded by ``vader_input``), not
    the normalised one.
    """

    names = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        analyzer = _vader()
        rows = [analyzer.polarity_scores(vader_input(t)) for t in _texts(X)]
        arr = np.array([[r["neg"], r["neu"], r["pos"], r["compound"]] for r in rows], dtype=np.float32)
        return sp.csr_matrix(arr.reshape(-1, 4))

    def get_feature_names_out(self, input_features=None):
        return np.array(self.names, dtype=object)


class WindowedVader(SentimentIntensityAnalyzer):
    """vaderSentiment's analyser with the same scores, about 10 % faster on comments.

    For every sentiment word, two of its checks lowercase the whole comment, though they read only the three words
    before it and two after; they get that window instead, so a long comment costs linear, not quadratic, time.
    Both checks run only for ``i > start_i``, so the window holds every index they read.
    ``tests/unit/test_vader.py`` checks the scores equal the library's, rule by rule and on real comments.
    """

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        lo = max(0, i - 3)
        window = words_and_emoticons[lo : i + 3]
        return SentimentIntensityAnalyzer._negation_check(valence, window, start_i, i - lo)

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        lo = max(0, i - 3)
        window = words_and_emoticons[lo : i + 3]
        return SentimentIntensityAnalyzer._special_idioms_check(valence, window, i - lo)


# YouTube slang VADER's lexicon lacks or reads the wrong way (its "fire" is -1.4, its "sick" a disease). Valences on
# VADER's scale (-4..4), set near the lexicon's entries of like meaning ("great" 3.1, "good" 1.9, "bad" -2.5): a word
# praised or panned in comments, never the comment's topic. "W"/"L" are rewritten to "win"/"loss" beforehand
# (``text.youtube_idiom``); ambiguous slang ("sick", "based", "peak", "ratio") is left out.
YOUTUBE_LEXICON = {
    "slaps": 2.5, "banger": 2.5, "bangers": 2.5, "bop": 2.0,
    "goat": 2.5, "goated": 2.8, "legend": 2.3, "legendary": 2.7,
    "fire": 1.8, "lit": 1.8, "dope": 2.0, "wholesome": 2.5, "underrated": 2.0, "goosebumps": 2.0,
    "mid": -1.5, "overrated": -1.5, "cringe": -2.0, "cringey": -2.0, "cringy": -2.0, "trash": -2.0,
}

_VADER: WindowedVader | None = None


def _vader() -> WindowedVader:
    # One analyser per process, built on first use (its lexicon load takes ~50 ms), never at import.
    global _VADER
    if _VADER is None:
        _VADER = WindowedVader()
        _VADER.lexicon.update(YOUTUBE_LEXICON)
    return _VADER


TOKEN_PATTERN = r"\S+"  # the normaliser has already split the text into space-separated tokens


def top_terms(normalized: Iterable[str], p: FeaturizeParams) -> dict[str, int]:
    """The TF-IDF vocabulary ``build_features`` would pick from these (already normalised) texts, picked the same way
    on every machine: the ``max_features`` most frequent n-grams within ``min_df``/``max_df``, ties broken by the
    term itself; indices in term order, as scikit-learn lays them out.

    scikit-learn cuts ``max_features`` with numpy's default (unstable) argsort, whose order among equal counts
    depends on the CPU's SIMD instructions and the numpy version: on the full corpus 822 terms tie at the cut and 87
    of the 20,000 chosen differed from a stable order (measured), so another machine trained another model.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    counter = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False, ngram_range=(p.ngram_min, p.ngram_max),
                              min_df=p.min_df, max_df=p.max_df, dtype=np.int64)
    counts = counter.fit_transform(list(normalized))
    terms = counter.get_feature_names_out()  # in term order, so a stable sort keeps ties in term order
    frequency = np.asarray(counts.sum(axis=0)).ravel()
    kept = np.sort(np.argsort(-frequency, kind="stable")[: p.max_features])
    return {str(term): i for i, term in enumerate(terms[kept])}


def build_features(p: FeaturizeParams, vocabulary: Mapping[str, int] | None = None) -> FeatureUnion:
    """The unfitted feature union; with ``vocabulary`` (from ``top_terms``) TF-IDF keeps exactly those terms."""
    tfidf = Pipeline([
        ("normalize", TextNormalizer()),
        ("tfidf", TfidfVectorizer(
            token_pattern=TOKEN_PATTERN, lowercase=False, ngram_range=(p.ngram_min, p.ngram_max),
            max_features=p.max_features, min_df=p.min_df, max_df=p.max_df, sublinear_tf=p.sublinear_tf,
            dtype=np.float32, vocabulary=None if vocabulary is None else dict(vocabulary),
        )),
    ])
    parts = [("tfidf", tfidf)]
    if p.lexicon:
        parts.append(("vader", VaderFeatures()))
    return FeatureUnion(parts)


def build_classifier(p: TrainParams, seed: int) -> LGBMClassifier:
    return LGBMClassifier(
        objective="multiclass",
        n_estimators=p.n_estimators,
        learning_rate=p.learning_rate,
        num_leaves=p.num_leaves,
        max_depth=p.max_depth,
        min_child_samples=p.min_child_samples,
        colsample_bytree=p.colsample_bytree,
        subsample=p.subsample,
        subsample_freq=p.subsample_freq,
        reg_lambda=p.reg_lambda,
        max_bin=p.max_bin,
        class_weight=p.class_weight,
        random_state=seed,
        n_jobs=p.n_jobs,
        deterministic=True,
        force_row_wise=True,  # sparse TF-IDF: row-wise histograms were 1.2-1.7x faster here (measured)
        verbose=-1,
    )


def build_linear(p: TrainParams) -> LogisticRegression:
    """The linear half of the blend: deterministic (lbfgs, no random state involved), ~10 s on the full matrix."""
    return LogisticRegression(C=p.linear_c, class_weight=p.class_weight, max_iter=500)


def prior_correct(proba: np.ndarray, log_offsets) -> np.ndarray:
    """Add per-class log offsets to log-probabilities and renormalise: still a distribution, argmax shifted."""
    proba = np.asarray(proba, dtype=np.float64)
    if log_offsets is None or not np.any(log_offsets):
        return proba
    logits = np.log(np.clip(proba, 1e-12, None)) + np.asarray(log_offsets, dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


OFFSET_GRID = tuple(round(x, 2) for x in np.arange(-1.0, 1.0001, 0.05))


def tune_log_offsets(proba: np.ndarray, y, classes, grid=OFFSET_GRID, rounds: int = 3) -> np.ndarray:
    """Per-class log-probability offsets that maximise macro-F1 of ``y``: coordinate search over ``grid``.

    Deterministic: classes and grid values in a fixed order, a change kept only when it strictly improves, ties go to
    the earlier (smaller) value; starts from no correction, so the result is never worse than that on these rows.
    """
    classes, y = np.asarray(classes), np.asarray(y)
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None))
    labels = sorted(set(y.tolist()))

    def score(offsets):
        return f1_score(y, classes[np.argmax(logp + offsets, axis=1)], labels=labels, average="macro", zero_division=0)

    offsets = np.zeros(len(classes))
    best = score(offsets)
    for _ in range(rounds):
        improved = False
        for k in range(len(classes)):
            for value in grid:
                trial = offsets.copy()
                trial[k] = value
                s = score(trial)
                if s > best + 1e-12:
                    best, offsets, improved = s, trial, True
        if not improved:
            break
    return offsets


class BlendedClassifier(BaseEstimator, ClassifierMixin):
    """LightGBM and a linear model on the same features: probabilities averaged, then ``prior_correct``.

    ``fit`` fits clones of ``boosted`` and ``linear`` (extra keyword arguments go to LightGBM, e.g. an early-stopping
    ``eval_set``); the train stage fits them itself and hands them over with ``from_fitted``.
    """

    def __init__(self, boosted=None, linear=None, linear_weight: float = 0.0, log_offsets=None):
        self.boosted = boosted
        self.linear = linear
        self.linear_weight = linear_weight
        self.log_offsets = log_offsets

    def fit(self, X, y, sample_weight=None, **boosted_fit_params):
        self.boosted_ = clone(self.boosted).fit(X, y, sample_weight=sample_weight, **boosted_fit_params)
        self.linear_ = clone(self.linear).fit(X, y, sample_weight=sample_weight) if self.linear_weight else None
        self.classes_ = self.boosted_.classes_
        return self

    @classmethod
    def from_fitted(cls, boosted, linear, linear_weight: float, log_offsets=None) -> BlendedClassifier:
        blend = cls(boosted, linear, linear_weight, None if log_offsets is None else [float(o) for o in log_offsets])
        blend.boosted_, blend.linear_, blend.classes_ = boosted, linear, boosted.classes_
        if linear is not None and not np.array_equal(linear.classes_, boosted.classes_):
            raise YtSentimentError(f"blend: the linear model's classes {linear.classes_} differ from LightGBM's "
                                   f"{boosted.classes_}: fit both on the same labels")
        return blend

    def blended_proba(self, X) -> np.ndarray:
        """The averaged probabilities, before the prior correction."""
        proba = self.boosted_.predict_proba(X)
        if self.linear_weight and self.linear_ is not None:
            proba = (1 - self.linear_weight) * proba + self.linear_weight * self.linear_.predict_proba(X)
        return proba

    def predict_proba(self, X) -> np.ndarray:
        return prior_correct(self.blended_proba(X), self.log_offsets)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def slim(features: FeatureUnion) -> FeatureUnion:
    """Make a fitted union cheap to store and load, and the same bytes for the same fit.

    skops writes every numpy int64 in ``vocabulary_`` as its own array (40k files: ~5 s to load, measured), and
    ``stop_words_`` (older scikit-learn) holds every term cut by min_df/max_features, which prediction never reads.
    ``_stop_words_id`` is ``id(self.stop_words)``, a memory address that differs on every run (so the pickle did):
    it only caches a stop-word check, which scikit-learn repeats when the attribute is missing.
    """
    for _, part in features.transformer_list:
        tfidf = part.named_steps.get("tfidf") if isinstance(part, Pipeline) else None
        if tfidf is not None and hasattr(tfidf, "vocabulary_"):
            tfidf.vocabulary_ = {term: int(i) for term, i in tfidf.vocabulary_.items()}
            if tfidf.vocabulary is not None:  # a given vocabulary (top_terms) is the fitted one: store it once
                tfidf.vocabulary = tfidf.vocabulary_
            for attribute in ("stop_words_", "_stop_words_id"):
                if hasattr(tfidf, attribute):
                    delattr(tfidf, attribute)
    return features


def compose(features: FeatureUnion, classifier) -> Pipeline:
    """Join fitted parts into the one served artifact."""
    return Pipeline([("features", features), ("classifier", classifier)])


def build_pipeline(featurize: FeaturizeParams, train: TrainParams, seed: int) -> Pipeline:
    """An unfitted Pipeline with every knob from params (handy for tests and notebooks)."""
    blend = BlendedClassifier(build_classifier(train, seed), build_linear(train), train.linear_weight)
    return compose(build_features(featurize), blend)
