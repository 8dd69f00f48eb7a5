"""What platform integration needs from storage (``lexloci.storage.platform_store`` is the
SQL adapter).

Invariants an adapter keeps:

- ``PlatformStore.transaction()`` yields a ``PlatformTx``: the roster change, the orders it
  makes and their audit entries commit together or not at all (I4);
- ``PlatformTx.insert_orders`` inserts only orders whose (participant, restriction) pair is not
  stored yet and returns the ids it inserted, atomically with respect to every other node: two
  nodes sweeping the same participant for the same restriction insert (and so audit) one order;
- ``PlatformTx.claim_event`` records an event id once per platform: a second claim of the same
  id returns what the first recorded, and changes nothing;
- ``PlatformStore.claim`` hands each due order to one worker at a time: a claimed order is
  invisible to other claims until the claim's lease ends or ``record`` releases it, across
  processes; ``record`` writes only orders still claimed by the same worker and never
  overwrites an acknowledgement. ``insert_orders`` may insert orders already claimed (a
  ``Handover``'s worker and lease): the same claim, made when the order is written.

``OrderCourier`` is the other side of a handover: this node's delivery worker, which reserves
room for orders a sweep is about to write and takes them, after their transaction committed,
straight to its senders — so a fresh order is not claimed (written and read back) once more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from lexloci.audit.tags import AuditTag
from lexloci.platforms.model import (
    LivePresence,
    OrderState,
    Platform,
    PlatformParticipant,
    PresenceState,
    RemovalOrder,
)
from lexloci.platforms.orders import BodyParts
from lexloci.policy import Scope

__all__ = [
    "ClaimedEvent",
    "Handover",
    "OrderCourier",
    "OrderUpdate",
    "PlatformStore",
    "PlatformTx",
]


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """The outcome of claiming an event id: new, or the record of its first use."""

    new: bool
    digest: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The state an order moves to after a delivery attempt (or a check of its deadline)."""

    order_id: str
    state: OrderState
    attempts: int
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    acked_via: str | None = None
    dead_at: dt.datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Handover:
    """Room a delivery worker reserved for up to ``room`` new orders of ``platform``: they are
    inserted claimed by ``worker`` until ``until`` and handed to it once committed. Each
    reservation is its own object (compared and hashed by identity)."""

    platform: str
    worker: str
    until: dt.datetime
    room: int


class OrderCourier(Protocol):
    """Delivers orders made on this node without claiming them again (``DeliveryWorker``).

    Every ``Handover`` that ``reserve`` returns must be given back to ``hand_over`` exactly once,
    with the orders inserted under it after their transaction committed — or none, if it rolled
    back or inserted nothing — which releases the room they did not use."""

    def reserve(self, platform: str, count: int) -> Handover | None:
        """Room for up to ``count`` orders (perhaps fewer), or None: claim them as usual."""
        ...

    def hand_over(self, handover: Handover, orders: Sequence[RemovalOrder]) -> None: ...


class PlatformTx(Protocol):
    def insert_platform(self, platform: Platform) -> None: ...

    def claim_event(
        self, platform: str, event_id: str, kind: str, digest: str, at: dt.datetime
    ) -> ClaimedEvent: ...

    def set_event_result(self, platform: str, event_id: str, result: Mapping[str, Any]) -> None: ...

    def live_presence(self, key: str) -> PlatformParticipant | None: ...

    def insert_presence(self, participant: PlatformParticipant, key: str) -> None: ...

    def update_presence(self, participant: PlatformParticipant) -> None: ...

    def lock_live(self, ids: Sequence[str]) -> set[str]:
        """Which of these presences are live, holding them until the transaction ends."""
        ...

    def end_presences(
        self,
        ids: Sequence[str],
        state: PresenceState,
        at: dt.datetime,
        reasons: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Move live presences to ``left`` or ``removed``; returns how many were live."""
        ...

    def remove_presences(self, reasons: Sequence[tuple[str, str]], at: dt.datetime) -> int:
        """Move live presences to ``removed``, each with its reason given as JSON text
        (presence id, reason); returns how many were live."""
        ...

    def insert_orders(
        self,
        orders: Sequence[RemovalOrder],
        claims: Mapping[str, Handover] | None = None,
        bodies: Mapping[str, tuple[str, BodyParts]] | None = None,
    ) -> set[str]:
        """Insert the orders whose (participant, restriction) pair is not stored yet; the
        presences must be held by ``lock_live`` in this transaction. An order whose id is in
        ``claims`` is inserted claimed by that handover's worker until its ``until``; one in
        ``bodies`` is stored as its own text and the parts it shares (every read gives back
        its whole ``body``, ``lexloci.platforms.orders.assemble``). Returns the ids inserted."""
        ...

    def audit(self, tag: AuditTag, actor: str, payload: Mapping[str, Any]) -> int: ...

    def audit_many(
        self, entries: Sequence[tuple[AuditTag, str, Mapping[str, Any]]]
    ) -> list[int]: ...

    def audit_encoded(self, entries: Sequence[tuple[AuditTag, str, str]]) -> list[int]:
        """Append entries whose payloads are given as canonical JSON text
        (``ChainWriter.append_encoded``)."""
        ...


class PlatformStore(Protocol):
    def transaction(self) -> AbstractContextManager[PlatformTx]: ...

    def platform(self, name: str) -> Platform | None: ...

    def platforms(self) -> list[Platform]: ...

    def live_in_scope(self, scope: Scope) -> list[LivePresence]: ...

    def participants_in_scope(self, scope: Scope) -> list[PlatformParticipant]: ...

    def participants(
        self, platform: str, state: PresenceState | None = None, limit: int = 1000
    ) -> list[PlatformParticipant]: ...

    def orders(
        self, platform: str, states: Sequence[OrderState] | None = None, limit: int = 1000
    ) -> list[RemovalOrder]: ...

    def order(self, platform: str, order_id: str) -> RemovalOrder | None: ...

    def orders_by_id(self, ids: Sequence[str]) -> list[RemovalOrder]: ...

    def unacknowledged_ids(self, platform: str) -> list[str]: ...

    def acknowledge(
        self, platform: str, ids: Sequence[str], at: dt.datetime, via: str
    ) -> list[str]: ...

    def redeliver(self, platform: str, order_id: str, at: dt.datetime) -> bool: ...

    def due(self, platform: str, now: dt.datetime, limit: int) -> int:
        """How many orders a claim at ``now`` would find (at most ``limit``); only reads."""
        ...

    def claim(
        self, platform: str, worker: str, now: dt.datetime, limit: int, lease: dt.timedelta
    ) -> list[RemovalOrder]: ...

    def record(self, worker: str, updates: Sequence[OrderUpdate]) -> int: ...
