"""The signal rule: where a participant is relative to a jurisdiction (the definition I1 uses)."""

from __future__ import annotations

import pytest
from hypothesis import given

from lexloci.geo import Flag, Location, Locator, Signal, SignalLocation
from lexloci.jurisdictions import Containment, Jurisdiction, country_of, is_subdivision
from lexloci.policy import (
    best_estimate,
    classify_location,
    classify_signal,
    estimate_inside,
    location_keys,
    names_any_candidate,
)
from tests.unit.policy.policy_builders import (
    GROUPS,
    UNKNOWN,
    at,
    client,
    jurisdictions,
    loc,
    locations,
    media,
    phone,
)

INSIDE, OUTSIDE, UNCERTAIN = Containment.INSIDE, Containment.OUTSIDE, Containment.UNCERTAIN
CN = Jurisdiction.of("CN")


@pytest.mark.parametrize(
    ("where", "expected"),
    [("CN", INSIDE), ("HK", OUTSIDE), ("MO", OUTSIDE), ("TW", OUTSIDE)],
)
def test_cn_hk_mo_tw_are_four_territories(where: str, expected: Containment) -> None:
    assert classify_location(at(where), CN) is expected


@pytest.mark.parametrize(
    ("codes", "where", "expected"),
    [
        ("HK", "HK", INSIDE),
        ("HK", "CN", OUTSIDE),
        ("TW", "TW", INSIDE),
        ("MO", "HK", OUTSIDE),
        ("EU", "DE", INSIDE),
        ("EU", "AT", INSIDE),
        ("EU", "GB", OUTSIDE),
        ("EU", "UA", OUTSIDE),
        ("GREATER_CHINA_TEST", "TW", INSIDE),
        ("GREATER_CHINA_TEST", "JP", OUTSIDE),
    ],
)
def test_groups_and_territories_place_a_single_agreed_signal(
    codes: str, where: str, expected: Containment
) -> None:
    assert classify_location(at(where), GROUPS.parse(codes)) is expected


def test_subdivision_jurisdiction_places_known_subdivision_inside() -> None:
    crimea = Jurisdiction.of("UA-43")
    assert classify_location(at("UA", subdivision="UA-43"), crimea) is INSIDE
    assert classify_location(at("UA", subdivision="UA-14"), crimea) is OUTSIDE


def test_country_level_answer_is_uncertain_for_a_subdivision_jurisdiction() -> None:
    assert classify_location(at("UA"), Jurisdiction.of("UA-43")) is UNCERTAIN


def test_country_jurisdiction_contains_its_subdivisions() -> None:
    assert classify_location(at("UA", subdivision="UA-43"), Jurisdiction.of("UA")) is INSIDE


def test_candidate_given_as_a_subdivision_code_is_placed_in_its_country() -> None:
    signal = SignalLocation(Signal.CLIENT_IP, None, frozenset({"UA-43"}))
    assert classify_signal(signal, Jurisdiction.of("UA")) is INSIDE
    assert classify_signal(signal, Jurisdiction.of("UA-43")) is INSIDE
    assert classify_signal(signal, Jurisdiction.of("UA-14")) is OUTSIDE


def test_disagreeing_sources_across_the_border_are_uncertain() -> None:
    assert classify_location(at("CN", "HK"), CN) is UNCERTAIN


def test_disagreeing_sources_all_outside_are_outside() -> None:
    assert classify_location(at("HK", "SG"), CN) is OUTSIDE


def test_disagreeing_sources_all_inside_are_inside() -> None:
    assert classify_location(at("DE", "FR"), GROUPS.parse("EU")) is INSIDE


def test_signal_without_candidates_is_uncertain() -> None:
    assert classify_signal(SignalLocation(Signal.CLIENT_IP, None), CN) is UNCERTAIN


def test_signal_territory_counts_as_a_candidate_when_omitted() -> None:
    assert classify_signal(SignalLocation(Signal.CLIENT_IP, "CN"), CN) is INSIDE


def test_no_evidence_is_uncertain_for_every_jurisdiction() -> None:
    assert classify_location(UNKNOWN, CN) is UNCERTAIN
    assert classify_location(UNKNOWN, Jurisdiction.of("US")) is UNCERTAIN


