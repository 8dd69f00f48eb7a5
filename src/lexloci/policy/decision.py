"""Decisions: the answer for one participant of one session at one moment.

A ``Decision`` is never a bare bool and never undefined:

- ``effect`` is ``Effect.ALLOW`` or ``Effect.DENY``;
- ``reasons`` holds at least one ``DecisionReason``, each with a machine-readable ``code`` and a
  human-readable ``message``; reasons that come from a restriction name its id, version and case;
- ``restriction_ids`` are the restrictions that denied (empty when allowed);
- ``location`` is the evidence the decision used, exactly as given (I6), ``policy_version`` the
  version of the restriction set it was evaluated against, ``decision_id`` a process-unique id
  and ``decided_at`` the moment it was asked for.

Two decisions with the same context, location, moment, enforcement and policy version are equal
except for ``decision_id`` (``Decision.outcome`` compares the rest).

``Decision`` and ``Removal`` (``lexloci.policy.sweep``) are ``NamedTuple``s rather than frozen
dataclasses because one is built on every join and a sweep may build hundreds of thousands: on
this machine a frozen dataclass with nine fields costs about 2 µs to construct, a NamedTuple
about 0.5 µs. Both are immutable either way.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import os
import secrets
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

from lexloci.geo import Location
from lexloci.policy.restriction import Enforcement

__all__ = [
    "Decision",
    "DecisionIdSource",
    "DecisionReason",
    "Effect",
    "ReasonCode",
    "SessionContext",
]


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class ReasonCode(enum.StrEnum):
    """Why a decision came out the way it did, one per restriction that concerned the participant.

    ``UNCERTAIN_LOCATION_ALLOWED`` and ``UNCERTAIN_LOCATION_DENIED`` are the cases invariant I6
    says are counted separately.
    """

    NO_RESTRICTION_APPLIES = "no_restriction_applies"
    LOCATED_INSIDE = "located_inside"
    UNCERTAIN_LOCATION_ALLOWED = "uncertain_location_allowed"
    UNCERTAIN_LOCATION_DENIED = "uncertain_location_denied"
    ANONYMIZED_ESTIMATE_INSIDE = "anonymized_estimate_inside"


@dataclass(frozen=True, slots=True)
class DecisionReason:
    """One reason of a decision or a removal."""

    code: ReasonCode
    effect: Effect
    message: str
    restriction_id: str | None = None
    restriction_version: int | None = None
    case_ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code.value,
            "effect": self.effect.value,
            "message": self.message,
        }
        if self.restriction_id is not None:
            out["restriction_id"] = self.restriction_id
            out["restriction_version"] = self.restriction_version
            out["case_ref"] = self.case_ref
        return out


#: The reason of every decision no restriction took part in.
NO_RESTRICTION_APPLIES = DecisionReason(
    ReasonCode.NO_RESTRICTION_APPLIES,
    Effect.ALLOW,
    "no active restriction in this meeting's scope concerns the participant's location",
)


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Which session a decision is for, and the ids restriction scopes are matched against.

    ``series_id`` is the id of the recurring meeting the meeting belongs to; for a one-off meeting
    it equals ``meeting_id``. ``account_id`` is the host account.
    """

    session_id: str
    meeting_id: str
    series_id: str
    account_id: str

    def to_dict(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "meeting_id": self.meeting_id,
            "series_id": self.series_id,
            "account_id": self.account_id,
        }


class Decision(NamedTuple):
    """Allow or deny one participant, with reasons, evidence and the policy version."""

    effect: Effect
    reasons: tuple[DecisionReason, ...]
    restriction_ids: tuple[str, ...]
    context: SessionContext
    location: Location
    enforcement: Enforcement
    policy_version: int
    decision_id: str
    decided_at: dt.datetime

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.reasons)

    def outcome(self) -> tuple[object, ...]:
        """Everything but ``decision_id``: equal for equal inputs and policy version."""
        return (
            self.effect,
            self.reasons,
            self.restriction_ids,
            self.context,
            self.location,
            self.enforcement,
            self.policy_version,
            self.decided_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot, evidence included, for the decision log and the API."""
        return {
            "decision_id": self.decision_id,
            "effect": self.effect.value,
            "enforcement": self.enforcement.value,
            "restriction_ids": list(self.restriction_ids),
            "reasons": [r.to_dict() for r in self.reasons],
            "context": self.context.to_dict(),
            "location": self.location.to_dict(),
            "policy_version": self.policy_version,
            "decided_at": self.decided_at.isoformat(),
        }


class DecisionIdSource:
    """Process-unique decision ids that cost a counter increment, not a uuid4 per call.

    An id is ``<prefix>-<n>``: a random 48-bit prefix drawn once per source (and again in a forked
    child, so parent and child never share ids) and a counter that ``itertools.count`` makes
    atomic under the GIL.
    """

    def __init__(self, prefix: str | None = None) -> None:
        self._fixed = prefix
        self._reset()
        _SOURCES.add(self)

    def _reset(self) -> None:
        self.prefix = self._fixed if self._fixed is not None else secrets.token_hex(6)
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self.counter)}"


# Weak, so that a source (and the engine holding it) can still be garbage-collected.
_SOURCES: weakref.WeakSet[DecisionIdSource] = weakref.WeakSet()


def _reseed_after_fork() -> None:
    for source in list(_SOURCES):
        source._reset()


os.register_at_fork(after_in_child=_reseed_after_fork)
