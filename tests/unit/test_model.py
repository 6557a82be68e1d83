"""The model's parts: those that decide its bytes (the TF-IDF vocabulary cut, the same terms on every machine, and
``slim``, the same pickle for the same fit), the classifier's stack and calibration, and the YouTube slang in the
VADER columns."""

from __future__ import annotations

import dataclasses
import io
import pickle
from collections import Counter

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import f1_score

from ytsentiment import YtSentimentError
from ytsentiment.config import FeaturizeParams
from ytsentiment.model import (
    YOUTUBE_LEXICON,
    CharNgrams,
    CommentShape,
    PackedTfidfVectorizer,
    SentimentClassifier,
    VaderFeatures,
    apply_isotonic,
    apply_temperature,
    build_features,
    compose,
    fit_isotonic,
    fit_temperature,
    nb_weights,
    slim,
    top_terms,
)
from ytsentiment.text import youtube_idiom

PARAMS = FeaturizeParams(max_features=3, ngram_min=1, ngram_max=1, min_df=1, max_df=1.0, sublinear_tf=True,
                         lexicon=False)


def test_top_terms_breaks_ties_by_the_term():
    # counts: a 3, c 2, e 2, b 2, d 1 -> the 3 most frequent are a, then two of the tied b, c, e: b and c
    texts = ["a c e", "a b", "a c b e", "d"]
    assert top_terms(texts, PARAMS) == {"a": 0, "b": 1, "c": 2}
    # the same answer whatever order the tied terms first appear in
    assert top_terms(["e c a", "b a", "e b c a", "d"], PARAMS) == {"a": 0, "b": 1, "c": 2}


def test_top_terms_applies_document_frequency_bounds_and_ngrams():
    texts = ["x y", "x y", "x z", "x w"]
    # df: x 4/4 > max_df 0.9 (dropped); "x y" and y in 2 docs; z, w, "x z", "x w" in 1 < min_df 2
    params = dataclasses.replace(PARAMS, ngram_max=2, min_df=2, max_df=0.9, max_features=10)
    assert top_terms(texts, params) == {"x y": 0, "y": 1}


def test_top_terms_with_many_ties_is_stable_where_numpy_default_sort_is_not():
    # 400 distinct words with the same count: numpy's default argsort may return them in any order, top_terms
    # keeps the alphabetically first ones
    words = [f"w{i:03d}" for i in range(400)]
    texts = [" ".join(words[i::7]) for i in range(7)]
    assert list(top_terms(texts, dataclasses.replace(PARAMS, max_features=50))) == sorted(words)[:50]


def test_features_with_the_given_vocabulary_match_scikit_learns_cut_when_nothing_ties():
    texts = pd.DataFrame({"text": ["good good video", "bad video", "good song", "bad bad bad song", "video"]})
    params = dataclasses.replace(PARAMS, max_features=3)  # counts: bad 4, good 3, video 3, song 2 -> no tie at 3
    ours = build_features(params, top_terms(["good good video", "bad video", "good song", "bad bad bad song",
                                             "video"], params)).fit(texts)
    theirs = build_features(params).fit(texts)
    ours_tfidf, theirs_tfidf = (f.transformer_list[0][1].named_steps["tfidf"] for f in (ours, theirs))
    assert ours_tfidf.vocabulary_ == theirs_tfidf.vocabulary_ == {"bad": 0, "good": 1, "video": 2}
    assert np.allclose(ours.transform(texts).toarray(), theirs.transform(texts).toarray())


def test_slim_leaves_no_memory_address_in_the_pickle():
    texts = pd.DataFrame({"text": ["good video", "bad video", "good song"]})
    features = build_features(dataclasses.replace(PARAMS, lexicon=True)).fit(texts)
    tfidf = features.named_transformers["tfidf"].named_steps["tfidf"]
    assert getattr(tfidf, "_stop_words_id", None) == id(None)  # scikit-learn caches id(stop_words) when fitting
    slim(features)
    assert not hasattr(tfidf, "_stop_words_id")
    assert all(type(i) is int for i in tfidf.vocabulary_.values())
    first = io.BytesIO()
    joblib.dump(features, first)
    again = pickle.loads(pickle.dumps(features))
    assert again.transform(texts).shape == (3, 3 + 4)  # still transforms (the check is redone, not needed)
    second = io.BytesIO()
    joblib.dump(slim(again), second)
    assert first.getvalue() == second.getvalue()


