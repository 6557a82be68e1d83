"""The model: ONE sklearn Pipeline, raw comments in, -1/0/1 with probabilities out.

    DataFrame[text] ─┬─ normalise (text.py) ─ TF-IDF ──────────────┐   ┌─ LightGBM multiclass ──────┐
                     └─ VADER scores + YouTube slang (optional) ───┴───┴─ logistic regression ──────┴─ blend

The blend (``BlendedClassifier``) averages the two models' probabilities (``train.linear_weight`` for the linear
one).

The DVC stages fit the parts separately (featurize fits the feature union, train the classifier) and ``compose``
joins them into the artifact that is logged, registered and served, so training and serving share every step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

import emoji
import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
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


class CharNgrams(BaseEstimator, TransformerMixin):
    """Stateless step: raw comments -> counts of their character n-grams, hashed into ``n_features`` columns.

    The text gets the YouTube-idiom rewrite the other features get (``text.youtube_idiom``: a standalone W/L reads
    "win"/"loss"), is lowercased and its whitespace collapsed to single spaces. Every run of ``ngram_min`` to
    ``ngram_max`` characters (spaces included, never across two comments) is one feature; its column is a 64-bit
    polynomial hash of its code points and length, mixed (splitmix64) and cut to ``n_features`` (a power of two).
    That is what scikit-learn's ``HashingVectorizer(analyzer="char")`` computes, here in numpy over the whole batch
    at once, as scikit-learn's per-n-gram Python strings would break the API's latency budget (decision 0007). No
    vocabulary is stored, so the model stays small
    and quick to load, and the same text gets the same columns on every machine. ``tests/unit/test_model.py``
    checks the counts against a plain Python count of the n-grams.
    """

    _BATCH = 10_000  # texts hashed at once: bounds the temporary arrays (~25 bytes per character and n)

    def __init__(self, ngram_min: int = 2, ngram_max: int = 5, n_features: int = 2**20):
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.n_features = n_features

    def fit(self, X, y=None):
        if not 1 <= self.ngram_min <= self.ngram_max:
            raise YtSentimentError(f"char n-grams: need 1 <= ngram_min <= ngram_max, got {self.ngram_min}, "
                                   f"{self.ngram_max}")
        if self.n_features < 2 or self.n_features & (self.n_features - 1):
            raise YtSentimentError(f"char n-grams: n_features must be a power of two, got {self.n_features}")
        return self

    def transform(self, X):
        texts = [" ".join(youtube_idiom(t).lower().split()) for t in _texts(X)]
        blocks = [self._counts(texts[i:i + self._BATCH]) for i in range(0, len(texts), self._BATCH)]
        if not blocks:
            # scipy-stubs accept the documented (M, N) shape form only without dtype
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)  # type: ignore[arg-type]
        return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        # One code-point array for the batch, the comments separated by one position no n-gram may cover.
        codes = np.frombuffer("\0".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        row = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(codes)]
        end = (np.cumsum(lengths + 1) - 1)[row]  # one past the last character of each position's comment
        rows, cols = [], []
        mask = np.uint64(self.n_features - 1)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps around by design
            for n in range(self.ngram_min, self.ngram_max + 1):
                m = len(codes) - n + 1
                if m <= 0:
                    continue
                h = np.full(m, n, dtype=np.uint64)  # the length is part of the hash: "ab" and "ab " differ anyway
                for k in range(n):
                    h = h * np.uint64(1_000_003) + codes[k:k + m]
                valid = np.arange(n, m + n, dtype=np.int64) <= end[:m]
                rows.append(row[:m][valid])
                cols.append((_splitmix64(h[valid]) & mask).astype(np.int64))
        # One sort of (row, column) keys sums the duplicates and orders the columns (scipy's per-row sort of the
        # indices cost 3 ms per 100 comments).
        keys = (np.concatenate(rows) * self.n_features + np.concatenate(cols)) if rows else np.zeros(0, np.int64)
        keys, counts = np.unique(keys, return_counts=True)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // self.n_features, minlength=len(texts)), out=indptr[1:])
        return sp.csr_matrix((counts.astype(np.float32), keys % self.n_features, indptr),
                             shape=(len(texts), self.n_features))

    def get_feature_names_out(self, input_features=None):
        return np.array([f"char_{i}" for i in range(self.n_features)], dtype=object)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads a polynomial hash's bits evenly before it is cut to the low bits."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


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


class PackedTfidfVectorizer(TfidfVectorizer):
    """scikit-learn's TfidfVectorizer, stored with its vocabulary packed into one string.

    skops writes a dict entry by entry into its JSON schema, which made the artifact large and slow to load
    (decision 0008). Pickled or skops'd, this class
    stores the terms once, in column order, joined by newlines (a term never holds one: the normaliser's tokens are
    split on whitespace), and rebuilds the same dict when loaded. Everything else is TfidfVectorizer's own.
    """

    _PACKED = "_packed_terms"

    def __getstate__(self):
        state = super().__getstate__()
        vocabulary = state.get("vocabulary_")
        if not isinstance(vocabulary, dict) or not vocabulary:
            return state
        terms: list[str | None] = [None] * len(vocabulary)
        for term, i in vocabulary.items():
            if not 0 <= i < len(terms) or terms[i] is not None or "\n" in term:
                return state  # not one term per column 0..n-1: stored as it is
            terms[i] = term
        # every slot is filled: len(terms) distinct indices in 0..len(terms)-1
        state = dict(state, vocabulary_=None, **{self._PACKED: "\n".join(cast(list[str], terms))})
        if isinstance(state.get("vocabulary"), dict) and state["vocabulary"] == vocabulary:
            state["vocabulary"] = self._PACKED  # the given vocabulary (top_terms) is the fitted one: stored once
        return state

    def __setstate__(self, state):
        state = dict(state)
        packed = state.pop(self._PACKED, None)
        if packed is not None:
            vocabulary = {term: i for i, term in enumerate(packed.split("\n"))}
            state["vocabulary_"] = vocabulary
            if state.get("vocabulary") == self._PACKED:
                state["vocabulary"] = vocabulary
        super().__setstate__(state)


TOKEN_PATTERN = r"\S+"  # the normaliser has already split the text into space-separated tokens


def top_terms(normalized: Iterable[str], p: FeaturizeParams) -> dict[str, int]:
    """The TF-IDF vocabulary ``build_features`` would pick from these (already normalised) texts, picked the same way
    on every machine: the ``max_features`` most frequent n-grams within ``min_df``/``max_df``, ties broken by the
    term itself; indices in term order, as scikit-learn lays them out.

    scikit-learn cuts ``max_features`` with numpy's default (unstable) argsort, whose order among equal counts
    depends on the CPU's SIMD instructions and the numpy version, so another machine would train another model.
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
        ("tfidf", PackedTfidfVectorizer(
            token_pattern=TOKEN_PATTERN, lowercase=False, ngram_range=(p.ngram_min, p.ngram_max),
            max_features=p.max_features, min_df=p.min_df, max_df=p.max_df, sublinear_tf=p.sublinear_tf,
            dtype=np.float32, vocabulary=None if vocabulary is None else dict(vocabulary),
        )),
    ])
    parts = [("tfidf", tfidf)]
    if p.lexicon:
        parts.append(("vader", VaderFeatures()))
    if p.char_features:
        parts.append(("chars", Pipeline([
            ("ngrams", CharNgrams(p.char_ngram_min, p.char_ngram_max, p.char_features)),
            ("tfidf", TfidfTransformer(sublinear_tf=p.sublinear_tf)),
        ])))
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


