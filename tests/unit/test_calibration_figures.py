"""Expected calibration error and the reliability bins, against figures worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytsentiment.scoring import ece_by_scope, expected_calibration_error, reliability

CLASSES = np.array([-1, 0, 1])


def test_ece_by_hand():
    # three rows at confidence 0.9 (two right), one at 0.6 (right), with 10 bins:
    # bin 9: |2/3 - 0.9| = 7/30, bin 6: |1.0 - 0.6| = 0.4 -> ECE = (3 * 7/30 + 1 * 0.4) / 4 = 0.275 (row-weighted;
    # the plain mean of the two bins would be 0.3167)
    proba = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.2, 0.6, 0.2]])
    y = np.array([-1, 1, 1, 0])
    assert expected_calibration_error(y, proba, CLASSES, bins=10) == pytest.approx(0.275)
    r = reliability(y, proba, CLASSES, bins=10)
    assert r["rows"] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 3]
    assert r["accuracy"][6] == 1.0 and r["accuracy"][9] == pytest.approx(2 / 3)
    assert r["confidence"][9] == pytest.approx(0.9) and r["accuracy"][0] is None


def test_a_model_right_as_often_as_it_says_has_no_calibration_error():
    proba = np.array([[0.75, 0.125, 0.125]] * 4)
    y = np.array([-1, -1, -1, 0])  # 3 of 4 right at 0.75
    assert expected_calibration_error(y, proba, CLASSES) == pytest.approx(0.0)


def test_confidence_one_falls_in_the_last_bin_and_ece_per_scope():
    proba = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    frame = pd.DataFrame({"label": [-1, 0], "group": ["human", "reddit"], "source": ["a", "b"]})
    assert reliability(frame["label"], proba, CLASSES, bins=5)["rows"] == [0, 0, 0, 0, 2]
    ece = ece_by_scope(frame, proba, CLASSES)
    assert ece == {"overall": 0.5, "human": 0.0, "reddit": 1.0, "source.a": 0.0, "source.b": 1.0}
