"""Per-request public notices: one redacted JSON document per case, after the Lumen notice.

Built, like the report, from the audit log alone at a checkpoint, which the notice cites.

Shape (documented in docs/transparency.md): ``sender`` is the authority (name, agency, country),
``recipient`` the platform (the log's origin), ``date_received``, ``jurisdictions``,
``request_type``, ``legal_process``, the legal basis cited (Lumen's "regulations"), the
``targets`` (Lumen's "works"), the decision with the outcome of every requested action
(Lumen's "action_taken": Yes, Partial, No, or Pending), and what enforcement followed.

Redaction rules (invariants):

- **No identifiers of meetings, series, sessions or accounts, and no invitation URLs.** A
  target is described by its kind, whether it was given as an invitation URL, and, for an
  account, the territory its holder is based in when the log recorded it (that is what shows a
  request about an account abroad being refused). Ids would identify private meetings and their
  hosts; an invitation URL is a capability (it may carry a meeting password).
- **No free text written for staff**: the decision's messages and ``applied`` descriptions name
  restrictions, meetings and accounts, so actions carry only their kind, target index, outcome
  and reasons. Participants appear only as counts by territory.
- **Non-disclosure orders.** While the case's order is in force (``non_disclosure_until`` is
  after the notice's time), the notice holds nothing but its id, ``status: "withheld"`` and
  the date the order ends: everything about the request is covered. From that date on, the
  full notice is given, saying that an order delayed it and until when.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from lexloci.audit import AuditEntry, AuditTag, Checkpoint, JsonValue, format_timestamp
from lexloci.audit.removals import removal_groups
from lexloci.errors import NotFound
from lexloci.transparency.computation import EntrySource
from lexloci.transparency.model import UNKNOWN_TERRITORY, document_digest

__all__ = ["NOTICE_SCHEMA", "PublicNotice", "public_notice"]

NOTICE_SCHEMA: Final = "lexloci.notice/1"
_DECISION_STATUS: Final = {
    AuditTag.CASE_CASE_APPROVED.value: ("approved", "Yes"),
    AuditTag.CASE_CASE_PARTIALLY_APPROVED.value: ("partially_approved", "Partial"),
    AuditTag.CASE_CASE_REJECTED.value: ("rejected", "No"),
}
_CASE_TAGS: Final = (
    AuditTag.CASE_CASE_RECEIVED,
    AuditTag.CASE_CASE_APPROVED,
    AuditTag.CASE_CASE_PARTIALLY_APPROVED,
    AuditTag.CASE_CASE_REJECTED,
    AuditTag.CASE_CASE_APPEALED,
    AuditTag.CASE_ACCOUNT_ACTION_REFUSED,
    AuditTag.CASE_ACCOUNT_SUSPENDED,
    AuditTag.CASE_ACCOUNT_REINSTATED,
    AuditTag.CASE_DISCLOSURE_CREATED,
    AuditTag.POLICY_RESTRICTION_ACTIVATED,
    AuditTag.POLICY_RESTRICTION_LIFTED,
    AuditTag.POLICY_RESTRICTION_EXPIRED,
)
_PARTICIPANT_TAGS: Final = (
    AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
    AuditTag.MEETING_PARTICIPANT_REMOVED,
)


@dataclass(frozen=True, slots=True)
class PublicNotice:
    case_id: str
    withheld: bool
    document: dict[str, JsonValue]

    @property
    def digest(self) -> str:
        return document_digest(self.document)


@dataclass
class _CaseHistory:
    received: AuditEntry | None = None
    decision: AuditEntry | None = None
    appealed: AuditEntry | None = None
    holder_territory: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    disclosure: dict[str, int] | None = None


def _str(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _day(value: JsonValue) -> str | None:
    """The date part of a payload date-time (``2026-06-01T08:00:00+00:00`` -> ``2026-06-01``)."""
    text = _str(value)
    return text[:10] if text else None


def _instant(value: JsonValue) -> dt.datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _history(source: EntrySource, case_id: str, size: int) -> _CaseHistory:
    history = _CaseHistory()
    for tag in _CASE_TAGS:
        for entry in source.iter_entries(until_seq=size, tags=(tag.value,)):
            if entry.payload.get("case_id") == case_id:
                _record(history, entry)
    for tag in _PARTICIPANT_TAGS:
        for entry in source.iter_entries(until_seq=size, tags=(tag.value,)):
            if _names(entry.payload, case_id):
                territory = _str(entry.payload.get("territory")) or UNKNOWN_TERRITORY
                kind = history.blocked if tag is _PARTICIPANT_TAGS[0] else history.removed
                kind[territory] += 1
    # Platform removal orders, many to an entry: each counts as the removal it stands for.
    for entry in source.iter_entries(until_seq=size, tags=(AuditTag.PLATFORM_ORDERS_ISSUED.value,)):
        for group, n in removal_groups(entry.payload):
            if _names(group, case_id):
                history.removed[_str(group.get("territory")) or UNKNOWN_TERRITORY] += n
    return history


def _names(payload: dict[str, JsonValue], case_id: str) -> bool:
    """Whether a blocking or removal names the case (``case_ids``, or ``case_ref``)."""
    named = payload.get("case_ids")
    return (isinstance(named, list) and case_id in named) or payload.get("case_ref") == case_id


def _record(history: _CaseHistory, entry: AuditEntry) -> None:
    payload = entry.payload
    tag = entry.tag
    if tag == AuditTag.CASE_CASE_RECEIVED:
        history.received = entry
    elif tag in _DECISION_STATUS:
        history.decision = entry
    elif tag == AuditTag.CASE_CASE_APPEALED:
        history.appealed = entry
    elif tag == AuditTag.CASE_DISCLOSURE_CREATED:
        records, accounts = payload.get("records"), payload.get("accounts")
        history.disclosure = {
            "records": records if isinstance(records, int) else 0,
            "accounts": accounts if isinstance(accounts, int) else 0,
        }
    else:
        history.counts[tag] += 1
        account, territory = _str(payload.get("account_id")), payload.get("account_territory")
        if account is not None and isinstance(territory, str):
            history.holder_territory[account] = territory


def _targets(received: dict[str, JsonValue], holder_territory: dict[str, str]) -> list[JsonValue]:
    out: list[JsonValue] = []
    targets = received.get("targets")
    for target in targets if isinstance(targets, list) else []:
        if not isinstance(target, dict):
            continue
        kind = _str(target.get("kind")) or "unknown"
        described: dict[str, JsonValue] = {
            "kind": kind,
            "given_as": "invitation_url" if target.get("url") else "identifier",
            "identifier": "withheld",
        }
        if kind == "account":
            ref = _str(target.get("ref"))
            described["holder_territory"] = holder_territory.get(ref or "")
        out.append(described)
    return out


def _decision(history: _CaseHistory, received: dict[str, JsonValue]) -> dict[str, JsonValue]:
    if history.decision is None:
        return {"status": "pending", "date": None, "actions": [], "appealed_on": None}
    status, _ = _DECISION_STATUS[history.decision.tag]
    targets = received.get("targets")
    refs = [
        _str(t.get("ref")) if isinstance(t, dict) else None
        for t in (targets if isinstance(targets, list) else [])
    ]
    actions: list[JsonValue] = []
    raw_actions = history.decision.payload.get("actions")
    for action in raw_actions if isinstance(raw_actions, list) else []:
        if not isinstance(action, dict):
            continue
        target = action.get("target")
        ref = _str(target.get("ref")) if isinstance(target, dict) else None
        reasons = action.get("reasons")
        actions.append(
            {
                "action": action.get("action"),
                "target": refs.index(ref) if ref in refs else None,
                "outcome": action.get("outcome"),
                "reasons": [r for r in reasons if isinstance(r, str)]
                if isinstance(reasons, list)
                else [],
            }
        )
    return {
        "status": "appealed" if history.appealed is not None else status,
        "outcome": status,
        "date": history.decision.at.date().isoformat(),
        "actions": actions,
        "appealed_on": history.appealed.at.date().isoformat() if history.appealed else None,
    }


def _territories(counts: Counter[str]) -> dict[str, JsonValue]:
    return {
        "total": sum(counts.values()),
        "by_territory": {territory: counts[territory] for territory in sorted(counts)},
    }


def _jurisdictions(received: dict[str, JsonValue]) -> dict[str, JsonValue]:
    authority = received.get("authority")
    declared = authority.get("jurisdiction") if isinstance(authority, dict) else None
    if isinstance(declared, dict):
        return {"territories": declared.get("territories"), "groups": declared.get("groups")}
    return {"territories": received.get("jurisdiction"), "groups": []}


def _full_notice(
    case_id: str, history: _CaseHistory, order_until: dt.datetime | None, recipient: str
) -> dict[str, JsonValue]:
    assert history.received is not None  # the caller checked the case exists
    received = history.received.payload
    authority = received.get("authority")
    authority = authority if isinstance(authority, dict) else {}
    country = _str(received.get("requesting_country"))
    request_type = _str(received.get("request_type")) or "unknown"
    decision = _decision(history, received)
    action_taken = "Pending"
    if history.decision is not None:
        action_taken = _DECISION_STATUS[history.decision.tag][1]
    counts = history.counts
    enforcement: dict[str, JsonValue] = {
        "participants_blocked": _territories(history.blocked),
        "participants_removed": _territories(history.removed),
        "accounts_suspended": counts[AuditTag.CASE_ACCOUNT_SUSPENDED.value],
        "accounts_reinstated": counts[AuditTag.CASE_ACCOUNT_REINSTATED.value],
        "account_actions_refused": counts[AuditTag.CASE_ACCOUNT_ACTION_REFUSED.value],
        "restrictions": {
            "activated": counts[AuditTag.POLICY_RESTRICTION_ACTIVATED.value],
            "lifted": counts[AuditTag.POLICY_RESTRICTION_LIFTED.value],
            "expired": counts[AuditTag.POLICY_RESTRICTION_EXPIRED.value],
        },
        "disclosure": dict(history.disclosure) if history.disclosure is not None else None,
    }
    requested = received.get("requested_actions")
    legal_basis = _str(received.get("legal_basis"))
    return {
        "status": "published",
        "type": "GovernmentRequest",
        "title": f"{request_type.replace('_', ' ').capitalize()} request from "
        f"{_str(authority.get('name')) or 'an authority'} ({country or 'unknown country'})",
        "date_received": _day(received.get("received_at")),
        "date_recorded": history.received.at.date().isoformat(),
        "deadline": _day(received.get("deadline")),
        "sender": {
            "kind": "government_authority",
            "name": authority.get("name"),
            "agency": authority.get("agency"),
            "country_code": country,
        },
        "recipient": {"kind": "platform", "name": recipient},
        "jurisdictions": _jurisdictions(received),
        "request_type": request_type,
        "legal_process": received.get("legal_process"),
        "regulations": [legal_basis] if legal_basis else [],
        "requested_actions": requested if isinstance(requested, list) else [],
        "targets": _targets(received, history.holder_territory),
        "action_taken": action_taken,
        "decision": decision,
        "enforcement": enforcement,
        "non_disclosure_order": (
            {"until": format_timestamp(order_until), "delayed_this_notice": True}
            if order_until is not None
            else None
        ),
    }


def public_notice(
    source: EntrySource,
    case_id: str,
    *,
    checkpoint: Checkpoint,
    now: dt.datetime,
) -> PublicNotice:
    """The public notice of ``case_id`` at ``now``, from entries 1..``checkpoint.size``.

    Raises ``NotFound`` when the log holds no ``case:case:received`` entry for the case.
    """
    history = _history(source, case_id, checkpoint.size)
    if history.received is None:
        raise NotFound(f"no case {case_id!r} in the audit log", id=case_id)
    order_until = _instant(history.received.payload.get("non_disclosure_until"))
    header: dict[str, JsonValue] = {"schema": NOTICE_SCHEMA, "notice_id": case_id}
    footer: dict[str, JsonValue] = {
        "checkpoint": checkpoint.to_dict(),
        "generated_at": format_timestamp(now),
    }
    if order_until is not None and now < order_until:
        withheld: dict[str, JsonValue] = {
            **header,
            "status": "withheld",
            "reason": "a non-disclosure order covers this request until the date below",
            "withheld_until": format_timestamp(order_until),
            **footer,
        }
        return PublicNotice(case_id, True, withheld)
    body = _full_notice(case_id, history, order_until, checkpoint.origin)
    return PublicNotice(case_id, False, {**header, **body, **footer})
