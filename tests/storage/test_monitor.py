"""What the monitoring job reads and writes, on both back ends: windows, runs, baselines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ytsentiment.storage import (
    feedback_window,
    get_baseline,
    monitor_runs,
    pin_baseline,
    predictions_window,
    record_feedback,
    record_monitor_run,
)

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # conftest.T0: make_row times start there


def test_windows_are_half_open_and_joined(engine, make_row, insert_rows):
    # make_row(i) is created i seconds after its created_at: T, T+1 s, T+2 s
    insert_rows(engine, [make_row(0), make_row(1), make_row(2, model_version="4")])
    frame = predictions_window(engine, T, T + timedelta(seconds=2))
    assert frame["id"].tolist() == [make_row(0)["id"], make_row(1)["id"]]  # start is in, end is out
    assert predictions_window(engine, T, T + timedelta(days=1), model_version="4")["id"].tolist() == \
        [make_row(2)["id"]]
    record_feedback(engine, label=-1, client_id="c", prediction_id=make_row(1)["id"], now=T + timedelta(hours=1))
    record_feedback(engine, label=0, client_id="c", text="alone", now=T + timedelta(hours=2))
    fb = feedback_window(engine, T, T + timedelta(days=1))
    assert fb[["label", "sentiment", "model_version"]].astype(object).where(fb.notna(), None).values.tolist() == \
        [[-1, 1, "3"], [0, None, None]]
    assert feedback_window(engine, T, T + timedelta(days=1), model_version="3")["label"].tolist() == [-1]
    assert len(predictions_window(engine, T + timedelta(days=2), T + timedelta(days=3))) == 0
    assert frame["created_at"].tolist() == [T, T + timedelta(seconds=1)]


def test_monitor_runs(engine):
    first = record_monitor_run(engine, model_name="m", model_version="3", window_start=T, window_end=T,
                               n_predictions=10, n_feedback=0, decision="not enough data", run_at=T,
                               reasons=["only 10 predictions"])
    second = record_monitor_run(engine, model_name="m", model_version="3", window_start=T, window_end=T,
                                n_predictions=900, n_feedback=40, decision="retrain", run_at=T + timedelta(days=1),
                                summary={"drift": {"share": 0.4}}, drift_score=0.4, drift_detected=True,
                                live_macro_f1=0.51)
    runs = monitor_runs(engine, "m")
    assert [r["id"] for r in runs] == [second, first]
    assert runs[0]["summary"] == {"drift": {"share": 0.4}} and runs[1]["reasons"] == ["only 10 predictions"]
    assert (runs[0]["drift_detected"], runs[0]["live_macro_f1"], runs[0]["class_mix_distance"]) == (True, 0.51, None)
    assert runs[0]["run_at"] == T + timedelta(days=1)
    with pytest.raises(TypeError, match="unknown figures"):
        record_monitor_run(engine, model_name="m", model_version="3", window_start=T, window_end=T,
                           n_predictions=1, n_feedback=0, decision="ok", drift=1.0)


def test_baseline_is_pinned_once(engine):
    assert get_baseline(engine, "m", "3") is None
    first = pin_baseline(engine, model_name="m", model_version="3", window_start=T, window_end=T + timedelta(days=1),
                         n_predictions=500, now=T)
    again = pin_baseline(engine, model_name="m", model_version="3", window_start=T, window_end=T + timedelta(days=9),
                         n_predictions=9, now=T + timedelta(days=9))
    assert again == first == get_baseline(engine, "m", "3")
    assert first["n_predictions"] == 500 and first["window_end"] == T + timedelta(days=1)
    moved = pin_baseline(engine, model_name="m", model_version="3", window_start=T, window_end=T + timedelta(days=9),
                         n_predictions=9, replace=True)
    assert moved["n_predictions"] == 9 == get_baseline(engine, "m", "3")["n_predictions"]
