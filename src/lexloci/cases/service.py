"""The case workflow: intake, impact preview, two-person decision, appeal, lift and expiry.

Order of a decision (``CaseService.decide``):

1. the decider must hold the ``approver`` role and must not be the person who took the case in
   (the two-person rule, I7); the case must still be ``received``;
2. every requested action on every target is *planned* by ``plan`` — the same function the
   impact preview shows — which asks the scope guard and turns the demand into the least
   restrictive lawful action:

   - ``block_participants`` → a restriction for the authority's jurisdiction on the target's
     scope (meeting, series, or the account's meetings);
   - ``end_meetings`` → never ends anything: converted to that geographic restriction (I2);
   - ``suspend_account`` → suspension only when the holder's home territory is inside the
     jurisdiction; otherwise refused ``outside_jurisdiction`` and converted to a restriction on
     the account's meetings;
   - ``disclose_data`` → a disclosure package of only the participants located inside the
     jurisdiction at the time of their recorded join (I5);
   - ``preserve_data`` → recorded (lexloci deletes no meeting records);

3. the approver approves all, a part (naming which planned actions), or rejects with a reason;
4. the case, its restrictions, suspensions, disclosure and every audit entry are written in one
   transaction; only after it commits are restrictions installed and swept (the caller's job,
   through ``LiveMeetings.apply_change``), so an effect is never visible before its record (I4).

Other platforms (``lexloci.platforms``): a target may name a registered platform's meeting,
series or account as ``<platform>:<ref>`` (``acme:room-42``). Such a target becomes a restriction
on that namespaced scope exactly like a lexloci one; the impact preview counts the platform's
participants lexloci knows from roster events; an account suspension is never carried out on
another platform's account (lexloci holds none) and becomes the geographic restriction instead.
Disclosure packages hold lexloci's own participant records only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lexloci.audit.tags import AuditTag
from lexloci.auth import Principal, Role
from lexloci.cases.model import (
    ActionOutcome,
    Attachment,
    Authority,
    Case,
    CaseStatus,
    LegalProcess,
    Outcome,
    RejectionReason,
    RequestedAction,
    RequestType,
    Target,
    TargetKind,
)
from lexloci.cases.ports import AccountSuspension, CaseStore
from lexloci.clock import Clock
from lexloci.errors import Conflict, Forbidden, InvalidInput, NotFound
from lexloci.geo import Location
from lexloci.jurisdictions import Containment, GroupRegistry, normalize_territory
from lexloci.meetings.model import Account, AccountStatus, Participant, ParticipantState
from lexloci.meetings.service import new_id, restriction_payload
from lexloci.policy import (
    DEFAULT_VALIDITY,
    AccountAction,
    AccountActionProposal,
    DisclosureProposal,
    DisclosureRecord,
    Enforcement,
    Restriction,
    RestrictionProposal,
    Scope,
    UnknownLocationPolicy,
    Verdict,
    classify_location,
    review_account_action,
    review_disclosure,
    review_restriction,
)
from lexloci.policy import Authority as GuardAuthority

__all__ = [
    "DEFAULT_ACTIONS",
    "CaseIntake",
    "CaseService",
    "DecisionInput",
    "DecisionResult",
    "ExternalParticipants",
    "PlannedAction",
]

#: What an authority is taken to demand when the request does not say.
DEFAULT_ACTIONS: dict[RequestType, tuple[RequestedAction, ...]] = {
    RequestType.RESTRICT_MEETING: (RequestedAction.BLOCK_PARTICIPANTS,),
    RequestType.RESTRICT_ACCOUNT: (RequestedAction.SUSPEND_ACCOUNT,),
    RequestType.USER_DATA: (RequestedAction.DISCLOSE_DATA,),
    RequestType.MEETING_CONTENT: (RequestedAction.DISCLOSE_DATA,),
    RequestType.RECORDING: (RequestedAction.DISCLOSE_DATA,),
    RequestType.EMERGENCY: (RequestedAction.DISCLOSE_DATA,),
    RequestType.PRESERVATION: (RequestedAction.PRESERVE_DATA,),
}
_EFFECTS = frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE})
_SCOPE_KINDS = {TargetKind.MEETING.value, TargetKind.SERIES.value, TargetKind.ACCOUNT.value}
_ID_IN_URL = re.compile(r"\b(mtg|ses)_[0-9a-f]{16}\b")
MAX_ATTACHMENT = 10 * 1024 * 1024
_REFUSAL_TO_REASON = {
    "outside_jurisdiction": RejectionReason.OUTSIDE_JURISDICTION,
    "overbroad": RejectionReason.OVERBROAD,
    "no_legal_basis": RejectionReason.NO_LEGAL_BASIS,
    "location_uncertain": RejectionReason.LOCATION_UNCERTAIN,
}


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise InvalidInput(f"{what} is required")
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return text


def _aware(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone (e.g. 2026-06-03T00:00:00Z)")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class CaseIntake:
    authority_name: str
    agency: str
    country: str
    jurisdiction: Sequence[str]
    request_type: str
    legal_process: str
    legal_basis: str
    targets: Sequence[tuple[str, str]]  # (kind, ref or URL)
    received_at: dt.datetime
    requested_actions: Sequence[str] = ()
    deadline: dt.datetime | None = None
    non_disclosure_until: dt.datetime | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One requested action on one target, as the scope guard lets it be carried out."""

    key: str  # "<action>:<target index>", how a partial approval names it
    action: RequestedAction
    target: Target
    outcome: Outcome
    applied: str | None
    reasons: tuple[RejectionReason, ...]
    message: str
    scope: Scope | None = None  # the restriction this action becomes, if any
    suspend_account: str | None = None
    disclose: tuple[str, ...] = ()  # participant ids that may be disclosed

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "action": self.action.value,
            "target": self.target.to_dict(),
            "outcome": self.outcome.value,
            "applied": self.applied,
            "reasons": [r.value for r in self.reasons],
            "message": self.message,
            "restriction_scope": str(self.scope) if self.scope else None,
            "suspend_account": self.suspend_account,
            "disclose_count": len(self.disclose),
        }


