"""``explain``: the contract the API relies on, and exact contributions, on conftest's real small model."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ytsentiment import YtSentimentError
from ytsentiment.explain import LEXICON, contributions, explain
from ytsentiment.model import compose

TEXTS = ["I love this video, it is amazing!", "This is terrible, I hate it", "", "part 2 when?",
         "not good at all https://example.com/watch?v=abc @someone", "😍😍😍"]


def test_explain_returns_plain_data_for_every_text(trained_pipeline):
    out = explain(trained_pipeline, TEXTS, k=3)
    assert len(out) == len(TEXTS)
    for entries in out:
        assert len(entries) <= 3
        assert all(set(e) == {"term", "weight"} and isinstance(e["term"], str) and type(e["weight"]) is float
                   for e in entries)
        weights = [e["weight"] for e in entries]
        assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    assert explain(trained_pipeline, [], k=3) == []
    assert [len(e) for e in explain(trained_pipeline, TEXTS, k=1)] == [min(1, len(e)) for e in out]
    with pytest.raises(YtSentimentError, match="k must be"):
        explain(trained_pipeline, TEXTS, k=0)


def test_explain_names_the_words_that_carry_the_sentiment(trained_pipeline):
    labels = trained_pipeline.predict(pd.DataFrame({"text": TEXTS[:2]})).tolist()
    assert labels == [1, -1]
    love, hate = (set(e["term"] for e in entries) for entries in explain(trained_pipeline, TEXTS[:2], k=4))
    assert love & {"love", "amazing"} and hate & {"terrible", "hate"}
    # a link's characters are never a term (they are read as "url")
    terms = set(contributions(trained_pipeline, TEXTS[4:5])[0])
    assert not any("example" in t or "watch" in t for t in terms) and "url" in terms


def test_linear_contributions_sum_to_the_logistic_regressions_margin(trained_pipeline):
    """Oracle: the logistic regression's own decision function. With LightGBM taken out, every term's weight plus
    the intercepts' margin is the predicted class's score minus the mean of the other two, row by row."""
    classifier = copy.copy(trained_pipeline.named_steps["classifier"])
    classifier.boosted_ = None
    linear_only = compose(trained_pipeline.named_steps["features"], classifier)
    texts = TEXTS + ["the title lied to me, what a waste of 20 minutes", "W video 🔥🔥 this one hits different"]
    X = linear_only.named_steps["features"].transform(pd.DataFrame({"text": texts}))
    scores = classifier.linear_.decision_function(classifier.linear_inputs(X))
    b = classifier.linear_.intercept_
    predicted = np.asarray(classifier.predict_proba(X)).argmax(axis=1)
    for row, (terms, c) in enumerate(zip(contributions(linear_only, texts), predicted, strict=True)):
        others = [k for k in range(3) if k != c]
        margin = scores[row, c] - scores[row, others].mean()
        # float32 features: the two sides agree to float32 precision (a term left out moves the sum by ~0.01-1)
        assert sum(terms.values()) + b[c] - b[others].mean() == pytest.approx(margin, abs=1e-5), texts[row]
    assert LEXICON in contributions(linear_only, ["I love it"])[0]


def _saabas(model, inputs: np.ndarray) -> np.ndarray:
    """(rows, classes, inputs) path attributions, by walking each tree's splits with the row's own values."""
    trees = model.booster_.dump_model()["tree_info"]
    used = np.asarray(model.predict(inputs, pred_leaf=True)).shape[1]
    out = np.zeros((len(inputs), len(model.classes_), inputs.shape[1]))
    for t in range(used):
        for r, row in enumerate(inputs):
            node = trees[t]["tree_structure"]
            while "leaf_value" not in node:
                child = node["left_child"] if row[node["split_feature"]] <= node["threshold"] else node["right_child"]
                value = child["leaf_value"] if "leaf_value" in child else child["internal_value"]
                out[r, t % len(model.classes_), node["split_feature"]] += value - node["internal_value"]
                node = child
    return out


def test_stacked_weights_add_up_to_both_models_parts(trained_pipeline):
    """Oracle: the logistic regression's exact terms and LightGBM's path attributions found by walking its trees. A
    row's weights sum to the linear share of the linear terms plus the LightGBM share of LightGBM's attributions,
    less its credit to the linear scores on the rows where that credit is not spread over the terms (the linear terms
    or the credit do not point to the label). LightGBM's attributions sum to its raw score less a constant."""
    classifier = trained_pipeline.named_steps["classifier"]
    linear_share, boosted_share = classifier.shares()
    assert boosted_share > 0  # conftest's model is the default learner, the stack
    linear_only = copy.copy(classifier)
    linear_only.boosted_ = None
    texts = TEXTS + ["the title lied to me, what a waste of 20 minutes", "W video 🔥🔥 this one hits different",
                     "great great video", "worst thing ever, awful", "meh", "ok I guess, not bad not great"]
    X = trained_pipeline.named_steps["features"].transform(pd.DataFrame({"text": texts}))
    linear_terms = contributions(compose(trained_pipeline.named_steps["features"], linear_only), texts)
    inputs = classifier.boosted_inputs(X, classifier.linear_.predict_proba(classifier.linear_inputs(X)))
    paths = _saabas(classifier.boosted_, inputs)
    residual = classifier.boosted_.predict_proba(inputs, raw_score=True) - paths.sum(axis=2)
    assert np.allclose(residual, residual[0])  # additive: the same root values for every row
    predicted = np.asarray(classifier.predict_proba(X)).argmax(axis=1)
    spread_rows = 0
    for row, (terms, c) in enumerate(zip(contributions(trained_pipeline, texts), predicted, strict=True)):
        others = [k for k in range(3) if k != c]
        toward = paths[row, c] - paths[row, others].mean(axis=0)  # per LightGBM input
        credit = boosted_share * toward[:3].sum()  # the three linear scores
        linear_sum = sum(linear_terms[row].values())
        spread = linear_sum > 0 and credit > 0
        spread_rows += spread
        expected = linear_share * linear_sum + boosted_share * toward.sum() - (0.0 if spread else credit)
        assert sum(terms.values()) == pytest.approx(expected, abs=1e-5), texts[row]
    assert spread_rows >= len(texts) // 2
