"""The meeting service: accounts, meetings, sessions, the join gate, and live enforcement.

Evaluation order of a join (``MeetingService.join``):

1. the session must exist, be live and not locked (``NotFound`` / ``Conflict``);
2. the client address was resolved by the caller through the trusted proxies; the participant
   is located from it and from a dial-in number, if any (``Locator.locate``);
3. the policy engine decides for the session's context (meeting, series, host account);
4. the participant — admitted (``joined``) or refused (``blocked``) — and the decision with its
   evidence are written in one transaction with the audit entry; only then is the answer given.

Live enforcement (``activate``): the restriction is stored and audited, installed in the policy
engine, and swept over this node's live participants; every removal is written and audited in
one transaction *before* the caller closes any connection. Nothing here ends a session or
suspends an account: the only outputs are removals of individual participants (I2).

The node's live roster (who is ``joined`` in a live session, with their Location) is held in
memory for sweeps and signalling, and rebuilt from storage at start.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring
from typing import Any

from lexloci.audit.encoding import canonical_text
from lexloci.audit.tags import AuditTag
from lexloci.auth import hash_token, new_token
from lexloci.clock import Clock
from lexloci.errors import Conflict, Forbidden, InvalidInput, Misdirected, NotFound
from lexloci.frozen import direct_init
from lexloci.geo import ClientAddress, Evidence, Location, Locator
from lexloci.ids import time_ordered_hex, token_hex
from lexloci.jurisdictions import normalize_territory
from lexloci.meetings.model import (
    Account,
    AccountStatus,
    Meeting,
    MeetingSession,
    Participant,
    ParticipantState,
    SessionState,
)
from lexloci.meetings.notices import (
    LANGUAGES,
    NoticeKind,
    host_notice,
    notice_texts,
    participant_notice,
)
from lexloci.meetings.placement import NODE_TTL, choose_node
from lexloci.meetings.ports import EncodedEntry, GateRecord, StateChange, Store
from lexloci.policy import (
    ChangeKind,
    Decision,
    DecisionReason,
    Effect,
    Enforcement,
    LiveParticipant,
    PolicyEngine,
    Removal,
    Restriction,
    SessionContext,
)
from lexloci.policy.codec import restriction_to_dict

__all__ = [
    "GateResult",
    "HostNotice",
    "JoinRequest",
    "JoinResult",
    "MeetingService",
    "Notice",
    "PreparedJoin",
    "RemovalOutcome",
    "RemovedParticipant",
    "new_id",
    "restriction_payload",
]

MAX_NAME = 100
MAX_TOPIC = 300


def new_id(prefix: str) -> str:
    return f"{prefix}_{token_hex(8)}"


#: Bound of ``MeetingService._reason_texts`` (reasons are few: one per restriction and outcome).
_REASON_TEXTS_LIMIT = 1024
#: Bound of ``MeetingService._context_texts``: one per session joined on this node, and a node
#: runs for months while sessions come and go; more than its live sessions at once are rare.
_CONTEXT_TEXTS_LIMIT = 4096

# For MeetingService._audit_text: the canonical text of a string (audit.encoding's string
# encoder), of each effect, the largest integer the encoding takes, and the join's tags.
_text = encode_basestring
_EFFECT_TEXTS: dict[Effect, str] = {effect: _text(effect.value) for effect in Effect}
_MAX_SAFE_INTEGER = 2**53 - 1
_JOIN_ALLOWED = AuditTag.MEETING_PARTICIPANT_JOIN_ALLOWED
_JOIN_DENIED = AuditTag.MEETING_PARTICIPANT_JOIN_DENIED

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


def _clean_text(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    text = " ".join(value.split())
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    if _CONTROL_CHARACTER.search(text):
        raise InvalidInput(f"{what} contains control characters")
    return text


@direct_init
@dataclass(frozen=True, slots=True)
class JoinRequest:
    session_id: str
    display_name: str
    client: ClientAddress
    phone: str | None = None
    user_id: str | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Notice:
    """What a blocked or removed participant is shown."""

    kind: NoticeKind
    territory: str | None
    case_refs: tuple[str, ...]
    language: str
    text: str
    texts: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "territory": self.territory,
            "case_refs": list(self.case_refs),
            "language": self.language,
            "text": self.text,
            "texts": self.texts,
        }


@direct_init
@dataclass(frozen=True, slots=True)
class GateResult:
    """One join decision with its evidence, and the notice when it refuses."""

    location: Location
    decision: Decision
    notice: Notice | None
    evidence: dict[str, Any]  # the location's snapshot (``Locator.snapshot``): read-only

    @property
    def admitted(self) -> bool:
        return self.decision.effect is Effect.ALLOW

    def audit_entry(
        self, participant_id: str, session_id: str, client: ClientAddress, phone: str | None
    ) -> tuple[AuditTag, dict[str, Any]]:
        """The audit tag and payload of this decision (the same for every kind of join).

        A join of lexloci's own sessions writes this payload's text with
        ``MeetingService._audit_text``, without building it: change both together
        (``tests/functional/test_join_audit_text.py`` holds them to the same bytes)."""
        decision, notice = self.decision, self.notice
        tag = (
            AuditTag.MEETING_PARTICIPANT_JOIN_ALLOWED
            if self.admitted
            else AuditTag.MEETING_PARTICIPANT_JOIN_DENIED
        )
        payload: dict[str, Any] = {
            "participant_id": participant_id,
            "session_id": session_id,
            "context": decision.context.to_dict(),
            "territory": self.location.territory,
            "evidence": self.evidence,
            "client_ip": client.address,
            "client_address_via": client.via,
            "phone": phone,
            "decision_id": decision.decision_id,
            "policy_version": decision.policy_version,
            "effect": decision.effect.value,
            "reasons": [r.to_dict() for r in decision.reasons],
            "restriction_ids": list(decision.restriction_ids),
            "case_ids": list(notice.case_refs) if notice else [],
        }
        if notice is not None:
            payload["notice"] = notice.text
            payload["notices"] = notice.texts
        return tag, payload


@direct_init
@dataclass(frozen=True, slots=True)
class JoinResult:
    participant: Participant
    decision: Decision
    token: str | None  # the signalling token, only for an admitted participant
    notice: Notice | None  # only for a refused one


@direct_init
@dataclass(frozen=True, slots=True)
class PreparedJoin:
    """A decided join whose record is not yet written (see ``MeetingService.prepare_join``)."""

    result: JoinResult
    record: GateRecord  # written by ``Store.record_gate`` (or ``record_gate_async``)
    context: SessionContext
    location: Location
    token_hash: str | None


@dataclass(frozen=True, slots=True)
class HostNotice:
    session_id: str
    count: int
    territory: str | None
    case_ref: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "count": self.count,
            "territory": self.territory,
            "case_ref": self.case_ref,
            "text": self.text,
            # Every supported language, so each member's page can show it in its own.
            "texts": {
                lang: host_notice(self.count, self.territory, self.case_ref, lang)
                for lang in LANGUAGES
            },
        }


@dataclass(frozen=True, slots=True)
class RemovedParticipant:
    participant_id: str
    session_id: str
    territory: str | None
    notice: Notice


@dataclass(frozen=True, slots=True)
class RemovalOutcome:
    """What one enforcement step did: who was removed (with notices) and what hosts are told."""

    restriction: Restriction | None
    removed: tuple[RemovedParticipant, ...] = ()
    host_notices: tuple[HostNotice, ...] = ()
    policy_version: int = 0

    @property
    def sessions(self) -> set[str]:
        return {r.session_id for r in self.removed}


@dataclass
class _Live:
    participant: LiveParticipant
    language: str
    client_ip: str | None
    phone: str | None
    entry: dict[str, Any]  # the participant as the roster shows it (Participant.to_dict)
    media_ip: str | None = None


@dataclass
class _LiveState:
    by_id: dict[str, _Live] = field(default_factory=dict)
    by_session: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    tokens: dict[str, str] = field(default_factory=dict)  # token hash -> participant id
    token_of: dict[str, str] = field(default_factory=dict)  # participant id -> token hash


class MeetingService:
    def __init__(
        self,
        store: Store,
        locator: Locator,
        engine: PolicyEngine,
        clock: Clock,
        *,
        node: str = "local",
    ) -> None:
        self.store = store
        self.locator = locator
        self.engine = engine
        self.clock = clock
        self.node = node
        self._lock = threading.RLock()
        self._live = _LiveState()
        self._contexts: dict[str, SessionContext] = {}
        self._sessions: dict[str, MeetingSession] = {}  # this node's sessions, kept exact
        # Canonical JSON texts of what joins' audit payloads share; see _audit_payload.
        # territory -> (an evidence snapshot, its text)
        self._evidence_texts: dict[str | None, tuple[Mapping[str, Any], str]] = {}
        # session id -> (its context, the text of context.to_dict())
        self._context_texts: dict[str, tuple[SessionContext, str]] = {}
        # a decision reason -> the text of reason.to_dict()
        self._reason_texts: dict[DecisionReason, str] = {}

    # -- start-up ----------------------------------------------------------------------------

    def load(self) -> list[RemovalOutcome]:
        """Install stored restrictions, rebuild this node's live roster from storage, and sweep
        it: participants recorded as joined while a restriction became active (this node was
        down) are removed now, before the node admits anyone."""
        self.engine.apply_many(self.store.restrictions())
        with self._lock:
            self._live = _LiveState()
            for participant, token_hash in self.store.live_participants(self.node):
                context = self.context(participant.session_id)
                location = self._relocate(participant.client_ip, participant.phone)
                self._admit(participant, context, location, token_hash)
        now = self.clock.now()
        return [self.sweep(r, automated=True) for r in self.engine.active(now)]

    def _relocate(self, client_ip: str | None, phone: str | None) -> Location:
        try:
            return self.locator.locate(Evidence(client_ip=client_ip, phone=phone))
        except InvalidInput:
            return self.locator.unknown_client("stored evidence no longer parses")

    # -- accounts, meetings, sessions ---------------------------------------------------------

    def create_account(self, name: str, home_country: str, actor: str) -> Account:
        account = Account(
            id=new_id("acc"),
            name=_clean_text(name, "name", MAX_NAME),
            home_country=normalize_territory(home_country),
            created_at=self.clock.now(),
        )
        with self.store.transaction() as tx:
            tx.insert_account(account)
            tx.audit(
                AuditTag.MEETING_ACCOUNT_CREATED,
                actor,
                {
                    "account_id": account.id,
                    "home_country": account.home_country,
                    "name": account.name,
                },
            )
        return account

    def account(self, account_id: str) -> Account:
        account = self.store.account(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r}", id=account_id)
        return account

    def create_meeting(
        self,
        topic: str,
        host_account_id: str,
        actor: str,
        recurrence: str | None = None,
        series_of: str | None = None,
    ) -> Meeting:
        self.account(host_account_id)
        meeting_id = new_id("mtg")
        series_id = meeting_id
        if series_of is not None:
            parent = self.meeting(series_of)
            if parent.host_account_id != host_account_id:
                raise InvalidInput("a meeting can join only a series of the same host account")
            series_id = parent.series_id
        if recurrence is not None:
            recurrence = _clean_text(recurrence, "recurrence", 100)
        meeting = Meeting(
            id=meeting_id,
            topic=_clean_text(topic, "topic", MAX_TOPIC),
            host_account_id=host_account_id,
            series_id=series_id,
            created_at=self.clock.now(),
            recurrence=recurrence,
        )
        with self.store.transaction() as tx:
            tx.insert_meeting(meeting)
            tx.audit(
                AuditTag.MEETING_MEETING_CREATED,
                actor,
                {
                    "meeting_id": meeting.id,
                    "series_id": meeting.series_id,
                    "host_account_id": meeting.host_account_id,
                    "topic": meeting.topic,
                    "recurrence": meeting.recurrence,
                },
            )
        return meeting

    def meeting(self, meeting_id: str) -> Meeting:
        meeting = self.store.meeting(meeting_id)
        if meeting is None:
            raise NotFound(f"no meeting {meeting_id!r}", id=meeting_id)
        return meeting

    def start_session(self, meeting_id: str, actor: str) -> MeetingSession:
        """Start a session on the node placement picks (``lexloci.meetings.placement``)."""
        meeting = self.meeting(meeting_id)
        account = self.account(meeting.host_account_id)
        if account.status is not AccountStatus.ACTIVE:
            raise Forbidden(f"account {account.id} is suspended", reason="account_suspended")
        now = self.clock.now()
        session_id = new_id("ses")
        live_nodes = self.store.nodes(seen_since=now - NODE_TTL)
        candidates = [n["name"] for n in live_nodes if n["accepts_sessions"]]
        node = choose_node(session_id, candidates) if candidates else self.node
        session = MeetingSession(id=session_id, meeting_id=meeting.id, started_at=now, node=node)
        with self.store.transaction() as tx:
            tx.insert_session(session)
            tx.audit(
                AuditTag.MEETING_SESSION_STARTED,
                actor,
                {
                    "meeting_id": meeting.id,
                    "session_id": session.id,
                    "context": self.context_for(meeting, session.id).to_dict(),
                },
            )
        return session

    def session(self, session_id: str) -> MeetingSession:
        cached = self._sessions.get(session_id)
        if cached is not None:
            return cached
        session = self.store.session(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r}", id=session_id)
        if session.node == self.node:
            # Only the node that holds a session changes it (lock, unlock and end are sent to
            # that node like joins), so its own copy stays exact: joins need no database read.
            self._sessions[session_id] = session
        return session

    def cached_session(self, session_id: str) -> MeetingSession | None:
        """This node's copy of one of its sessions, if it has one (no database read)."""
        return self._sessions.get(session_id)

    def _owned(self, session_id: str) -> MeetingSession:
        """A live session held by this node; anything else is refused or redirected."""
        session = self._live_session(session_id)
        if session.node != self.node:
            raise Misdirected(
                f"session {session.id} is served by node {session.node}; send this there",
                node=session.node,
                node_url=self.node_url(session.node),
            )
        return session

    def context(self, session_id: str) -> SessionContext:
        cached = self._contexts.get(session_id)
        if cached is None:
            session = self.session(session_id)
            cached = self.context_for(self.meeting(session.meeting_id), session_id)
            self._contexts[session_id] = cached
        return cached

    @staticmethod
    def context_for(meeting: Meeting, session_id: str) -> SessionContext:
        return SessionContext(session_id, meeting.id, meeting.series_id, meeting.host_account_id)

    def set_locked(self, session_id: str, locked: bool, actor: str) -> MeetingSession:
        session = self._owned(session_id)
        updated = replace(session, locked=locked)
        tag = AuditTag.MEETING_SESSION_LOCKED if locked else AuditTag.MEETING_SESSION_UNLOCKED
        with self.store.transaction() as tx:
            tx.update_session(updated)
            tx.audit(tag, actor, {"session_id": session_id})
        self._sessions[session_id] = updated
        return updated

    def end_session(self, session_id: str, actor: str) -> tuple[MeetingSession, list[str]]:
        """End a session (hosts and admins only — never enforcement). Returns who was in it."""
        session = self._owned(session_id)
        now = self.clock.now()
        ended = replace(session, state=SessionState.ENDED, ended_at=now)
        members = [p.id for p in self.store.participants(session_id, [ParticipantState.JOINED])]
        changes = [StateChange(pid, ParticipantState.LEFT, now) for pid in members]
        with self.store.transaction() as tx:
            tx.update_session(ended)
            tx.set_states(changes)
            tx.audit(
                AuditTag.MEETING_SESSION_ENDED,
                actor,
                {
                    "meeting_id": session.meeting_id,
                    "session_id": session_id,
                    "reason": "ended by the host",
                    "participants": len(members),
                },
            )
        self._sessions[session_id] = ended
        with self._lock:
            for pid in members:
                self._drop(pid)
        return ended, members

    def _live_session(self, session_id: str) -> MeetingSession:
        session = self.session(session_id)
        if session.state is not SessionState.LIVE:
            raise Conflict(f"session {session_id} has ended", id=session_id, reason="session_ended")
        return session

    # -- the join gate -----------------------------------------------------------------------

    def gate(
        self, context: SessionContext, client: ClientAddress, phone: str | None, language: str
    ) -> GateResult:
        """The join gate itself: locate, decide, and the notice for a refusal.

        The one place a join decision is made — for lexloci's own sessions (``join``) and for
        other platforms' stateless decisions (``lexloci.platforms``) alike."""
        if phone is not None:
            location = self.locator.locate(Evidence(client_ip=client.address, phone=phone))
        elif client.address is not None:  # what locate does with only a client address
            location = self.locator.locate_ip(client.address)
        else:
            location = self.locator.unknown_client(client.reason or "unknown")
        decision = self.engine.decide(context, location, self.clock.now())
        admitted = decision.effect is Effect.ALLOW
        notice = None if admitted else self._notice(NoticeKind.BLOCKED, decision, language)
        return GateResult(location, decision, notice, self.locator.snapshot(location))

    def node_url(self, node: str) -> str | None:
        return next((n["url"] for n in self.store.nodes() if n["name"] == node), None)

    def join(self, request: JoinRequest) -> JoinResult:
        """Decide, record (durably, with the audit entry), then admit — in that order."""
        prepared = self.prepare_join(request)
        self.store.record_gate(prepared.record)
        return self.finish_join(prepared)

    def prepare_join(self, request: JoinRequest) -> PreparedJoin:
        """Everything of a join before its write: validation, the gate, the rows to write.

        Cheap and non-blocking once the session is known to this node, so the web layer runs
        it on the event loop and awaits the group commit (``record``) without a thread hop."""
        session = self._owned(request.session_id)
        if session.locked:
            raise Conflict(
                f"session {session.id} is locked by its host",
                id=session.id,
                reason="session_locked",
            )
        name = _clean_text(request.display_name, "display_name", MAX_NAME)
        user_id = _clean_text(request.user_id, "user_id", 100) if request.user_id else None
        context = self.context(session.id)
        gate = self.gate(context, request.client, request.phone, request.language)
        location, decision, notice = gate.location, gate.decision, gate.notice
        admitted = gate.admitted
        participant = Participant(
            id=f"par_{time_ordered_hex()}",  # many per second: index-friendly (lexloci.ids)
            session_id=session.id,
            display_name=name,
            state=ParticipantState.JOINED if admitted else ParticipantState.BLOCKED,
            joined_at=decision.decided_at,
            territory=location.territory,
            location=gate.evidence,
            client_ip=request.client.address,
            phone=request.phone,
            user_id=user_id,
            language=request.language,
            reason=None if admitted else _decision_reason(decision, notice),
            decision_id=decision.decision_id,
        )
        token = new_token() if admitted else None
        token_hash = hash_token(token) if token else None
        tag = _JOIN_ALLOWED if admitted else _JOIN_DENIED  # gate.audit_entry's tag
        encoded = self._audit_text(gate, participant.id, session.id, request.client, request.phone)
        record = GateRecord(
            (EncodedEntry(tag, f"participant:{participant.id}", encoded),), participant, token_hash
        )
        result = JoinResult(participant, decision, token, notice)
        return PreparedJoin(result, record, context, location, token_hash)

    def _audit_text(
        self,
        gate: GateResult,
        participant_id: str,
        session_id: str,
        client: ClientAddress,
        phone: str | None,
    ) -> str:
        """The canonical JSON text of a join's audit payload: exactly ``canonical_text`` of
        ``gate.audit_entry(participant_id, session_id, client, phone)``'s payload, written
        from its members without building the payload.

        The payload's keys are fixed, so its text is one template in key order around the
        members' texts. Three of them are objects many joins share, whose texts are kept: the
        evidence per territory, for as long as the territory's snapshot is that same object
        (``Locator.snapshot``, never changed, shared by a territory's joins on the locator's
        fast path); the context per session, for as long as it is the same object; each
        decision reason (a frozen value). The refusal's notices are encoded when present.
        Every other member must be exactly a ``str`` (or None where the payload allows it;
        the ids: each one), and the policy version an ``int`` within +/-(2**53 - 1);
        anything else — a ``str`` subclass, say — is encoded from the payload itself
        (``canonical_text``), which converts or refuses it, as before."""
        decision, notice, location = gate.decision, gate.notice, gate.location
        territory, address, via = location.territory, client.address, client.via
        decision_id, version = decision.decision_id, decision.policy_version
        restriction_ids = decision.restriction_ids
        case_ids = notice.case_refs if notice is not None else ()
        effect = _EFFECT_TEXTS.get(decision.effect)
        if not (
            type(participant_id) is str
            and type(session_id) is str
            and type(via) is str
            and type(decision_id) is str
            and (address is None or type(address) is str)
            and (phone is None or type(phone) is str)
            and (territory is None or type(territory) is str)
            and type(version) is int
            and -_MAX_SAFE_INTEGER <= version <= _MAX_SAFE_INTEGER
            and effect is not None
            and all(type(r) is str for r in restriction_ids)
            and all(type(c) is str for c in case_ids)
            and (notice is None or type(notice.text) is str)
        ):
            _, payload = gate.audit_entry(participant_id, session_id, client, phone)
            return canonical_text(payload)
        evidence = self._evidence_texts.get(territory)
        if evidence is None or evidence[0] is not gate.evidence:
            evidence = self._evidence_texts[territory] = (
                gate.evidence,
                canonical_text(gate.evidence),
            )
        context = decision.context
        kept = self._context_texts.get(context.session_id)
        if kept is None or kept[0] is not context:
            if kept is None and len(self._context_texts) >= _CONTEXT_TEXTS_LIMIT:
                self._context_texts.clear()
            kept = self._context_texts[context.session_id] = (
                context,
                canonical_text(context.to_dict()),
            )
        reasons = ",".join(map(self._reason_text, decision.reasons))
        notices = (
            ""
            if notice is None
            else f'"notice":{_text(notice.text)},"notices":{canonical_text(notice.texts)},'
        )
        return (
            f'{{"case_ids":[{",".join(map(_text, case_ids))}],'
            f'"client_address_via":{_text(via)},'
            f'"client_ip":{"null" if address is None else _text(address)},'
            f'"context":{kept[1]},'
            f'"decision_id":{_text(decision_id)},'
            f'"effect":{effect},'
            f'"evidence":{evidence[1]},'
            f"{notices}"
            f'"participant_id":{_text(participant_id)},'
            f'"phone":{"null" if phone is None else _text(phone)},'
            f'"policy_version":{version},'
            f'"reasons":[{reasons}],'
            f'"restriction_ids":[{",".join(map(_text, restriction_ids))}],'
            f'"session_id":{_text(session_id)},'
            f'"territory":{"null" if territory is None else _text(territory)}}}'
        )

    def _reason_text(self, reason: DecisionReason) -> str:
        text = self._reason_texts.get(reason)
        if text is None:
            if len(self._reason_texts) >= _REASON_TEXTS_LIMIT:
                self._reason_texts.clear()
            text = self._reason_texts[reason] = canonical_text(reason.to_dict())
        return text

    def finish_join(self, prepared: PreparedJoin) -> JoinResult:
        """After the join's record committed: an admitted participant enters the live roster."""
        result = prepared.result
        if result.token is not None:
            with self._lock:
                self._admit(
                    result.participant, prepared.context, prepared.location, prepared.token_hash
                )
        return result

    def _notice(self, kind: NoticeKind, decision: Decision, language: str) -> Notice:
        territory = decision.location.territory
        cases = tuple(dict.fromkeys(r.case_ref for r in decision.reasons if r.case_ref))
        case = ", ".join(cases) or "-"
        return Notice(
            kind,
            territory,
            cases,
            language,
            participant_notice(kind, territory, case, language),
            notice_texts(kind, territory, case),
        )

    def _admit(
        self,
        participant: Participant,
        context: SessionContext,
        location: Location,
        token_hash: str | None,
    ) -> None:
        live = _Live(
            LiveParticipant(participant.id, context, location),
            participant.language,
            participant.client_ip,
            participant.phone,
            participant.to_dict(),
        )
        self._live.by_id[participant.id] = live
        self._live.by_session[participant.session_id].add(participant.id)
        if token_hash is not None:
            self._live.tokens[token_hash] = participant.id
            self._live.token_of[participant.id] = token_hash

    def _drop(self, participant_id: str) -> None:
        live = self._live.by_id.pop(participant_id, None)
        if live is None:
            return
        members = self._live.by_session.get(live.participant.context.session_id)
        if members is not None:
            members.discard(participant_id)
            if not members:
                del self._live.by_session[live.participant.context.session_id]
        token_hash = self._live.token_of.pop(participant_id, None)
        if token_hash is not None:
            self._live.tokens.pop(token_hash, None)

    # -- the live roster ---------------------------------------------------------------------

    def participant_for_token(self, session_id: str, token: str) -> str | None:
        """The live participant a signalling token belongs to, in this session, else None."""
        pid = self._live.tokens.get(hash_token(token))
        if pid is None:
            return None
        live = self._live.by_id.get(pid)
        if live is None or live.participant.context.session_id != session_id:
            return None
        return pid

    def live_roster(self, session_id: str) -> list[dict[str, Any]] | None:
        """The session's members as the roster shows them, from memory when this node holds
        the session (it changes the live state only after each change is committed, so this is
        the stored roster); None when another node holds it."""
        session = self.session(session_id)
        if session.node != self.node:
            return None
        with self._lock:
            ids = list(self._live.by_session.get(session_id, ()))
            entries = [self._live.by_id[pid].entry for pid in ids if pid in self._live.by_id]
        return sorted(entries, key=lambda e: (e["joined_at"], e["id"]))

    def live_ids(self, session_id: str) -> set[str]:
        return set(self._live.by_session.get(session_id, ()))

    def live_count(self) -> int:
        return len(self._live.by_id)

    def roster(self, session_id: str) -> list[Participant]:
        self.session(session_id)
        return self.store.participants(session_id, [ParticipantState.JOINED])

    def leave(self, session_id: str, participant_id: str) -> Participant:
        participant = self._member(session_id, participant_id)
        left = replace(participant, state=ParticipantState.LEFT, left_at=self.clock.now())
        with self.store.transaction() as tx:
            tx.set_states(
                [StateChange(participant_id, left.state, left.left_at or self.clock.now())]
            )
            tx.audit(
                AuditTag.MEETING_PARTICIPANT_LEFT,
                f"participant:{participant_id}",
                {"participant_id": participant_id, "session_id": session_id},
            )
        with self._lock:
            self._drop(participant_id)
        return left

    def _member(self, session_id: str, participant_id: str) -> Participant:
        participant = self.store.participant(participant_id)
        if participant is None or participant.session_id != session_id:
            raise NotFound(f"no participant {participant_id!r} in session {session_id}")
        if participant.state is not ParticipantState.JOINED:
            raise Conflict(
                f"participant {participant_id} is not in the session ({participant.state.value})",
                reason="not_in_session",
            )
        return participant

    def remove_by_host(
        self, session_id: str, participant_id: str, reason: str, actor: str
    ) -> Participant:
        """A host removes one participant (not a geographic action; no case needed, I7)."""
        self._live_session(session_id)
        participant = self._member(session_id, participant_id)
        text = _clean_text(reason, "reason", 500) if reason else "removed by the host"
        removed = replace(
            participant,
            state=ParticipantState.REMOVED,
            left_at=self.clock.now(),
            reason={"code": "removed_by_host", "message": text},
        )
        with self.store.transaction() as tx:
            tx.set_states(
                [
                    StateChange(
                        participant_id,
                        removed.state,
                        removed.left_at or self.clock.now(),
                        removed.reason,
                    )
                ]
            )
            tx.audit(
                AuditTag.MEETING_PARTICIPANT_REMOVED_BY_HOST,
                actor,
                {"participant_id": participant_id, "session_id": session_id, "reason": text},
            )
        with self._lock:
            self._drop(participant_id)
        return removed

    # -- live enforcement --------------------------------------------------------------------

    def activate(self, restriction: Restriction, actor: str) -> RemovalOutcome:
        """Store, audit and install a restriction, then sweep this node's live sessions."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.save_restriction(restriction, now)
            tx.audit(
                AuditTag.POLICY_RESTRICTION_ACTIVATED,
                actor,
                restriction_payload(restriction),
            )
        self.engine.apply(restriction)
        return self.sweep(restriction, automated=True)

    def apply_change(self, restriction: Restriction) -> RemovalOutcome:
        """Install a committed restriction version (from this or another node) and sweep.

        Idempotent by id and version: a version the engine already holds changes nothing and
        sweeps nothing, so a change delivered twice is applied once."""
        change = self.engine.apply(restriction)
        if change.kind is ChangeKind.UNCHANGED:
            return RemovalOutcome(restriction, policy_version=self.engine.policy_version)
        return self.sweep(change.restriction, automated=True)

    def lift(self, restriction_id: str, actor: str) -> Restriction:
        now = self.clock.now()
        held = self.engine.get(restriction_id)
        if held.lifted_at is not None:
            return held
        lifted = held.lift(now)
        with self.store.transaction() as tx:
            tx.save_restriction(lifted, now)
            tx.audit(AuditTag.POLICY_RESTRICTION_LIFTED, actor, restriction_payload(lifted))
        self.engine.apply(lifted)
        return lifted

    def expire(self) -> list[Restriction]:
        """Record (once, audited) every restriction whose period has ended, and drop it from
        the engine. Returns the restrictions whose expiry this call recorded."""
        now = self.clock.now()
        ended = [
            r for r in self.engine.restrictions() if r.valid_until <= now and r.lifted_at is None
        ]
        recorded = []
        for restriction in ended:
            with self.store.transaction() as tx:
                if tx.mark_expired(restriction.id, now):
                    tx.audit(
                        AuditTag.POLICY_RESTRICTION_EXPIRED,
                        "system:expiry",
                        {
                            "restriction_id": restriction.id,
                            "case_id": restriction.case_ref,
                            "valid_until": restriction.valid_until.isoformat(),
                        },
                    )
                    recorded.append(restriction)
        self.engine.prune_expired(now)
        return recorded

    def sweep(self, restriction: Restriction, *, automated: bool) -> RemovalOutcome:
        now = self.clock.now()
        if Enforcement.REMOVE_LIVE not in restriction.effects or not restriction.is_active(now):
            return RemovalOutcome(restriction, policy_version=self.engine.policy_version)
        with self._lock:
            live = [item.participant for item in self._live.by_id.values()]
            languages = {pid: item.language for pid, item in self._live.by_id.items()}
        removals = self.engine.sweep(restriction, live, now)
        return self._remove(restriction, removals, languages, now, automated=automated)

    def update_evidence(
        self, participant_id: str, *, media_ip: str | None = None, client_ip: str | None = None
    ) -> RemovalOutcome:
        """New evidence for a live participant (e.g. the media path): decide again."""
        with self._lock:
            item = self._live.by_id.get(participant_id)
            if item is None:
                raise NotFound(f"no live participant {participant_id!r}")
            if media_ip is not None:
                item.media_ip = media_ip
            if client_ip is not None:
                item.client_ip = client_ip
            location = self.locator.locate(
                Evidence(client_ip=item.client_ip, media_ip=item.media_ip, phone=item.phone)
            )
            item.participant = LiveParticipant(participant_id, item.participant.context, location)
            languages = {participant_id: item.language}
        now = self.clock.now()
        removals = self.engine.reevaluate(item.participant, now)
        return self._remove(None, removals[:1], languages, now, automated=True)

    def _remove(
        self,
        restriction: Restriction | None,
        removals: Sequence[Removal],
        languages: dict[str, str],
        now: dt.datetime,
        *,
        automated: bool,
    ) -> RemovalOutcome:
        with self._lock:  # someone may have left since the sweep looked
            removals = [r for r in removals if r.participant_id in self._live.by_id]
        if not removals:
            return RemovalOutcome(restriction, policy_version=self.engine.policy_version)
        removed: list[RemovedParticipant] = []
        changes: list[StateChange] = []
        entries: list[tuple[AuditTag, str, Mapping[str, Any]]] = []
        counts: Counter[tuple[str, str | None, str]] = Counter()
        actor = "system:enforcement" if automated else "system"
        # A sweep removes many participants who share a notice, a session, a reason and (on
        # the locator's fast path) one Location object: build each of those once. The audit
        # log copies every payload it is given, so sharing the dicts between payloads is safe.
        notices: dict[tuple[str | None, str, str], Notice] = {}
        contexts: dict[str, dict[str, Any]] = {}
        reasons: dict[int, dict[str, Any]] = {}
        evidence: dict[int, dict[str, Any]] = {}
        for removal in removals:
            reason = removal.reason
            territory = removal.location.territory
            case = reason.case_ref or "-"
            language = languages.get(removal.participant_id, "en")
            notice_key = (territory, case, language)
            notice = notices.get(notice_key)
            if notice is None:
                notice = notices[notice_key] = Notice(
                    NoticeKind.REMOVED,
                    territory,
                    (case,),
                    language,
                    participant_notice(NoticeKind.REMOVED, territory, case, language),
                    notice_texts(NoticeKind.REMOVED, territory, case),
                )
            session_id = removal.session_id
            context = contexts.get(session_id)
            if context is None:
                context = contexts[session_id] = removal.context.to_dict()
            reason_dict = reasons.get(id(reason))
            if reason_dict is None:
                reason_dict = reasons[id(reason)] = reason.to_dict()
            snapshot = evidence.get(id(removal.location))
            if snapshot is None:
                snapshot = evidence[id(removal.location)] = removal.location.to_dict()
            removed.append(
                RemovedParticipant(removal.participant_id, session_id, territory, notice)
            )
            changes.append(
                StateChange(
                    removal.participant_id,
                    ParticipantState.REMOVED,
                    now,
                    {**reason_dict, "notice": notice.text},
                )
            )
            counts[(session_id, territory, case)] += 1
            entries.append(
                (
                    AuditTag.MEETING_PARTICIPANT_REMOVED,
                    actor,
                    {
                        "participant_id": removal.participant_id,
                        "session_id": session_id,
                        "context": context,
                        "restriction_id": reason.restriction_id,
                        "restriction_version": reason.restriction_version,
                        "case_ref": reason.case_ref,
                        "restriction_ids": [reason.restriction_id],
                        "case_ids": [reason.case_ref],
                        "reason": reason_dict,
                        "territory": territory,
                        "evidence": snapshot,
                        "automated": automated,
                        "policy_version": removal.policy_version,
                        "notice": notice.text,
                        "node": self.node,
                    },
                )
            )
        host_notices = tuple(
            HostNotice(sid, n, territory, case, host_notice(n, territory, case))
            for (sid, territory, case), n in sorted(counts.items(), key=lambda kv: str(kv[0]))
        )
        with self.store.transaction() as tx:
            tx.set_states(changes)
            tx.audit_many(entries)
        with self._lock:
            for item in removed:
                self._drop(item.participant_id)
        return RemovalOutcome(restriction, tuple(removed), host_notices, self.engine.policy_version)


def restriction_payload(restriction: Restriction) -> dict[str, Any]:
    """The audit payload of a restriction change: the ids reports group by, and the whole
    restriction as stored."""
    return {
        "case_id": restriction.case_ref,
        "restriction_id": restriction.id,
        "version": restriction.version,
        "jurisdiction": restriction.jurisdiction.codes(),
        "scope": str(restriction.scope),
        "valid_from": restriction.valid_from.isoformat(),
        "valid_until": restriction.valid_until.isoformat(),
        "lifted_at": restriction.lifted_at.isoformat() if restriction.lifted_at else None,
        "restriction": restriction_to_dict(restriction),
    }


def _decision_reason(decision: Decision, notice: Notice | None) -> dict[str, Any]:
    return {
        "code": "geo_restricted",
        "restriction_ids": list(decision.restriction_ids),
        "reasons": [r.to_dict() for r in decision.reasons],
        "notice": notice.text if notice else None,
    }