@pytest.mark.parametrize("vocabulary", [None, {"good": 0, "video": 1}])
def test_slim_keeps_a_given_vocabulary_once(vocabulary):
    texts = pd.DataFrame({"text": ["good video", "bad video", "good song"]})
    tfidf = slim(build_features(PARAMS, vocabulary).fit(texts)).transformer_list[0][1].named_steps["tfidf"]
    if vocabulary is None:
        assert tfidf.vocabulary is None
    else:
        assert tfidf.vocabulary is tfidf.vocabulary_ and tfidf.vocabulary_ == vocabulary


# ---- the average of the two models and its calibration -----------------------------------------------------------

CLASSES = np.array([-1, 0, 1])


class _Constant:
    """A fitted classifier stand-in that gives every row the same probabilities."""

    classes_ = CLASSES

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return np.tile(self.proba, (X.shape[0], 1))


def _fitted(weight: float, calibration=None, boosted=True) -> SentimentClassifier:
    clf = SentimentClassifier(linear_weight=weight)
    clf.linear_, clf.classes_ = _Constant([0.2, 0.2, 0.6]), CLASSES
    clf.boosted_ = _Constant([0.6, 0.3, 0.1]) if boosted else None
    clf.calibration_ = calibration
    return clf


@pytest.mark.parametrize(("weight", "expected", "label"), [
    (0.3, [0.48, 0.27, 0.25], -1),  # 0.7 * boosted + 0.3 * linear, by hand
    (0.8, [0.28, 0.22, 0.50], 1),
])
def test_blend_averages_the_two_models(weight, expected, label):
    blend = _fitted(weight)
    X = sp.csr_matrix(np.zeros((2, 1)))
    assert np.allclose(blend.predict_proba(X), [expected, expected])
    assert blend.predict(X).tolist() == [label, label]


def test_without_lightgbm_the_linear_model_is_the_whole_classifier():
    clf = _fitted(0.3, boosted=False)
    assert np.allclose(clf.predict_proba(sp.csr_matrix(np.zeros((2, 1)))), [[0.2, 0.2, 0.6]] * 2)


def test_temperature_divides_the_log_probabilities():
    clf = _fitted(0.3, calibration=2.0)
    expected = np.sqrt([0.48, 0.27, 0.25]) / np.sqrt([0.48, 0.27, 0.25]).sum()  # softmax(log p / 2), by hand
    assert np.allclose(clf.predict_proba(sp.csr_matrix(np.zeros((1, 1)))), [expected])


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20000, 3))
    true_proba = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in true_proba])
    overconfident = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert fit_temperature(overconfident, y) == pytest.approx(2.5, rel=0.05)
    calibrated = apply_temperature(overconfident, 2.5)
    assert np.allclose(calibrated, true_proba) and (calibrated.argmax(1) == overconfident.argmax(1)).all()


def test_isotonic_maps_each_class_to_how_often_it_was_right_and_rows_sum_to_one():
    # class 0's probability 0.9 was right half the time, 0.1 never: the map learns exactly that
    proba = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.1, 0.45, 0.45]] * 4)
    y = np.array([0, 0, 1, 2, 1, 1, 2, 2])
    maps = fit_isotonic(proba, y)
    calibrated = apply_isotonic(proba, maps)
    assert np.allclose(calibrated.sum(axis=1), 1)
    assert maps[0].predict([0.9, 0.1]).tolist() == [0.5, 0.0]
    # maps of 0.5, 0.5, 0.25 (sum 1.25), renormalised by hand
    assert apply_isotonic(np.array([[0.9, 0.45, 0.05]]), maps) == pytest.approx(np.array([[0.4, 0.4, 0.2]]))


