"""The locator on the real shipped data (iptocc) and on small mmdb files built by the test."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lexloci.errors import InvalidAddress, InvalidPhoneNumber
from lexloci.geo import (
    Evidence,
    Flag,
    IptoccSource,
    Locator,
    MmdbAnonymizerSource,
    MmdbCountrySource,
    Reason,
    Signal,
    TorExitListSource,
)
from tests.mmdb_files import country, write_mmdb

# Public resolvers and operators; each checked against the shipped RIR data.
KNOWN = {
    "223.5.5.5": "CN",  # AliDNS
    "180.76.76.76": "CN",  # Baidu DNS
    "2400:dd01::1": "CN",
    "202.45.84.58": "HK",
    "168.95.1.1": "TW",  # HiNet DNS
    "101.101.101.101": "TW",  # Quad101
    "202.175.3.3": "MO",  # CTM
    "5.9.0.1": "DE",  # Hetzner
    "212.227.0.1": "DE",  # IONOS
    "8.8.4.4": "US",
}


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator()


@pytest.mark.parametrize(("ip", "territory"), sorted(KNOWN.items()))
def test_locates_well_known_addresses(locator: Locator, ip: str, territory: str) -> None:
    location = locator.locate_ip(ip)
    assert location.territory == territory
    (signal,) = location.signals
    assert signal.signal is Signal.CLIENT_IP
    assert signal.answers[0].source == "iptocc"
    assert "iptocc 3.3.170" in signal.answers[0].version


def test_ipv4_mapped_ipv6_is_located_as_ipv4(locator: Locator) -> None:
    assert locator.locate_ip("::ffff:223.5.5.5").territory == "CN"
    assert locator.locate_ip(" 202.175.3.3 ").territory == "MO"
    assert locator.locate_ip("[2400:dd01::1]").territory == "CN"


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.1.2.3", "private"),
    ],
)
def test_non_global_addresses_are_unknown_with_the_reason(
    locator: Locator, ip: str, kind: str
) -> None:
    location = locator.locate_ip(ip)
    assert location.territory is None
    assert location.reason is Reason.NON_GLOBAL_ADDRESS
    assert kind in (location.signals[0].detail or "")


@pytest.mark.parametrize(
    "bad", ["bogus", "1.2.3", "1.2.3.4/32", "", "999.1.1.1", "1.2.3.4:80", "x" * 500]
)
def test_malformed_addresses_raise_a_clear_error(locator: Locator, bad: str) -> None:
    with pytest.raises(InvalidAddress, match="not an IP address"):
        locator.locate_ip(bad)


def test_non_string_input_raises_a_clear_error(locator: Locator) -> None:
    with pytest.raises(InvalidAddress, match="must be a string"):
        locator.locate_ip(12345)  # type: ignore[arg-type]


def test_fast_path_gives_the_same_answer_as_the_full_path() -> None:
    fast = Locator()
    rng = random.Random(7)
    addresses = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(3000)]
    addresses += list(KNOWN)
    for ip in addresses:
        assert fast.locate_ip(ip) == fast._combine((fast._ip_signal(ip, Signal.CLIENT_IP),))


def test_batch_gives_the_same_answers_as_single_lookups(locator: Locator) -> None:
    rng = random.Random(11)
    addresses = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(2000)]
    assert locator.locate_ips(addresses) == [locator.locate_ip(ip) for ip in addresses]


def test_phone_numbers_by_calling_code(locator: Locator) -> None:
    assert locator.locate_phone("+8613123456789").territory == "CN"
    assert locator.locate_phone("+85221234567").territory == "HK"
    assert locator.locate_phone("+85366123456").territory == "MO"
    assert locator.locate_phone("+886912345678").territory == "TW"


def test_shared_calling_code_yields_the_set_not_a_guess(locator: Locator) -> None:
    location = locator.locate_phone("+12025550100")
    assert location.territory is None
    (signal,) = location.signals
    assert signal.reason is Reason.SHARED_CALLING_CODE
    assert {"US", "CA", "PR"} <= signal.candidates


@pytest.mark.parametrize("bad", ["85221234567", "+999123", "+12", "phone", "+1" + "2" * 60])
def test_malformed_phone_numbers_raise_a_clear_error(locator: Locator, bad: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        locator.locate_phone(bad)


def test_combined_evidence_keeps_every_signal(locator: Locator) -> None:
    location = locator.locate(
        Evidence(client_ip="8.8.4.4", media_ip="223.5.5.5", phone="+85221234567")
    )
    assert [s.signal for s in location.signals] == [Signal.MEDIA_IP, Signal.CLIENT_IP, Signal.PHONE]
    assert location.territory == "CN"  # the media path is the best single estimate
    assert any("network signals disagree" in d for d in location.disagreements)
    assert locator.locate(Evidence()).reason is Reason.NO_EVIDENCE


def test_operator_mmdb_is_asked_first_and_disagreement_is_recorded(tmp_path: Path) -> None:
    db = write_mmdb(
        tmp_path / "country.mmdb",
        {
            "223.5.5.0/24": country("CN", "ZJ"),  # agrees with the RIR data, adds a subdivision
            "202.45.84.0/24": country("CN"),  # disagrees: RIR data says HK
            "5.9.0.0/16": {"country": {"iso_code": "EU"}},  # not a territory
        },
        "GeoLite2-Country",
    )
    locator = Locator([MmdbCountrySource(db), IptoccSource()])
    agree = locator.locate_ip("223.5.5.5")
    assert agree.territory == "CN"
    assert agree.subdivision == "CN-ZJ"
    assert [a.source for a in agree.sources] == ["mmdb", "iptocc"]
    assert "GeoLite2-Country" in agree.sources[0].version

    split = locator.locate_ip("202.45.84.58")
    assert split.territory is None
    (signal,) = split.signals
    assert signal.reason is Reason.SOURCES_DISAGREE
    assert signal.candidates == {"CN", "HK"}
    assert signal.estimate == "CN"  # the operator's database comes first
    assert split.disagreements

    eu = locator.locate_ip("5.9.0.1")
    assert eu.territory == "DE"  # the non-territory answer is kept but does not count
    assert eu.sources[0].raw == "EU"
    assert eu.sources[0].territory is None


def test_tor_exit_list_and_anonymous_ip_database_flag_addresses(tmp_path: Path) -> None:
    tor = tmp_path / "exits.txt"
    tor.write_text(
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"
        "Published 2026-11-26 10:00:00\n"
        "ExitAddress 5.9.0.1 2026-11-26 10:10:00\n"
        "8.8.4.4  # a plain line\n"
    )
    anon = write_mmdb(
        tmp_path / "anon.mmdb",
        {"223.5.5.0/24": {"is_anonymous_vpn": True, "is_hosting_provider": True}},
        "GeoIP2-Anonymous-IP",
    )
    locator = Locator(anonymizers=[TorExitListSource(tor), MmdbAnonymizerSource(anon)])
    assert locator.locate_ip("5.9.0.1").flags == {Flag.TOR}
    assert locator.locate_ip("223.5.5.5").flags == {Flag.VPN, Flag.HOSTING}
    assert locator.locate_ip("223.5.5.5").territory == "CN"  # flags never change the territory
    assert locator.locate_ip("202.175.3.3").flags == set()
    assert "2 exits" in locator.describe()[1]["version"]


def test_recorded_snapshots_rebuild_the_same_location(locator: Locator, tmp_path: Path) -> None:
    from lexloci.geo import Location

    samples = [
        locator.locate_ip("223.5.5.5"),
        locator.locate_ip("10.0.0.1"),
        locator.locate_phone("+12025550100"),
        locator.locate(Evidence(client_ip="8.8.4.4", media_ip="202.175.3.3", phone="+85221234567")),
        locator.unknown_client("malformed header"),
    ]
    for location in samples:
        assert Location.from_dict(location.to_dict()) == location
