"""Initial schema: records, restrictions, cases, tokens, nodes and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 21:14:04.722768
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lexloci.storage.tables import AUDIT_LOG_GUARD_DDL

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("home_country", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.String(length=27), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_actor_seq"), ["actor", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_tag_seq"), ["tag", "seq"], unique=False)
    # The database itself refuses to change or delete audit entries (docs/audit.md).
    for statement in AUDIT_LOG_GUARD_DDL.get(op.get_context().dialect.name, []):
        op.execute(statement)

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("country", sa.String(length=10), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("intake_by", sa.String(length=100), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_request_type"), ["request_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_status"), ["status"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("accepts_sessions", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_nodes")),
    )
    op.create_table(
        "restrictions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=60), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restrictions")),
    )
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restrictions_case_ref"), ["case_ref"], unique=False)

    op.create_table(
        "account_suspensions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_suspensions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_account_suspensions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_suspensions")),
    )
    with op.batch_alter_table("account_suspensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_suspensions_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_tokens_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "attachments",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_case_id", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_case_id"], ["cases.id"], name=op.f("fk_attachments_first_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_attachments")),
    )
    op.create_table(
        "disclosures",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("package", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_disclosures_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_disclosures")),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("host_account_id", sa.String(length=40), nullable=False),
        sa.Column("series_id", sa.String(length=40), nullable=False),
        sa.Column("recurrence", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_account_id"], ["accounts.id"], name=op.f("fk_meetings_host_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_series_id"), ["series_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("meeting_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("locked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_sessions_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("territory", sa.String(length=10), nullable=True),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.Column("language", sa.String(length=10), server_default="en", nullable=False),
        sa.Column("decision_id", sa.String(length=60), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_participants_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_participants_token_hash")),
    )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participants_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_participants_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_participants_territory"), ["territory"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participants_territory"))
        batch_op.drop_index(batch_op.f("ix_participants_state"))
        batch_op.drop_index(batch_op.f("ix_participants_session_id"))

    op.drop_table("participants")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_meeting_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_series_id"))

    op.drop_table("meetings")
    op.drop_table("disclosures")
    op.drop_table("attachments")
    op.drop_table("api_tokens")
    with op.batch_alter_table("account_suspensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_suspensions_case_id"))

    op.drop_table("account_suspensions")
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restrictions_case_ref"))

    op.drop_table("restrictions")
    op.drop_table("nodes")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_status"))
        batch_op.drop_index(batch_op.f("ix_cases_request_type"))
        batch_op.drop_index(batch_op.f("ix_cases_country"))

    op.drop_table("cases")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_tag_seq"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_seq"))

    op.drop_table("audit_log")
    op.drop_table("accounts")
