"""The scope guard: proposed actions are checked against the requesting authority's jurisdiction
before they can exist (invariants I1, I2, I5).

Nothing here enforces anything. The case workflow asks the guard about a proposal and creates
the restriction, the account action or the disclosure only when the verdict is ``ALLOWED``; a
``REFUSED`` verdict carries every refusal, each with a machine-readable ``RefusalCode`` and a
message, to record as the outcome of the request (the request record's rejection reasons).

Checks, in the order refusals are listed:

Restriction (``review_restriction``)
    1. ``outside_jurisdiction``: the restriction's jurisdiction must be covered by the
       authority's (``Jurisdiction.covers``): CN cannot restrict HK, MO or TW, and a national
       authority cannot restrict a neighbour.
    2. ``no_legal_basis``: the proposal must cite the law it rests on.
    3. ``overbroad`` when the restriction reaches further than the request needs:
       - its jurisdiction is wider than the territories the request concerns (an EU-level order
         about content unlawful in DE is applied in DE, not in the whole EU);
       - the request names targets (meetings, series, accounts) and the scope is not one of them
         (a request about one meeting cannot become an account-wide or platform-wide restriction);
       - it is platform-wide, the request names no target, and its jurisdiction is not the
         authority's own (a blanket restriction for territories the authority does not speak for).
Account action (``review_account_action``)
    1. ``outside_jurisdiction``: only an account whose holder's home territory is INSIDE the
       authority's jurisdiction (I2). The June 2020 suspensions of accounts in HK and the USA at
       the request of an authority of mainland China are exactly what this refuses.
    2. ``location_uncertain``: a home territory the jurisdiction only partly covers (UA for an
       authority of UA-43) is not shown to be inside; refused, and counted apart.
    3. ``no_legal_basis``.
Disclosure (``review_disclosure``)
    Per record: only records whose location *at the time of the recorded event* was INSIDE the
    authority's jurisdiction by the signal rule (``lexloci.policy.placement``) may be disclosed
    (I5). OUTSIDE records are refused ``outside_jurisdiction``, UNCERTAIN ones
    ``location_uncertain``; a proposal without legal basis discloses nothing
    (``no_legal_basis``). The result holds the allowed subset and one refusal per other record.

Verdicts are ``Verdict.ALLOWED`` or ``Verdict.REFUSED``, never a bool.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from lexloci.errors import InvalidInput
from lexloci.geo import Location
from lexloci.jurisdictions import Containment, Jurisdiction
from lexloci.policy.placement import classify_location, place_territory
from lexloci.policy.restriction import Enforcement, Scope, ScopeKind

__all__ = [
    "AccountAction",
    "AccountActionProposal",
    "Authority",
    "DisclosureProposal",
    "DisclosureRecord",
    "DisclosureReview",
    "Refusal",
    "RefusalCode",
    "RestrictionProposal",
    "Review",
    "Verdict",
    "review_account_action",
    "review_disclosure",
    "review_restriction",
]


class Verdict(enum.StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"


class RefusalCode(enum.StrEnum):
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    OVERBROAD = "overbroad"
    NO_LEGAL_BASIS = "no_legal_basis"
    LOCATION_UNCERTAIN = "location_uncertain"


class AccountAction(enum.StrEnum):
    SUSPEND = "suspend"


@dataclass(frozen=True, slots=True)
class Authority:
    """A requesting government body and the jurisdiction it speaks for."""

    name: str
    jurisdiction: Jurisdiction


@dataclass(frozen=True, slots=True)
class Refusal:
    code: RefusalCode
    message: str
    subject: str | None = None  # the record or account the refusal is about, when it is one


@dataclass(frozen=True, slots=True)
class RestrictionProposal:
    """A restriction as a reviewer proposes it, with what the request itself asked for.

    ``requested_jurisdiction`` is where the request says its subject is unlawful (None: it does
    not narrow the authority's jurisdiction); ``targets`` are the meetings, series and accounts the
    request names (empty: it names none).
    """

    jurisdiction: Jurisdiction
    scope: Scope
    effects: frozenset[Enforcement]
    legal_basis: str
    targets: frozenset[Scope] = frozenset()
    requested_jurisdiction: Jurisdiction | None = None

    def __post_init__(self) -> None:
        if not self.effects:
            raise InvalidInput("a proposed restriction needs at least one effect")


@dataclass(frozen=True, slots=True)
class AccountActionProposal:
    account_id: str
    home_territory: str
    action: AccountAction
    legal_basis: str


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """A record proposed for disclosure, with the location snapshotted at its event."""

    record_id: str
    location: Location
    event_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DisclosureProposal:
    records: tuple[DisclosureRecord, ...]
    legal_basis: str


@dataclass(frozen=True, slots=True)
class Review:
    """The guard's answer on one proposed restriction or account action."""

    verdict: Verdict
    refusals: tuple[Refusal, ...] = ()

    @classmethod
    def of(cls, refusals: Sequence[Refusal]) -> Review:
        return cls(Verdict.REFUSED if refusals else Verdict.ALLOWED, tuple(refusals))

    @property
    def codes(self) -> tuple[RefusalCode, ...]:
        return tuple(r.code for r in self.refusals)


@dataclass(frozen=True, slots=True)
class DisclosureReview:
    """The records that may be disclosed, and one refusal for each of the others.

    ``verdict`` is ALLOWED when at least one record may be disclosed.
    """

    verdict: Verdict
    allowed: tuple[DisclosureRecord, ...]
    refusals: tuple[Refusal, ...] = field(default=())

    @property
    def codes(self) -> tuple[RefusalCode, ...]:
        return tuple(r.code for r in self.refusals)


def _has_basis(legal_basis: str) -> bool:
    return bool(legal_basis and legal_basis.strip())


def _no_basis(subject: str | None = None) -> Refusal:
    return Refusal(
        RefusalCode.NO_LEGAL_BASIS, "the request cites no legal basis for this action", subject
    )


def review_restriction(authority: Authority, proposal: RestrictionProposal) -> Review:
    """May this restriction exist for this authority? (checks in the module docstring)"""
    refusals: list[Refusal] = []
    own = authority.jurisdiction
    wanted = proposal.jurisdiction
    covered = own.covers(wanted)
    if not covered:
        beyond = ",".join(sorted(own.outside_of(wanted)))
        refusals.append(
            Refusal(
                RefusalCode.OUTSIDE_JURISDICTION,
                f"{authority.name} speaks for {own}; the restriction would also apply in {beyond}",
            )
        )
    if not _has_basis(proposal.legal_basis):
        refusals.append(_no_basis())
    requested = proposal.requested_jurisdiction
    if requested is not None and not requested.covers(wanted):
        extra = ",".join(sorted(requested.outside_of(wanted)))
        refusals.append(
            Refusal(
                RefusalCode.OVERBROAD,
                f"the request concerns {requested}; the restriction would also apply in {extra}",
            )
        )
    scope = proposal.scope
    if proposal.targets and scope not in proposal.targets:
        named = ", ".join(sorted(str(t) for t in proposal.targets))
        refusals.append(
            Refusal(
                RefusalCode.OVERBROAD,
                f"the request names {named}; a restriction on {scope} reaches beyond that",
            )
        )
    if scope.kind is ScopeKind.PLATFORM and not proposal.targets and not covered:
        refusals.append(
            Refusal(
                RefusalCode.OVERBROAD,
                f"a platform-wide restriction naming no target, for {wanted}, which is not "
                f"{authority.name}'s jurisdiction ({own})",
            )
        )
    return Review.of(refusals)


def review_account_action(authority: Authority, proposal: AccountActionProposal) -> Review:
    """May this action be taken against this account? Only if its holder is inside (I2)."""
    refusals: list[Refusal] = []
    own = authority.jurisdiction
    home = proposal.home_territory
    placed = place_territory(own, home)
    subject = proposal.account_id
    if placed is Containment.OUTSIDE:
        refusals.append(
            Refusal(
                RefusalCode.OUTSIDE_JURISDICTION,
                f"the holder of account {subject} is based in {home}, outside {own}: "
                f"{authority.name} cannot have it {proposal.action.value}ed",
                subject,
            )
        )
    elif placed is Containment.UNCERTAIN:
        refusals.append(
            Refusal(
                RefusalCode.LOCATION_UNCERTAIN,
                f"the holder of account {subject} is based in {home}, which {own} covers only "
                "in part: not shown to be inside",
                subject,
            )
        )
    if not _has_basis(proposal.legal_basis):
        refusals.append(_no_basis(subject))
    return Review.of(refusals)


def review_disclosure(authority: Authority, proposal: DisclosureProposal) -> DisclosureReview:
    """Which records may be disclosed: those located INSIDE at the time of their event (I5)."""
    own = authority.jurisdiction
    allowed: list[DisclosureRecord] = []
    refusals: list[Refusal] = []
    basis = _has_basis(proposal.legal_basis)
    for record in proposal.records:
        if not basis:
            refusals.append(_no_basis(record.record_id))
            continue
        placed = classify_location(record.location, own)
        if placed is Containment.INSIDE:
            allowed.append(record)
        elif placed is Containment.OUTSIDE:
            refusals.append(
                Refusal(
                    RefusalCode.OUTSIDE_JURISDICTION,
                    f"record {record.record_id}: the participant was located outside {own} "
                    f"at {record.event_at.isoformat()}",
                    record.record_id,
                )
            )
        else:
            refusals.append(
                Refusal(
                    RefusalCode.LOCATION_UNCERTAIN,
                    f"record {record.record_id}: the participant's location at "
                    f"{record.event_at.isoformat()} is not shown to be inside {own}",
                    record.record_id,
                )
            )
    verdict = Verdict.ALLOWED if allowed else Verdict.REFUSED
    return DisclosureReview(verdict, tuple(allowed), tuple(refusals))
