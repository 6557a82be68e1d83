"""Prediction log, feedback, monitor runs and baselines.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(36), nullable=False),
        ts("created_at"),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("sentiment", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("proba_negative", sa.Float(), nullable=False),
        sa.Column("proba_neutral", sa.Float(), nullable=False),
        sa.Column("proba_positive", sa.Float(), nullable=False),
        sa.Column("n_chars", sa.Integer(), nullable=False),
        sa.Column("n_words", sa.Integer(), nullable=False),
        sa.Column("emoji_share", sa.Float(), nullable=False),
        sa.Column("non_letter_share", sa.Float(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.CheckConstraint("sentiment IN (-1, 0, 1)", name="ck_predictions_sentiment"),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
    )
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])

    op.create_table(
        "feedback",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        ts("created_at"),
        ts("updated_at", nullable=True),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("prediction_id", sa.String(36), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.SmallInteger(), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.CheckConstraint("label IN (-1, 0, 1)", name="ck_feedback_label"),
        sa.ForeignKeyConstraint(["prediction_id"], ["predictions.id"], name="fk_feedback_prediction_id_predictions",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("subject", "client_id", name="uq_feedback_subject_client_id"),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index("ix_feedback_prediction_id", "feedback", ["prediction_id"])
    op.create_index("ix_feedback_text_sha256", "feedback", ["text_sha256"])

    op.create_table(
        "monitor_runs",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        ts("run_at"),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        ts("window_start"),
        ts("window_end"),
        sa.Column("n_predictions", sa.Integer(), nullable=False),
        sa.Column("n_feedback", sa.Integer(), nullable=False),
        sa.Column("drift_score", sa.Float(), nullable=True),
        sa.Column("drift_detected", sa.Boolean(), nullable=True),
        sa.Column("class_mix_distance", sa.Float(), nullable=True),
        sa.Column("live_macro_f1", sa.Float(), nullable=True),
        sa.Column("live_accuracy", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
    )
    op.create_index("ix_monitor_runs_run_at", "monitor_runs", ["run_at"])

    op.create_table(
        "monitor_baselines",
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        ts("window_start"),
        ts("window_end"),
        sa.Column("n_predictions", sa.Integer(), nullable=False),
        ts("pinned_at"),
        sa.PrimaryKeyConstraint("model_name", "model_version", name="pk_monitor_baselines"),
    )


def downgrade() -> None:
    op.drop_table("monitor_baselines")
    op.drop_index("ix_monitor_runs_run_at", table_name="monitor_runs")
    op.drop_table("monitor_runs")
    op.drop_index("ix_feedback_text_sha256", table_name="feedback")
    op.drop_index("ix_feedback_prediction_id", table_name="feedback")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_predictions_created_at", table_name="predictions")
    op.drop_table("predictions")
