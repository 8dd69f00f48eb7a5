"""Drop the index on ``participants.territory``: no query selects participants by territory,
and every join paid for it (one more B-tree insert, and its page in the WAL, per join).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_participants_territory", table_name="participants")


def downgrade() -> None:
    op.create_index("ix_participants_territory", "participants", ["territory"])
