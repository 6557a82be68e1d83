"""The challenger's shadow answers (``shadow_predictions``) and each model's scoring time (``latency_ms``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("prediction_id", sa.String(36), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sentiment", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("proba_negative", sa.Float(), nullable=False),
        sa.Column("proba_neutral", sa.Float(), nullable=False),
        sa.Column("proba_positive", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.CheckConstraint("sentiment IN (-1, 0, 1)", name="ck_shadow_predictions_sentiment"),
        sa.PrimaryKeyConstraint("prediction_id", "model_version", name="pk_shadow_predictions"),
    )
    op.create_index("ix_shadow_predictions_created_at", "shadow_predictions", ["created_at"])
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("latency_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("latency_ms")
    op.drop_index("ix_shadow_predictions_created_at", "shadow_predictions")
    op.drop_table("shadow_predictions")
