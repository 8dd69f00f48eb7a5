"""Restrictions: the enforceable output of an approved case (invariants I1, I6, I8).

A ``Restriction`` is jurisdiction x scope x effects x validity period, plus two declared policies
for evidence that does not settle where a participant is:

- ``unknown_location``: what happens when the signal rule (``lexloci.policy.placement``) cannot
  say whether a participant is inside the jurisdiction. ``ALLOW`` by default (I6); ``DENY`` only
  when the case says so explicitly. Either way the decision records that the location was
  uncertain, so uncertain cases are counted separately.
- ``anonymizer``: ``IGNORE`` by default, or ``DENY_IF_ESTIMATE_INSIDE``: a connection carrying
  an anonymizer flag (VPN, proxy, Tor, hosting) whose location the signal rule leaves uncertain
  is denied when its best single estimate is inside the jurisdiction.

There is deliberately **no "deny every anonymized connection" option**. An anonymizer flag says
nothing about where the person behind it is: a VPN exit in Frankfurt carries people from
everywhere. Denying every flagged connection would block and remove people located outside the
jurisdiction, which invariant I1 forbids. For the same reason ``DENY_IF_ESTIMATE_INSIDE`` never
overrides a location the signal rule places OUTSIDE: it only resolves uncertainty, and only
towards the estimate the evidence itself names.

Invariants enforced at construction (``InvalidInput`` otherwise):

- every restriction has an end (``valid_until``), strictly after ``valid_from``; both are
  timezone-aware. ``Restriction.new`` defaults the period to ``DEFAULT_VALIDITY`` (90 days, I8);
- the effects are a non-empty subset of {``BLOCK_JOIN``, ``REMOVE_LIVE``}; none of them ends a
  meeting, a session or an account (I2) because no such effect exists;
- a platform-wide scope has no reference; every other scope names exactly one meeting, series
  or account;
- ``version`` starts at 1 and only grows (see ``PolicyEngine``); ``lifted_at`` once set means the
  restriction never matches again.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace

from lexloci.errors import InvalidInput
from lexloci.jurisdictions import Jurisdiction

__all__ = [
    "DEFAULT_VALIDITY",
    "AnonymizerPolicy",
    "Enforcement",
    "Restriction",
    "Scope",
    "ScopeKind",
    "UnknownLocationPolicy",
]

#: The sunset of a restriction whose case does not name one (invariant I8).
DEFAULT_VALIDITY = dt.timedelta(days=90)


class Enforcement(enum.StrEnum):
    """What a restriction does to participants located inside its jurisdiction."""

    BLOCK_JOIN = "block_join"
    REMOVE_LIVE = "remove_live"


class ScopeKind(enum.StrEnum):
    MEETING = "meeting"
    SERIES = "series"
    ACCOUNT = "account"
    PLATFORM = "platform"


class UnknownLocationPolicy(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class AnonymizerPolicy(enum.StrEnum):
    IGNORE = "ignore"
    DENY_IF_ESTIMATE_INSIDE = "deny_if_estimate_inside"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which meetings a restriction concerns: one meeting, a series, an account's, or all."""

    kind: ScopeKind
    ref: str | None = None

    def __post_init__(self) -> None:
        if self.kind is ScopeKind.PLATFORM:
            if self.ref is not None:
                raise InvalidInput("a platform-wide scope names no meeting, series or account")
        elif not self.ref:
            raise InvalidInput(f"a {self.kind.value} scope needs the {self.kind.value} id")

    @classmethod
    def meeting(cls, meeting_id: str) -> Scope:
        return cls(ScopeKind.MEETING, meeting_id)

    @classmethod
    def series(cls, series_id: str) -> Scope:
        return cls(ScopeKind.SERIES, series_id)

    @classmethod
    def account(cls, account_id: str) -> Scope:
        return cls(ScopeKind.ACCOUNT, account_id)

    @classmethod
    def platform(cls) -> Scope:
        return cls(ScopeKind.PLATFORM)

    def __str__(self) -> str:
        return self.kind.value if self.ref is None else f"{self.kind.value}:{self.ref}"


@dataclass(frozen=True, slots=True)
class Restriction:
    """One enforceable restriction. Build new ones with ``Restriction.new``."""

    id: str
    case_ref: str
    jurisdiction: Jurisdiction
    scope: Scope
    effects: frozenset[Enforcement]
    valid_from: dt.datetime
    valid_until: dt.datetime
    unknown_location: UnknownLocationPolicy = UnknownLocationPolicy.ALLOW
    anonymizer: AnonymizerPolicy = AnonymizerPolicy.IGNORE
    version: int = 1
    lifted_at: dt.datetime | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("a restriction needs an id")
        if not self.case_ref:
            raise InvalidInput("a restriction needs the reference of its case (I7)")
        if not self.effects:
            raise InvalidInput("a restriction needs at least one effect")
        for effect in self.effects:
            if not isinstance(effect, Enforcement):
                raise InvalidInput(f"unknown effect {effect!r}")
        for name in ("valid_from", "valid_until", "lifted_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name} must be timezone-aware")
        if self.valid_until <= self.valid_from:
            raise InvalidInput("valid_until must be after valid_from")
        if self.version < 1:
            raise InvalidInput("a restriction's version starts at 1")

    @classmethod
    def new(
        cls,
        *,
        id: str,  # noqa: A002 - the record's field is called id everywhere else too
        case_ref: str,
        jurisdiction: Jurisdiction,
        scope: Scope,
        effects: frozenset[Enforcement] = frozenset(Enforcement),
        valid_from: dt.datetime,
        valid_until: dt.datetime | None = None,
        unknown_location: UnknownLocationPolicy = UnknownLocationPolicy.ALLOW,
        anonymizer: AnonymizerPolicy = AnonymizerPolicy.IGNORE,
    ) -> Restriction:
        """A version-1 restriction; without ``valid_until`` it ends after DEFAULT_VALIDITY."""
        return cls(
            id=id,
            case_ref=case_ref,
            jurisdiction=jurisdiction,
            scope=scope,
            effects=frozenset(effects),
            valid_from=valid_from,
            valid_until=valid_until if valid_until is not None else valid_from + DEFAULT_VALIDITY,
            unknown_location=unknown_location,
            anonymizer=anonymizer,
        )

    def is_active(self, now: dt.datetime) -> bool:
        """In force at ``now``: not lifted and ``valid_from <= now < valid_until``."""
        return self.lifted_at is None and self.valid_from <= now < self.valid_until

    def lift(self, at: dt.datetime) -> Restriction:
        """The next version of this restriction, lifted at ``at``."""
        return replace(self, version=self.version + 1, lifted_at=at)

    def describe(self) -> str:
        """One line for notices and logs."""
        return f"restriction {self.id} v{self.version} (case {self.case_ref}, {self.jurisdiction})"
