"""The platform-integration domain: registrations, namespaced references, roster events, orders.

**Namespaced references.** Another platform's meetings live in lexloci's policy engine under
the platform's name: its meeting ``room-42`` is the meeting id ``acme:room-42``, and likewise for
its series (default: the meeting itself), its host accounts and its sessions (default: the
meeting). A restriction scoped to ``Scope.meeting("acme:room-42")`` — which a case makes from the
target ``{"kind": "meeting", "ref": "acme:room-42"}`` — covers exactly that meeting of that
platform. A platform name has no ``:``, so ``<platform>:`` can never be mistaken for a lexloci id
(``mtg_…``, ``acc_…``) or another platform's namespace. A platform that names no account gets the
account id ``<platform>:`` (an empty reference), which no case target can name.

Invariants:

- a platform name matches ``PLATFORM_NAME`` (lowercase, no ``:``); a reference is 1 to
  ``MAX_REF`` printable ASCII characters without spaces;
- a removal order is identified by ``order_id(participant, restriction)``, a pure function of
  the platform participant's id and the restriction's id: every node that sweeps the same
  participant for the same restriction computes the same id, which is also the order's
  idempotency key (the ``webhook-id`` of every delivery attempt);
- an order's ``body`` is fixed when the order is made: every delivery attempt and the
  server-sent-events stream carry the same bytes; only the signature headers change.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from lexloci.errors import InvalidInput
from lexloci.geo import ClientAddress
from lexloci.policy import SessionContext

__all__ = [
    "MAX_BATCH",
    "MAX_REF",
    "PLATFORM_NAME",
    "DeliveryPolicy",
    "EventKind",
    "EventOutcome",
    "EventResult",
    "LivePresence",
    "OrderState",
    "Platform",
    "PlatformParticipant",
    "PresenceState",
    "RemovalOrder",
    "RosterEvent",
    "check_name",
    "check_ref",
    "live_key",
    "order_id",
    "participant_key",
    "platform_context",
    "platform_of",
]

#: The most orders one batch webhook carries.
MAX_BATCH: Final = 1000
PLATFORM_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_REF: Final = 200
_REF: Final = re.compile(r"^[\x21-\x7e]{1,%d}$" % MAX_REF)  # noqa: UP031 - a regex quantifier


def check_name(name: str) -> str:
    if not isinstance(name, str) or not PLATFORM_NAME.match(name):
        raise InvalidInput(
            f"invalid platform name {name!r}: 1 to 40 characters a-z, 0-9, '-' or '_', "
            "starting with a letter",
            field="platform",
        )
    return name


def check_ref(value: str, what: str) -> str:
    if not isinstance(value, str) or not _REF.match(value):
        raise InvalidInput(
            f"{what} must be 1 to {MAX_REF} printable ASCII characters without spaces",
            field=what,
        )
    return value


def platform_of(ref: str) -> str | None:
    """The platform a namespaced reference names (``acme:room-42`` → ``acme``), else None."""
    name, sep, rest = ref.partition(":")
    if not sep or not rest or not PLATFORM_NAME.match(name):
        return None
    return name


def platform_context(
    platform: str,
    meeting_ref: str,
    *,
    series_ref: str | None = None,
    account_ref: str | None = None,
    session_ref: str | None = None,
) -> SessionContext:
    """The policy engine's view of one of a platform's meetings (see the module docstring)."""
    for ref, what in (
        (meeting_ref, "meeting_ref"),
        (series_ref, "series_ref"),
        (account_ref, "account_ref"),
        (session_ref, "session_ref"),
    ):
        if ref is not None:
            check_ref(ref, what)
    return SessionContext(
        session_id=f"{platform}:{session_ref or meeting_ref}",
        meeting_id=f"{platform}:{meeting_ref}",
        series_id=f"{platform}:{series_ref or meeting_ref}",
        account_id=f"{platform}:{account_ref or ''}",
    )


def participant_key(platform: str, participant_ref: str) -> str:
    """How the audit log names a platform's participant (``participant_id`` in payloads)."""
    return f"{platform}:{participant_ref}"


def live_key(platform: str, session_id: str, participant_ref: str) -> str:
    """At most one live presence per platform, session and participant (a unique column)."""
    raw = "\x1f".join((platform, session_id, participant_ref)).encode()
    return hashlib.sha256(raw).hexdigest()


