"""Removal orders: what a platform is told to do when a restriction removes one of its
participants, and the audit entry that records it.

An order is made from a ``Removal`` (``lexloci.policy``) of a platform presence and is the only
thing platform enforcement produces: remove this participant from this session, and mint no
new token for them while the restriction lasts (new joins are refused by the join decision,
``POST /api/v1/decisions/join``). Nothing in an order ends a meeting or touches an account
(I2). Orders are audited many to an entry: ``OrderMaker.audit_payload`` gives the payload of one
``platform:orders:issued`` entry for the orders of one transaction (``lexloci.audit.removals``:
what the orders of a group share once, then each order's own fields), and each order in it
stands for exactly the ``meeting:participant:removed`` payload a per-order entry carried — the
meeting service's own removals (``MeetingService._remove``) plus the platform, the platform's
participant reference and the order id — so the transparency report counts platform removals
by territory and case like any other.

An ``OrderMaker`` serves one sweep or one batch of events: a sweep of thousands of presences
meets a handful of distinct ``Location`` objects (the locator shares one per territory on its
fast path), one reason per territory and one case, so each location's evidence, each reason,
each notice and each audit group is encoded once, not once per order. An order's webhook body
and the presence's stored reason are then each one small JSON encoding of the values that
differ per order (ids and references) with the shared parts spliced in as text.

The webhook body follows the Standard Webhooks payload shape::

    {"type": "participant.removal_ordered", "timestamp": "<order made, ISO 8601>",
     "data": {"order_id": ..., "idempotency_key": ..., "participant_ref": ..., ...}}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lexloci.audit.encoding import JsonValue, canonical_json, canonical_text, slot
from lexloci.geo import Location
from lexloci.meetings.notices import NoticeKind, host_notice, notice_texts, participant_notice
from lexloci.platforms.model import LivePresence, RemovalOrder, order_id, participant_key
from lexloci.policy import DecisionReason, Removal, Restriction

__all__ = [
    "BATCH_EVENT",
    "ORDER_ACTOR",
    "ORDER_EVENT",
    "BodyParts",
    "MadeOrder",
    "OrderMaker",
    "assemble",
]

#: The ``type`` of every removal order (webhook body and server-sent event name).
ORDER_EVENT: Final = "participant.removal_ordered"
#: The ``type`` of a batch webhook: ``data.orders`` holds whole ``ORDER_EVENT`` messages.
BATCH_EVENT: Final = "participant.removal_ordered.batch"
#: Who the audit log says made an order.
ORDER_ACTOR: Final = "system:enforcement"

# One encoder: json.dumps with keyword arguments builds a new one on every call.
_json: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode
_REASON, _NOTICE, _RESTRICTION = "reason", "notice", "restriction"
_SLOTS: Final = {name: slot(name) for name in (_REASON, _NOTICE, _RESTRICTION)}
_TOKENS: Final = {name: _json(value) for name, value in _SLOTS.items()}
# A stored body's tokens: where its shared parts go (the evidence is one of them).
_EVIDENCE = "evidence"
_BODY_TOKENS: Final = {**_TOKENS, _EVIDENCE: _json(slot(_EVIDENCE))}
_PART_OF: Final = {token: name for name, token in _BODY_TOKENS.items()}
_BODY_TOKEN: Final = re.compile("|".join(re.escape(token) for token in _BODY_TOKENS.values()))


@dataclass(frozen=True, slots=True)
class BodyParts:
    """What the bodies of many orders share — the evidence, reason, notice and restriction
    texts — stored once (``digest``: SHA-256 of ``text``, the parts as a JSON object)."""

    digest: str
    text: str
    pieces: dict[str, str]

    @classmethod
    def of(cls, pieces: dict[str, str]) -> BodyParts:
        text = _json(pieces)
        return cls(hashlib.sha256(text.encode()).hexdigest(), text, dict(pieces))

    @classmethod
    def parse(cls, digest: str, text: str) -> BodyParts:
        pieces = json.loads(text)
        if not isinstance(pieces, dict) or set(pieces) != set(_BODY_TOKENS):
            raise ValueError(f"stored body parts {digest} are not an order's parts")
        return cls(digest, text, pieces)


def assemble(own: str, parts: BodyParts) -> str:
    """An order's body from its own text and the parts it shares: each token in ``own``
    replaced by its part, in one pass (a part's text is never searched for tokens)."""
    pieces = parts.pieces
    return _BODY_TOKEN.sub(lambda found: pieces[_PART_OF[found.group()]], own)


def _ref(platform: str, namespaced: str) -> str:
    """The platform's own reference inside a namespaced id (``acme:room-1`` → ``room-1``)."""
    return namespaced[len(platform) + 1 :]


@dataclass(frozen=True, slots=True)
class MadeOrder:
    """One order, its own fields in the audit entry (``lexloci.audit.removals``) with the
    maker's index of its group, the reason stored on the removed presence as JSON text, and
    its body as its own text and the parts it shares (``assemble``; None: store it whole)."""

    order: RemovalOrder
    audit_fields: dict[str, Any]
    group: int
    presence_reason: str
    stored_body: tuple[str, BodyParts] | None = None


@dataclass(frozen=True, slots=True)
class _Shared:
    """What orders with the same location, reason, notice and restriction have in common."""

    location: Location  # held so the id() key cannot be reused while this lives
    reason: DecisionReason
    territory: str | None
    notice_text: str
    host_notice: str
    body_parts: BodyParts
    evidence: dict[str, Any]
    reason_dict: dict[str, Any]
    presence_pieces: dict[str, str]


class OrderMaker:
    """Makes orders and their audit entries, remembering what repeats across them."""

    def __init__(self, node: str, now: dt.datetime) -> None:
        self.node = node
        self.now = now
        self._created = now.isoformat()
        self._tail = f',"timestamp":{_json(self._created)},"type":{_json(ORDER_EVENT)}}}'
        self._shared: dict[tuple[int, int, str, str, int], _Shared] = {}
        # Audit groups (lexloci.audit.removals): canonical text, by (shared parts, policy).
        self._group_index: dict[tuple[int, Any], int] = {}
        self._groups: list[tuple[_Shared, str]] = []

    def _group_of(self, shared: _Shared, removal: Removal) -> int:
        key = (id(shared), removal.policy_version)
        index = self._group_index.get(key)
        if index is not None:
            return index
        reason = removal.reason
        group: dict[str, Any] = {
            "restriction_id": reason.restriction_id,
            "restriction_version": reason.restriction_version,
            "case_ref": reason.case_ref,
            "restriction_ids": [reason.restriction_id],
            "case_ids": [reason.case_ref],
            "reason": shared.reason_dict,
            "territory": shared.territory,
            "evidence": shared.evidence,
            "automated": True,
            "policy_version": removal.policy_version,
            "notice": shared.notice_text,
            "node": self.node,
        }
        self._groups.append((shared, canonical_text(group)))  # holds shared: ids stay unique
        index = self._group_index[key] = len(self._groups) - 1
        return index

    def audit_payload(self, made: Sequence[MadeOrder]) -> str:
        """The canonical JSON text of one ``platform:orders:issued`` payload for ``made``
        (``lexloci.audit.removals``), its groups numbered in order of first use."""
        local: dict[int, int] = {}
        items: list[JsonValue] = []
        for one in made:
            index = local.get(one.group)
            if index is None:
                index = local[one.group] = len(local)
            items.append({**one.audit_fields, "group": index})
        groups = ",".join(self._groups[g][1] for g in local)
        # The items hold only checked references and ids (printable text) and dicts of them:
        # already normalized, so the canonical encoder is all they need (deep verify agrees).
        orders = canonical_json(items).decode()
        return f'{{"groups":[{groups}],"orders":{orders}}}'

    def _shared_of(
        self, removal: Removal, language: str, restriction: Restriction | None
    ) -> _Shared:
        location, reason = removal.location, removal.reason
        key = (id(location), id(reason), language, reason.restriction_id or "", id(restriction))
        hit = self._shared.get(key)
        if hit is not None and hit.location is location and hit.reason is reason:
            return hit
        territory = location.territory
        case = reason.case_ref or "-"
        text = participant_notice(NoticeKind.REMOVED, territory, case, language)
        evidence = location.to_dict()
        reason_dict = reason.to_dict()
        notice = {
            "kind": NoticeKind.REMOVED.value,
            "territory": territory,
            "case_refs": [case],
            "language": language,
            "text": text,
            "texts": notice_texts(NoticeKind.REMOVED, territory, case),
        }
        held = {
            "id": reason.restriction_id,
            "version": reason.restriction_version,
            "case_ref": reason.case_ref,
            "jurisdiction": restriction.jurisdiction.codes() if restriction else None,
            "valid_until": restriction.valid_until.isoformat() if restriction else None,
        }
        hit = self._shared[key] = _Shared(
            location=location,
            reason=reason,
            territory=territory,
            notice_text=text,
            host_notice=host_notice(1, territory, case),
            body_parts=BodyParts.of(
                {
                    _REASON: _json(reason_dict),
                    _NOTICE: _json(notice),
                    _RESTRICTION: _json(held),
                    _EVIDENCE: _json(evidence),
                }
            ),
            evidence=evidence,
            reason_dict=reason_dict,
            presence_pieces={_REASON: _json(reason_dict)[:-1] + f',"notice":{_json(text)}'},
        )
        return hit

    def make(
        self, removal: Removal, presence: LivePresence, restriction: Restriction | None
    ) -> MadeOrder:
        """The order for one removal of one presence, with its audit payload and the reason
        the presence keeps."""
        reason = removal.reason
        restriction_id = reason.restriction_id
        if restriction_id is None:  # only a restriction's reason removes anyone (policy.sweep)
            raise ValueError("a removal without a restriction cannot become an order")
        shared = self._shared_of(removal, presence.language, restriction)
        territory = shared.territory
        platform = presence.platform
        context = presence.context
        oid = order_id(presence.id, restriction_id)
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
            "restriction": _SLOTS[_RESTRICTION],
            "reason": _SLOTS[_REASON],
            "notice": _SLOTS[_NOTICE],
            "host_notice": shared.host_notice,
            "policy_version": removal.policy_version,
            "created_at": self._created,
        }
        # The evidence is the last key of "data" (spliced in after the sorted keys): the body
        # is fixed text, so it need not be canonical, only the same on every delivery. It is
        # stored as the order's own text with tokens where the shared parts go.
        own = '{"data":' + _json(data)[:-1] + ',"evidence":' + _BODY_TOKENS[_EVIDENCE] + "}"
        own += self._tail
        parts = shared.body_parts
        if len(_BODY_TOKEN.findall(own)) == len(_BODY_TOKENS) and all(
            own.count(token) == 1 for token in _BODY_TOKENS.values()
        ):
            body, stored = assemble(own, parts), (own, parts)
        else:  # a value happened to contain a token: make and store the body whole
            pieces = {name: json.loads(piece) for name, piece in parts.pieces.items()}
            data.update((k, pieces[k]) for k in (_REASON, _NOTICE, _RESTRICTION))
            body = '{"data":' + _json(data)[:-1] + ',"evidence":' + parts.pieces[_EVIDENCE]
            body += "}" + self._tail
            stored = None
        order = RemovalOrder(
            id=oid,
            platform=platform,
            participant_id=presence.id,
            restriction_id=restriction_id,
            restriction_version=reason.restriction_version or 0,
            case_ref=reason.case_ref,
            territory=territory,
            body=body,
            created_at=self.now,
            next_attempt_at=self.now,
        )
        fields: dict[str, Any] = {
            "participant_id": participant_key(platform, presence.participant_ref),
            "session_id": context.session_id,
            "context": context.to_dict(),
            "platform": platform,
            "participant_ref": presence.participant_ref,
            "platform_participant_id": presence.id,
            "order_id": oid,
        }
        # The presence keeps the reason, the order id and the notice (text) it was given.
        kept = (
            shared.presence_pieces[_REASON]
            + f',"order_id":"{oid}"}}'  # ord_ and hex digits: nothing to escape
        )
        return MadeOrder(order, fields, self._group_of(shared, removal), kept, stored)
