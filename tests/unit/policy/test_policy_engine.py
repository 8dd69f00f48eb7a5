"""The policy engine: decisions with reasons, scopes, validity, versions, re-evaluation."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from lexloci.errors import Conflict, NotFound
from lexloci.geo import Evidence, Flag, Location, Locator
from lexloci.jurisdictions import Jurisdiction
from lexloci.policy import (
    AnonymizerPolicy,
    ChangeKind,
    DecisionIdSource,
    Effect,
    Enforcement,
    PolicyEngine,
    ReasonCode,
    Restriction,
    Scope,
    UnknownLocationPolicy,
)
from tests.unit.policy.policy_builders import (
    NOW,
    UNKNOWN,
    at,
    client,
    ctx,
    loc,
    media,
    participant,
    phone,
    restriction,
)

DENY, ALLOW = Effect.DENY, Effect.ALLOW


def engine(*restrictions: Restriction) -> PolicyEngine:
    return PolicyEngine(restrictions, decision_ids=DecisionIdSource("test"))


# -- who is denied -------------------------------------------------------------------------------


def test_denies_participant_located_inside_jurisdiction() -> None:
    e = engine(restriction("CN", id="r-cn", case_ref="case-cn"))
    where = at("CN")
    d = e.decide(ctx(), where, NOW)
    assert d.effect is DENY
    assert d.restriction_ids == ("r-cn",)
    assert d.codes == (ReasonCode.LOCATED_INSIDE,)
    (reason,) = d.reasons
    assert reason.case_ref == "case-cn"
    assert reason.restriction_version == 1
    assert "inside CN" in reason.message
    assert d.location is where
    assert d.policy_version == e.policy_version == 1
    assert d.decided_at == NOW
    assert d.enforcement is Enforcement.BLOCK_JOIN


@pytest.mark.parametrize("where", ["HK", "MO", "TW", "US", "DE"])
def test_cn_restriction_does_not_reach_hk_mo_tw_or_anyone_else(where: str) -> None:
    d = engine(restriction("CN")).decide(ctx(), at(where), NOW)
    assert d.effect is ALLOW
    assert d.restriction_ids == ()
    assert d.codes == (ReasonCode.NO_RESTRICTION_APPLIES,)


@pytest.mark.parametrize(
    ("codes", "where", "effect"),
    [
        ("HK", "HK", DENY),
        ("HK", "CN", ALLOW),
        ("MO", "MO", DENY),
        ("TW", "TW", DENY),
        ("TW", "CN", ALLOW),
        ("EU", "DE", DENY),
        ("EU", "FR", DENY),
        ("EU", "GB", ALLOW),
        ("EU", "CH", ALLOW),
    ],
)
def test_territories_and_groups(codes: str, where: str, effect: Effect) -> None:
    assert engine(restriction(codes)).decide(ctx(), at(where), NOW).effect is effect


def test_subdivision_restriction_denies_only_the_known_subdivision() -> None:
    e = engine(restriction("UA-43"))
    assert e.decide(ctx(), at("UA", subdivision="UA-43"), NOW).effect is DENY
    assert e.decide(ctx(), at("UA", subdivision="UA-14"), NOW).effect is ALLOW
    assert e.decide(ctx(), at("RU"), NOW).effect is ALLOW


def test_country_level_location_is_uncertain_for_a_subdivision_and_allowed_by_default() -> None:
    d = engine(restriction("UA-43")).decide(ctx(), at("UA"), NOW)
    assert d.effect is ALLOW
    assert d.codes == (ReasonCode.UNCERTAIN_LOCATION_ALLOWED,)
    assert d.reasons[0].restriction_id == "r1"


def test_country_level_location_is_denied_when_the_case_denies_uncertain_locations() -> None:
    d = engine(restriction("UA-43", unknown=UnknownLocationPolicy.DENY)).decide(
        ctx(), at("UA"), NOW
    )
    assert d.effect is DENY
    assert d.codes == (ReasonCode.UNCERTAIN_LOCATION_DENIED,)


@pytest.mark.parametrize("where", [UNKNOWN, loc(client()), at("CN", "HK")])
def test_unknown_location_is_allowed_by_default_and_says_so(where: Location) -> None:
    d = engine(restriction("CN")).decide(ctx(), where, NOW)
    assert d.effect is ALLOW
    assert d.codes == (ReasonCode.UNCERTAIN_LOCATION_ALLOWED,)


@pytest.mark.parametrize("where", [UNKNOWN, loc(client()), at("CN", "HK")])
def test_unknown_location_is_denied_under_unknown_location_deny(where: Location) -> None:
    d = engine(restriction("CN", unknown=UnknownLocationPolicy.DENY)).decide(ctx(), where, NOW)
    assert d.effect is DENY
    assert d.codes == (ReasonCode.UNCERTAIN_LOCATION_DENIED,)


def test_anonymized_connection_with_estimate_inside_is_denied_under_that_policy() -> None:
    vpn = at("CN", "US", flags=[Flag.VPN])
    policy = AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE
    d = engine(restriction("CN", anonymizer=policy)).decide(ctx(), vpn, NOW)
    assert d.effect is DENY
    assert d.codes == (ReasonCode.ANONYMIZED_ESTIMATE_INSIDE,)


def test_anonymized_connection_is_only_uncertain_when_anonymizers_are_ignored() -> None:
    vpn = at("CN", "US", flags=[Flag.VPN])
    d = engine(restriction("CN")).decide(ctx(), vpn, NOW)
    assert d.effect is ALLOW
    assert d.codes == (ReasonCode.UNCERTAIN_LOCATION_ALLOWED,)


def test_unflagged_uncertain_connection_is_not_caught_by_the_anonymizer_policy() -> None:
    policy = AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE
    d = engine(restriction("CN", anonymizer=policy)).decide(ctx(), at("CN", "US"), NOW)
    assert d.effect is ALLOW


@pytest.mark.parametrize("flag", list(Flag))
def test_anonymized_connection_located_outside_is_never_denied(flag: Flag) -> None:
    policy = AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE
    e = engine(restriction("CN", anonymizer=policy, unknown=UnknownLocationPolicy.DENY))
    assert e.decide(ctx(), at("DE", flags=[flag]), NOW).effect is ALLOW
    assert e.decide(ctx(), at("US", "CN", flags=[flag]), NOW).codes == (
        ReasonCode.UNCERTAIN_LOCATION_DENIED,
    )


def test_anonymized_connection_located_inside_is_denied_as_inside() -> None:
    d = engine(restriction("CN")).decide(ctx(), at("CN", flags=[Flag.TOR]), NOW)
    assert d.codes == (ReasonCode.LOCATED_INSIDE,)


def test_media_path_inside_denies_a_participant_signalling_from_outside() -> None:
    d = engine(restriction("CN")).decide(ctx(), loc(media("CN"), client("US")), NOW)
    assert d.effect is DENY


def test_phone_inside_does_not_outweigh_a_network_address_outside() -> None:
    d = engine(restriction("CN")).decide(ctx(), loc(client("DE"), phone("CN")), NOW)
    assert d.effect is ALLOW


def test_dial_in_only_participant_is_placed_by_the_phone_number() -> None:
    e = engine(restriction("CN"))
    assert e.decide(ctx(), loc(phone("CN")), NOW).effect is DENY
    assert e.decide(ctx(), loc(phone("HK")), NOW).effect is ALLOW


@pytest.mark.parametrize(
    ("address", "effect"),
    [("223.5.5.5", DENY), ("202.45.84.58", ALLOW), ("202.175.3.3", ALLOW), ("168.95.1.1", ALLOW)],
)
def test_decides_on_real_locator_output(address: str, effect: Effect) -> None:
    d = engine(restriction("CN")).decide(ctx(), Locator().locate_ip(address), NOW)
    assert d.effect is effect


# -- scopes and enforcement ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "context", "effect"),
    [
        (Scope.meeting("m1"), ctx("m1"), DENY),
        (Scope.meeting("m1"), ctx("m2"), ALLOW),
        (Scope.series("s1"), ctx("m7", series="s1"), DENY),
        (Scope.series("s1"), ctx("m7", series="s2"), ALLOW),
        (Scope.account("a1"), ctx("m3", account="a1"), DENY),
        (Scope.account("a1"), ctx("m3", account="a2"), ALLOW),
        (Scope.platform(), ctx("any", account="any"), DENY),
    ],
)
def test_scope_decides_which_meetings_a_restriction_concerns(
    scope: Scope, context: object, effect: Effect
) -> None:
    d = engine(restriction("CN", scope=scope)).decide(context, at("CN"), NOW)  # type: ignore[arg-type]
    assert d.effect is effect


def test_meeting_id_does_not_match_a_series_scope_of_another_kind() -> None:
    # A meeting-scoped restriction on "x" and a series "x" are different scopes.
    e = engine(restriction("CN", scope=Scope.meeting("x")))
    assert e.decide(ctx("m1", series="x"), at("CN"), NOW).effect is ALLOW


def test_remove_only_restriction_does_not_block_joining() -> None:
    e = engine(restriction("CN", effects=[Enforcement.REMOVE_LIVE]))
    assert e.decide(ctx(), at("CN"), NOW).effect is ALLOW
    assert e.decide(ctx(), at("CN"), NOW, Enforcement.REMOVE_LIVE).effect is DENY


def test_block_only_restriction_removes_nobody_live() -> None:
    e = engine(restriction("CN", effects=[Enforcement.BLOCK_JOIN]))
    assert e.decide(ctx(), at("CN"), NOW).effect is DENY
    assert e.reevaluate(participant("p1", at("CN")), NOW) == []


# -- combination --------------------------------------------------------------------------------


def test_deny_wins_and_every_participating_restriction_is_listed_by_id() -> None:
    e = engine(
        restriction("CN", id="r2", scope=Scope.meeting("m1")),
        restriction("CN,HK", id="r1", case_ref="case-2"),
        restriction("UA-43", id="r3"),
        restriction("CN-BJ", id="r0"),
    )
    d = e.decide(ctx("m1"), at("CN"), NOW)
    assert d.effect is DENY
    assert d.restriction_ids == ("r1", "r2")
    # r0 names only a subdivision of CN: a country-level CN answer is uncertain for it.
    assert [(r.restriction_id, r.code) for r in d.reasons] == [
        ("r0", ReasonCode.UNCERTAIN_LOCATION_ALLOWED),
        ("r1", ReasonCode.LOCATED_INSIDE),
        ("r2", ReasonCode.LOCATED_INSIDE),
    ]


def test_decision_is_never_without_a_reason() -> None:
    for d in (
        engine().decide(ctx(), at("CN"), NOW),
        engine(restriction("CN")).decide(ctx(), at("US"), NOW),
    ):
        assert d.effect is ALLOW
        assert d.reasons
        assert all(m for m in d.messages)


def test_decision_serializes_to_json_with_its_evidence() -> None:
    d = engine(restriction("CN")).decide(ctx(), at("CN"), NOW)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["effect"] == "deny"
    assert data["restriction_ids"] == ["r1"]
    assert data["location"]["territory"] == "CN"
    assert data["reasons"][0]["code"] == "located_inside"
    assert data["policy_version"] == 1
    assert data["decision_id"] == d.decision_id


def test_decision_ids_are_unique_and_carry_the_source_prefix() -> None:
    e = engine(restriction("CN"))
    ids = {e.decide(ctx(), at(c), NOW).decision_id for c in ("CN", "US") * 50}
    assert len(ids) == 100
    assert all(i.startswith("test-") for i in ids)


def test_default_decision_ids_differ_between_sources() -> None:
    assert DecisionIdSource()().split("-")[0] != DecisionIdSource()().split("-")[0]


# -- validity ------------------------------------------------------------------------------------


def test_restriction_not_yet_valid_does_not_match() -> None:
    e = engine(restriction("CN", valid_from=NOW + dt.timedelta(hours=1)))
    assert e.decide(ctx(), at("CN"), NOW).effect is ALLOW
    assert e.decide(ctx(), at("CN"), NOW + dt.timedelta(hours=1)).effect is DENY


def test_expired_restriction_does_not_match() -> None:
    e = engine(restriction("CN", valid_from=NOW - dt.timedelta(days=2), valid_until=NOW))
    assert e.decide(ctx(), at("CN"), NOW - dt.timedelta(seconds=1)).effect is DENY
    assert e.decide(ctx(), at("CN"), NOW).effect is ALLOW


def test_lifted_restriction_never_matches_again() -> None:
    e = engine(restriction("CN"))
    change = e.lift("r1", NOW)
    assert change.kind is ChangeKind.LIFTED
    assert change.restriction.version == 2
    assert e.decide(ctx(), at("CN"), NOW - dt.timedelta(hours=1)).effect is ALLOW
    assert e.decide(ctx(), at("CN"), NOW).effect is ALLOW
    assert e.get("r1").lifted_at == NOW


def test_lifting_twice_is_a_no_op() -> None:
    e = engine(restriction("CN"))
    e.lift("r1", NOW)
    version = e.policy_version
    again = e.lift("r1", NOW + dt.timedelta(hours=1))
    assert again.kind is ChangeKind.UNCHANGED
    assert e.policy_version == version
    assert e.get("r1").lifted_at == NOW


def test_lifted_restriction_cannot_be_reinstated_by_a_later_version() -> None:
    r = restriction("CN")
    e = engine(r)
    e.lift("r1", NOW)
    with pytest.raises(Conflict):
        e.apply(Restriction(**{**_fields(r), "version": 3}))


def test_prune_expired_drops_ended_restrictions_and_bumps_the_version() -> None:
    ended = restriction("CN", id="old", valid_from=NOW - dt.timedelta(days=9), valid_until=NOW)
    e = engine(ended, restriction("HK", id="live"))
    changes = e.prune_expired(NOW)
    assert [(c.kind, c.restriction.id) for c in changes] == [(ChangeKind.PRUNED, "old")]
    assert e.policy_version == 2
    assert [r.id for r in e.restrictions()] == ["live"]
    assert e.prune_expired(NOW) == []


# -- versions ------------------------------------------------------------------------------------


def _fields(r: Restriction) -> dict[str, object]:
    return {name: getattr(r, name) for name in Restriction.__dataclass_fields__}


def test_applying_the_same_version_again_is_a_no_op() -> None:
    r = restriction("CN")
    e = engine()
    assert e.add(r).kind is ChangeKind.ADDED
    assert e.policy_version == 1
    again = e.add(r)
    assert again.kind is ChangeKind.UNCHANGED
    assert e.apply(r).kind is ChangeKind.UNCHANGED
    assert e.policy_version == 1


def test_replace_with_higher_version_moves_the_restriction() -> None:
    v1 = restriction("CN", scope=Scope.meeting("m1"))
    v2 = Restriction(**{**_fields(v1), "version": 2, "scope": Scope.meeting("m2")})
    e = engine(v1)
    change = e.replace(v2)
    assert change.kind is ChangeKind.REPLACED
    assert change.previous == v1
    assert e.decide(ctx("m1"), at("CN"), NOW).effect is ALLOW
    assert e.decide(ctx("m2"), at("CN"), NOW).effect is DENY
    assert e.policy_version == 2


def test_an_older_version_arriving_late_is_ignored() -> None:
    v1 = restriction("CN", scope=Scope.meeting("m1"))
    v2 = Restriction(**{**_fields(v1), "version": 2, "jurisdiction": Jurisdiction.of("HK")})
    e = engine(v2)
    assert e.apply(v1).kind is ChangeKind.UNCHANGED
    assert e.replace(v1).kind is ChangeKind.UNCHANGED
    assert e.get("r1") == v2
    assert e.decide(ctx("m1"), at("CN"), NOW).effect is ALLOW


def test_add_refuses_to_silently_replace_an_older_version() -> None:
    v1 = restriction("CN")
    e = engine(v1)
    with pytest.raises(Conflict):
        e.add(Restriction(**{**_fields(v1), "version": 2}))


def test_replace_needs_a_held_restriction() -> None:
    with pytest.raises(NotFound):
        engine().replace(restriction("CN"))


def test_a_version_from_another_case_is_refused() -> None:
    v1 = restriction("CN")
    with pytest.raises(Conflict):
        engine(v1).apply(Restriction(**{**_fields(v1), "version": 2, "case_ref": "other"}))


def test_policy_version_increases_once_per_effective_change() -> None:
    e = engine()
    versions = [e.policy_version]
    changes = e.apply_many([restriction("CN", id="a"), restriction("HK", id="b")])
    assert {c.policy_version for c in changes} == {1}
    versions.append(e.policy_version)
    e.lift("a", NOW)
    versions.append(e.policy_version)
    e.apply(restriction("HK", id="b"))  # replay: no change
    versions.append(e.policy_version)
    assert versions == [0, 1, 2, 2]


def test_a_batch_with_a_conflict_changes_nothing() -> None:
    e = engine(restriction("CN", id="a"))
    e.lift("a", NOW)
    version = e.policy_version
    reinstated = Restriction(**{**_fields(restriction("CN", id="a")), "version": 5})
    with pytest.raises(Conflict):
        e.apply_many([restriction("HK", id="b"), reinstated])
    assert e.policy_version == version
    with pytest.raises(NotFound):
        e.get("b")


def test_snapshot_keeps_answering_for_its_own_version() -> None:
    e = engine(restriction("CN"))
    before = e.snapshot()
    e.lift("r1", NOW)
    assert before.decide(ctx(), at("CN"), NOW).effect is DENY
    assert before.decide(ctx(), at("CN"), NOW).policy_version == 1
    assert e.decide(ctx(), at("CN"), NOW).effect is ALLOW


def test_active_lists_only_restrictions_in_force() -> None:
    e = engine(
        restriction("CN", id="now"),
        restriction("HK", id="later", valid_from=NOW + dt.timedelta(days=1)),
        restriction("TW", id="lifted"),
    )
    e.lift("lifted", NOW)
    assert [r.id for r in e.active(NOW)] == ["now"]
    assert [r.id for r in e.restrictions()] == ["later", "lifted", "now"]


def test_concurrent_changes_never_show_a_reader_half_a_change() -> None:
    # Writers flip a restriction on and off; a decision's effect must match its policy version:
    # odd versions hold the restriction, even ones do not.
    e = engine()
    reading = threading.Event()
    stop = threading.Event()
    seen: list[tuple[int, Effect]] = []

    def writer() -> None:
        reading.wait()
        for i in range(200):
            r = restriction("CN", id=f"r{i}")
            e.apply(r)
            e.lift(r.id, NOW + dt.timedelta(days=1))
        stop.set()

    def reader() -> None:
        where = at("CN")
        while not stop.is_set():
            d = e.decide(ctx(), where, NOW)
            seen.append((d.policy_version, d.effect))
            reading.set()

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen
    for version, effect in seen:
        assert effect is (DENY if version % 2 else ALLOW)


# -- re-evaluation -------------------------------------------------------------------------------


def test_reevaluation_removes_participant_whose_media_path_moved_inside() -> None:
    e = engine(restriction("CN", id="r-cn"))
    locator = Locator()
    joined = participant("p1", locator.locate(Evidence(client_ip="8.8.4.4")))
    assert e.reevaluate(joined, NOW) == []
    moved = participant("p1", locator.locate(Evidence(client_ip="8.8.4.4", media_ip="223.5.5.5")))
    (removal,) = e.reevaluate(moved, NOW)
    assert removal.participant_id == "p1"
    assert removal.restriction_id == "r-cn"
    assert removal.reason.code is ReasonCode.LOCATED_INSIDE
    assert removal.location is moved.location
    assert removal.policy_version == e.policy_version


def test_reevaluation_after_dialling_in_from_inside_removes() -> None:
    e = engine(restriction("CN"))
    locator = Locator()
    private = participant("p1", locator.locate(Evidence(client_ip="10.1.2.3")))
    assert e.reevaluate(private, NOW) == []
    dialled = participant(
        "p1", locator.locate(Evidence(client_ip="10.1.2.3", phone="+8613123456789"))
    )
    assert [r.participant_id for r in e.reevaluate(dialled, NOW)] == ["p1"]


def test_reevaluation_lists_every_removing_restriction() -> None:
    e = engine(restriction("CN", id="a"), restriction("CN,HK", id="b"), restriction("HK", id="c"))
    removals = e.reevaluate(participant("p1", at("CN")), NOW)
    assert [r.restriction_id for r in removals] == ["a", "b"]


def test_enforcement_given_as_its_string_value_is_not_misread() -> None:
    e = engine(restriction("CN", effects=[Enforcement.BLOCK_JOIN]))
    d = e.decide(ctx(), at("CN"), NOW, "block_join")  # type: ignore[arg-type]
    assert d.effect is DENY
    assert d.enforcement is Enforcement.BLOCK_JOIN
    with pytest.raises(ValueError, match="end_session"):
        e.decide(ctx(), at("CN"), NOW, "end_session")  # type: ignore[arg-type]
