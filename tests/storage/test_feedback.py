"""Feedback store on both back ends: idempotent per (subject, client), corrections, validation, counts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from ytsentiment.storage.errors import InvalidFeedback, UnknownPrediction
from ytsentiment.storage.feedback import counts, get_prediction, record_feedback
from ytsentiment.storage.models import Feedback

PID = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def logged(engine, make_row, insert_rows):
    insert_rows(engine, [make_row(1, text="what a great video"), make_row(2, text="secret", log_text=False)])
    return engine


def rows(engine) -> list[Feedback]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


def test_get_prediction_round_trips(logged, make_row):
    got = get_prediction(logged, PID)
    expected = make_row(1, text="what a great video")
    assert got == expected  # every column, created_at back as aware UTC
    assert got["created_at"].tzinfo is not None and got["created_at"].utcoffset() == timedelta(0)
    with pytest.raises(UnknownPrediction, match="unknown prediction_id 'nope'"):
        get_prediction(logged, "nope")
    with pytest.raises(LookupError):  # the API may catch it as a LookupError too
        get_prediction(logged, "x" * 500)


def test_same_label_is_a_no_op_another_label_changes_it(logged):
    first = record_feedback(logged, label=-1, client_id="c1", prediction_id=PID)
    assert (first.status, first.created, first.previous_label) == ("created", True, None)
    again = record_feedback(logged, label=-1, client_id="c1", prediction_id=PID)
    assert (again.status, again.id, again.previous_label) == ("unchanged", first.id, -1)
    changed = record_feedback(logged, label=0, client_id="c1", prediction_id=PID)
    assert (changed.status, changed.id, changed.previous_label, changed.label) == ("updated", first.id, -1, 0)
    (row,) = rows(logged)
    assert (row.label, row.prediction_id, row.client_id, row.model_name, row.model_version) == \
        (0, PID, "c1", "ytsentiment", "3")
    assert row.text == "what a great video"  # copied from the log, so it outlives a purge
    assert row.text_sha256 == hashlib.sha256(b"what a great video").hexdigest()
    assert row.updated_at is not None
    other = record_feedback(logged, label=1, client_id="c2", prediction_id=PID)
    assert other.status == "created" and other.id != first.id
    assert counts(logged) == {"predictions": 2, "feedback": 2}


def test_unknown_prediction(logged):
    with pytest.raises(UnknownPrediction):
        record_feedback(logged, label=1, client_id="c1", prediction_id="00000000-0000-4000-8000-999999999999")
    assert rows(logged) == []


def test_text_only_feedback_is_keyed_by_its_hash(logged):
    a = record_feedback(logged, label=1, client_id="c1", text="not logged anywhere", model_version="3")
    assert a.status == "created" and a.prediction_id is None
    assert record_feedback(logged, label=1, client_id="c1", text="not logged anywhere").status == "unchanged"
    assert record_feedback(logged, label=-1, client_id="c1", text="not logged anywhere").status == "updated"
    assert record_feedback(logged, label=1, client_id="c1", text="not logged anywhere!").status == "created"
    assert record_feedback(logged, label=1, client_id="c2", text="not logged anywhere").status == "created"
    assert [(r.text, r.label, r.client_id, r.model_version) for r in rows(logged)] == [
        ("not logged anywhere", -1, "c1", "3"), ("not logged anywhere!", 1, "c1", None),
        ("not logged anywhere", 1, "c2", None)]


def test_text_with_a_prediction_must_be_its_text(logged):
    with pytest.raises(InvalidFeedback, match="not the text of prediction"):
        record_feedback(logged, label=1, client_id="c1", prediction_id=PID, text="something else")
    # the unlogged prediction: its text arrives with the feedback and is checked against the hash
    pid2 = "00000000-0000-4000-8000-000000000002"
    assert record_feedback(logged, label=0, client_id="c1", prediction_id=pid2).status == "created"
    assert rows(logged)[0].text is None
    assert record_feedback(logged, label=0, client_id="c1", prediction_id=pid2, text="secret").status == "unchanged"
    assert rows(logged)[0].text == "secret"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label": 2, "client_id": "c"}, "label must be one of"),
    ({"label": True, "client_id": "c"}, "label must be one of"),
    ({"label": "1", "client_id": "c"}, "label must be one of"),
    ({"label": 1, "client_id": ""}, "client_id"),
    ({"label": 1, "client_id": "x" * 200}, "client_id"),
    ({"label": 1, "client_id": "c", "prediction_id": None}, "send a prediction_id"),
])
def test_invalid_feedback(logged, kwargs, message):
    kwargs = {"text": "t", **kwargs} if "prediction_id" not in kwargs else kwargs
    with pytest.raises(InvalidFeedback, match=message):
        record_feedback(logged, **kwargs)


def test_database_enforces_the_label_check(logged):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), logged.begin() as conn:
        conn.execute(text("INSERT INTO feedback (created_at, subject, text_sha256, label, client_id) "
                          "VALUES (:t, 's', 'h', 5, 'c')"), {"t": datetime(2026, 1, 1)})


def test_times_are_utc_whatever_zone_they_came_in(logged):
    paris = timezone(timedelta(hours=1))
    result = record_feedback(logged, label=1, client_id="c1", text="x", now=datetime(2026, 3, 1, 13, 0, tzinfo=paris))
    (row,) = rows(logged)
    assert row.id == result.id and row.created_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(Exception, match="timezone-aware"):
        record_feedback(logged, label=1, client_id="c9", text="y", now=datetime(2026, 3, 1, 13, 0))


def test_counts_windows(logged):
    t = datetime(2026, 3, 1, tzinfo=UTC)
    record_feedback(logged, label=1, client_id="c1", text="a", now=t)
    record_feedback(logged, label=1, client_id="c1", text="b", now=t + timedelta(days=1))
    assert counts(logged, since=t + timedelta(hours=1)) == {"predictions": 2, "feedback": 1}
    assert counts(logged, until=t + timedelta(hours=1))["feedback"] == 1
    assert counts(logged, model_version="4") == {"predictions": 0, "feedback": 0}


def test_a_concurrent_first_label_is_not_a_duplicate_nor_an_error(logged):
    """Two requests for the same (comment, client) race: the other one inserts its row between this one's lookup
    and its insert. This one must then update that row (the UNIQUE constraint is the referee, the retry the
    answer): one row, the later label, no error."""
    from sqlalchemy import event, insert

    from ytsentiment.storage.models import utcnow

    raced = []

    def the_other_request_wins(mapper, connection, target):
        if not raced:
            raced.append(True)
            with logged.begin() as other:
                other.execute(insert(Feedback), [{
                    "created_at": utcnow(), "subject": f"p:{PID}", "prediction_id": PID, "text": None,
                    "text_sha256": target.text_sha256, "label": 1, "client_id": "c1"}])

    event.listen(Feedback, "before_insert", the_other_request_wins)
    try:
        result = record_feedback(logged, label=-1, client_id="c1", prediction_id=PID)
    finally:
        event.remove(Feedback, "before_insert", the_other_request_wins)
    assert raced, "the race did not happen"
    assert (result.status, result.previous_label, result.label) == ("updated", 1, -1)
    (row,) = rows(logged)
    assert (row.client_id, row.label, row.id) == ("c1", -1, result.id)
