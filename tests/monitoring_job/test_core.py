"""The monitor's pure functions on constructed windows of real comments, and hand-computed oracles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from ytsentiment import YtSentimentError
from ytsentiment.config import MonitorParams, load_params, parse_params
from ytsentiment.monitoring import core
from ytsentiment.monitoring.descriptors import describe, describe_one

P = MonitorParams(min_predictions=200, min_feedback=30, max_drift_rows=1000)


@pytest.fixture(scope="module")
def baseline(youtube, score):
    return score(youtube["text"][:800])


def test_same_traffic_does_not_drift(youtube, score, baseline):
    window = score(youtube["text"][800:1600])
    view, snapshot = core.drift(window, baseline, P)
    assert view["enough_data"] and snapshot is not None
    assert view["drift_detected"] is False, view
    assert 0.4 < view["text_drift_auc"] < P.text_drift_threshold
    assert view["signals"]["sentiment"]["drift"] is False
    assert view["drift_score"] < P.drift_share
    decision, reasons = core.decide(view, {"enough_data": False, "n_feedback": 0}, P)
    assert decision == "ok" and "no drift" in reasons[0]


@pytest.mark.parametrize("kind", ["airline", "foreign", "spam"])
def test_shifted_traffic_drifts(kind, request, score, baseline):
    texts = request.getfixturevalue(kind)
    texts = texts["text"] if isinstance(texts, pd.DataFrame) else texts
    view, _ = core.drift(score(texts), baseline, P)
    assert view["drift_detected"] is True, view
    assert view["signals"]["text"]["drift"] is True and view["text_drift_auc"] > 0.8
    decision, reasons = core.decide(view, {"enough_data": False, "n_feedback": 0}, P)
    assert decision == "retrain" and reasons[0].startswith("drift vs the baseline")
    off, _ = core.decide(view, {"enough_data": False, "n_feedback": 0}, MonitorParams(retrain_on_drift=False))
    assert off == "ok"


def test_without_logged_text_the_other_signals_still_judge(airline, youtube, score, baseline):
    """PREDICTION_LOG_TEXT off: no text, only hashes and descriptors; drift is still found, text is not measured."""
    shifted, same = score(airline["text"]).assign(text=None), score(youtube["text"][800:1600]).assign(text=None)
    view, _ = core.drift(shifted, baseline.assign(text=None), P)
    assert "text" not in view["signals"] and view["text_drift_auc"] is None and view["drift_detected"] is True
    view, _ = core.drift(same, baseline.assign(text=None), P)
    assert view["drift_detected"] is False
    assert "text not logged" in core.decide(view, {"enough_data": False, "n_feedback": 0}, P)[1][0]


def test_too_little_data_is_never_a_drift_alarm(airline, score, baseline):
    view, snapshot = core.drift(score(airline["text"][:150]), baseline, P)  # strongly shifted, but only 150 rows
    assert snapshot is None and view["enough_data"] is False
    assert view["drift_detected"] is None and view["drift_score"] is None
    assert "not enough data: 150 predictions in the window" in view["note"]
    decision, reasons = core.decide(view, {"enough_data": False, "n_feedback": 3}, P)
    assert decision == "not_enough_data"
    assert reasons == [view["note"],
                       "not enough feedback: 3 labelled rows (need at least 30) - live quality not judged"]


def test_live_quality_hand_computed():
    labelled = pd.DataFrame({"label": [1, 1, -1, -1, 0, 0, "positive", None],
                             "sentiment": [1, -1, -1, -1, 0, 1, 1, 0]})
    q = core.live_quality(labelled, MonitorParams(min_feedback=7))
    # by hand on the 7 usable rows: -1: P 2/3 R 1 F1 .8; 0: P 1 R 1/2 F1 2/3; 1: P 2/3 R 2/3 F1 2/3; acc 5/7
    assert q["n_feedback"] == 7 and q["n_unusable"] == 1 and q["enough_data"] is True
    assert q["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 2 / 3) / 3, abs=1e-6)
    assert q["accuracy"] == pytest.approx(5 / 7, abs=1e-6)
    assert q["label_mix"] == {"negative": 2, "neutral": 2, "positive": 3}


def test_disagreeing_feedback_drops_live_f1_and_decides_retrain(youtube, score, baseline):
    window = score(youtube["text"][800:1600])
    view, _ = core.drift(window, baseline, P)
    agree = pd.DataFrame({"label": window["sentiment"][:100], "sentiment": window["sentiment"][:100]})
    flipped = pd.DataFrame({"label": -window["sentiment"][:100].replace(0, 1), "sentiment": window["sentiment"][:100]})
    good, bad = core.live_quality(agree, P), core.live_quality(flipped, P)
    assert good["macro_f1"] == 1.0 and bad["macro_f1"] < 0.2 and bad["accuracy"] < 0.2
    assert core.decide(view, good, P)[0] == "ok"
    decision, reasons = core.decide(view, bad, P)
    assert decision == "retrain"
    assert reasons[0].startswith(f"live macro-F1 {bad['macro_f1']:.3f} on 100 feedback rows is below the floor 0.6")


def test_feedback_below_minimum_is_not_judged():
    q = core.live_quality(pd.DataFrame({"label": [1, -1], "sentiment": [-1, 1]}), P)
    assert q["enough_data"] is False and q["macro_f1"] == 0.0
    view = {"reference": "baseline", "enough_data": False, "note": "not enough data"}
    assert core.decide(view, q, P)[0] == "not_enough_data"


def test_descriptors_hand_computed():
    assert describe_one("Hi 😂!!") == {"n_chars": 6, "n_words": 2, "emoji_share": pytest.approx(1 / 6),
                                       "non_letter_share": pytest.approx(3 / 5)}
    # a skin-tone emoji is two code points, both counted as emoji (the API logs the same: storage.rows.describe)
    assert describe_one("👍🏽 ok") == {"n_chars": 5, "n_words": 2, "emoji_share": 0.4, "non_letter_share": 0.5}
    assert describe_one(None) == {"n_chars": 0, "n_words": 0, "emoji_share": 0.0, "non_letter_share": 0.0}
    assert describe(["a b", "12"])["non_letter_share"].tolist() == [0.0, 1.0]


def test_class_mix():
    assert core.class_mix([1, 1, 0, -1]) == {"negative": 0.25, "neutral": 0.25, "positive": 0.5}


@pytest.fixture(scope="module")
def repo_params():
    return load_params(Path(__file__).resolve().parents[2] / "params.yaml")


@pytest.mark.parametrize("values, fragment", [
    ({"window_by": "week"}, "monitor.window_by"),
    ({"windows": 3}, "unknown keys ['windows']"),
    ({"live_f1_floor": 1.5}, "monitor.live_f1_floor"),
    ({"text_drift_threshold": 0.3}, "ROC AUC"),
    ({"min_predictions": 0}, "monitor.min_predictions"),
])
def test_bad_params_say_what_to_fix(repo_params, values, fragment):
    with pytest.raises(YtSentimentError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_params({**repo_params.raw, "monitor": values})


def test_repo_params_have_a_valid_monitor_section(repo_params):
    p = repo_params.monitor
    assert p.min_predictions <= p.baseline_size and p.window_by in ("count", "time")


# ---- thresholds: a score exactly ON a threshold -----------------------------------------------------------------
# Hand-built frames with two signals (no text, no descriptors: missing signals are skipped). The reference's
# confidence alternates 0.5 / 1.0 (standard deviation 0.25); the window's is the same shifted by 0.0625, so the
# Wasserstein distance is 0.0625 and, normed by that deviation, exactly 0.25 (every figure a power of two: no
# rounding). The class mix is the same on both sides: Jensen-Shannon distance 0.
ON = 0.25
REFERENCE = pd.DataFrame({"sentiment": [-1, 0, 1, 1] * 5, "confidence": [0.5, 1.0] * 10})
SHIFTED = REFERENCE.assign(confidence=REFERENCE["confidence"] + 0.0625)
EXACT = MonitorParams(min_predictions=len(REFERENCE))  # exactly as many rows as needed: enough data


@pytest.mark.parametrize(("threshold", "drift"), [(ON, False), (ON - 1e-9, True)], ids=["on", "just-below"])
def test_a_score_on_the_threshold_is_not_drift(threshold, drift):
    view, _ = core.drift(SHIFTED, REFERENCE, dataclasses.replace(EXACT, stat_threshold=threshold))
    assert view["enough_data"] is True  # n == min_predictions is enough
    assert view["signals"]["confidence"]["score"] == ON
    assert view["signals"]["confidence"]["drift"] is drift
    assert view["signals"]["sentiment"] == {"method": core.CLASS_METHOD, "score": 0.0, "threshold": threshold,
                                            "drift": False}


def test_a_zero_score_on_a_zero_threshold_is_not_drift():
    view, _ = core.drift(REFERENCE.copy(), REFERENCE, dataclasses.replace(EXACT, stat_threshold=0.0))
    assert {name: s["drift"] for name, s in view["signals"].items()} == {"sentiment": False, "confidence": False}
    assert view["drift_score"] == 0.0 and view["drift_detected"] is False


@pytest.mark.parametrize(("share", "detected"), [(0.5, True), (0.5 + 1e-9, False)], ids=["on", "just-above"])
def test_a_drift_share_on_the_threshold_is_drift(share, detected):
    """One of two signals drifted (confidence 0.25 > 0.1): share 1/2, exactly ``drift_share`` 0.5 -> drifted."""
    view, _ = core.drift(SHIFTED, REFERENCE, dataclasses.replace(EXACT, stat_threshold=0.1, drift_share=share))
    assert view["drifted"] == ["confidence"] and view["drift_score"] == 0.5
    assert view["drift_detected"] is detected


def test_one_row_short_of_min_predictions_is_not_enough_data():
    view, snapshot = core.drift(SHIFTED[1:], REFERENCE, EXACT)
    assert view["enough_data"] is False and snapshot is None
    view, snapshot = core.drift(SHIFTED, REFERENCE[1:], EXACT)
    assert view["enough_data"] is False and snapshot is None


@pytest.mark.parametrize(("floor", "decision"), [(0.5, "ok"), (0.5 + 1e-9, "retrain")], ids=["on", "just-above"])
def test_live_macro_f1_on_the_floor_is_ok(floor, decision):
    """By hand: labels [1, 1, -1, -1], predictions [1, -1, -1, 1]: F1 1/2 for each class, macro-F1 exactly 0.5."""
    params = MonitorParams(min_feedback=4, live_f1_floor=floor)
    quality = core.live_quality(pd.DataFrame({"label": [1, 1, -1, -1], "sentiment": [1, -1, -1, 1]}), params)
    assert quality["macro_f1"] == 0.5 and quality["enough_data"] is True  # n == min_feedback is enough
    view = {"reference": "baseline", "enough_data": False, "note": "not enough data"}
    assert core.decide(view, quality, params)[0] == decision
