"""What the monitoring job reads and writes, on both back ends: windows, feedback, runs, baselines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ytsentiment import YtSentimentError
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.feedback import record_feedback
from ytsentiment.storage.monitor import (
    get_baseline,
    latest_version,
    load_baseline_frame,
    load_feedback,
    load_window,
    monitor_runs,
    pin_baseline,
    record_monitor_run,
)

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # conftest.T0: make_row(i) is created i seconds after it


def test_windows_by_count_and_by_time_are_one_versions_after_the_baseline(engine, make_row, insert_rows):
    insert_rows(engine, [make_row(i) for i in range(5)] + [make_row(5, model_version="4")])
    ids = [make_row(i)["id"] for i in range(5)]
    assert latest_version(engine, "ytsentiment") == "4" and latest_version(engine, "other") is None
    by_count = load_window(engine, "ytsentiment", "3", "count", size=2, hours=0)
    assert by_count["id"].tolist() == ids[3:]  # the last 2, oldest first
    after = load_window(engine, "ytsentiment", "3", "count", size=10, hours=0, after=T + timedelta(seconds=2))
    assert after["id"].tolist() == ids[3:]  # strictly after the baseline's end
    # by time: (now - hours, now]
    by_time = load_window(engine, "ytsentiment", "3", "time", size=0, hours=1 / 3600, now=T + timedelta(seconds=3))
    assert by_time["id"].tolist() == [ids[3]]
    assert by_time["created_at"].tolist() == [T + timedelta(seconds=3)]


def test_feedback_is_joined_by_id_or_by_the_texts_hash(engine, make_row, insert_rows):
    insert_rows(engine, [make_row(0), make_row(1, sentiment=-1, text="the same words")])
    record_feedback(engine, label=-1, client_id="c", prediction_id=make_row(0)["id"], now=T + timedelta(hours=1))
    record_feedback(engine, label=0, client_id="c", text="the same words", model_name="ytsentiment",
                    model_version="3", now=T + timedelta(hours=2))
    record_feedback(engine, label=1, client_id="c", text="never served", model_name="ytsentiment",
                    model_version="3", now=T + timedelta(hours=3))
    feedback = load_feedback(engine, "ytsentiment", "3")
    assert feedback["label"].tolist() == [-1, 0, 1]
    assert feedback["sentiment"].tolist()[:2] == [1.0, -1.0] and feedback["sentiment"].isna().tolist()[2]
    assert load_feedback(engine, "ytsentiment", "4").empty


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


def test_baseline_is_pinned_once_when_enough_was_served(engine, make_row, insert_rows):
    insert_rows(engine, [make_row(i) for i in range(3)])
    assert get_baseline(engine, "ytsentiment", "3") is None
    record, frame = pin_baseline(engine, "ytsentiment", "3", size=4, now=T)
    assert record is None and len(frame) == 3 and get_baseline(engine, "ytsentiment", "3") is None
    record, frame = pin_baseline(engine, "ytsentiment", "3", size=2, now=T)
    assert (record["n_predictions"], record["window_start"], record["window_end"]) == (2, T, T + timedelta(seconds=1))
    assert frame["id"].tolist() == [make_row(0)["id"], make_row(1)["id"]]
    again, _ = pin_baseline(engine, "ytsentiment", "3", size=3, now=T + timedelta(days=1))
    assert again == record == get_baseline(engine, "ytsentiment", "3")  # the first pin stands
    assert load_baseline_frame(engine, "ytsentiment", "3", record)["id"].tolist() == frame["id"].tolist()


def test_an_unmigrated_database_says_what_to_do(empty_url):
    with pytest.raises(YtSentimentError, match="db-upgrade"):
        latest_version(make_engine(empty_url), "ytsentiment")


def test_one_requests_predictions_split_the_same_way_whatever_their_random_ids(engine, make_row, insert_rows):
    # One /analyze request: six predictions with one created_at and random ids. The same comments served by two
    # versions, their ids in opposite orders, give the same baseline and windows (by count, by time), row for row.
    def served(version: str, ids: list[int]) -> list[dict]:
        return [make_row(i, created_at=T - timedelta(seconds=i), model_version=version,
                         id=f"00000000-0000-4000-8000-{version}{n:011d}") for i, n in zip(range(6), ids, strict=True)]

    insert_rows(engine, served("3", list(range(6))) + served("5", list(reversed(range(6)))))
    texts = {}
    for version in ("3", "5"):
        _, baseline = pin_baseline(engine, "ytsentiment", version, size=3, now=T)
        window = load_window(engine, "ytsentiment", version, "count", size=3, hours=0)
        by_time = load_window(engine, "ytsentiment", version, "time", size=0, hours=1, now=T)
        texts[version] = (baseline["text"].tolist(), window["text"].tolist(), by_time["text"].tolist())
    assert texts["3"] == texts["5"]
    assert texts["3"][2] == texts["3"][0] + texts["3"][1]  # the time window: all six, in the same order
    assert sorted(texts["3"][2]) == sorted(f"comment number {i} 👍" for i in range(6))
