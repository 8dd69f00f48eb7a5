"""Webhook batches: ``platforms.batch_size``, the most removal orders one signed request
carries (1, the default for every platform registered before, sends single-order messages).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "platforms",
        sa.Column("batch_size", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    with op.batch_alter_table("platforms") as batch:
        batch.drop_column("batch_size")