def order_id(participant_id: str, restriction_id: str) -> str:
    """The order id, and idempotency key, of removing one presence for one restriction."""
    digest = hashlib.sha256(f"{participant_id}\x1f{restriction_id}".encode()).hexdigest()
    return f"ord_{digest[:24]}"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How removal orders are pushed to one platform's webhook.

    A failed attempt (no answer within ``timeout``, a connection error, or a status that is
    not 2xx) is retried after ``retry_base * 2**(attempts - 1)`` (at most ``retry_max``, with
    up to 50 % random reduction so that many orders do not retry in lock step). After
    ``max_attempts`` attempts the order is dead-lettered. A ``202 Accepted`` answer means
    "received, will acknowledge later": the order is re-sent after ``ack_timeout`` unless
    acknowledged, and counts as an attempt.

    ``batch_size`` 1 (the default) sends each order as its own message, whose ``webhook-id`` is
    the order's idempotency key — what any Standard Webhooks receiver expects. Above 1, a
    request carries up to that many orders as one batch message (``lexloci.platforms.webhooks``),
    each keeping its own idempotency key inside; the answer counts for every order in it.
    """

    max_attempts: int = 12
    retry_base: dt.timedelta = dt.timedelta(seconds=1)
    retry_max: dt.timedelta = dt.timedelta(minutes=10)
    timeout: dt.timedelta = dt.timedelta(seconds=10)
    ack_timeout: dt.timedelta = dt.timedelta(minutes=1)
    concurrency: int = 16
    batch_size: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise InvalidInput("max_attempts is 1 to 100")
        if not dt.timedelta(milliseconds=1) <= self.retry_base <= self.retry_max:
            raise InvalidInput("retry_base is at least 1 ms and at most retry_max")
        if self.retry_max > dt.timedelta(days=1):
            raise InvalidInput("retry_max is at most one day")
        # The claim lease is derived from the timeout; a longer one would hold orders too long.
        if not dt.timedelta(milliseconds=10) <= self.timeout <= dt.timedelta(seconds=30):
            raise InvalidInput("timeout is 10 ms to 30 s")
        if not dt.timedelta(milliseconds=10) <= self.ack_timeout <= dt.timedelta(days=1):
            raise InvalidInput("ack_timeout is 10 ms to one day")
        if not 1 <= self.concurrency <= 256:
            raise InvalidInput("concurrency is 1 to 256")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise InvalidInput(f"batch_size is 1 to {MAX_BATCH}")

    def backoff(self, attempts: int, jitter: float) -> dt.timedelta:
        """The wait after the ``attempts``-th failure; ``jitter`` in [0, 1) from the caller."""
        step = self.retry_base * (2 ** min(attempts - 1, 30))
        delay: dt.timedelta = min(step, self.retry_max)
        return delay - delay * (jitter / 2)

    @property
    def lease(self) -> dt.timedelta:
        """How long a delivery worker holds the orders it claimed (see ``webhooks``)."""
        return self.timeout * 6 + dt.timedelta(seconds=30)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "retry_base_ms": _ms(self.retry_base),
            "retry_max_ms": _ms(self.retry_max),
            "timeout_ms": _ms(self.timeout),
            "ack_timeout_ms": _ms(self.ack_timeout),
            "concurrency": self.concurrency,
            "batch_size": self.batch_size,
        }


def _ms(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() * 1000)


@dataclass(frozen=True, slots=True)
class Platform:
    """A registered platform. ``secret`` signs its webhooks (``whsec_`` + base64)."""

    name: str
    webhook_url: str | None
    secret: str
    trusted_proxies: tuple[str, ...]
    delivery: DeliveryPolicy
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """The registration as shown by the API (never the secret)."""
        return {
            "name": self.name,
            "webhook_url": self.webhook_url,
            "trusted_proxies": list(self.trusted_proxies),
            "delivery": self.delivery.to_dict(),
            "created_at": self.created_at.isoformat(),
        }


class PresenceState(enum.StrEnum):
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"  # a removal order was made for this presence


@dataclass(frozen=True, slots=True)
class PlatformParticipant:
    """One presence of a platform's participant in one of its sessions: from ``joined`` to
    ``left`` or ``removed``. A participant who joins again after leaving is a new presence."""

    id: str
    platform: str
    participant_ref: str
    context: SessionContext
    state: PresenceState
    territory: str | None
    location: dict[str, Any]
    client_ip: str | None
    client_via: str
    phone: str | None
    language: str
    joined_at: dt.datetime
    updated_at: dt.datetime
    left_at: dt.datetime | None = None
    decision_id: str | None = None
    reason: dict[str, Any] | None = None

    def live(self) -> LivePresence:
        return LivePresence(
            self.id,
            self.platform,
            self.participant_ref,
            self.context,
            self.client_ip,
            self.phone,
            self.language,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "participant_ref": self.participant_ref,
            "context": self.context.to_dict(),
            "state": self.state.value,
            "territory": self.territory,
            "joined_at": self.joined_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "left_at": self.left_at.isoformat() if self.left_at else None,
            "reason": self.reason,
            "location": self.location,
            "client_ip": self.client_ip,
            "phone": self.phone,
            "decision_id": self.decision_id,
        }


@dataclass(frozen=True, slots=True)
class LivePresence:
    """What a sweep needs of a live presence. Its stored evidence is not read: it is located
    again from its address and phone, as ``MeetingService.load`` does for lexloci's own."""

    id: str
    platform: str
    participant_ref: str
    context: SessionContext
    client_ip: str | None
    phone: str | None
    language: str