def build_linear(p: TrainParams, seed: int) -> LogisticRegression:
    """The logistic regression (alone, or the linear half of the blend): saga, seeded, which converges on a million
    sparse columns (word and character n-grams) far sooner than lbfgs, to the same macro-F1 (decision 0006)."""
    return LogisticRegression(C=p.linear_c, class_weight=p.class_weight, solver="saga", tol=p.linear_tol,
                              max_iter=p.linear_max_iter, random_state=seed)


class BlendedClassifier(BaseEstimator, ClassifierMixin):
    """LightGBM and a linear model on the same features: probabilities averaged. With
    ``linear_weight`` 1 the linear model is the whole classifier and LightGBM is not fitted (``boosted_`` is None).

    ``fit`` fits clones of ``boosted`` and ``linear`` (extra keyword arguments go to LightGBM, e.g. an early-stopping
    ``eval_set``); the train stage fits them itself and hands them over with ``from_fitted``.
    """

    # The fitted models (sklearn and LightGBM are untyped); either may be None, never both: see linear_weight.
    boosted_: Any
    linear_: Any

    def __init__(self, boosted=None, linear=None, linear_weight: float = 0.0):
        self.boosted = boosted
        self.linear = linear
        self.linear_weight = linear_weight

    def fit(self, X, y, sample_weight=None, **boosted_fit_params):
        self.boosted_ = (None if self.linear_weight >= 1
                         else clone(self.boosted).fit(X, y, sample_weight=sample_weight, **boosted_fit_params))
        self.linear_ = clone(self.linear).fit(X, y, sample_weight=sample_weight) if self.linear_weight else None
        self.classes_ = (self.boosted_ if self.boosted_ is not None else self.linear_).classes_
        return self

    @classmethod
    def from_fitted(cls, boosted, linear, linear_weight: float) -> BlendedClassifier:
        if (boosted is None) != (linear_weight >= 1) or (linear is None and linear_weight):
            raise YtSentimentError(f"blend: linear_weight {linear_weight} needs "
                                   f"{'a fitted linear model and no LightGBM' if linear_weight >= 1 else 'LightGBM'}"
                                   f"{' and a linear model' if 0 < linear_weight < 1 else ''}")
        blend = cls(boosted, linear, linear_weight)
        blend.boosted_, blend.linear_ = boosted, linear
        blend.classes_ = (boosted if boosted is not None else linear).classes_
        if boosted is not None and linear is not None and not np.array_equal(linear.classes_, boosted.classes_):
            raise YtSentimentError(f"blend: the linear model's classes {linear.classes_} differ from LightGBM's "
                                   f"{boosted.classes_}: fit both on the same labels")
        return blend

    def predict_proba(self, X) -> np.ndarray:
        """The averaged probabilities (float64)."""
        if self.boosted_ is None:
            return np.asarray(self.linear_.predict_proba(X), dtype=np.float64)
        proba = self.boosted_.predict_proba(X)
        if self.linear_weight and self.linear_ is not None:
            proba = (1 - self.linear_weight) * proba + self.linear_weight * self.linear_.predict_proba(X)
        return np.asarray(proba, dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def slim(features: FeatureUnion) -> FeatureUnion:
    """Make a fitted union cheap to store and load, and the same bytes for the same fit.

    skops writes every numpy int64 in ``vocabulary_`` as its own array (slow to load), and
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
    blend = BlendedClassifier(build_classifier(train, seed), build_linear(train, seed), train.linear_weight)
    return compose(build_features(featurize), blend)
