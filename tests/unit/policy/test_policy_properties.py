"""Property tests for the invariants the policy engine keeps (I1, I2, determinism).

Random restriction sets (territories, groups such as EU, subdivisions such as UA-43, every
scope, effects, validity windows and policies), random session contexts and random locations
built from the real ``lexloci.geo`` types (agreeing and disagreeing sources, several signals,
phone numbers, anonymizer flags).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from lexloci.geo import Location
from lexloci.jurisdictions import Containment
from lexloci.policy import (
    AnonymizerPolicy,
    Decision,
    DecisionIdSource,
    Effect,
    Enforcement,
    LiveParticipant,
    PolicyEngine,
    ReasonCode,
    Removal,
    Restriction,
    Scope,
    ScopeKind,
    SessionContext,
    UnknownLocationPolicy,
    classify_location,
    estimate_inside,
)
from tests.unit.policy.policy_builders import NOW, contexts, locations, restriction_sets

moments = st.integers(-3, 3).map(lambda days: NOW + dt.timedelta(days=days, hours=5))
enforcements = st.sampled_from(list(Enforcement))
participants = st.lists(
    st.builds(
        LiveParticipant,
        st.integers(0, 10_000).map(lambda i: f"p{i}"),
        contexts,
        locations(),
    ),
    max_size=12,
    unique_by=lambda p: p.participant_id,
)


def in_scope(scope: Scope, context: SessionContext) -> bool:
    return {
        ScopeKind.PLATFORM: True,
        ScopeKind.MEETING: scope.ref == context.meeting_id,
        ScopeKind.SERIES: scope.ref == context.series_id,
        ScopeKind.ACCOUNT: scope.ref == context.account_id,
    }[scope.kind]


def reference(
    restrictions: list[Restriction],
    context: SessionContext,
    location: Location,
    now: dt.datetime,
    enforcement: Enforcement,
) -> list[tuple[str, ReasonCode]]:
    """The documented rules, applied naively to every restriction: what the index must match."""
    out = []
    for r in restrictions:
        if not r.is_active(now) or enforcement not in r.effects or not in_scope(r.scope, context):
            continue
        placed = classify_location(location, r.jurisdiction)
        if placed is Containment.OUTSIDE:
            continue
        if placed is Containment.INSIDE:
            code = ReasonCode.LOCATED_INSIDE
        elif (
            r.anonymizer is AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE
            and location.flags
            and estimate_inside(location, r.jurisdiction)
        ):
            code = ReasonCode.ANONYMIZED_ESTIMATE_INSIDE
        elif r.unknown_location is UnknownLocationPolicy.DENY:
            code = ReasonCode.UNCERTAIN_LOCATION_DENIED
        else:
            code = ReasonCode.UNCERTAIN_LOCATION_ALLOWED
        out.append((r.id, code))
    return sorted(out)


def engine(restrictions: list[Restriction]) -> PolicyEngine:
    return PolicyEngine(restrictions, decision_ids=DecisionIdSource("prop"))


@given(restriction_sets(), contexts, locations(), moments, enforcements)
def test_nobody_located_outside_a_jurisdiction_is_denied_by_its_restrictions(
    restrictions: list[Restriction],
    context: SessionContext,
    location: Location,
    now: dt.datetime,
    enforcement: Enforcement,
) -> None:
    e = engine(restrictions)
    d = e.decide(context, location, now, enforcement)
    for rid in d.restriction_ids:
        assert classify_location(location, e.get(rid).jurisdiction) is not Containment.OUTSIDE
    if all(
        classify_location(location, r.jurisdiction) is Containment.OUTSIDE for r in restrictions
    ):
        assert d.effect is Effect.ALLOW
        assert d.codes == (ReasonCode.NO_RESTRICTION_APPLIES,)


@given(restriction_sets(), contexts, locations(), moments, enforcements)
def test_indexed_decision_equals_the_rules_applied_to_every_restriction(
    restrictions: list[Restriction],
    context: SessionContext,
    location: Location,
    now: dt.datetime,
    enforcement: Enforcement,
) -> None:
    d = engine(restrictions).decide(context, location, now, enforcement)
    expected = reference(restrictions, context, location, now, enforcement)
    got = [(r.restriction_id, r.code) for r in d.reasons if r.restriction_id is not None]
    assert got == expected
    denying = [rid for rid, code in expected if code is not ReasonCode.UNCERTAIN_LOCATION_ALLOWED]
    assert list(d.restriction_ids) == denying
    assert d.effect is (Effect.DENY if denying else Effect.ALLOW)
    assert d.reasons  # never without a reason


@given(restriction_sets(), contexts, locations(), moments, enforcements)
def test_same_inputs_and_policy_version_give_the_same_decision(
    restrictions: list[Restriction],
    context: SessionContext,
    location: Location,
    now: dt.datetime,
    enforcement: Enforcement,
) -> None:
    first = engine(restrictions)
    other = engine(list(reversed(restrictions)))  # same set, built in another order
    a = first.decide(context, location, now, enforcement)
    b = first.decide(context, location, now, enforcement)
    c = other.decide(context, location, now, enforcement)
    assert a.policy_version == c.policy_version
    assert a.outcome() == b.outcome() == c.outcome()
    assert a.decision_id != b.decision_id


@given(restriction_sets(), participants, moments, st.data())
def test_sweep_removes_only_participants_inside_and_never_ends_a_session(
    restrictions: list[Restriction],
    live: list[LiveParticipant],
    now: dt.datetime,
    data: st.DataObject,
) -> None:
    e = engine(restrictions)
    if not restrictions:
        return
    r = data.draw(st.sampled_from(restrictions))
    removals = e.sweep(r, live, now)
    by_id = {p.participant_id: p for p in live}
    assert all(type(x) is Removal for x in removals)
    assert len({x.participant_id for x in removals}) == len(removals)
    for x in removals:
        p = by_id[x.participant_id]
        assert x.participant is p
        assert x.reason.restriction_id == r.id
        assert x.reason.effect is Effect.DENY
        assert classify_location(p.location, r.jurisdiction) is not Containment.OUTSIDE
        assert in_scope(r.scope, p.context)
    # Exactly the participants the rules remove, and nobody located outside stays removed:
    expected = sorted(
        p.participant_id
        for p in live
        if any(
            rid == r.id and code is not ReasonCode.UNCERTAIN_LOCATION_ALLOWED
            for rid, code in reference([r], p.context, p.location, now, Enforcement.REMOVE_LIVE)
        )
    )
    assert sorted(x.participant_id for x in removals) == expected
    # The session goes on for everyone located outside.
    for p in live:
        if classify_location(p.location, r.jurisdiction) is Containment.OUTSIDE:
            assert p.participant_id not in expected


@given(restriction_sets(), participants, moments)
def test_reevaluation_removes_only_with_active_remove_live_restrictions(
    restrictions: list[Restriction], live: list[LiveParticipant], now: dt.datetime
) -> None:
    e = engine(restrictions)
    for p in live:
        removals = e.reevaluate(p, now)
        for x in removals:
            held = e.get(x.restriction_id or "")
            assert Enforcement.REMOVE_LIVE in held.effects
            assert held.is_active(now)
            assert classify_location(p.location, held.jurisdiction) is not Containment.OUTSIDE
        decision = e.decide(p.context, p.location, now, Enforcement.REMOVE_LIVE)
        assert [x.restriction_id for x in removals] == list(decision.restriction_ids)


@given(restriction_sets(), contexts, locations(), moments)
def test_engine_outputs_are_only_decisions_and_removals(
    restrictions: list[Restriction],
    context: SessionContext,
    location: Location,
    now: dt.datetime,
) -> None:
    e = engine(restrictions)
    d = e.decide(context, location, now)
    assert type(d) is Decision
    assert d.effect in (Effect.ALLOW, Effect.DENY)
    p = LiveParticipant("p", context, location)
    outputs = [*e.reevaluate(p, now)]
    for r in restrictions:
        outputs += e.sweep(r, [p], now)
    assert all(type(x) is Removal and x.participant is p for x in outputs)
