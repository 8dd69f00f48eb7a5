"""Sweeps: a newly active restriction removes only participants located inside, never a session."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from lexloci.geo import Flag, Locator
from lexloci.policy import (
    AnonymizerPolicy,
    DecisionIdSource,
    Enforcement,
    LiveParticipant,
    PolicyEngine,
    ReasonCode,
    Removal,
    Restriction,
    Scope,
    UnknownLocationPolicy,
)
from tests.unit.policy.policy_builders import NOW, UNKNOWN, at, ctx, participant, restriction


def engine(*restrictions: Restriction) -> PolicyEngine:
    return PolicyEngine(restrictions, decision_ids=DecisionIdSource("test"))


def room() -> list[LiveParticipant]:
    """A June-4 style commemoration: people in CN, HK, MO, TW, US, with uncertain evidence."""
    m1, m2 = ctx("m1", account="host-hk"), ctx("m2", account="host-us")
    return [
        participant("cn-1", at("CN"), m1),
        participant("cn-2", at("CN"), m2),
        participant("hk-1", at("HK"), m1),
        participant("mo-1", at("MO"), m1),
        participant("tw-1", at("TW"), m2),
        participant("us-1", at("US"), m1),
        participant("unknown-1", UNKNOWN, m1),
        participant("split-1", at("CN", "HK"), m2),
        participant("vpn-1", at("CN", "US", flags=[Flag.VPN]), m1),
    ]


def removed(removals: list[Removal]) -> list[str]:
    return sorted(r.participant_id for r in removals)


def test_removes_only_participants_inside_jurisdiction() -> None:
    r = restriction("CN")
    removals = engine(r).sweep(r, room(), NOW)
    assert removed(removals) == ["cn-1", "cn-2"]
    assert {x.reason.code for x in removals} == {ReasonCode.LOCATED_INSIDE}
    assert {x.restriction_id for x in removals} == {"r1"}


def test_meeting_scoped_sweep_touches_only_that_meeting() -> None:
    r = restriction("CN", scope=Scope.meeting("m1"))
    assert removed(engine(r).sweep(r, room(), NOW)) == ["cn-1"]


def test_account_scoped_sweep_touches_only_that_hosts_meetings() -> None:
    r = restriction("CN", scope=Scope.account("host-us"))
    assert removed(engine(r).sweep(r, room(), NOW)) == ["cn-2"]


def test_uncertain_participants_stay_unless_the_case_denies_uncertain_locations() -> None:
    r = restriction("CN", unknown=UnknownLocationPolicy.DENY)
    removals = engine(r).sweep(r, room(), NOW)
    assert removed(removals) == ["cn-1", "cn-2", "split-1", "unknown-1", "vpn-1"]
    codes = {x.participant_id: x.reason.code for x in removals}
    assert codes["unknown-1"] is ReasonCode.UNCERTAIN_LOCATION_DENIED


def test_anonymizer_policy_removes_flagged_connections_estimated_inside() -> None:
    r = restriction("CN", anonymizer=AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE)
    removals = engine(r).sweep(r, room(), NOW)
    assert removed(removals) == ["cn-1", "cn-2", "vpn-1"]
    (vpn,) = (x for x in removals if x.participant_id == "vpn-1")
    assert vpn.reason.code is ReasonCode.ANONYMIZED_ESTIMATE_INSIDE


def test_hk_restriction_does_not_remove_people_in_cn() -> None:
    r = restriction("HK")
    assert removed(engine(r).sweep(r, room(), NOW)) == ["hk-1"]


def test_block_only_restriction_removes_nobody() -> None:
    r = restriction("CN", effects=[Enforcement.BLOCK_JOIN])
    assert engine(r).sweep(r, room(), NOW) == []


def test_inactive_restriction_removes_nobody() -> None:
    later = restriction("CN", valid_from=NOW + dt.timedelta(days=1))
    assert engine(later).sweep(later, room(), NOW) == []
    ended = restriction("CN", valid_from=NOW - dt.timedelta(days=3), valid_until=NOW)
    assert engine(ended).sweep(ended, room(), NOW) == []


def test_lifted_or_stale_restriction_removes_nobody() -> None:
    r = restriction("CN")
    e = engine(r)
    e.lift("r1", NOW)
    assert e.sweep(r, room(), NOW) == []
    assert e.sweep(e.get("r1"), room(), NOW) == []


def test_restriction_the_engine_does_not_hold_removes_nobody() -> None:
    assert engine().sweep(restriction("CN"), room(), NOW) == []


def test_sweep_never_ends_a_session() -> None:
    r = restriction("CN")
    live = room()
    removals = engine(r).sweep(r, live, NOW)
    # Structural: the only output type is a Removal naming exactly one participant ...
    assert all(type(x) is Removal for x in removals)
    assert Removal._fields == ("participant", "reason", "policy_version")
    # ... and every session keeps everyone who was not removed.
    for session in {p.context.session_id for p in live}:
        members = {p.participant_id for p in live if p.context.session_id == session}
        gone = {x.participant_id for x in removals if x.session_id == session}
        assert members - gone


def test_removal_snapshot_serializes_with_evidence_and_version() -> None:
    r = restriction("CN", case_ref="case-64")
    e = engine(r)
    (first, *_) = e.sweep(r, room(), NOW)
    data = json.loads(json.dumps(first.to_dict()))
    assert data["reason"]["case_ref"] == "case-64"
    assert data["location"]["territory"] == "CN"
    assert data["policy_version"] == e.policy_version
    assert data["context"]["session_id"] == first.session_id


def test_sweep_of_shared_locations_matches_one_by_one_evaluation() -> None:
    locator = Locator()
    addresses = ["223.5.5.5", "202.45.84.58", "8.8.4.4", "180.76.76.76", "10.0.0.1"] * 40
    live = [
        participant(f"p{i}", location, ctx(f"m{i % 7}"))
        for i, location in enumerate(locator.locate_ips(addresses))
    ]
    r = restriction("CN")
    e = engine(r)
    swept = removed(e.sweep(r, live, NOW))
    one_by_one = sorted(p.participant_id for p in live if e.reevaluate(p, NOW))
    assert swept == one_by_one
    assert len(swept) == 80


def test_sweep_accepts_a_generator_of_fresh_locations() -> None:
    # Locations built on the fly may reuse each other's memory: the memo must not confuse them.
    def stream() -> Iterator[LiveParticipant]:
        for i in range(200):
            where = at("CN") if i % 2 else at("US")
            yield participant(f"p{i}", where)

    r = restriction("CN")
    assert len(engine(r).sweep(r, stream(), NOW)) == 100


def test_participant_records_are_immutable() -> None:
    p = participant("p1", at("CN"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.participant_id = "p2"  # type: ignore[misc]