def test_the_classifier_refuses_an_unknown_learner_or_calibration():
    X, y = sp.csr_matrix(np.eye(6)), np.array([-1, -1, 0, 0, 1, 1])
    with pytest.raises(YtSentimentError, match="learner"):
        SentimentClassifier(learner="forest").fit(X, y)
    with pytest.raises(YtSentimentError, match="calibration"):
        SentimentClassifier(learner="linear", calibration="platt").fit(X, y)


def test_comment_shape_is_bounded_and_a_link_counts_as_one_word():
    shape = CommentShape().transform(["wow!!! 😍😍 really?", "", "a " * 5000,
                                      "wow!!! 😍😍 really? https://example.com/a/very/long/path?with=query"]).toarray()
    assert shape.shape == (4, len(CommentShape.names)) and (0 <= shape).all() and (shape <= 1).all()
    assert shape[0, 2:].tolist() == pytest.approx([0.2, 0.3, 0.1])  # 2 emoji, 3 "!", 1 "?" (each / 10)
    assert shape[2, 0] == 1.0 and shape[1].tolist() == [0.0] * 5
    assert shape[3, 1] == pytest.approx(np.log1p(4) / 5) and shape[3, 4] == pytest.approx(0.1)  # "?" of the URL gone


# ---- YouTube slang in the VADER columns ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "sign"), [
    ("this slaps", 1),  # not in VADER's lexicon: 0 without ours
    ("this beat is fire", 1),  # VADER's "fire" is -1.4
    ("goated", 1),
    ("so underrated", 1),
    ("this is so cringe", -1),
    ("the video was mid", -1),
    ("L take", -1),  # VADER's "l" is +2.0; a standalone capital L is a loss
    ("W video", 1),
])
def test_youtube_slang_reaches_the_vader_columns(text, sign):
    compound = VaderFeatures().transform([text]).toarray()[0, 3]
    assert np.sign(compound) == sign


def test_slang_lexicon_is_on_vaders_scale():
    assert set(YOUTUBE_LEXICON) and all(-4 <= v <= 4 and k == k.lower() for k, v in YOUTUBE_LEXICON.items())


# ---- hashed character n-grams -------------------------------------------------------------------------------------

def _reference_ngrams(text: str, lo: int, hi: int) -> Counter:
    """The n-grams CharNgrams counts, by plain Python: idiom rewritten, lowercased, whitespace collapsed, lo..hi
    characters."""
    text = " ".join(youtube_idiom(text).lower().split())
    return Counter(text[i:i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1))


CHAR_TEXTS = ["Hello  World", "", "ab", "a", "😭 so GOOD 💀💀", "aaaaaa", "new\tline\nand  spaces ", "ñandú über",
              "another W"]


@pytest.mark.parametrize(("lo", "hi"), [(2, 5), (1, 3), (3, 3)])
def test_char_ngrams_count_what_plain_python_counts(lo, hi):
    hasher = CharNgrams(lo, hi, 2**22).fit(None)
    counts = hasher.transform(pd.DataFrame({"text": CHAR_TEXTS}))
    assert counts.shape == (len(CHAR_TEXTS), 2**22) and counts.has_canonical_format
    for i, text in enumerate(CHAR_TEXTS):
        reference = _reference_ngrams(text, lo, hi)
        row = counts[i]
        # 2^22 columns for a few hundred n-grams: no collision, so the row holds exactly the reference's counts
        assert row.nnz == len(reference) and sorted(row.data.tolist()) == sorted(reference.values()), text
    # the same n-gram gets the same column in any comment and in any batch
    ab = set(hasher.transform(["ab"]).indices.tolist())
    assert len(ab) == len(_reference_ngrams("ab", lo, hi)) and ab <= set(hasher.transform(["xx ab", "zab"])[1].indices)


