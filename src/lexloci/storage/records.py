"""Tables for the platform's records: accounts, meetings, sessions, participants, restrictions,
API tokens, and other platforms' registrations, rosters, roster events and removal orders. They
share ``lexloci.storage.tables.metadata`` with the audit log, so one migration history covers
everything.

Times are stored timezone-aware (``UTCDateTime`` normalizes SQLite's naive values back to UTC);
evidence snapshots and reasons are JSON, exactly as they were shown and audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from lexloci.storage.tables import metadata

__all__ = [
    "UTCDateTime",
    "account_suspensions",
    "accounts",
    "api_tokens",
    "attachments",
    "cases",
    "disclosures",
    "meetings",
    "nodes",
    "order_parts",
    "participants",
    "platform_events",
    "platform_participants",
    "platforms",
    "removal_orders",
    "restrictions",
    "sessions",
]


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("home_country", sa.String(10), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("topic", sa.String(300), nullable=False),
    sa.Column("host_account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("series_id", sa.String(40), nullable=False, index=True),
    sa.Column("recurrence", sa.String(100)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "meeting_id", sa.String(40), sa.ForeignKey("meetings.id"), nullable=False, index=True
    ),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("node", sa.String(100)),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime()),
)

participants = sa.Table(
    "participants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "session_id", sa.String(40), sa.ForeignKey("sessions.id"), nullable=False, index=True
    ),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("user_id", sa.String(100)),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("phone", sa.String(40)),
    sa.Column("territory", sa.String(10)),  # no index: no query selects by it (0005)
    sa.Column("location", sa.JSON, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.JSON),
    sa.Column("language", sa.String(10), nullable=False, server_default="en"),
    sa.Column("decision_id", sa.String(60)),
    sa.Column("token_hash", sa.String(64), unique=True),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.Column("left_at", UTCDateTime()),
)

restrictions = sa.Table(
    "restrictions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("case_ref", sa.String(60), nullable=False, index=True),
    sa.Column("body", sa.JSON, nullable=False),  # the whole restriction, see restriction_codec
    sa.Column("valid_from", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=False),
    sa.Column("lifted_at", UTCDateTime()),
    sa.Column("expired_at", UTCDateTime()),  # when the expiry was recorded (audited)
    # The outbox of the fleet bus: the highest version published to every node.
    sa.Column("published_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20)),  # admin, intake, reviewer, approver, auditor
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id")),  # a host's token
    sa.Column("platform", sa.String(40), sa.ForeignKey("platforms.name")),  # a platform's token
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(30), nullable=False, index=True),
    sa.Column("country", sa.String(10), nullable=False, index=True),
    sa.Column("request_type", sa.String(40), nullable=False, index=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("deadline", UTCDateTime()),
    sa.Column("intake_by", sa.String(100), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),  # the whole request record (Case.to_dict)
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),  # content-addressed
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("first_case_id", sa.String(40), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("added_at", UTCDateTime(), nullable=False),
)

disclosures = sa.Table(
    "disclosures",
    metadata,
    sa.Column("case_id", sa.String(40), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("package", sa.JSON, nullable=False),
)

account_suspensions = sa.Table(
    "account_suspensions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("case_id", sa.String(40), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("valid_from", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=False),
    sa.Column("lifted_at", UTCDateTime()),
    sa.Column("ended_at", UTCDateTime()),
)

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("url", sa.String(300), nullable=False),  # where clients reach this node
    sa.Column("accepts_sessions", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen", UTCDateTime(), nullable=False),
)


# -- other platforms (lexloci.platforms) ---------------------------------------------------------

platforms = sa.Table(
    "platforms",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("webhook_url", sa.String(500)),  # none: the platform pulls (server-sent events)
    sa.Column("secret", sa.String(100), nullable=False),  # signs webhooks, so kept, not hashed
    sa.Column("trusted_proxies", sa.JSON, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("retry_base_ms", sa.Integer, nullable=False),
    sa.Column("retry_max_ms", sa.Integer, nullable=False),
    sa.Column("timeout_ms", sa.Integer, nullable=False),
    sa.Column("ack_timeout_ms", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Orders per webhook request; 1 sends single-order messages (see lexloci.platforms.webhooks).
    sa.Column("batch_size", sa.Integer, nullable=False, server_default="1"),
)

# One row per presence: a participant who leaves and joins again is a new row.
platform_participants = sa.Table(
    "platform_participants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("platform", sa.String(40), sa.ForeignKey("platforms.name"), nullable=False),
    sa.Column("participant_ref", sa.String(200), nullable=False),
    sa.Column("session_id", sa.String(250), nullable=False),  # namespaced: "<platform>:<ref>"
    sa.Column("meeting_id", sa.String(250), nullable=False, index=True),
    sa.Column("series_id", sa.String(250), nullable=False, index=True),
    sa.Column("account_id", sa.String(250), nullable=False, index=True),
    # sha256 of (platform, session, participant) while live, NULL after: at most one live
    # presence per participant and session, on every backend (NULLs never collide).
    sa.Column("live_key", sa.String(64), unique=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("territory", sa.String(10)),
    sa.Column("location", sa.JSON, nullable=False),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("client_via", sa.String(20), nullable=False),
    sa.Column("phone", sa.String(40)),
    sa.Column("language", sa.String(10), nullable=False),
    sa.Column("decision_id", sa.String(60)),
    sa.Column("reason", sa.JSON),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("left_at", UTCDateTime()),
    sa.Index(None, "platform", "state"),
    sa.Index(None, "state"),
)

platform_events = sa.Table(
    "platform_events",
    metadata,
    sa.Column("platform", sa.String(40), sa.ForeignKey("platforms.name"), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("result", sa.JSON),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

# What the bodies of many removal orders share (evidence, reason, notice texts, restriction),
# stored once: an order with ``parts`` keeps only its own text in ``body`` (with tokens where
# the parts go; lexloci.platforms.orders.assemble). Content-addressed, so never updated.
order_parts = sa.Table(
    "order_parts",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # SHA-256 of parts
    sa.Column("parts", sa.Text, nullable=False),
)

removal_orders = sa.Table(
    "removal_orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # also the idempotency key (webhook-id)
    sa.Column("platform", sa.String(40), sa.ForeignKey("platforms.name"), nullable=False),
    sa.Column(
        "participant_id",
        sa.String(40),
        sa.ForeignKey("platform_participants.id"),
        nullable=False,
    ),
    sa.Column("restriction_id", sa.String(40), nullable=False),
    sa.Column("restriction_version", sa.Integer, nullable=False),
    sa.Column("case_ref", sa.String(60)),
    sa.Column("territory", sa.String(10)),
    # The exact JSON every delivery carries; with ``parts``, the order's own part of it.
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("parts", sa.String(64), sa.ForeignKey("order_parts.digest")),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("claimed_by", sa.String(100)),
    sa.Column("claimed_until", UTCDateTime()),
    sa.Column("last_attempt_at", UTCDateTime()),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("acked_at", UTCDateTime()),
    sa.Column("acked_via", sa.String(20)),
    sa.Column("dead_at", UTCDateTime()),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Exactly one order per presence and restriction, however many nodes sweep.
    sa.UniqueConstraint("participant_id", "restriction_id"),
    sa.Index(None, "platform", "state"),
    sa.Index(None, "state", "next_attempt_at"),
)