@dataclass(frozen=True, slots=True)
class DecisionInput:
    decision: str  # approve_all | approve_part | reject
    approve: Sequence[str] = ()  # PlannedAction keys, for approve_part
    rejection_reason: str = RejectionReason.DECLINED_BY_REVIEWER.value
    valid_until: dt.datetime | None = None
    unknown_location: str = UnknownLocationPolicy.ALLOW.value
    note: str = ""


@dataclass(frozen=True, slots=True)
class _PlanContext:
    case: Case
    guard: GuardAuthority
    targets: frozenset[Scope]


@dataclass
class _Carried:
    """What a decision carries out, gathered before anything is written."""

    outcomes: list[ActionOutcome] = field(default_factory=list)
    restrictions: dict[Scope, Restriction] = field(default_factory=dict)
    suspensions: list[AccountSuspension] = field(default_factory=list)
    disclosed: set[str] = field(default_factory=set)
    converted: list[tuple[PlannedAction, str]] = field(default_factory=list)
    refused_accounts: list[PlannedAction] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DecisionResult:
    case: Case
    restrictions: tuple[Restriction, ...]
    suspensions: tuple[AccountSuspension, ...]


class ExternalParticipants(Protocol):
    """Other platforms' participants, as ``lexloci.platforms.PlatformService`` knows them."""

    def names_platform(self, ref: str) -> bool:
        """Whether ``ref`` is ``<platform>:<ref>`` for a registered platform."""
        ...

    def participants_in(self, scope: Scope) -> list[Participant]: ...


