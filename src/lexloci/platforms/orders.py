"""Removal orders: what a platform is told to do when a restriction removes one of its
participants, and the audit entry that records it.

An order is made from a ``Removal`` (``lexloci.policy``) of a platform presence and is the only
thing platform enforcement produces: remove this participant from this session, and mint no
new token for them while the restriction lasts (new joins are refused by the join decision,
``POST /api/v1/decisions/join``). Nothing in an order ends a meeting or touches an account
(I2). Its audit entry has the tag of every enforcement removal, ``meeting:participant:removed``,
with the payload of the meeting service's own removals (``MeetingService._remove``) plus the
platform, the platform's participant reference and the order id, so the transparency report
counts platform removals by territory and case like any other.

An ``OrderMaker`` serves one sweep or one batch of events: a sweep of thousands of presences
meets a handful of distinct ``Location`` objects (the locator shares one per territory on its
fast path) and one case, so each location's evidence is encoded once and each notice written
once per language, not once per order.

The webhook body follows the Standard Webhooks payload shape::

    {"type": "participant.removal_ordered", "timestamp": "<order made, ISO 8601>",
     "data": {"order_id": ..., "idempotency_key": ..., "participant_ref": ..., ...}}
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from lexloci.audit.tags import AuditTag
from lexloci.geo import Location
from lexloci.meetings.notices import NoticeKind, host_notice, notice_texts, participant_notice
from lexloci.platforms.model import LivePresence, RemovalOrder, order_id, participant_key
from lexloci.policy import Removal, Restriction

__all__ = ["ORDER_EVENT", "OrderMaker"]

#: The ``type`` of every removal order (webhook body and server-sent event name).
ORDER_EVENT: Final = "participant.removal_ordered"


def _ref(platform: str, namespaced: str) -> str:
    """The platform's own reference inside a namespaced id (``acme:room-1`` → ``room-1``)."""
    return namespaced[len(platform) + 1 :]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class OrderMaker:
    """Makes orders and their audit entries, remembering what repeats across them."""

    def __init__(self, node: str, now: dt.datetime) -> None:
        self.node = node
        self.now = now
        self._created = now.isoformat()
        self._tail = f',"timestamp":{_json(self._created)},"type":{_json(ORDER_EVENT)}}}'
        # Keyed by id() and holding the Location itself, so the id cannot be reused meanwhile.
        self._evidence: dict[int, tuple[Location, dict[str, Any], str]] = {}
        self._notices: dict[tuple[str | None, str, str], tuple[str, dict[str, str], str]] = {}

    def _evidence_of(self, location: Location) -> tuple[dict[str, Any], str]:
        hit = self._evidence.get(id(location))
        if hit is None or hit[0] is not location:
            as_dict = location.to_dict()
            hit = self._evidence[id(location)] = (location, as_dict, _json(as_dict))
        return hit[1], hit[2]

    def _notice(
        self, territory: str | None, case: str, language: str
    ) -> tuple[str, dict[str, str], str]:
        key = (territory, case, language)
        hit = self._notices.get(key)
        if hit is None:
            hit = self._notices[key] = (
                participant_notice(NoticeKind.REMOVED, territory, case, language),
                notice_texts(NoticeKind.REMOVED, territory, case),
                host_notice(1, territory, case),
            )
        return hit

    def make(
        self, removal: Removal, presence: LivePresence, restriction: Restriction | None
    ) -> tuple[RemovalOrder, tuple[AuditTag, str, dict[str, Any]]]:
        """The order for one removal of one presence, and its audit entry (tag, actor, payload)."""
        now = self.now
        reason = removal.reason
        restriction_id = reason.restriction_id
        if restriction_id is None:  # only a restriction's reason removes anyone (policy.sweep)
            raise ValueError("a removal without a restriction cannot become an order")
        territory = removal.location.territory
        case = reason.case_ref or "-"
        platform = presence.platform
        context = presence.context
        oid = order_id(presence.id, restriction_id)
        text, texts, to_host = self._notice(territory, case, presence.language)
        evidence, evidence_json = self._evidence_of(removal.location)
        reason_dict = reason.to_dict()
        data: dict[str, Any] = {
            "order_id": oid,
            "idempotency_key": oid,
            "platform": platform,
            "action": "remove_participant",
            "refuse_new_tokens": True,
            "participant_ref": presence.participant_ref,
            "participant_id": presence.id,
            "meeting_ref": _ref(platform, context.meeting_id),
            "session_ref": _ref(platform, context.session_id),
            "series_ref": _ref(platform, context.series_id),
            "account_ref": _ref(platform, context.account_id) or None,
            "territory": territory,
            "restriction": {
                "id": restriction_id,
                "version": reason.restriction_version,
                "case_ref": reason.case_ref,
                "jurisdiction": restriction.jurisdiction.codes() if restriction else None,
                "valid_until": restriction.valid_until.isoformat() if restriction else None,
            },
            "reason": reason_dict,
            "notice": {
                "kind": NoticeKind.REMOVED.value,
                "territory": territory,
                "case_refs": [case],
                "language": presence.language,
                "text": text,
                "texts": texts,
            },
            "host_notice": to_host,
            "policy_version": removal.policy_version,
            "created_at": self._created,
        }
        # The evidence is encoded once per location and spliced in (as the last key of
        # "data"): the body is fixed text, so it need not be re-encoded as a whole.
        body = '{"data":' + _json(data)[:-1] + ',"evidence":' + evidence_json + "}" + self._tail
        order = RemovalOrder(
            id=oid,
            platform=platform,
            participant_id=presence.id,
            restriction_id=restriction_id,
            restriction_version=reason.restriction_version or 0,
            case_ref=reason.case_ref,
            territory=territory,
            body=body,
            created_at=now,
            next_attempt_at=now,
        )
        payload: dict[str, Any] = {
            "participant_id": participant_key(platform, presence.participant_ref),
            "session_id": context.session_id,
            "context": context.to_dict(),
            "restriction_id": restriction_id,
            "restriction_version": reason.restriction_version,
            "case_ref": reason.case_ref,
            "restriction_ids": [restriction_id],
            "case_ids": [reason.case_ref],
            "reason": reason_dict,
            "territory": territory,
            "evidence": evidence,
            "automated": True,
            "policy_version": removal.policy_version,
            "notice": text,
            "node": self.node,
            "platform": platform,
            "participant_ref": presence.participant_ref,
            "platform_participant_id": presence.id,
            "order_id": oid,
        }
        return order, (AuditTag.MEETING_PARTICIPANT_REMOVED, "system:enforcement", payload)
