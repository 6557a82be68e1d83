"""Tables of the channel batch path (``ytsentiment load`` writes them, ``ytsentiment report`` reads them).

Created by migration ``0002`` (``storage/migrations/versions/0002_channel_aggregates.py``). Every row belongs to one
*load*: a channel and a run date (the Airflow ``{{ ds }}``), so re-loading the same channel and date replaces that
load's rows in one transaction and nothing else; older run dates stay as the channel's history.

    channel_loads        one row per (channel_id, run_date): what was loaded, by which model, when
    video_aggregates     per video of the load: counts, class shares, like-weighted score, unique commenters
    monthly_aggregates   per calendar month (UTC, of the comment's publishedAt), the same figures
    top_comments         the most-liked comments: per video, per month, and the channel's positive / negative ones

The like-weighted score is the mean sentiment (-1, 0, 1) with weights ``1 + log1p(likes)``: a comment with 10,000
likes weighs about 10 times an unliked one, not 10,000 times, so one viral comment cannot decide a video.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKeyConstraint, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ytsentiment.storage.models import Base, UTCDateTime

LOAD_FK = (["channel_id", "run_date"], ["channel_loads.channel_id", "channel_loads.run_date"])


class ChannelLoad(Base):
    """One load of a channel's scored comments for a run date."""

    __tablename__ = "channel_loads"

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    channel_ref: Mapped[str] = mapped_column(String(200))  # as configured: UC… id or @handle
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    n_comments: Mapped[int] = mapped_column(Integer)
    n_videos: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)


class _Figures:
    """The figures every aggregate row carries."""

    n_comments: Mapped[int] = mapped_column(Integer)
    n_negative: Mapped[int] = mapped_column(Integer)
    n_neutral: Mapped[int] = mapped_column(Integer)
    n_positive: Mapped[int] = mapped_column(Integer)
    share_negative: Mapped[float] = mapped_column(Float)
    share_neutral: Mapped[float] = mapped_column(Float)
    share_positive: Mapped[float] = mapped_column(Float)
    mean_sentiment: Mapped[float] = mapped_column(Float)
    like_weighted_score: Mapped[float] = mapped_column(Float)
    total_likes: Mapped[int] = mapped_column(Integer)
    unique_commenters: Mapped[int] = mapped_column(Integer)
    first_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VideoAggregate(_Figures, Base):
    __tablename__ = "video_aggregates"
    __table_args__ = (ForeignKeyConstraint(*LOAD_FK, ondelete="CASCADE"),)

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    video_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class MonthlyAggregate(_Figures, Base):
    __tablename__ = "monthly_aggregates"
    __table_args__ = (ForeignKeyConstraint(*LOAD_FK, ondelete="CASCADE"),)

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM


class TopComment(Base):
    """A most-liked comment. ``scope``: ``video`` or ``month`` (``scope_key`` = the video id or YYYY-MM; any
    class), ``positive`` or ``negative`` (the channel's, ``scope_key`` = "")."""

    __tablename__ = "top_comments"
    __table_args__ = (ForeignKeyConstraint(*LOAD_FK, ondelete="CASCADE"),)

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[str] = mapped_column(String(128))
    video_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    like_count: Mapped[int] = mapped_column(Integer)
    sentiment: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

