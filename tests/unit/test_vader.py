"""WindowedVader must score exactly like vaderSentiment: it only narrows what two of its checks lowercase."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from ytsentiment.model import WindowedVader

# Each of these reaches one of the rules the two windowed checks apply (negation 1-3 words back, "never so/this",
# "without doubt", idioms and boosters before and after the word), at the start, middle and end of a comment.
RULE_CASES = [
    "not good",
    "good",
    "Not bad at all, I don't hate it",
    "this isn't really that great",
    "it was never so good",
    "never this bad before",
    "I never ever said it was nice",
    "without doubt the best",
    "without a doubt the best",
    "the best, without doubt",
    "that was the bomb, a real kiss of death for them",
    "he is the shit",
    "that was really a kiss of death",
    "she left me with a broken heart today",
    "it's sort of nice and kind of sad",
    "yeah right, great job, cut the mustard",
    "it was not the least bit funny",
    "at least it's good",
    "no problem, no good, no or nor bad",
    "I ain't happy but I'm not sad either",
    "hand to mouth, back handed, bad ass, upper hand",
    "GREAT movie but the ending was TERRIBLE!!!",
    "😀 love it 😡 hate it :) :(",
    "",
    "   ",
    "wow",
]


@pytest.fixture(scope="module")
def analysers():
    return SentimentIntensityAnalyzer(), WindowedVader()


@pytest.mark.parametrize("text", RULE_CASES)
def test_rule_cases_score_like_the_library(analysers, text):
    library, windowed = analysers
    assert windowed.polarity_scores(text) == library.polarity_scores(text)


def test_real_comments_score_like_the_library(analysers, small_corpus):
    library, windowed = analysers
    texts = small_corpus["text"].astype(str).tolist()
    different = [t for t in texts if windowed.polarity_scores(t) != library.polarity_scores(t)]
    assert not different, f"{len(different)} of {len(texts)} comments scored differently, e.g. {different[:3]}"
