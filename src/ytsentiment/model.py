"""The model: ONE sklearn Pipeline, raw comments in, -1/0/1 with calibrated probabilities out.

    DataFrame[text] ─┬─ VADER scores + YouTube slang ─┐        ┌─ logistic regression (all but shape) ─┬───────┐
                     ├─ comment shape ────────────────┼─ union ┤                          class scores ▼       ├ average
                     ├─ normalise (text.py) ─ TF-IDF ─┤        └─ VADER + shape ──────────────► LightGBM ──────┘ │
                     └─ hashed char n-grams ─ TF-IDF ─┘                                        calibration ◄─────┘

``SentimentClassifier`` stacks LightGBM on the logistic regression and averages the two models' probabilities
(``train.linear_weight`` for the linear one; ``train.learner`` "linear" fits it alone), then calibrates them on a
held-out slice (temperature or isotonic).

The DVC stages fit the parts separately (featurize fits the feature union, train the classifier) and ``compose``
joins them into the artifact that is logged, registered and served, so training and serving share every step.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
from ytsentiment.text import HANDLE_PATTERN, URL_PATTERN, URL_TOKEN, USER_TOKEN, normalize, youtube_idiom


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


class CommentShape(BaseEstimator, TransformerMixin):
    """Stateless step: raw comments -> how they look, each column in [0, 1]: length and words (log-scaled), emoji,
    "!" and "?" (counts capped at 10). Links and @handles count as one word each, so adding one barely moves them."""

    names = ("length", "words", "emoji", "exclamations", "questions")

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = []
        for t in _texts(X):
            t = _LINKS.sub(_link_word, t).strip()
            rows.append([min(np.log1p(len(t)) / 7.0, 1.0), min(np.log1p(len(t.split())) / 5.0, 1.0),
                         # an ASCII text holds no emoji: the count (the step's costliest call) is skipped
                         0.0 if t.isascii() else min(emoji.emoji_count(t), 10) / 10,
                         min(t.count("!"), 10) / 10, min(t.count("?"), 10) / 10])
        return sp.csr_matrix(np.array(rows, dtype=np.float32).reshape(-1, len(self.names)))

    def get_feature_names_out(self, input_features=None):
        return np.array(self.names, dtype=object)


class CharNgrams(BaseEstimator, TransformerMixin):
    """Stateless step: raw comments -> counts of their character n-grams, hashed into ``n_features`` columns.

    The text gets the YouTube-idiom rewrite the other features get (``text.youtube_idiom``: a standalone W/L reads
    "win"/"loss"), its links become "url" as in the normaliser (their characters are noise that moved labels; an
    @handle's are kept: "@united" or "@apple" say what a tweet is about, and dropping them cost up to 0.036 macro-F1
    on the brand and debate tweets, measured), it is lowercased and its whitespace collapsed to single spaces. Every
    run of ``ngram_min`` to ``ngram_max`` characters (spaces included, never across two comments) is one feature; its
    column is a 64-bit polynomial hash of its code points and length, mixed (splitmix64) and cut to ``n_features`` (a
    power of two).
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

    def prepare(self, texts: list[str]) -> list[str]:
        """The text whose n-grams are counted: idiom-rewritten, links as "url", lowercased, whitespace collapsed
        (``explain`` maps the n-grams back onto its words)."""
        return [" ".join(URL_PATTERN.sub(f" {URL_TOKEN} ", youtube_idiom(t)).lower().split()) for t in texts]

    def transform(self, X):
        texts = self.prepare(_texts(X))
        blocks = [self._counts(texts[i:i + self._BATCH]) for i in range(0, len(texts), self._BATCH)]
        if not blocks:
            # scipy-stubs accept the documented (M, N) shape form only without dtype
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)  # type: ignore[arg-type]
        return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")

    def occurrences(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every n-gram of the (prepared) ``texts`` as parallel arrays: row, column, start and length in the joined
        code points, plus the joined code points (the comments separated by one NUL)."""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        # One code-point array for the batch, the comments separated by one position no n-gram may cover.
        codes = np.frombuffer("\0".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        row = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(codes)]
        end = (np.cumsum(lengths + 1) - 1)[row]  # one past the last character of each position's comment
        rows, cols, starts, sizes = [], [], [], []
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
                starts.append(np.flatnonzero(valid))
                sizes.append(np.full(int(valid.sum()), n, dtype=np.int64))
        if not rows:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, empty, codes
        return (np.concatenate(rows), np.concatenate(cols), np.concatenate(starts), np.concatenate(sizes), codes)

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        rows, cols, _, _, _ = self.occurrences(texts)
        # One sort of (row, column) keys sums the duplicates and orders the columns (scipy's per-row sort of the
        # indices cost 3 ms per 100 comments).
        keys, counts = np.unique(rows * self.n_features + cols, return_counts=True)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // self.n_features, minlength=len(texts)), out=indptr[1:])
        return sp.csr_matrix((counts.astype(np.float32), keys % self.n_features, indptr),
                             shape=(len(texts), self.n_features))

    def get_feature_names_out(self, input_features=None):
        return np.array([f"char_{i}" for i in range(self.n_features)], dtype=object)


_LINKS = re.compile(f"{URL_PATTERN.pattern}|{HANDLE_PATTERN.pattern}", re.IGNORECASE)


def _link_word(match: re.Match) -> str:
    return f" {USER_TOKEN} " if match.group(0).startswith("@") else f" {URL_TOKEN} "


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
    parts: list[tuple[str, Any]] = []  # comment-level columns first, then word and character n-grams (leading_columns)
    if p.lexicon:
        parts.append(("vader", VaderFeatures()))
    if p.shape:
        parts.append(("shape", CommentShape()))
    parts.append(("tfidf", tfidf))
    if p.char_features:
        parts.append(("chars", Pipeline([
            ("ngrams", CharNgrams(p.char_ngram_min, p.char_ngram_max, p.char_features)),
            ("tfidf", TfidfTransformer(sublinear_tf=p.sublinear_tf)),
        ])))
    return FeatureUnion(parts)


def leading_columns(p: FeaturizeParams) -> int:
    """How many comment-level columns (VADER, comment shape) come first in ``build_features``' output."""
    return len(VaderFeatures.names) * bool(p.lexicon) + len(CommentShape.names) * bool(p.shape)


def build_boosted(p: TrainParams, seed: int) -> LGBMClassifier:
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
    """The logistic regression: saga, seeded, which converges on a million sparse columns (word and character
    n-grams) far sooner than lbfgs, to the same macro-F1 (decision 0006)."""
    return LogisticRegression(C=p.linear_c, class_weight=p.class_weight, solver="saga", tol=p.linear_tol,
                              max_iter=p.linear_max_iter, random_state=seed)


def nb_weights(X, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One weight per column of X, mean 1 over the columns present: the largest one-vs-rest log ratio of the
    column's (row-weighted, add-one) presence among one class's rows and among the others'. A logistic regression
    fitted on columns scaled by them (a power of them) penalises the columns that mark a class less (the naive Bayes
    features of NBSVM, Wang & Manning 2012)."""
    present = sp.csr_matrix(X, copy=True)
    present.data[:] = 1.0
    counts = np.vstack([np.asarray(present[y == c].T @ w[y == c]).ravel() for c in np.unique(y)])
    rest = counts.sum(axis=0) - counts
    share = np.log(counts + 1) - np.log((counts + 1).sum(axis=1, keepdims=True))
    rest_share = np.log(rest + 1) - np.log((rest + 1).sum(axis=1, keepdims=True))
    ratio = np.abs(share - rest_share).max(axis=0)
    used = counts.sum(axis=0) > 0
    weights = np.ones(X.shape[1])
    if ratio[used].any():  # else no column tells the classes apart: all 1
        weights[used] = ratio[used] / ratio[used].mean()
    return weights


LEARNERS = ("stack", "linear")
CALIBRATIONS = ("temperature", "isotonic", "none")


def fit_temperature(proba: np.ndarray, y_index: np.ndarray) -> float:
    """The T > 0 that minimises the log-loss of softmax(log(proba) / T) on these rows (temperature scaling)."""
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(proba, 1e-12, 1.0))

    def loss(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), y_index]))

    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-4}).x))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(proba, 1e-12, 1.0)) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_isotonic(proba: np.ndarray, y_index: np.ndarray) -> list:
    """One isotonic map per class, from its probability to how often it was right (one-vs-rest)."""
    from sklearn.isotonic import IsotonicRegression

    return [IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, c], y_index == c)
            for c in range(proba.shape[1])]


def apply_isotonic(proba: np.ndarray, maps: list) -> np.ndarray:
    out = np.column_stack([m.predict(proba[:, c]) for c, m in enumerate(maps)])
    total = out.sum(axis=1, keepdims=True)
    # a row every map sends to 0 keeps its uncalibrated probabilities rather than dividing by zero
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), proba)


class SentimentClassifier(BaseEstimator, ClassifierMixin):
    """The served classifier: a logistic regression on every feature column but the shape ones and, with ``learner``
    "stack", LightGBM stacked on it: LightGBM reads the logistic regression's class log-probabilities and the
    comment-level columns (VADER, comment shape); the two models' probabilities are averaged (``linear_weight`` for
    the linear one), then calibrated on rows neither model learned from.

    LightGBM learns from the scores the logistic regression gives rows it did not see: while fitting, those come from
    ``stack_folds`` logistic regressions each fitted without one fold of the rows (stratified by ``strata``, else the
    label); once fitted, from the logistic regression fitted on every row, as at prediction. The logistic regressions
    fit on ``n_jobs`` threads (saga releases the GIL).

    Feature layout it relies on (``build_features``): the first ``leading_columns`` columns are comment-level (VADER,
    then the ``shape_columns`` comment-shape ones), the last ``char_columns`` character n-grams, word n-grams
    between. The logistic regression reads every column but the shape ones (near-constant dense columns that stalled
    saga: 100 epochs instead of 20, measured). With ``word_nb_power`` > 0 it is fitted on the word columns scaled by
    ``nb_weights`` to that power (computed on its own rows), and the scale is folded into its coefficients after:
    the same model on the unscaled columns, so predicting and explaining do not change.

    ``fit(X, y, sample_weight, held_out, strata)``: ``held_out`` (row positions) is the slice kept from both models;
    LightGBM stops early on it and the calibration (``calibration``: temperature scaling, isotonic per class, or
    none) is fitted on the averaged probabilities there. Without it, a seeded ``validation_fraction`` of rows
    stratified by label. ``predict_proba`` returns the calibrated probabilities; ``raw_proba`` the average.
    """

    linear_: Any
    boosted_: Any
    calibration_: Any

    def __init__(self, linear=None, boosted=None, learner: str = "stack", linear_weight: float = 0.5,
                 leading_columns: int = 0, shape_columns: int = 0, char_columns: int = 0,
                 word_nb_power: float = 0.0, stack_folds: int = 2,
                 calibration: str = "temperature", validation_fraction: float = 0.1, early_stopping_rounds: int = 30,
                 n_jobs: int = 1, seed: int = 0):
        self.linear = linear
        self.boosted = boosted
        self.learner = learner
        self.linear_weight = linear_weight
        self.leading_columns = leading_columns
        self.shape_columns = shape_columns
        self.char_columns = char_columns
        self.word_nb_power = word_nb_power
        self.stack_folds = stack_folds
        self.calibration = calibration
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def fit(self, X, y, sample_weight=None, held_out=None, strata=None, callbacks=()):
        import lightgbm as lgb
        from sklearn.model_selection import StratifiedKFold, train_test_split

        if self.learner not in LEARNERS or self.calibration not in CALIBRATIONS:
            raise YtSentimentError(f"classifier: learner must be one of {LEARNERS} and calibration one of "
                                   f"{CALIBRATIONS}, got {self.learner!r}, {self.calibration!r}")
        X, y = sp.csr_matrix(X), np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rows = np.arange(len(y))
        if held_out is None:
            _, held_out = train_test_split(rows, test_size=self.validation_fraction, random_state=self.seed,
                                           stratify=y)
        held = np.zeros(len(y), dtype=bool)
        held[np.asarray(held_out, dtype=np.int64)] = True
        fit_rows, val_rows = rows[~held], rows[held]
        L = self.linear_inputs(X)
        Lf, yf, wf = L[fit_rows], y[fit_rows], w[fit_rows]

        def fitted(part):  # None: every fit row
            Lp, yp, wp = (Lf, yf, wf) if part is None else (Lf[part], yf[part], wf[part])
            if not self.word_nb_power:
                return clone(self.linear).fit(Lp, yp, sample_weight=wp)
            scale = np.ones(Lp.shape[1], dtype=Lp.dtype)  # float32 columns stay float32: so do the coefficients
            words = slice(self.leading_columns - self.shape_columns, Lp.shape[1] - self.char_columns)
            scale[words] = nb_weights(Lp, yp, wp)[words] ** self.word_nb_power
            model = clone(self.linear).fit(Lp @ sp.diags(scale), yp, sample_weight=wp)
            model.coef_ = model.coef_ * scale
            return model

        with warnings.catch_warnings(), ThreadPoolExecutor(self.n_jobs) as pool:
            # scikit-learn's ConvergenceWarning (the train stage logs the epochs), and a stratum smaller than the
            # folds (its rows go to some of them)
            warnings.filterwarnings("ignore", message="The max_iter was reached", category=Warning)
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            folds = []
            if self.learner == "stack":
                by = yf if strata is None else np.asarray(strata)[fit_rows]
                folds = list(StratifiedKFold(self.stack_folds, shuffle=True, random_state=self.seed).split(by, by))
            jobs = [pool.submit(fitted, part) for part in [None, *(a for a, _ in folds)]]
            self.linear_ = jobs[0].result()
            unseen = np.empty((len(fit_rows), len(self.linear_.classes_)))
            for job, (_, b) in zip(jobs[1:], folds, strict=True):
                unseen[b] = job.result().predict_proba(Lf[b])
        self.classes_ = self.linear_.classes_
        self.boosted_ = None
        if self.learner == "stack":
            val_inputs = self.boosted_inputs(X[val_rows], self.linear_.predict_proba(L[val_rows]))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
                self.boosted_ = clone(self.boosted).fit(
                    self.boosted_inputs(X[fit_rows], unseen), yf, sample_weight=wf,
                    # eval_set, not eval_X/eval_y: in lightgbm 4.7 the latter skip the label encoding of -1/0/1 and
                    # early stopping fires after one round (measured), so its deprecation warning is silenced.
                    eval_set=[(val_inputs, y[val_rows])], eval_sample_weight=[w[val_rows]],
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False), *callbacks])
        raw = self.raw_proba(X[val_rows])
        y_index = np.searchsorted(self.classes_, y[val_rows])
        self.calibration_ = (fit_temperature(raw, y_index) if self.calibration == "temperature"
                             else fit_isotonic(raw, y_index) if self.calibration == "isotonic" else None)
        return self

    def set_params(self, **params):
        """As scikit-learn's; a new ``boosted__n_jobs`` also reaches the fitted LightGBM, whose threads are the ones
        predictions use (``loading.limit_threads``: one per serving worker)."""
        super().set_params(**params)
        if "boosted__n_jobs" in params and getattr(self, "boosted_", None) is not None:
            self.boosted_.set_params(n_jobs=params["boosted__n_jobs"])
        return self

    def shares(self) -> tuple[float, float]:
        """(logistic regression's, LightGBM's) share of the averaged probabilities."""
        return (1.0, 0.0) if self.boosted_ is None else (self.linear_weight, 1.0 - self.linear_weight)

    def linear_inputs(self, X):
        """X without the shape columns."""
        X = sp.csr_matrix(X)
        if not self.shape_columns:
            return X
        lo = self.leading_columns - self.shape_columns
        return sp.hstack([X[:, :lo], X[:, self.leading_columns:]], format="csr")

    def linear_column(self, j: np.ndarray) -> np.ndarray:
        """The X column of each of the logistic regression's coefficient columns ``j``."""
        lo = self.leading_columns - self.shape_columns
        return np.where(j < lo, j, j + self.shape_columns)

    def boosted_inputs(self, X, linear_proba: np.ndarray) -> np.ndarray:
        """LightGBM's inputs (dense): the logistic regression's class log-probabilities, then the leading columns."""
        scores = np.log(np.clip(np.asarray(linear_proba, dtype=np.float64), 1e-9, 1.0))
        return np.hstack([scores, sp.csr_matrix(X)[:, : self.leading_columns].toarray()])

    def raw_proba(self, X) -> np.ndarray:
        """The averaged probabilities before calibration (float64)."""
        linear, boosted = self.shares()
        linear_proba = np.asarray(self.linear_.predict_proba(self.linear_inputs(X)), dtype=np.float64)
        if not boosted:
            return linear_proba
        return linear * linear_proba + boosted * self.boosted_.predict_proba(self.boosted_inputs(X, linear_proba))

    def predict_proba(self, X) -> np.ndarray:
        """The calibrated probabilities (float64)."""
        proba = self.raw_proba(X)
        if isinstance(self.calibration_, float):
            return apply_temperature(proba, self.calibration_)
        if self.calibration_ is not None:
            return apply_isotonic(proba, self.calibration_)
        return proba

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


def build_classifier(featurize: FeaturizeParams, train: TrainParams, seed: int) -> SentimentClassifier:
    """The unfitted classifier with every knob from params; the column layout follows ``build_features``."""
    return SentimentClassifier(
        build_linear(train, seed), build_boosted(train, seed), learner=train.learner,
        linear_weight=train.linear_weight, leading_columns=leading_columns(featurize),
        shape_columns=len(CommentShape.names) * bool(featurize.shape), char_columns=featurize.char_features,
        word_nb_power=train.word_nb_power, stack_folds=train.stack_folds,
        calibration=train.calibration, n_jobs=train.n_jobs,
        validation_fraction=train.validation_fraction, early_stopping_rounds=train.early_stopping_rounds, seed=seed)


def build_pipeline(featurize: FeaturizeParams, train: TrainParams, seed: int) -> Pipeline:
    """An unfitted Pipeline with every knob from params (handy for tests and notebooks)."""
    return compose(build_features(featurize), build_classifier(featurize, train, seed))
