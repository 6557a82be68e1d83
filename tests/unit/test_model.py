"""The model's parts that decide its bytes: the TF-IDF vocabulary cut (same terms on every machine) and ``slim``
(same pickle for the same fit)."""

from __future__ import annotations

import dataclasses
import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest

from ytsentiment.config import FeaturizeParams
from ytsentiment.model import build_features, slim, top_terms

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
    tfidf = features.transformer_list[0][1].named_steps["tfidf"]
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
