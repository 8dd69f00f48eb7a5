"""The meeting domain: accounts, meetings, sessions, participants.

- A **meeting** is the scheduled or recurring object with an id. Its ``series_id`` is its own id,
  unless it was created as part of an existing meeting's series. A restriction scoped to a
  *meeting* covers every session of that meeting; one scoped to a *series* covers every session of
  every meeting of the series; one scoped to an *account* covers every meeting that account hosts.
- A **session** is one live occurrence of a meeting. It ends only when its host (or an admin)
  ends it: nothing in enforcement can end a session (invariant I2).
- A **participant** is one admission to, or refusal from, a session, with the evidence its
  decision used (the location snapshot) and its state: ``joined`` (in the roster), ``left``,
  ``removed`` (by the host or by a restriction, with the reason) or ``blocked`` (refused at the
  gate; never in the roster).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from lexloci.frozen import direct_init

__all__ = [
    "Account",
    "AccountStatus",
    "Meeting",
    "MeetingSession",
    "Participant",
    "ParticipantState",
    "SessionState",
]


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class SessionState(enum.StrEnum):
    LIVE = "live"
    ENDED = "ended"


class ParticipantState(enum.StrEnum):
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    home_country: str
    created_at: dt.datetime
    status: AccountStatus = AccountStatus.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "home_country": self.home_country,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    topic: str
    host_account_id: str
    series_id: str
    created_at: dt.datetime
    recurrence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic": self.topic,
            "host_account_id": self.host_account_id,
            "series_id": self.series_id,
            "recurrence": self.recurrence,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class MeetingSession:
    id: str
    meeting_id: str
    started_at: dt.datetime
    state: SessionState = SessionState.LIVE
    locked: bool = False
    ended_at: dt.datetime | None = None
    node: str = "local"  # the meeting node that holds its live roster and connections

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "meeting_id": self.meeting_id,
            "node": self.node,
            "state": self.state.value,
            "locked": self.locked,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@direct_init
@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    session_id: str
    display_name: str
    state: ParticipantState
    joined_at: dt.datetime
    territory: str | None
    location: dict[str, Any] = field(default_factory=dict)  # the evidence snapshot
    client_ip: str | None = None
    phone: str | None = None
    user_id: str | None = None
    language: str = "en"
    reason: dict[str, Any] | None = None
    left_at: dt.datetime | None = None
    decision_id: str | None = None

    def to_dict(self, *, evidence: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "session_id": self.session_id,
            "display_name": self.display_name,
            "user_id": self.user_id,
            "territory": self.territory,
            "state": self.state.value,
            "dial_in": self.phone is not None,
            "joined_at": self.joined_at.isoformat(),
            "left_at": self.left_at.isoformat() if self.left_at else None,
            "reason": self.reason,
        }
        if evidence:
            out["location"] = self.location
            out["client_ip"] = self.client_ip
            out["phone"] = self.phone
            out["decision_id"] = self.decision_id
        return out
