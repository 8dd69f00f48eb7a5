"""Order parts: what many removal orders' bodies share is stored once (``order_parts``, keyed
by digest); an order with ``removal_orders.parts`` keeps only its own text in ``body``.
Orders written before keep their whole body and no parts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:00:00.000000
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_parts",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_order_parts")),
    )
    with op.batch_alter_table("removal_orders") as batch:
        batch.add_column(sa.Column("parts", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_removal_orders_parts_order_parts"), "order_parts", ["parts"], ["digest"]
        )


def downgrade() -> None:
    # Orders stored as parts would lose their shared text: put every body back whole first.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT o.id, o.body, p.parts FROM removal_orders o "
            "JOIN order_parts p ON p.digest = o.parts"
        )
    ).all()
    for order_id, own, text in rows:
        bind.execute(
            sa.text("UPDATE removal_orders SET body = :body WHERE id = :id"),
            {"body": _assemble(own, text), "id": order_id},
        )
    with op.batch_alter_table("removal_orders") as batch:
        batch.drop_constraint(batch.f("fk_removal_orders_parts_order_parts"), type_="foreignkey")
        batch.drop_column("parts")
    op.drop_table("order_parts")


def _assemble(own: str, parts: str) -> str:
    """``lexloci.platforms.orders.assemble`` as of this revision: each part's token (the JSON
    string of NUL + name + NUL) in the order's own text replaced by the part, in one pass."""
    pieces: dict[str, str] = json.loads(parts)
    by_token = {json.dumps(f"\x00{name}\x00"): piece for name, piece in pieces.items()}
    pattern = re.compile("|".join(re.escape(token) for token in by_token))
    return pattern.sub(lambda found: by_token[found.group()], own)
