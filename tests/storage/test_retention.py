"""Purge on both back ends: the window parser, deleting old predictions, blanking text, feedback kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from ytsentiment import YtSentimentError
from ytsentiment.storage.feedback import record_feedback
from ytsentiment.storage.models import Feedback, Prediction
from ytsentiment.storage.retention import parse_window, purge

NOW = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("30d", timedelta(days=30)), ("1d", timedelta(days=1)), ("12h", timedelta(hours=12)),
    (" 7D ", timedelta(days=7)), ("48H", timedelta(hours=48)),
])
def test_parse_window(value, expected):
    assert parse_window(value) == expected


@pytest.mark.parametrize("value", ["30", "d", "0d", "-1d", "1.5d", "30m", "30 days", "", "1w"])
def test_parse_window_refuses(value):
    with pytest.raises(YtSentimentError, match="expected a positive number of days or hours"):
        parse_window(value)


@pytest.fixture
def history(engine, make_row, insert_rows):
    """Predictions 40 d, 31 d, 29 d and 1 h old (ids ...001-...004); feedback on the 40-d-old and the newest."""
    ages = {1: timedelta(days=40), 2: timedelta(days=31), 3: timedelta(days=29), 4: timedelta(hours=1)}
    insert_rows(engine, [make_row(i, created_at=NOW - age - timedelta(seconds=i)) for i, age in ages.items()])
    record_feedback(engine, label=-1, client_id="c1", prediction_id=make_row(1)["id"], now=NOW - timedelta(days=39))
    record_feedback(engine, label=0, client_id="c1", prediction_id=make_row(4)["id"], now=NOW)
    return engine


def state(engine):
    with engine.connect() as conn:
        preds = conn.execute(select(Prediction.id, Prediction.text, Prediction.text_sha256)
                             .order_by(Prediction.id)).all()
        fb = conn.execute(select(Feedback.prediction_id, Feedback.label, Feedback.text, Feedback.text_sha256)
                          .order_by(Feedback.id)).all()
    return [(p[0][-1], p[1] is not None, len(p[2])) for p in preds], [tuple(f) for f in fb]


def test_purge_deletes_old_predictions_and_keeps_feedback(history, make_row):
    result = purge(history, timedelta(days=30), now=NOW)
    assert result == {"cutoff": "2026-03-02T00:00:00+00:00", "feedback_unlinked": 1, "predictions_deleted": 2,
                      "shadow_predictions_deleted": 0}
    preds, fb = state(history)
    assert preds == [("3", True, 64), ("4", True, 64)]
    old, new = make_row(1), make_row(4)
    assert fb == [(None, -1, old["text"], old["text_sha256"]), (new["id"], 0, new["text"], new["text_sha256"])]
    assert purge(history, timedelta(days=30), now=NOW)["predictions_deleted"] == 0  # nothing left to do


def test_purge_can_blank_feedback_text_too(history):
    result = purge(history, timedelta(days=30), feedback_text=True, now=NOW)
    assert result["feedback_text_blanked"] == 1
    _, fb = state(history)
    assert [(f[1], f[2] is None, len(f[3])) for f in fb] == [(-1, True, 64), (0, False, 64)]


def test_purge_text_only_keeps_rows_and_hashes(history):
    result = purge(history, timedelta(hours=2), text_only=True, now=NOW)
    assert result == {"cutoff": "2026-03-31T22:00:00+00:00", "predictions_text_blanked": 3}
    preds, fb = state(history)
    assert preds == [("1", False, 64), ("2", False, 64), ("3", False, 64), ("4", True, 64)]
    assert [f[0] is not None for f in fb] == [True, True]


def test_deleting_a_prediction_unlinks_its_feedback_in_the_database(history, make_row):
    with history.begin() as conn:  # the foreign key itself (SQLite needs foreign_keys=ON per connection)
        conn.execute(text("DELETE FROM predictions WHERE id = :id"), {"id": make_row(4)["id"]})
    _, fb = state(history)
    assert [f[0] for f in fb] == [make_row(1)["id"], None]
