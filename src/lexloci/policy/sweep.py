"""Sweeps: which live participants a newly active restriction removes (invariants I1, I2).

``PolicyIndex.sweep(restriction, live_participants, now)`` returns one ``Removal`` per
participant to remove, each with the reason. A participant is removed only when the restriction
is active at ``now``, carries ``REMOVE_LIVE``, its scope covers the participant's session, and
the participant is

- INSIDE the restriction's jurisdiction by the signal rule (``lexloci.policy.placement``), or
- UNCERTAIN and the restriction says ``unknown_location=DENY``, or
- UNCERTAIN, flagged by an anonymizer source, and the restriction says
  ``anonymizer=DENY_IF_ESTIMATE_INSIDE`` with the best estimate INSIDE.

**A sweep never ends a session, and that is structural:** its only output type is ``Removal``,
which names one participant. No type in ``lexloci.policy`` describes ending a session or a
meeting, so no caller can receive such an instruction from the engine; everyone not removed stays
in the session, which goes on.

The same reasoning applies when one participant's evidence changes mid-session
(``PolicyIndex.reevaluate``): the answer is a list of removals of that participant, or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from lexloci.frozen import direct_init
from lexloci.geo import Location
from lexloci.policy.decision import DecisionReason, SessionContext

__all__ = ["LiveParticipant", "Removal"]


@direct_init
@dataclass(frozen=True, slots=True)
class LiveParticipant:
    """A participant currently in a live session, with the location last resolved for them."""

    participant_id: str
    context: SessionContext
    location: Location


class Removal(NamedTuple):
    """Remove one participant from one session, for one restriction. Nothing more."""

    participant: LiveParticipant
    reason: DecisionReason
    policy_version: int

    @property
    def participant_id(self) -> str:
        return self.participant.participant_id

    @property
    def session_id(self) -> str:
        return self.participant.context.session_id

    @property
    def context(self) -> SessionContext:
        return self.participant.context

    @property
    def location(self) -> Location:
        return self.participant.location

    @property
    def restriction_id(self) -> str | None:
        # Always set: only a restriction's reason can remove someone. The type stays honest.
        return self.reason.restriction_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot, evidence included, for the enforcement record."""
        return {
            "participant_id": self.participant_id,
            "context": self.context.to_dict(),
            "location": self.location.to_dict(),
            "reason": self.reason.to_dict(),
            "policy_version": self.policy_version,
        }
