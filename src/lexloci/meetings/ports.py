"""What the meeting service needs from storage: reads, and writes in one audited transaction.

``Store.transaction()`` yields a ``Tx``; every write made through it and every audit entry it
appends commit together or not at all (invariant I4: the entry is durable before the effect is
visible, because effects — closing a connection, answering a join — happen only after the
transaction commits).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from lexloci.audit.tags import AuditTag
from lexloci.frozen import direct_init
from lexloci.meetings.model import Account, Meeting, MeetingSession, Participant, ParticipantState
from lexloci.policy import Restriction

__all__ = ["EncodedEntry", "GateRecord", "StateChange", "Store", "Tx"]


@dataclass(frozen=True, slots=True)
class StateChange:
    participant_id: str
    state: ParticipantState
    at: dt.datetime
    reason: dict[str, Any] | None = None


@direct_init
@dataclass(frozen=True, slots=True)
class EncodedEntry:
    """An audit entry whose payload is already its canonical JSON text (``Tx.audit_encoded``)."""

    tag: AuditTag
    actor: str
    payload: str


@direct_init
@dataclass(frozen=True, slots=True)
class GateRecord:
    """What one gate decision writes, as data: the participant it admitted or refused (a
    join of lexloci's own sessions; None for another platform's stateless decision), the hash
    of its signalling token, and its audit entries. Data rather than a function, so that it
    can be written by another process (``Store.record_gate_async``)."""

    entries: tuple[EncodedEntry, ...]
    participant: Participant | None = None
    token_hash: str | None = None


class Tx(Protocol):
    def insert_account(self, account: Account) -> None: ...

    def update_account(self, account: Account) -> None: ...

    def insert_meeting(self, meeting: Meeting) -> None: ...

    def insert_session(self, session: MeetingSession) -> None: ...

    def update_session(self, session: MeetingSession) -> None: ...

    def insert_participant(self, participant: Participant, token_hash: str | None) -> None: ...

    def record_gate(self, record: GateRecord) -> None:
        """Write a gate decision: its participant (if any), then its audit entries."""
        ...

    def set_states(self, changes: Sequence[StateChange]) -> int:
        """Move joined participants to another state; returns how many were still joined."""
        ...

    def save_restriction(self, restriction: Restriction, at: dt.datetime) -> None: ...

    def mark_expired(self, restriction_id: str, at: dt.datetime) -> bool:
        """Record that a restriction's period ended; False if that was recorded already."""
        ...

    def audit(self, tag: AuditTag, actor: str, payload: Mapping[str, Any]) -> int: ...

    def audit_encoded(self, tag: AuditTag, actor: str, payload: str) -> int:
        """``audit`` with the payload already given as its canonical JSON text (exactly
        ``canonical_json`` of the normalized payload, e.g. from ``canonical_spliced``)."""
        ...

    def audit_many(
        self, entries: Sequence[tuple[AuditTag, str, Mapping[str, Any]]]
    ) -> list[int]: ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Tx]: ...

    def record_gate(self, record: GateRecord) -> None:
        """Write a gate decision in a shared transaction (group commit); returns once durable."""
        ...

    def record_gate_async(self, record: GateRecord) -> asyncio.Future[None]:
        """``record_gate`` from a coroutine: a future of the running loop, done once the
        record is durable. The join gate's way: the write may happen in another process."""
        ...

    def account(self, account_id: str) -> Account | None: ...

    def meeting(self, meeting_id: str) -> Meeting | None: ...

    def session(self, session_id: str) -> MeetingSession | None: ...

    def participant(self, participant_id: str) -> Participant | None: ...

    def participants(
        self, session_id: str, states: Sequence[ParticipantState] | None = None
    ) -> list[Participant]: ...

    def live_participants(self, node: str) -> Iterator[tuple[Participant, str | None]]: ...

    def nodes(self, seen_since: dt.datetime | None = None) -> list[dict[str, Any]]: ...

    def sessions(
        self, meeting_id: str | None = None, live_only: bool = False
    ) -> list[MeetingSession]: ...

    def restrictions(self) -> list[Restriction]: ...
