"""The tables (SQLAlchemy 2 declarative models), portable across SQLite and PostgreSQL.

The schema itself is versioned by the Alembic migrations in ``storage/migrations/versions`` (revision ``0001``
creates these four tables); these classes are how Python code reads and writes them. Another feature that adds
tables subclasses ``Base`` and ships its own migration with ``down_revision`` pointing at the latest one.

Times are ``UTCDateTime``: timezone-aware UTC in Python, ``timestamptz`` on PostgreSQL, naive UTC text on SQLite
(which has no time zones). Naive datetimes are refused, so no local time ever lands in the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so migrations can address them on both back ends.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER on SQLite, where only "INTEGER PRIMARY KEY" auto-increments.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every back end."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r} (use datetime.now(UTC))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Prediction(Base):
    """One served prediction (one comment). ``id`` is made by the API at request time and returned to the client
    as ``prediction_id``; ``text`` is kept only when PREDICTION_LOG_TEXT is on, ``text_sha256`` always."""

    __tablename__ = "predictions"
    __table_args__ = (
        CheckConstraint("sentiment IN (-1, 0, 1)", name="sentiment"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    video_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    sentiment: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    proba_negative: Mapped[float] = mapped_column(Float)
    proba_neutral: Mapped[float] = mapped_column(Float)
    proba_positive: Mapped[float] = mapped_column(Float)
    n_chars: Mapped[int] = mapped_column(Integer)
    n_words: Mapped[int] = mapped_column(Integer)
    emoji_share: Mapped[float] = mapped_column(Float)
    non_letter_share: Mapped[float] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    # time the model took to score the request this comment came in (ms, the whole batch); NULL before 0004
    latency_ms: Mapped[float | None] = mapped_column(Float)


class ShadowPrediction(Base):
    """The `challenger`'s answer for a served comment (decision 0017): keyed by production's ``prediction_id`` and
    the challenger's version. No foreign key: the two rows reach the database through the spool independently, in
    either order. ``latency_ms`` is the challenger's time for the whole request's batch, as in ``predictions``."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (
        CheckConstraint("sentiment IN (-1, 0, 1)", name="sentiment"),
    )

    prediction_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sentiment: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    proba_negative: Mapped[float] = mapped_column(Float)
    proba_neutral: Mapped[float] = mapped_column(Float)
    proba_positive: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)


class Feedback(Base):
    """A person's label for a comment, about a logged prediction or about a text alone.

    ``subject`` is what the label is about: ``p:<prediction id>`` or ``t:<text sha256>``; one row per
    (subject, client), so a repeat changes the label instead of adding a vote. It is kept when a purge deletes the
    prediction (``prediction_id`` then becomes NULL), so the row's identity does not change under it.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("subject", "client_id"),
        CheckConstraint("label IN (-1, 0, 1)", name="label"),
        Index("ix_feedback_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(String(80))
    prediction_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("predictions.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[int] = mapped_column(SmallInteger)
    client_id: Mapped[str] = mapped_column(String(128))
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(64))
    # the sender's address as the first 16 hex digits of its sha256 (``feedback.address_hash``); NULL before 0003
    address: Mapped[str | None] = mapped_column(String(16))


class MonitorRun(Base):
    """One monitoring job: a window of predictions (+ feedback) of one model version, its figures and decision."""

    __tablename__ = "monitor_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    n_predictions: Mapped[int] = mapped_column(Integer)
    n_feedback: Mapped[int] = mapped_column(Integer)
    drift_score: Mapped[float | None] = mapped_column(Float)
    drift_detected: Mapped[bool | None] = mapped_column(Boolean)
    class_mix_distance: Mapped[float | None] = mapped_column(Float)
    live_macro_f1: Mapped[float | None] = mapped_column(Float)
    live_accuracy: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    summary: Mapped[str] = mapped_column(Text, default="{}")


class MonitorBaseline(Base):
    """The production version's own baseline: the first window it served, pinned once."""

    __tablename__ = "monitor_baselines"

    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    n_predictions: Mapped[int] = mapped_column(Integer)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime())


PREDICTION_COLUMNS = tuple(c.name for c in Prediction.__table__.columns)
