"""storage/shadow.py: the challenger's online evidence, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from ytsentiment.storage.shadow import compare, macro_f1

# (production, challenger, production ms, challenger ms) per shadowed comment
PAIRS = [(1, 1, 2.0, 3.0), (1, 0, 2.0, 3.0), (-1, -1, 4.0, 5.0), (0, 1, None, 7.0), (0, 0, 6.0, 9.0)]
# (label, production, challenger) per feedback row: production right on 2 of 4, the challenger on 3 of 4
LABELLED = [(1, 1, 1), (0, 1, 0), (-1, -1, -1), (1, 0, 1)]


def test_agreement_flips_and_latency_by_hand():
    figures = compare(PAIRS, LABELLED, resamples=200)
    assert figures["n_shadowed"] == 5 and figures["agreement"] == 0.6  # 3 of 5 alike
    # Wilson 95 % interval of 3/5: 0.2307..0.8824
    assert (figures["agreement_low"], figures["agreement_high"]) == (0.2307, 0.8824)
    assert figures["flips"] == {"negative": {"negative": 1, "neutral": 0, "positive": 0},
                                "neutral": {"negative": 0, "neutral": 1, "positive": 1},
                                "positive": {"negative": 0, "neutral": 1, "positive": 1}}
    assert figures["latency_ms"] == {"production_p50": 3.0, "challenger_p50": 5.0}  # the None is left out


def test_live_macro_f1_by_hand():
    live = compare(PAIRS, LABELLED, resamples=200)["live"]
    # production: F1(-1) = 1, F1(0) = 0 (never right), F1(1) = 2*(1/2)*(1/2)/(1) = 0.5 -> 0.5
    # challenger: F1(-1) = 1, F1(0) = 1, F1(1) = 1 -> 1.0
    assert live["n_feedback"] == 4
    assert (live["production"]["macro_f1"], live["production"]["accuracy"]) == (0.5, 0.5)
    assert (live["challenger"]["macro_f1"], live["challenger"]["accuracy"]) == (1.0, 1.0)
    assert live["difference"]["macro_f1"] == 0.5
    for who in ("production", "challenger", "difference"):
        assert live[who]["low"] <= live[who]["macro_f1"] <= live[who]["high"]
    assert live["challenger"]["low"] == live["challenger"]["high"] == 1.0  # right on every resample
    assert compare(PAIRS, LABELLED, resamples=200) == compare(PAIRS, LABELLED, resamples=200)  # seeded


def test_a_class_nobody_predicts_counts_zero_and_nothing_is_no_figure():
    # class 0: never predicted, F1 0; class 1: 2 right of 3 predicted and 2 true, F1 0.8
    assert macro_f1(np.asarray([1, 1, 0]), np.asarray([1, 1, 1])) == pytest.approx(0.4)
    empty = compare([], [])
    assert empty["n_shadowed"] == 0 and empty["agreement"] is None and empty["live"] == {"n_feedback": 0}
