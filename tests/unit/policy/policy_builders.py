"""Builders and hypothesis strategies shared by the policy tests.

Locations are built directly from the real ``lexloci.geo`` types, as the geo layer would build
them, so the tests can state any combination of evidence (disagreeing sources, several signals,
anonymizer flags) without depending on what the embedded IP data says today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from hypothesis import strategies as st

from lexloci.geo import Flag, Location, Signal, SignalLocation, SourceAnswer
from lexloci.jurisdictions import GroupRegistry
from lexloci.policy import (
    AnonymizerPolicy,
    Enforcement,
    LiveParticipant,
    Restriction,
    Scope,
    SessionContext,
    UnknownLocationPolicy,
)

NOW = dt.datetime(2026, 6, 4, 12, 0, tzinfo=dt.UTC)
GROUPS = GroupRegistry({"GREATER_CHINA_TEST": ["CN", "HK", "MO", "TW"]})


def sig(
    signal: Signal,
    *candidates: str,
    subdivision: str | None = None,
    flags: Iterable[Flag] = (),
) -> SignalLocation:
    """A signal naming ``candidates``: one means the sources agree, several that they disagree."""
    answers = tuple(SourceAnswer(f"src{i}", "test-1", c) for i, c in enumerate(candidates))
    if len(candidates) == 1:
        return SignalLocation(
            signal,
            candidates[0],
            frozenset(candidates),
            answers,
            frozenset(flags),
            subdivision,
        )
    return SignalLocation(signal, None, frozenset(candidates), answers, frozenset(flags))


def client(
    *candidates: str, subdivision: str | None = None, flags: Iterable[Flag] = ()
) -> SignalLocation:
    return sig(Signal.CLIENT_IP, *candidates, subdivision=subdivision, flags=flags)


def media(
    *candidates: str, subdivision: str | None = None, flags: Iterable[Flag] = ()
) -> SignalLocation:
    return sig(Signal.MEDIA_IP, *candidates, subdivision=subdivision, flags=flags)


def phone(*candidates: str) -> SignalLocation:
    return sig(Signal.PHONE, *candidates)


def loc(*signals: SignalLocation) -> Location:
    """A Location as ``Locator._combine`` builds it: best territory from network, then phone."""
    best = next((s for s in signals if s.signal.is_network and s.territory), None)
    best = best or next((s for s in signals if s.territory), None)
    if best is not None:
        return Location(best.territory, tuple(signals), best.subdivision)
    reason = signals[0].reason if signals else None
    return Location(None, tuple(signals), reason=reason)


def at(*candidates: str, subdivision: str | None = None, flags: Iterable[Flag] = ()) -> Location:
    """A participant seen through one client address."""
    return loc(client(*candidates, subdivision=subdivision, flags=flags))


UNKNOWN = Location(None, ())


def ctx(
    meeting: str = "m1",
    series: str | None = None,
    account: str = "a1",
    session: str | None = None,
) -> SessionContext:
    return SessionContext(
        session_id=session or f"{meeting}-s1",
        meeting_id=meeting,
        series_id=series or meeting,
        account_id=account,
    )


def restriction(
    codes: str = "CN",
    *,
    id: str = "r1",  # noqa: A002 - mirrors Restriction.id
    scope: Scope | None = None,
    effects: Iterable[Enforcement] = (Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE),
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    unknown: UnknownLocationPolicy = UnknownLocationPolicy.ALLOW,
    anonymizer: AnonymizerPolicy = AnonymizerPolicy.IGNORE,
    case_ref: str = "case-1",
) -> Restriction:
    return Restriction.new(
        id=id,
        case_ref=case_ref,
        jurisdiction=GROUPS.parse(codes),
        scope=scope or Scope.platform(),
        effects=frozenset(effects),
        valid_from=valid_from or NOW - dt.timedelta(days=1),
        valid_until=valid_until,
        unknown_location=unknown,
        anonymizer=anonymizer,
    )


def participant(
    pid: str, where: Location, context: SessionContext | None = None
) -> LiveParticipant:
    return LiveParticipant(pid, context or ctx(), where)


# -- hypothesis strategies ---------------------------------------------------------------------

COUNTRIES = ["CN", "HK", "MO", "TW", "DE", "FR", "AT", "UA", "US", "RU", "GB", "JP"]
SUBDIVISIONS = {"UA": ["UA-43", "UA-40", "UA-14"], "CN": ["CN-BJ", "CN-XZ"], "US": ["US-CA"]}
ALL_SUBDIVISIONS = [s for subs in SUBDIVISIONS.values() for s in subs]

jurisdictions = st.lists(
    st.sampled_from([*COUNTRIES, *ALL_SUBDIVISIONS, "EU", "GREATER_CHINA_TEST"]),
    min_size=1,
    max_size=3,
).map(GROUPS.parse)


@st.composite
def signals(draw: st.DrawFn, kind: Signal) -> SignalLocation:
    candidates = draw(st.lists(st.sampled_from(COUNTRIES), max_size=3, unique=True))
    flags = draw(st.frozensets(st.sampled_from(list(Flag)), max_size=2))
    if len(candidates) == 1:
        subs = SUBDIVISIONS.get(candidates[0], [])
        subdivision = draw(st.none() | st.sampled_from(subs)) if subs else None
        return sig(kind, candidates[0], subdivision=subdivision, flags=flags)
    return sig(kind, *candidates, flags=flags)


@st.composite
def locations(draw: st.DrawFn) -> Location:
    kinds = draw(
        st.lists(st.sampled_from([Signal.CLIENT_IP, Signal.MEDIA_IP, Signal.PHONE]), max_size=3)
    )
    return loc(*(draw(signals(kind)) for kind in kinds))


MEETINGS = ["m1", "m2", "m3"]
SERIES = ["m1", "s1"]
ACCOUNTS = ["a1", "a2"]

scopes = st.one_of(
    st.just(Scope.platform()),
    st.sampled_from(MEETINGS).map(Scope.meeting),
    st.sampled_from(SERIES).map(Scope.series),
    st.sampled_from(ACCOUNTS).map(Scope.account),
)

contexts = st.builds(
    lambda m, s, a, n: SessionContext(f"{m}-{n}", m, s, a),
    st.sampled_from(MEETINGS),
    st.sampled_from(SERIES),
    st.sampled_from(ACCOUNTS),
    st.integers(0, 3),
)


@st.composite
def restriction_sets(draw: st.DrawFn) -> list[Restriction]:
    count = draw(st.integers(0, 6))
    out = []
    for i in range(count):
        start = NOW + dt.timedelta(days=draw(st.integers(-100, 2)))
        out.append(
            Restriction.new(
                id=f"r{i}",
                case_ref=f"case-{i}",
                jurisdiction=draw(jurisdictions),
                scope=draw(scopes),
                effects=draw(st.frozensets(st.sampled_from(list(Enforcement)), min_size=1)),
                valid_from=start,
                valid_until=start + dt.timedelta(days=draw(st.integers(1, 120))),
                unknown_location=draw(st.sampled_from(list(UnknownLocationPolicy))),
                anonymizer=draw(st.sampled_from(list(AnonymizerPolicy))),
            )
        )
    return out