class EventKind(enum.StrEnum):
    JOINED = "participant.joined"
    LEFT = "participant.left"
    ADDRESS_CHANGED = "participant.address_changed"


@dataclass(frozen=True, slots=True)
class RosterEvent:
    """One roster event from a platform. ``id`` is the platform's, unique per platform."""

    id: str
    kind: EventKind
    participant_ref: str
    meeting_ref: str
    series_ref: str | None = None
    account_ref: str | None = None
    session_ref: str | None = None
    client: ClientAddress | None = None
    phone: str | None = None
    language: str = "en"
    decision_id: str | None = None
    digest: str = ""  # of the event as sent: the same id with other content is refused


class EventOutcome(enum.StrEnum):
    APPLIED = "applied"  # the roster changed as the event says
    DUPLICATE = "duplicate"  # this event id was seen before: nothing changed
    NOT_LIVE = "not_live"  # left / address changed for nobody live: recorded, nothing changed
    CONFLICT = "conflict"  # the event id was used before for a different event: refused


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str
    outcome: EventOutcome
    participant_id: str | None = None
    state: str | None = None
    territory: str | None = None
    orders: tuple[str, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "outcome": self.outcome.value,
            "participant_id": self.participant_id,
            "state": self.state,
            "territory": self.territory,
            "orders": list(self.orders),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventResult:
        return cls(
            data["id"],
            EventOutcome(data["outcome"]),
            data.get("participant_id"),
            data.get("state"),
            data.get("territory"),
            tuple(data.get("orders") or ()),
            data.get("message") or "",
        )


class OrderState(enum.StrEnum):
    PENDING = "pending"  # not delivered yet, or being retried after a failed attempt
    DELIVERED = "delivered"  # answered 202: awaiting the platform's acknowledgement
    ACKNOWLEDGED = "acknowledged"  # a 2xx (other than 202) answer, or an explicit ack
    DEAD = "dead"  # max_attempts reached: in the dead-letter list until redelivered or acked


@dataclass(frozen=True, slots=True)
class RemovalOrder:
    """Remove one presence for one restriction: what the platform is told, and how delivery
    went. ``body`` is the exact JSON text every delivery carries (Standard Webhooks payload
    shape: ``type``, ``timestamp``, ``data``)."""

    id: str
    platform: str
    participant_id: str
    restriction_id: str
    restriction_version: int
    case_ref: str | None
    territory: str | None
    body: str
    created_at: dt.datetime
    state: OrderState = OrderState.PENDING
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    acked_via: str | None = None
    dead_at: dt.datetime | None = None
    last_error: str | None = None

    @property
    def idempotency_key(self) -> str:
        return self.id

    def to_dict(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "platform": self.platform,
            "participant_id": self.participant_id,
            "restriction_id": self.restriction_id,
            "restriction_version": self.restriction_version,
            "case_ref": self.case_ref,
            "territory": self.territory,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": when(self.next_attempt_at),
            "last_attempt_at": when(self.last_attempt_at),
            "delivered_at": when(self.delivered_at),
            "acked_at": when(self.acked_at),
            "acked_via": self.acked_via,
            "dead_at": when(self.dead_at),
            "last_error": self.last_error,
            "order": json.loads(self.body),
        }
