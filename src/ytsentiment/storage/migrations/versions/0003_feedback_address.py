"""Feedback: the sender's address as a pseudonymous hash, so limits and the export can weigh by address.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("address", sa.String(16), nullable=True))
        batch.create_index("ix_feedback_address_created_at", ["address", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_address_created_at")
        batch.drop_column("address")
