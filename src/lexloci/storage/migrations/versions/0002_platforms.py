"""Other platforms: registrations, rosters (presences), roster events, removal orders, and
platform tokens (``api_tokens.platform``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("trusted_proxies", sa.JSON(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_base_ms", sa.Integer(), nullable=False),
        sa.Column("retry_max_ms", sa.Integer(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("ack_timeout_ms", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platforms")),
    )
    op.create_table(
        "platform_events",
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform"], ["platforms.name"], name=op.f("fk_platform_events_platform_platforms")
        ),
        sa.PrimaryKeyConstraint("platform", "event_id", name=op.f("pk_platform_events")),
    )
    op.create_table(
        "platform_participants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.String(length=250), nullable=False),
        sa.Column("meeting_id", sa.String(length=250), nullable=False),
        sa.Column("series_id", sa.String(length=250), nullable=False),
        sa.Column("account_id", sa.String(length=250), nullable=False),
        sa.Column("live_key", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("territory", sa.String(length=10), nullable=True),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("client_via", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("decision_id", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform"],
            ["platforms.name"],
            name=op.f("fk_platform_participants_platform_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_participants")),
        sa.UniqueConstraint("live_key", name=op.f("uq_platform_participants_live_key")),
    )
    with op.batch_alter_table("platform_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_platform_participants_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_platform_participants_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_platform_participants_platform_state"),
            ["platform", "state"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_platform_participants_series_id"), ["series_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_platform_participants_state"), ["state"], unique=False)

    op.create_table(
        "removal_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=40), nullable=False),
        sa.Column("restriction_id", sa.String(length=40), nullable=False),
        sa.Column("restriction_version", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=60), nullable=True),
        sa.Column("territory", sa.String(length=10), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_via", sa.String(length=20), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["platform_participants.id"],
            name=op.f("fk_removal_orders_participant_id_platform_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["platform"], ["platforms.name"], name=op.f("fk_removal_orders_platform_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removal_orders")),
        sa.UniqueConstraint(
            "participant_id",
            "restriction_id",
            name=op.f("uq_removal_orders_participant_id_restriction_id"),
        ),
    )
    with op.batch_alter_table("removal_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_removal_orders_platform_state"), ["platform", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_removal_orders_state_next_attempt_at"),
            ["state", "next_attempt_at"],
            unique=False,
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_platform_platforms"), "platforms", ["platform"], ["name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_platform_platforms"), type_="foreignkey")
        batch_op.drop_column("platform")

    with op.batch_alter_table("removal_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_removal_orders_state_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_removal_orders_platform_state"))

    op.drop_table("removal_orders")
    with op.batch_alter_table("platform_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_participants_state"))
        batch_op.drop_index(batch_op.f("ix_platform_participants_series_id"))
        batch_op.drop_index(batch_op.f("ix_platform_participants_platform_state"))
        batch_op.drop_index(batch_op.f("ix_platform_participants_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_platform_participants_account_id"))

    op.drop_table("platform_participants")
    op.drop_table("platform_events")
    op.drop_table("platforms")
