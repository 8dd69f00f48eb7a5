"""The request record: one demand from one authority, and what became of it.

Shapes follow the Lumen notice schema and published government-request guides (DESIGN,
"Records"). A case moves ``received`` → ``approved`` | ``partially_approved`` | ``rejected``;
an approved case may later be ``appealed`` (its restrictions lifted, its accounts reinstated).

Invariants:

- a case names its authority, the authority's jurisdiction, the legal process and the legal
  basis, and at least one target (I7);
- ``intake_by`` (the person who took it in) can never decide it: the two-person rule compares
  people by name, whichever role or token they use;
- requested actions are what the authority *asked for*; what lexloci *does* is recorded per
  action in the decision's outcomes, with the reason for each refusal or conversion.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from lexloci.jurisdictions import Jurisdiction

__all__ = [
    "ActionOutcome",
    "Attachment",
    "Authority",
    "Case",
    "CaseStatus",
    "LegalProcess",
    "Outcome",
    "RejectionReason",
    "RequestType",
    "RequestedAction",
    "Target",
    "TargetKind",
    "case_from_dict",
]


class RequestType(enum.StrEnum):
    USER_DATA = "user_data"
    MEETING_CONTENT = "meeting_content"
    RECORDING = "recording"
    RESTRICT_MEETING = "restrict_meeting"
    RESTRICT_ACCOUNT = "restrict_account"
    PRESERVATION = "preservation"
    EMERGENCY = "emergency"


class LegalProcess(enum.StrEnum):
    WARRANT = "warrant"
    SUBPOENA = "subpoena"
    COURT_ORDER = "court_order"
    ADMINISTRATIVE_ORDER = "administrative_order"
    OTHER = "other"


class TargetKind(enum.StrEnum):
    MEETING = "meeting"
    SERIES = "series"
    ACCOUNT = "account"
    INVITATION_URL = "invitation_url"  # resolved to a meeting at intake


class RequestedAction(enum.StrEnum):
    """What the authority demands, in its own terms."""

    BLOCK_PARTICIPANTS = "block_participants"  # block and remove participants in its territory
    END_MEETINGS = "end_meetings"
    SUSPEND_ACCOUNT = "suspend_account"
    DISCLOSE_DATA = "disclose_data"
    PRESERVE_DATA = "preserve_data"


class CaseStatus(enum.StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    APPEALED = "appealed"


class Outcome(enum.StrEnum):
    """Per requested action, as the transparency report counts it."""

    COMPLIED = "complied"
    PARTIALLY = "partially"
    REJECTED = "rejected"


class RejectionReason(enum.StrEnum):
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    OVERBROAD = "overbroad"
    NO_LEGAL_BASIS = "no_legal_basis"
    NOT_REQUESTERS_AUTHORITY = "not_requesters_authority"
    IMPROPERLY_SERVED = "improperly_served"
    LOCATION_UNCERTAIN = "location_uncertain"
    DECLINED_BY_REVIEWER = "declined_by_reviewer"


@dataclass(frozen=True, slots=True)
class Authority:
    name: str
    agency: str
    country: str  # the requesting country (ISO 3166-1), for the transparency report
    jurisdiction: Jurisdiction

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "agency": self.agency,
            "country": self.country,
            "jurisdiction": {
                "territories": self.jurisdiction.codes(),
                "groups": list(self.jurisdiction.groups),
            },
        }


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    ref: str  # meeting / series / account id; for an invitation, the meeting it resolved to
    url: str | None = None  # the invitation URL as given

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "ref": self.ref}
        if self.url is not None:
            out["url"] = self.url
        return out


@dataclass(frozen=True, slots=True)
class Attachment:
    sha256: str
    filename: str
    media_type: str
    size: int
    added_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "media_type": self.media_type,
            "size": self.size,
            "added_at": self.added_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What was done about one requested action on one target."""

    action: RequestedAction
    target: Target | None
    outcome: Outcome
    applied: str | None  # what lexloci did instead or as asked, e.g. "restriction res_…"
    reasons: tuple[RejectionReason, ...] = ()
    message: str = ""
    restriction_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "target": self.target.to_dict() if self.target else None,
            "outcome": self.outcome.value,
            "applied": self.applied,
            "reasons": [r.value for r in self.reasons],
            "message": self.message,
            "restriction_ids": list(self.restriction_ids),
        }


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    authority: Authority
    request_type: RequestType
    legal_process: LegalProcess
    legal_basis: str
    targets: tuple[Target, ...]
    requested_actions: tuple[RequestedAction, ...]
    received_at: dt.datetime
    intake_by: str
    created_at: dt.datetime
    deadline: dt.datetime | None = None
    non_disclosure_until: dt.datetime | None = None
    description: str = ""
    status: CaseStatus = CaseStatus.RECEIVED
    attachments: tuple[Attachment, ...] = ()
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    outcomes: tuple[ActionOutcome, ...] = ()
    restriction_ids: tuple[str, ...] = ()
    notes: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "authority": self.authority.to_dict(),
            "request_type": self.request_type.value,
            "legal_process": self.legal_process.value,
            "legal_basis": self.legal_basis,
            "targets": [t.to_dict() for t in self.targets],
            "requested_actions": [a.value for a in self.requested_actions],
            "received_at": self.received_at.isoformat(),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "non_disclosure_until": (
                self.non_disclosure_until.isoformat() if self.non_disclosure_until else None
            ),
            "description": self.description,
            "status": self.status.value,
            "intake_by": self.intake_by,
            "created_at": self.created_at.isoformat(),
            "attachments": [a.to_dict() for a in self.attachments],
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "outcomes": [o.to_dict() for o in self.outcomes],
            "restriction_ids": list(self.restriction_ids),
            "notes": list(self.notes),
        }


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def case_from_dict(data: dict[str, Any]) -> Case:
    """Rebuild a stored case (``Case.to_dict``'s output)."""
    auth = data["authority"]
    jurisdiction = Jurisdiction(
        frozenset(auth["jurisdiction"]["territories"]), tuple(auth["jurisdiction"]["groups"])
    )

    def target(t: dict[str, Any] | None) -> Target | None:
        return Target(TargetKind(t["kind"]), t["ref"], t.get("url")) if t else None

    received = _time(data["received_at"])
    created = _time(data["created_at"])
    if received is None or created is None:
        raise ValueError("a stored case needs received_at and created_at")
    return Case(
        id=data["id"],
        authority=Authority(auth["name"], auth["agency"], auth["country"], jurisdiction),
        request_type=RequestType(data["request_type"]),
        legal_process=LegalProcess(data["legal_process"]),
        legal_basis=data["legal_basis"],
        targets=tuple(t for t in (target(x) for x in data["targets"]) if t is not None),
        requested_actions=tuple(RequestedAction(a) for a in data["requested_actions"]),
        received_at=received,
        intake_by=data["intake_by"],
        created_at=created,
        deadline=_time(data.get("deadline")),
        non_disclosure_until=_time(data.get("non_disclosure_until")),
        description=data.get("description", ""),
        status=CaseStatus(data["status"]),
        attachments=tuple(
            Attachment(a["sha256"], a["filename"], a["media_type"], a["size"], _time(a["added_at"]))  # type: ignore[arg-type]
            for a in data.get("attachments", ())
        ),
        decided_by=data.get("decided_by"),
        decided_at=_time(data.get("decided_at")),
        outcomes=tuple(
            ActionOutcome(
                RequestedAction(o["action"]),
                target(o.get("target")),
                Outcome(o["outcome"]),
                o.get("applied"),
                tuple(RejectionReason(r) for r in o.get("reasons", ())),
                o.get("message", ""),
                tuple(o.get("restriction_ids", ())),
            )
            for o in data.get("outcomes", ())
        ),
        restriction_ids=tuple(data.get("restriction_ids", ())),
        notes=tuple(data.get("notes", ())),
    )
