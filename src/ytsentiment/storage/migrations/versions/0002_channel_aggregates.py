"""Channel aggregates: loads, per-video and per-month figures, most-liked comments (``ytsentiment load``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOAD_COLUMNS = ["channel_id", "run_date"]


def ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def key() -> list[sa.Column]:
    return [sa.Column("channel_id", sa.String(64), nullable=False), sa.Column("run_date", sa.Date(), nullable=False)]


def figures() -> list[sa.Column]:
    ints = ["n_comments", "n_negative", "n_neutral", "n_positive"]
    floats = ["share_negative", "share_neutral", "share_positive", "mean_sentiment", "like_weighted_score"]
    return ([sa.Column(n, sa.Integer(), nullable=False) for n in ints]
            + [sa.Column(n, sa.Float(), nullable=False) for n in floats]
            + [sa.Column("total_likes", sa.Integer(), nullable=False),
               sa.Column("unique_commenters", sa.Integer(), nullable=False),
               ts("first_published_at"), ts("last_published_at")])


def load_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(LOAD_COLUMNS, ["channel_loads.channel_id", "channel_loads.run_date"],
                                   name=f"fk_{table}_channel_id_channel_loads", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "channel_loads",
        *key(),
        sa.Column("channel_ref", sa.String(200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("n_comments", sa.Integer(), nullable=False),
        sa.Column("n_videos", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "run_date", name="pk_channel_loads"),
    )
    op.create_table(
        "video_aggregates",
        *key(),
        sa.Column("video_id", sa.String(64), nullable=False),
        *figures(),
        load_fk("video_aggregates"),
        sa.PrimaryKeyConstraint("channel_id", "run_date", "video_id", name="pk_video_aggregates"),
    )
    op.create_table(
        "monthly_aggregates",
        *key(),
        sa.Column("month", sa.String(7), nullable=False),
        *figures(),
        load_fk("monthly_aggregates"),
        sa.PrimaryKeyConstraint("channel_id", "run_date", "month", name="pk_monthly_aggregates"),
    )
    op.create_table(
        "top_comments",
        *key(),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_key", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.String(128), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("like_count", sa.Integer(), nullable=False),
        sa.Column("sentiment", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        ts("published_at"),
        load_fk("top_comments"),
        sa.PrimaryKeyConstraint("channel_id", "run_date", "scope", "scope_key", "rank", name="pk_top_comments"),
    )


def downgrade() -> None:
    op.drop_table("top_comments")
    op.drop_table("monthly_aggregates")
    op.drop_table("video_aggregates")
    op.drop_table("channel_loads")