class CaseService:
    def __init__(
        self,
        store: CaseStore,
        groups: GroupRegistry,
        clock: Clock,
        external: ExternalParticipants | None = None,
    ) -> None:
        self.store = store
        self.groups = groups
        self.clock = clock
        self.external = external

    # -- intake -------------------------------------------------------------------------------

    def intake(self, data: CaseIntake, caller: Principal) -> Case:
        if not caller.has(Role.INTAKE):
            raise Forbidden("taking in a request needs the intake role")
        jurisdiction = self.groups.parse(list(data.jurisdiction))
        try:
            request_type = RequestType(data.request_type)
        except ValueError:
            raise InvalidInput(
                f"unknown request_type {data.request_type!r}; one of "
                + ", ".join(t.value for t in RequestType)
            ) from None
        try:
            legal_process = LegalProcess(data.legal_process)
        except ValueError:
            raise InvalidInput(
                f"unknown legal_process {data.legal_process!r}; one of "
                + ", ".join(p.value for p in LegalProcess)
            ) from None
        actions: list[RequestedAction] = []
        for raw in data.requested_actions or [a.value for a in DEFAULT_ACTIONS[request_type]]:
            try:
                actions.append(RequestedAction(raw))
            except ValueError:
                raise InvalidInput(
                    f"unknown requested action {raw!r}; one of "
                    + ", ".join(a.value for a in RequestedAction)
                ) from None
        if not data.targets:
            raise InvalidInput(
                "a request needs at least one target (meeting, series, account or invitation URL)"
            )
        if len(data.targets) > 100:
            raise InvalidInput("at most 100 targets per request")
        now = self.clock.now()
        received = _aware(data.received_at, "received_at")
        assert received is not None
        deadline = _aware(data.deadline, "deadline")
        if deadline is not None and deadline < received:
            raise InvalidInput("the deadline is before the request was received")
        case = Case(
            id=new_id("case"),
            authority=Authority(
                _text(data.authority_name, "authority name", 200),
                _text(data.agency, "agency", 200, required=False),
                normalize_territory(data.country),
                jurisdiction,
            ),
            request_type=request_type,
            legal_process=legal_process,
            legal_basis=_text(data.legal_basis, "legal_basis", 2000, required=False),
            targets=tuple(
                self._external_target(kind, ref) or self._target(kind, ref)
                for kind, ref in data.targets
            ),
            requested_actions=tuple(dict.fromkeys(actions)),
            received_at=received,
            intake_by=caller.name,
            created_at=now,
            deadline=deadline,
            non_disclosure_until=_aware(data.non_disclosure_until, "non_disclosure_until"),
            description=_text(data.description, "description", 10_000, required=False),
        )
        with self.store.transaction() as tx:
            tx.insert_case(case)
            tx.audit(
                AuditTag.CASE_CASE_RECEIVED,
                caller.actor,
                {
                    "case_id": case.id,
                    "authority": case.authority.to_dict(),
                    "requesting_country": case.authority.country,
                    "jurisdiction": jurisdiction.codes(),
                    "request_type": request_type.value,
                    "legal_process": legal_process.value,
                    "legal_basis": case.legal_basis,
                    "targets": [t.to_dict() for t in case.targets],
                    "requested_actions": [a.value for a in case.requested_actions],
                    "received_at": case.received_at.isoformat(),
                    "deadline": case.deadline.isoformat() if case.deadline else None,
                    "non_disclosure_until": (
                        case.non_disclosure_until.isoformat() if case.non_disclosure_until else None
                    ),
                },
            )
        return case

    def _target(self, kind: str, ref: str) -> Target:
        try:
            target_kind = TargetKind(kind)
        except ValueError:
            raise InvalidInput(
                f"unknown target kind {kind!r}; one of " + ", ".join(k.value for k in TargetKind)
            ) from None
        ref = _text(ref, "target", 2000)
        if target_kind is TargetKind.INVITATION_URL:
            match = _ID_IN_URL.search(ref)
            if match is None:
                raise InvalidInput(
                    f"no lexloci meeting or session id in the invitation URL {ref!r}"
                )
            found = match.group(0)
            if found.startswith("ses_"):
                session = self.store.session(found)
                if session is None:
                    raise InvalidInput(f"the invitation URL names an unknown session {found}")
                found = session.meeting_id
            if self.store.meeting(found) is None:
                raise InvalidInput(f"the invitation URL names an unknown meeting {found}")
            return Target(TargetKind.MEETING, found, url=ref)
        if target_kind is TargetKind.ACCOUNT:
            if self.store.account(ref) is None:
                raise InvalidInput(f"no account {ref!r} on this platform")
        elif target_kind is TargetKind.MEETING:
            if self.store.meeting(ref) is None:
                raise InvalidInput(f"no meeting {ref!r} on this platform")
        else:  # a series is named by the id of any of its meetings
            meeting = self.store.meeting(ref)
            if meeting is None:
                raise InvalidInput(f"no meeting series {ref!r} on this platform")
            ref = meeting.series_id
        return Target(target_kind, ref)

    def add_attachment(
        self, case_id: str, filename: str, media_type: str, content: bytes, caller: Principal
    ) -> Attachment:
        if not caller.has(Role.INTAKE, Role.REVIEWER):
            raise Forbidden("attachments need the intake or reviewer role")
        case = self.case(case_id)
        if not content:
            raise InvalidInput("an attachment needs content")
        if len(content) > MAX_ATTACHMENT:
            raise InvalidInput(f"an attachment is at most {MAX_ATTACHMENT} bytes")
        digest = hashlib.sha256(content).hexdigest()
        attachment = Attachment(
            digest,
            _text(filename, "filename", 255),
            _text(media_type or "application/octet-stream", "media_type", 100),
            len(content),
            self.clock.now(),
        )
        if any(a.sha256 == digest for a in case.attachments):
            return next(a for a in case.attachments if a.sha256 == digest)
        updated = replace(case, attachments=(*case.attachments, attachment))
        with self.store.transaction() as tx:
            tx.insert_attachment(attachment, case_id, content)
            tx.update_case(updated)
            tx.audit(
                AuditTag.CASE_ATTACHMENT_ADDED,
                caller.actor,
                {
                    "case_id": case_id,
                    "sha256": digest,
                    "filename": attachment.filename,
                    "size": len(content),
                },
            )
        return attachment

    # -- reading ------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case:
        case = self.store.case(case_id)
        if case is None:
            raise NotFound(f"no case {case_id!r}", id=case_id)
        return case

    # -- planning and impact ------------------------------------------------------------------

    def _external_target(self, kind: str, ref: str) -> Target | None:
        """A target in a registered platform's namespace, taken as given: lexloci holds no
        record of another platform's meetings or accounts to check it against."""
        ref = " ".join(str(ref or "").split())
        if kind not in _SCOPE_KINDS or not self._external_ref(ref):
            return None
        return Target(TargetKind(kind), ref)

    def _external_ref(self, ref: str) -> bool:
        return self.external is not None and self.external.names_platform(ref)

    def _scope_of(self, target: Target) -> Scope:
        if target.kind is TargetKind.ACCOUNT:
            return Scope.account(target.ref)
        if target.kind is TargetKind.SERIES:
            return Scope.series(target.ref)
        return Scope.meeting(target.ref)

    def _participants(self, scope: Scope) -> list[Participant]:
        sessions = self.store.sessions_in_scope(scope)
        people = self.store.participants_of([s.id for s in sessions])
        return [p for p in people if p.state is not ParticipantState.BLOCKED]

    def plan(self, case: Case) -> list[PlannedAction]:
        """Every requested action on every target, as the scope guard lets it happen."""
        ctx = _PlanContext(
            case,
            GuardAuthority(case.authority.name, case.authority.jurisdiction),
            frozenset(self._scope_of(t) for t in case.targets),
        )
        return [
            self._plan_one(ctx, f"{action.value}:{index}", action, target)
            for action in case.requested_actions
            for index, target in enumerate(case.targets)
        ]

    def _plan_one(
        self, ctx: _PlanContext, key: str, action: RequestedAction, target: Target
    ) -> PlannedAction:
        scope = self._scope_of(target)
        j = ctx.case.authority.jurisdiction
        if action is RequestedAction.BLOCK_PARTICIPANTS:
            applied = f"restriction on {scope} for {j}"
            message = (
                f"participants located in {j} are blocked and removed; nobody else is affected"
            )
            return self._plan_restriction(
                ctx, key, action, target, scope, Outcome.COMPLIED, applied, message
            )
        if action is RequestedAction.END_MEETINGS:
            applied = f"restriction on {scope} for {j} instead of ending the meeting"
            message = (
                "meetings are never ended for a government request (I2): participants located "
                f"in {j} are blocked and removed, and the meeting goes on for everyone else"
            )
            return self._plan_restriction(
                ctx, key, action, target, scope, Outcome.PARTIALLY, applied, message
            )
        if action is RequestedAction.SUSPEND_ACCOUNT:
            return self._plan_suspension(ctx, key, target)
        if action is RequestedAction.DISCLOSE_DATA:
            return self._plan_disclosure(ctx, key, target, scope)
        message = "lexloci keeps meeting records; the preservation is recorded"
        return PlannedAction(
            key, action, target, Outcome.COMPLIED, "records preserved", (), message
        )

    def _plan_restriction(
        self,
        ctx: _PlanContext,
        key: str,
        action: RequestedAction,
        target: Target,
        scope: Scope,
        outcome: Outcome,
        applied: str,
        message: str,
        reasons: tuple[RejectionReason, ...] = (),
    ) -> PlannedAction:
        case = ctx.case
        proposal = RestrictionProposal(
            case.authority.jurisdiction, scope, _EFFECTS, case.legal_basis, ctx.targets
        )
        review = review_restriction(ctx.guard, proposal)
        if review.verdict is Verdict.REFUSED:
            codes = tuple(_REFUSAL_TO_REASON[r.code.value] for r in review.refusals)
            text = "; ".join(r.message for r in review.refusals)
            return PlannedAction(key, action, target, Outcome.REJECTED, None, reasons + codes, text)
        return PlannedAction(key, action, target, outcome, applied, reasons, message, scope)

    def _plan_suspension(self, ctx: _PlanContext, key: str, target: Target) -> PlannedAction:
        action = RequestedAction.SUSPEND_ACCOUNT
        j = ctx.case.authority.jurisdiction
        if self._external_ref(target.ref):
            scope = self._scope_of(target)
            applied = f"restriction on {scope} for {j} instead of suspending an account"
            message = (
                f"{target.ref} belongs to another platform, whose accounts lexloci neither holds "
                f"nor suspends; instead, participants located in {j} are blocked and removed"
            )
            return self._plan_restriction(
                ctx, key, action, target, scope, Outcome.PARTIALLY, applied, message
            )
        account = self._account_for(target)
        if account is None:
            reason = "a series names no single account to act on"
            return PlannedAction(
                key, action, target, Outcome.REJECTED, None, (RejectionReason.OVERBROAD,), reason
            )
        proposal = AccountActionProposal(
            account.id, account.home_country, AccountAction.SUSPEND, ctx.case.legal_basis
        )
        review = review_account_action(ctx.guard, proposal)
        if review.verdict is Verdict.ALLOWED:
            message = f"the holder of {account.id} is based in {account.home_country}, inside {j}"
            return PlannedAction(
                key, action, target, Outcome.COMPLIED, f"account {account.id} suspended", (),
                message, suspend_account=account.id,
            )  # fmt: skip
        reasons = tuple(_REFUSAL_TO_REASON[r.code.value] for r in review.refusals)
        message = "; ".join(r.message for r in review.refusals)
        if RejectionReason.NO_LEGAL_BASIS in reasons:
            return PlannedAction(key, action, target, Outcome.REJECTED, None, reasons, message)
        # The lawful part of "suspend this host": keep the jurisdiction's participants out of the
        # account's meetings, and nobody else.
        scope = Scope.account(account.id)
        applied = f"restriction on {scope} for {j} instead of suspending the account"
        instead = f"{message}; instead, participants located in {j} are blocked from its meetings"
        return self._plan_restriction(
            ctx, key, action, target, scope, Outcome.PARTIALLY, applied, instead, reasons
        )

    def _plan_disclosure(
        self, ctx: _PlanContext, key: str, target: Target, scope: Scope
    ) -> PlannedAction:
        action = RequestedAction.DISCLOSE_DATA
        j = ctx.case.authority.jurisdiction
        records = tuple(
            DisclosureRecord(p.id, Location.from_dict(p.location), p.joined_at)
            for p in self._participants(scope)
        )
        review = review_disclosure(ctx.guard, DisclosureProposal(records, ctx.case.legal_basis))
        allowed = tuple(r.record_id for r in review.allowed)
        refused = Counter(r.code.value for r in review.refusals)
        reasons = tuple(_REFUSAL_TO_REASON[c] for c in sorted(refused))
        if not allowed:
            message = f"no participant of {scope} was located in {j} at the time"
            return PlannedAction(
                key, action, target, Outcome.REJECTED, None,
                reasons or (RejectionReason.OUTSIDE_JURISDICTION,), message,
            )  # fmt: skip
        withheld = ", ".join(f"{n} {code}" for code, n in sorted(refused.items()))
        message = f"only participants located in {j} at the time of their join"
        if withheld:
            message += f"; withheld: {withheld}"
        outcome = Outcome.PARTIALLY if refused else Outcome.COMPLIED
        applied = f"disclosure of {len(allowed)} participant record(s)"
        return PlannedAction(
            key, action, target, outcome, applied, reasons, message, disclose=allowed
        )

    def impact(self, case_id: str, caller: Principal) -> dict[str, Any]:
        if not caller.has(Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR):
            raise Forbidden("the impact preview needs a case role")
        case = self.case(case_id)
        jurisdiction = case.authority.jurisdiction
        targets = []
        for target in case.targets:
            scope = self._scope_of(target)
            sessions = self.store.sessions_in_scope(scope)
            elsewhere = self.external.participants_in(scope) if self.external else []
            people = self._participants(scope) + elsewhere
            split: dict[str, Counter[str]] = defaultdict(Counter)
            live: Counter[str] = Counter()
            for person in people:
                placed = classify_location(Location.from_dict(person.location), jurisdiction)
                split[placed.value][person.territory or "unknown"] += 1
                if person.state is ParticipantState.JOINED:
                    live[placed.value] += 1
            accounts = self._accounts_of(target)
            targets.append(
                {
                    "target": target.to_dict(),
                    "scope": str(scope),
                    "sessions": {
                        "total": len(sessions) + len({p.session_id for p in elsewhere}),
                        "live": sum(1 for s in sessions if s.state.value == "live")
                        + len(
                            {p.session_id for p in elsewhere if p.state is ParticipantState.JOINED}
                        ),
                    },
                    "platform_participants": len(elsewhere),
                    "participants": {
                        kind: {
                            "total": sum(split[kind].values()),
                            "by_territory": dict(split[kind]),
                        }
                        for kind in (c.value for c in Containment)
                    },
                    "live_participants": {c.value: live[c.value] for c in Containment},
                    "accounts": accounts,
                }
            )
        plans = self.plan(case)
        return {
            "case_id": case.id,
            "jurisdiction": jurisdiction.codes(),
            "targets": targets,
            "actions": [p.to_dict() for p in plans],
            "refused": [p.to_dict() for p in plans if p.outcome is Outcome.REJECTED],
        }

    def _accounts_of(self, target: Target) -> list[dict[str, Any]]:
        ids: set[str] = set()
        if target.kind is TargetKind.ACCOUNT:
            ids.add(target.ref)
        else:
            for session in self.store.sessions_in_scope(self._scope_of(target)):
                meeting = self.store.meeting(session.meeting_id)
                if meeting is not None:
                    ids.add(meeting.host_account_id)
            if target.kind is TargetKind.MEETING:
                meeting = self.store.meeting(target.ref)
                if meeting is not None:
                    ids.add(meeting.host_account_id)
        out = []
        for account_id in sorted(ids):
            account = self.store.account(account_id)
            if account is not None:
                out.append(
                    {
                        "id": account.id,
                        "home_country": account.home_country,
                        "status": account.status.value,
                    }
                )
        return out

    # -- the decision -------------------------------------------------------------------------

    def decide(self, case_id: str, data: DecisionInput, caller: Principal) -> DecisionResult:
        case = self._decidable(case_id, caller)
        now = self.clock.now()
        valid_until = _aware(data.valid_until, "valid_until") or now + DEFAULT_VALIDITY
        if valid_until <= now:
            raise InvalidInput("valid_until must be in the future")
        try:
            unknown = UnknownLocationPolicy(data.unknown_location)
            declined = RejectionReason(data.rejection_reason)
        except ValueError:
            raise InvalidInput(
                "unknown_location is allow or deny; rejection_reason is one of "
                + ", ".join(r.value for r in RejectionReason)
            ) from None
        plans = self.plan(case)
        wanted = _selection(plans, data)
        carried = _Carried()
        for plan in plans:
            if plan.key in wanted and plan.outcome is not Outcome.REJECTED:
                self._carry(case, plan, carried, now, valid_until, unknown)
            else:
                refused = plan.outcome is Outcome.REJECTED
                reasons = plan.reasons if refused else (declined,)
                message = plan.message if refused else "declined by the approver"
                carried.outcomes.append(
                    ActionOutcome(
                        plan.action, plan.target, Outcome.REJECTED, None, reasons, message
                    )
                )
                if refused and plan.action is RequestedAction.SUSPEND_ACCOUNT:
                    carried.refused_accounts.append(plan)
        status, tag = _status(carried.outcomes)
        note = _text(data.note, "note", 5000, required=False)
        notes = case.notes
        if note:
            notes = (*notes, {"by": caller.name, "at": now.isoformat(), "text": note})
        decided = replace(
            case,
            status=status,
            decided_by=caller.name,
            decided_at=now,
            outcomes=tuple(carried.outcomes),
            restriction_ids=tuple(r.id for r in carried.restrictions.values())
            + tuple(s.id for s in carried.suspensions),
            notes=notes,
        )
        self._record(case, decided, carried, tag, caller, now)
        return DecisionResult(
            decided, tuple(carried.restrictions.values()), tuple(carried.suspensions)
        )

    def _decidable(self, case_id: str, caller: Principal) -> Case:
        if not caller.has(Role.APPROVER):
            raise Forbidden("deciding a case needs the approver role")
        case = self.case(case_id)
        if caller.name == case.intake_by:
            raise Forbidden(
                f"{caller.name} took this case in and cannot also decide it (two-person rule)",
                reason="two_person_rule",
            )
        if case.status is not CaseStatus.RECEIVED:
            raise Conflict(f"case {case_id} was already decided ({case.status.value})")
        return case

    def _carry(
        self,
        case: Case,
        plan: PlannedAction,
        carried: _Carried,
        now: dt.datetime,
        valid_until: dt.datetime,
        unknown: UnknownLocationPolicy,
    ) -> None:
        ids: tuple[str, ...] = ()
        if plan.scope is not None:
            restriction = carried.restrictions.get(plan.scope)
            if restriction is None:
                restriction = Restriction.new(
                    id=new_id("res"),
                    case_ref=case.id,
                    jurisdiction=case.authority.jurisdiction,
                    scope=plan.scope,
                    effects=_EFFECTS,
                    valid_from=now,
                    valid_until=valid_until,
                    unknown_location=unknown,
                )
                carried.restrictions[plan.scope] = restriction
            ids = (restriction.id,)
            if plan.action is not RequestedAction.BLOCK_PARTICIPANTS:
                carried.converted.append((plan, restriction.id))
            if plan.action is RequestedAction.SUSPEND_ACCOUNT:
                carried.refused_accounts.append(plan)
        if plan.suspend_account is not None:
            carried.suspensions.append(
                AccountSuspension(new_id("sus"), case.id, plan.suspend_account, now, valid_until)
            )
        carried.disclosed.update(plan.disclose)
        carried.outcomes.append(
            ActionOutcome(
                plan.action,
                plan.target,
                plan.outcome,
                plan.applied,
                plan.reasons,
                plan.message,
                ids,
            )
        )

    def _record(
        self,
        case: Case,
        decided: Case,
        carried: _Carried,
        tag: AuditTag,
        caller: Principal,
        now: dt.datetime,
    ) -> None:
        """Write the decision and everything it carries out, with their audit entries, at once."""
        actor = caller.actor
        package = (
            self._disclosure_package(case, carried.disclosed, now) if carried.disclosed else None
        )
        accounts = {s.account_id: self.store.account(s.account_id) for s in carried.suspensions}
        refused = [(plan, self._account_for(plan.target)) for plan in carried.refused_accounts]
        with self.store.transaction() as tx:
            tx.update_case(decided)
            for r in carried.restrictions.values():
                tx.save_restriction(r, now)
                tx.audit(AuditTag.POLICY_RESTRICTION_ACTIVATED, actor, restriction_payload(r))
            for plan, restriction_id in carried.converted:
                payload: dict[str, Any] = {
                    "case_id": case.id,
                    "requested_action": plan.action.value,
                    "applied_action": f"restriction {restriction_id} on {plan.scope}",
                    "reason": plan.message,
                    "target": plan.target.to_dict(),
                }
                tx.audit(AuditTag.CASE_ACTION_CONVERTED, actor, payload)
            for plan, account in refused:
                payload = {
                    "case_id": case.id,
                    "account_id": account.id if account else plan.target.ref,
                    "account_territory": account.home_country if account else None,
                    "requested_action": plan.action.value,
                    "reason": [r.value for r in plan.reasons],
                }
                tx.audit(AuditTag.CASE_ACCOUNT_ACTION_REFUSED, actor, payload)
            for suspension in carried.suspensions:
                account = accounts[suspension.account_id]
                assert account is not None  # planning found it
                tx.update_account(replace(account, status=AccountStatus.SUSPENDED))
                tx.save_suspension(suspension)
                payload = {
                    "case_id": case.id,
                    "account_id": account.id,
                    "account_territory": account.home_country,
                    "suspension_id": suspension.id,
                    "valid_until": suspension.valid_until.isoformat(),
                }
                tx.audit(AuditTag.CASE_ACCOUNT_SUSPENDED, actor, payload)
            if package is not None:
                tx.save_disclosure(case.id, package)
                payload = {
                    "case_id": case.id,
                    "records": len(package["records"]),
                    "accounts": package["accounts"],
                    "participant_ids": sorted(carried.disclosed),
                }
                tx.audit(AuditTag.CASE_DISCLOSURE_CREATED, actor, payload)
            payload = {
                "case_id": case.id,
                "requesting_country": case.authority.country,
                "request_type": case.request_type.value,
                "legal_process": case.legal_process.value,
                "status": decided.status.value,
                "actions": [o.to_dict() for o in carried.outcomes],
                "restriction_ids": [r.id for r in carried.restrictions.values()],
                "intake_by": case.intake_by,
                "decided_by": caller.name,
            }
            tx.audit(tag, actor, payload)

    def _account_for(self, target: Target) -> Account | None:
        """The account a target names: itself, or a meeting's host; a series names none."""
        if target.kind is TargetKind.ACCOUNT:
            return self.store.account(target.ref)
        if target.kind is not TargetKind.MEETING:
            return None
        meeting = self.store.meeting(target.ref)
        return self.store.account(meeting.host_account_id) if meeting else None

    def _disclosure_package(self, case: Case, ids: set[str], now: dt.datetime) -> dict[str, Any]:
        people: list[dict[str, Any]] = []
        accounts: set[str] = set()
        for target in case.targets:
            for person in self._participants(self._scope_of(target)):
                if person.id in ids and person.id not in {p["participant_id"] for p in people}:
                    session = self.store.session(person.session_id)
                    meeting = self.store.meeting(session.meeting_id) if session else None
                    if meeting is not None:
                        accounts.add(meeting.host_account_id)
                    people.append(
                        {
                            "participant_id": person.id,
                            "session_id": person.session_id,
                            "meeting_id": meeting.id if meeting else None,
                            "display_name": person.display_name,
                            "user_id": person.user_id,
                            "client_ip": person.client_ip,
                            "phone": person.phone,
                            "territory": person.territory,
                            "joined_at": person.joined_at.isoformat(),
                            "left_at": person.left_at.isoformat() if person.left_at else None,
                            "evidence": person.location,
                        }
                    )
        return {
            "case_id": case.id,
            "authority": case.authority.to_dict(),
            "created_at": now.isoformat(),
            "rule": "only participants located inside the authority's jurisdiction at the time "
            "of their recorded join (invariant I5)",
            "records": people,
            "accounts": len(accounts),
        }

    def disclosure(self, case_id: str, caller: Principal) -> dict[str, Any]:
        if not caller.has(Role.APPROVER, Role.AUDITOR):
            raise Forbidden("disclosure packages need the approver or auditor role")
        self.case(case_id)
        package = self.store.disclosure(case_id)
        if package is None:
            raise NotFound(f"case {case_id} has no disclosure package")
        with self.store.transaction() as tx:
            tx.audit(
                AuditTag.CASE_DISCLOSURE_EXPORTED,
                caller.actor,
                {"case_id": case_id, "records": len(package["records"])},
            )
        return package

    # -- after the decision -------------------------------------------------------------------

    def appeal(
        self, case_id: str, reason: str, caller: Principal
    ) -> tuple[Case, list[str], list[AccountSuspension]]:
        """An upheld appeal: the case's restrictions are to be lifted and accounts reinstated.

        Returns the case, the restriction ids the caller must lift (through the meeting service,
        which audits each lift) and the suspensions it reinstated here.
        """
        if not caller.has(Role.APPROVER):
            raise Forbidden("an appeal is decided by an approver")
        case = self.case(case_id)
        if caller.name == case.intake_by:
            raise Forbidden(
                f"{caller.name} took this case in and cannot decide its appeal",
                reason="two_person_rule",
            )
        if case.status not in (CaseStatus.APPROVED, CaseStatus.PARTIALLY_APPROVED):
            raise Conflict(
                f"case {case_id} is {case.status.value}: "
                "only an approved or partially approved case can be appealed"
            )
        now = self.clock.now()
        text = _text(reason, "reason", 5000)
        reinstated = self._reinstate(
            [s for s in self.store.suspensions(case_id) if s.ended_at is None],
            now,
            caller.actor,
            via="appeal",
        )
        appealed = replace(
            case,
            status=CaseStatus.APPEALED,
            notes=(
                *case.notes,
                {"by": caller.name, "at": now.isoformat(), "text": f"appeal: {text}"},
            ),
        )
        with self.store.transaction() as tx:
            tx.update_case(appealed)
            tx.audit(
                AuditTag.CASE_CASE_APPEALED,
                caller.actor,
                {"case_id": case_id, "reason": text, "restriction_ids": list(case.restriction_ids)},
            )
        restriction_ids = [r for r in case.restriction_ids if r.startswith("res_")]
        return appealed, restriction_ids, reinstated

    def lift_suspension(self, suspension_id: str, caller: Principal) -> AccountSuspension:
        matches = [s for s in self.store.suspensions() if s.id == suspension_id]
        if not matches:
            raise NotFound(f"no restriction or suspension {suspension_id!r}")
        if matches[0].ended_at is not None:
            return matches[0]
        return self._reinstate(matches, self.clock.now(), caller.actor, via="lift")[0]

    def expire_suspensions(self) -> list[AccountSuspension]:
        now = self.clock.now()
        due = [s for s in self.store.suspensions() if s.ended_at is None and s.valid_until <= now]
        return self._reinstate(due, now, "system:expiry", via="expiry") if due else []

    def _reinstate(
        self, suspensions: list[AccountSuspension], now: dt.datetime, actor: str, via: str
    ) -> list[AccountSuspension]:
        done = []
        with self.store.transaction() as tx:
            for suspension in suspensions:
                ended = replace(
                    suspension, lifted_at=now if via != "expiry" else None, ended_at=now
                )
                tx.save_suspension(ended)
                account = self.store.account(suspension.account_id)
                if account is not None and account.status is AccountStatus.SUSPENDED:
                    tx.update_account(replace(account, status=AccountStatus.ACTIVE))
                tx.audit(
                    AuditTag.CASE_ACCOUNT_REINSTATED,
                    actor,
                    {
                        "case_id": suspension.case_id,
                        "account_id": suspension.account_id,
                        "suspension_id": suspension.id,
                        "via": via,
                    },
                )
                done.append(ended)
        return done


def _selection(plans: list[PlannedAction], data: DecisionInput) -> set[str]:
    keys = {p.key for p in plans}
    if data.decision == "approve_all":
        return keys
    if data.decision == "reject":
        return set()
    if data.decision != "approve_part":
        raise InvalidInput("decision is approve_all, approve_part or reject")
    wanted = set(data.approve)
    if not wanted or not wanted <= keys:
        raise InvalidInput(
            "approve_part needs 'approve': a non-empty list of action keys from the impact "
            f"preview ({', '.join(sorted(keys))})"
        )
    return wanted


def _status(outcomes: list[ActionOutcome]) -> tuple[CaseStatus, AuditTag]:
    approved = [o for o in outcomes if o.outcome is not Outcome.REJECTED]
    if not approved:
        return CaseStatus.REJECTED, AuditTag.CASE_CASE_REJECTED
    if all(o.outcome is Outcome.COMPLIED for o in outcomes):
        return CaseStatus.APPROVED, AuditTag.CASE_CASE_APPROVED
    return CaseStatus.PARTIALLY_APPROVED, AuditTag.CASE_CASE_PARTIALLY_APPROVED