def test_media_path_inside_makes_the_participant_inside() -> None:
    assert classify_location(loc(media("CN"), client("US")), CN) is INSIDE
    assert classify_location(loc(media("US"), client("CN")), CN) is INSIDE


def test_every_network_signal_outside_makes_the_participant_outside() -> None:
    assert classify_location(loc(media("US"), client("DE")), CN) is OUTSIDE


def test_network_signal_outside_outranks_a_phone_inside() -> None:
    # A roaming +86 phone on a German network is not inside CN.
    assert classify_location(loc(client("DE"), phone("CN")), CN) is OUTSIDE


def test_network_signal_without_candidates_is_ignored() -> None:
    private = SignalLocation(Signal.CLIENT_IP, None)
    assert classify_location(loc(private, media("HK")), CN) is OUTSIDE
    assert classify_location(loc(private, media("CN")), CN) is INSIDE


def test_phone_decides_when_no_network_signal_names_a_territory() -> None:
    private = SignalLocation(Signal.CLIENT_IP, None)
    assert classify_location(loc(private, phone("CN")), CN) is INSIDE
    assert classify_location(loc(private, phone("HK")), CN) is OUTSIDE
    assert classify_location(loc(phone("TW")), CN) is OUTSIDE


def test_shared_calling_code_is_uncertain_only_where_it_could_be_inside() -> None:
    nanp = loc(phone("US", "CA", "JM"))
    assert classify_location(nanp, Jurisdiction.of("US")) is UNCERTAIN
    assert classify_location(nanp, CN) is OUTSIDE


def test_one_network_signal_uncertain_and_none_inside_is_uncertain() -> None:
    assert classify_location(loc(media("US"), client("CN", "HK")), CN) is UNCERTAIN


def test_anonymizer_flags_do_not_change_the_answer() -> None:
    assert classify_location(at("US", flags=[Flag.VPN]), CN) is OUTSIDE
    assert classify_location(at("CN", flags=[Flag.TOR]), CN) is INSIDE


def test_best_estimate_is_the_locations_territory_then_the_first_network_source() -> None:
    # Location.territory is the geo layer's best single estimate (a consensus, network first).
    assert best_estimate(loc(client("CN", "HK"), phone("TW"))) == ("TW", None)
    assert best_estimate(loc(client("CN", "HK"))) == ("CN", None)
    assert best_estimate(loc(phone("US", "CA"), client("HK", "CN"))) == ("HK", None)
    assert best_estimate(loc(phone("TW"))) == ("TW", None)
    assert best_estimate(at("UA", subdivision="UA-43")) == ("UA", "UA-43")
    assert best_estimate(UNKNOWN) == (None, None)


def test_estimate_inside_needs_an_estimate_inside() -> None:
    assert estimate_inside(at("CN", "US"), CN)
    assert not estimate_inside(at("US", "CN"), CN)
    assert not estimate_inside(UNKNOWN, CN)


@pytest.mark.parametrize(
    ("address", "territory"),
    [("223.5.5.5", "CN"), ("202.45.84.58", "HK"), ("202.175.3.3", "MO"), ("168.95.1.1", "TW")],
)
def test_real_locator_output_is_placed_by_the_rule(address: str, territory: str) -> None:
    location = Locator().locate_ip(address)
    expected = INSIDE if territory == "CN" else OUTSIDE
    assert classify_location(location, CN) is expected


@given(locations(), jurisdictions)
def test_location_keys_reach_every_jurisdiction_the_location_may_be_inside(
    location: Location, jurisdiction: Jurisdiction
) -> None:
    # Completeness of the index's territory keys (see placement.location_keys).
    if not names_any_candidate(location):
        assert classify_location(location, jurisdiction) is UNCERTAIN
        return
    index_keys = jurisdiction.territories | {
        country_of(t) for t in jurisdiction.territories if is_subdivision(t)
    }
    concerned = classify_location(location, jurisdiction) is not OUTSIDE or estimate_inside(
        location, jurisdiction
    )
    if concerned:
        assert location_keys(location) & index_keys