def test_char_ngrams_never_span_two_comments_and_batches_give_the_same_rows():
    hasher = CharNgrams(2, 5, 2**20).fit(None)
    texts = [f"comment number {i} says hi" for i in range(25)]
    together = hasher.transform(texts)
    one_by_one = [hasher.transform([t]) for t in texts]
    for i, single in enumerate(one_by_one):
        assert (together[i] != single).nnz == 0
    hasher._BATCH = 7  # several internal batches: the same matrix
    assert (hasher.transform(texts) != together).nnz == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ngram_min": 0}, "ngram_min"), ({"ngram_min": 4, "ngram_max": 3}, "ngram_min"),
    ({"n_features": 1000}, "power of two"),
])
def test_char_ngrams_refuse_bad_settings(kwargs, message):
    with pytest.raises(YtSentimentError, match=message):
        CharNgrams(**kwargs).fit(None)


def test_features_with_char_ngrams_append_hashed_columns():
    params = dataclasses.replace(PARAMS, max_features=5, lexicon=True, char_features=1024)
    features = build_features(params).fit(pd.DataFrame({"text": ["good video", "bad video", "good good"]}))
    X = features.transform(pd.DataFrame({"text": ["good video"]}))
    assert X.shape == (1, 3 + 4 + 1024)  # 3 distinct words, VADER, the hashed n-grams
    assert X[:, 7:].nnz > 0


# ---- the train stage -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("learner", ["linear", "stack"])
def test_train_stage_fits_the_linear_model_alone_or_the_stack(learner):
    from ytsentiment.config import load_params
    from ytsentiment.stages.train import fit

    rng = np.random.default_rng(0)
    y = np.repeat([-1, 0, 1], 60)
    X = rng.normal(size=(len(y), 5)) + y[:, None]
    frame = pd.DataFrame({"label": y, "source": "s", "weight": 1.0})
    params = load_params("params.yaml")
    featurize = dataclasses.replace(params.featurize, lexicon=False, shape=False, char_features=0)
    p = dataclasses.replace(params.train, learner=learner, n_estimators=20, n_jobs=1)
    clf, facts, timings = fit(sp.csr_matrix(X), frame, featurize, p, params.seed)
    assert facts["rows"] == len(y) and facts["linear_epochs"] >= 1 and "fit_seconds" in timings
    assert (clf.boosted_ is None) == (learner == "linear") == ("best_iteration" not in facts)
    assert isinstance(clf.calibration_, float) and facts["temperature"] == clf.calibration_
    assert f1_score(y, clf.predict(sp.csr_matrix(X)), average="macro") > 0.8
    if clf.boosted_ is not None:  # a server's thread limit reaches the fitted LightGBM, not only its template
        from ytsentiment.loading import limit_threads

        clf.boosted_.set_params(n_jobs=2)
        limit_threads(compose(build_features(PARAMS), clf), 1)
        assert clf.boosted_.n_jobs == 1 and clf.boosted.n_jobs == 1


def test_packed_vectorizer_stores_its_vocabulary_once_as_one_string_and_loads_the_same():
    import skops.io as sio

    from ytsentiment.artifact import SKOPS_TRUSTED_TYPES

    texts = ["good video", "bad video", "good good song", "the song is bad"]
    params = dataclasses.replace(PARAMS, max_features=50, ngram_max=2)
    features = slim(build_features(params, top_terms(texts, params)).fit(pd.DataFrame({"text": texts})))
    vectorizer = features.named_transformers["tfidf"].named_steps["tfidf"]
    assert vectorizer.vocabulary is vectorizer.vocabulary_  # given = fitted: one dict
    state = vectorizer.__getstate__()
    assert state["vocabulary_"] is None and state["vocabulary"] == "_packed_terms"
    assert state["_packed_terms"].split("\n") == sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    for loaded in (pickle.loads(pickle.dumps(vectorizer)),
                   sio.loads(sio.dumps(vectorizer), trusted=SKOPS_TRUSTED_TYPES)):
        assert loaded.vocabulary_ == vectorizer.vocabulary_ and loaded.vocabulary is loaded.vocabulary_
        assert (loaded.transform(texts) != vectorizer.transform(texts)).nnz == 0
    # a vocabulary that is not one term per column is stored as it is
    odd = PackedTfidfVectorizer()
    odd.__dict__.update(vocabulary_={"a\nb": 0})
    assert odd.__getstate__()["vocabulary_"] == {"a\nb": 0}


