"""Storage tier fixtures: every database test runs twice, on SQLite and on a real PostgreSQL server (the database
fixtures of tests/support/database.py), plus rows shaped as the API logs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.database import (  # noqa: F401 - fixtures
    backend,
    db_url,
    empty_url,
    engine,
    outage,
    pg_migrated,
    pg_server,
    sqlite_template,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _make_row(i: int, created_at: datetime = T0, text: str | None = None, log_text: bool = True, **overrides):
    """A predictions row as the API would log it (comment ``i``, positive unless told otherwise)."""
    from ytsentiment.storage.rows import prediction_row

    row = prediction_row(text=text if text is not None else f"comment number {i} 👍", sentiment=1,
                         proba=[0.1, 0.2, 0.7], model_name="ytsentiment", model_version="3",
                         created_at=created_at + timedelta(seconds=i), log_text=log_text,
                         prediction_id=f"00000000-0000-4000-8000-{i:012d}", video_id="dQw4w9WgXcQ")
    row.update(overrides)
    return row


def _insert_rows(eng, rows) -> None:
    from sqlalchemy import insert

    from ytsentiment.storage.models import Prediction

    with eng.begin() as conn:
        conn.execute(insert(Prediction), rows)


@pytest.fixture
def make_row():
    return _make_row


@pytest.fixture
def insert_rows():
    return _insert_rows
