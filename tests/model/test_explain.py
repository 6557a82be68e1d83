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