def test_naive_bayes_weights_by_hand():
    """Column a is in the positive comment only, b in all three, c in none. Add-one shares of presence per class
    against the other classes' (4 and 6 in the denominators; 5 for the positive class): a's largest log ratio is
    log 2 (positive), b's log 1.5 (positive: 2/5 against 3/5); c, never present, keeps 1."""
    X = sp.csr_matrix([[0, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float64)
    weights = nb_weights(X, np.array([-1, 0, 1]), np.ones(3))
    mean = (np.log(2) + np.log(1.5)) / 2
    assert weights == pytest.approx([np.log(2) / mean, np.log(1.5) / mean, 1.0])


def test_word_columns_are_fitted_on_naive_bayes_weights_and_served_unscaled():
    """With word_nb_power, the logistic regression is fitted on the word columns scaled by the weights to that power
    (not the leading VADER column, not the character columns) and the scale is folded into its coefficients: on
    the unscaled columns it answers as the regression fitted on the scaled ones."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    y = np.repeat([-1, 0, 1], 40)
    X = sp.csr_matrix((rng.random((120, 6)) < 0.3) * (1 + y[:, None] * np.arange(-2, 4)) ** 2 / 9.0)
    clf = SentimentClassifier(LogisticRegression(C=10.0), None, learner="linear", leading_columns=1, char_columns=2,
                              word_nb_power=0.5, seed=0).fit(X, y, held_out=np.arange(0, 120, 10))
    fit_rows = np.setdiff1d(np.arange(120), np.arange(0, 120, 10))
    scale = np.ones(6)
    scale[1:4] = nb_weights(X[fit_rows], y[fit_rows], np.ones(len(fit_rows)))[1:4] ** 0.5
    assert not np.allclose(scale, 1.0)
    oracle = LogisticRegression(C=10.0).fit(X[fit_rows] @ sp.diags(scale), y[fit_rows])
    np.testing.assert_allclose(clf.linear_.predict_proba(X), oracle.predict_proba(X @ sp.diags(scale)), rtol=1e-6)
    plain = SentimentClassifier(LogisticRegression(C=10.0), None, learner="linear", leading_columns=1,
                                char_columns=2, seed=0).fit(X, y, held_out=np.arange(0, 120, 10))
    assert not np.allclose(plain.linear_.coef_, clf.linear_.coef_)


def test_lightgbm_learns_from_scores_of_rows_the_logistic_regression_did_not_see():
    """Random labels on one-hot rows: the logistic regression fitted on every row memorises them, so its scores of
    those rows would teach LightGBM to trust it blindly. The scores LightGBM is fitted on must be out-of-fold:
    no better than chance."""
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression

    seen = {}

    class Recording(LGBMClassifier):
        def fit(self, X, y, **kw):
            seen["inputs"], seen["y"] = X, y
            return super().fit(X, y, **kw)

    rng = np.random.default_rng(0)
    n = 600
    y = rng.choice([-1, 0, 1], size=n)
    X = sp.identity(n, format="csr")  # one column per row: nothing generalises
    clf = SentimentClassifier(LogisticRegression(C=100.0, max_iter=500), Recording(n_estimators=5, verbose=-1),
                              learner="stack", linear_weight=0.5, seed=0).fit(X, y)
    in_sample = (clf.linear_.predict(X) == y).mean()  # 90 % of the rows fitted, 10 % held out
    fold_scores = seen["inputs"][:, :3]  # the first three inputs: the class log-probabilities
    assert in_sample > 0.9 and (CLASSES[fold_scores.argmax(axis=1)] == seen["y"]).mean() < 0.45
