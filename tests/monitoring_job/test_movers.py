"""The terms that moved most between baseline and window (monitoring/movers.py): shares and movers hand-computed,
what is explained (logged text the model reads, a seeded sample), and what the report says when nothing can be."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from ytsentiment.config import MonitorParams
from ytsentiment.explain import explain
from ytsentiment.monitoring import movers
from ytsentiment.monitoring.report import render_html


def why(*terms: str) -> list[dict]:
    return [{"term": t, "weight": 1.0} for t in terms]


# baseline: 4 positive comments (2 hold "love", 1 "great", 1 nothing), 2 negative (both "awful")
BASELINE_WHY = [why("love", "great"), why("love"), why("great"), why(), why("awful"), why("awful", "slow")]
BASELINE_CLASSES = [1, 1, 1, 1, -1, -1]
# window: 2 positive (1 "love"), 2 negative (1 "awful", 2 "boring"), 1 neutral ("part")
WINDOW_WHY = [why("love"), why("great"), why("awful", "boring"), why("boring"), why("part")]
WINDOW_CLASSES = [1, 1, -1, -1, 0]


def test_term_shares_hand_computed():
    assert movers.term_shares(BASELINE_WHY, BASELINE_CLASSES) == {
        1: {"love": 0.5, "great": 0.5}, -1: {"awful": 1.0, "slow": 0.5}}
    assert movers.term_shares(WINDOW_WHY, WINDOW_CLASSES) == {
        1: {"love": 0.5, "great": 0.5}, -1: {"awful": 0.5, "boring": 1.0}, 0: {"part": 1.0}}


def test_movers_hand_computed_largest_change_first():
    rows = movers.movers(movers.term_shares(BASELINE_WHY, BASELINE_CLASSES),
                         movers.term_shares(WINDOW_WHY, WINDOW_CLASSES))
    assert rows == [  # largest |change| first, ties by term
        {"term": "boring", "class": "negative", "baseline_share": 0.0, "window_share": 1.0, "change": 1.0},
        {"term": "awful", "class": "negative", "baseline_share": 1.0, "window_share": 0.5, "change": -0.5},
        {"term": "slow", "class": "negative", "baseline_share": 0.5, "window_share": 0.0, "change": -0.5},
    ]  # love and great: 0.5 on both sides, left out; neutral: no baseline comment of it, no share to compare
    assert movers.movers(movers.term_shares(BASELINE_WHY, BASELINE_CLASSES),
                         movers.term_shares(WINDOW_WHY, WINDOW_CLASSES), top=1) == rows[:1]
    assert [(r["term"], r["change"]) for r in movers.movers({1: {"fell": 1.0, "rose": 0.0}},
                                                            {1: {"fell": 0.25, "rose": 0.5}})] == [
        ("fell", -0.75), ("rose", 0.5)]  # by size of the change, whichever way


PARAMS = dataclasses.replace(MonitorParams(), min_predictions=3, max_drift_rows=4, seed=1)


def frame(texts, classes, languages=None) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "sentiment": classes, "language": languages or ["en"] * len(texts)})


def test_only_logged_text_the_model_reads_is_explained_in_a_seeded_sample():
    rows = frame(["a b c", None, "esto es malo", "d e f", "g", "h", "i", "j"], [1, 1, -1, 0, 0, 0, 1, 1],
                 ["en", "en", "es", "und", "en", "en", "en", None])
    picked = movers.explainable(rows, PARAMS)
    assert len(picked) == PARAMS.max_drift_rows
    assert set(picked["text"]) <= {"a b c", "d e f", "g", "h", "i", "j"}  # no missing text, no Spanish
    assert picked.equals(movers.explainable(rows, PARAMS))  # the same sample on every run
    assert set(movers.explainable(rows, dataclasses.replace(PARAMS, max_drift_rows=100))["text"]) == {
        "a b c", "d e f", "g", "h", "i", "j"}


def test_without_logged_text_the_section_says_so_and_never_loads_the_model():
    def no_model():
        raise AssertionError("the model is not needed without text")

    side = frame([None] * 5, [1, 0, -1, 1, 0])
    view = movers.term_movers(side, frame(["a"] * 5, [1] * 5), PARAMS, no_model)
    assert not view["computed"] and view["movers"] == []
    assert view["note"].startswith("no comment texts are logged for the baseline (PREDICTION_LOG_TEXT is off)")
    assert "PREDICTION_LOG_TEXT is off" in render_html(_summary(view), {})


def test_too_few_comments_no_model_or_one_that_cannot_explain_say_so():
    small = movers.term_movers(frame(["a", "b"], [1, 1]), frame(["a"] * 5, [1] * 5), PARAMS, lambda: None)
    assert small["note"] == ("not enough data: 4 comments with text in the window and 2 in the baseline "
                             "(at least 3 each)")
    none = movers.term_movers(frame(["a"] * 5, [1] * 5), frame(["b"] * 5, [1] * 5), PARAMS, lambda: None)
    assert not none["computed"] and "could not be loaded" in none["note"]
    older = movers.term_movers(frame(["a"] * 5, [1] * 5), frame(["b"] * 5, [1] * 5), PARAMS, lambda: object())
    assert not older["computed"] and older["note"].startswith("the production model cannot explain its predictions")


def test_words_added_to_the_window_move_with_the_real_model(trained_pipeline, youtube):
    """The real small model: the window is the baseline's comments with "awful, boring and useless" appended. Each
    mover's shares are recounted here from the model's own explanations and the logged classes; the added words are
    among the window's terms and in none of the baseline's."""
    texts = youtube["text"][:60].tolist()
    window_texts = [f"{t} awful, boring and useless" for t in texts]
    sides = {"baseline": texts, "window": window_texts}
    classes = {name: trained_pipeline.predict(pd.DataFrame({"text": ts})).tolist() for name, ts in sides.items()}
    params = dataclasses.replace(PARAMS, min_predictions=50, max_drift_rows=1000)
    view = movers.term_movers(frame(texts, classes["baseline"]), frame(window_texts, classes["window"]), params,
                              lambda: trained_pipeline)
    assert view["computed"] and view["n_baseline"] == view["n_window"] == 60 and view["movers"]
    terms = {name: [{t["term"] for t in why} for why in explain(trained_pipeline, ts, k=3)]
             for name, ts in sides.items()}
    label = {"negative": -1, "neutral": 0, "positive": 1}
    for m in view["movers"]:
        for name in sides:
            of_class = [held for held, c in zip(terms[name], classes[name], strict=True) if c == label[m["class"]]]
            share = sum(m["term"] in held for held in of_class) / len(of_class)
            assert m[f"{name}_share"] == pytest.approx(share, abs=1e-4), (m, name)
    added = [m for m in view["movers"] if m["term"] in {"awful", "boring", "useless"}]
    assert added and all(m["change"] > 0 and m["baseline_share"] == 0 for m in added), view["movers"]


def test_the_movers_table_is_escaped():
    view = {"computed": True, "n_baseline": 9, "n_window": 9, "why_terms": 3, "movers": [
        {"term": "<img src=x onerror=alert(1)>", "class": "negative", "baseline_share": 0.125, "window_share": 0.5,
         "change": 0.375}]}
    page = render_html(_summary(view), {})
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td><td>negative</td><td>12.5%</td><td>50.0%</td>" \
           "<td>+37.5%</td>" in page
    assert "<img src=x" not in page


def _summary(view: dict) -> dict:
    return {"decision": "ok", "model_name": "ytsentiment", "model_version": "3", "run_at": "2026-03-02",
            "reasons": [], "window": {"by": "count", "size_or_hours": 9, "start": "a", "end": "b", "n_predictions": 9},
            "live_quality": {"n_feedback": 0, "enough_data": False, "min_feedback": 30},
            "params": {"live_f1_floor": 0.5}, "drift": None, "test_split": None, "term_movers": view}
