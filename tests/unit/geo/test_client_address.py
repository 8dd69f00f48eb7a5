"""Forwarding headers are believed only from trusted proxies, walking from the right."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexloci.errors import InvalidAddress
from lexloci.geo import TrustedProxies, resolve_client_address

LOOPBACK = TrustedProxies(["127.0.0.0/8", "::1/128"])


def resolve(peer: str, *headers: tuple[str, str], trusted: TrustedProxies = LOOPBACK) -> str | None:
    return resolve_client_address(peer, list(headers), trusted).address


def test_untrusted_peer_is_the_client_whatever_the_headers_say() -> None:
    assert resolve("8.8.4.4", ("X-Forwarded-For", "223.5.5.5")) == "8.8.4.4"
    assert (
        resolve("127.0.0.1", ("X-Forwarded-For", "223.5.5.5"), trusted=TrustedProxies())
        == "127.0.0.1"
    )


def test_trusted_peer_passes_on_the_forwarded_client() -> None:
    assert resolve("127.0.0.1", ("X-Forwarded-For", "223.5.5.5")) == "223.5.5.5"
    assert resolve("::1", ("Forwarded", 'for="[2400:dd01::1]:4711"')) == "2400:dd01::1"


def test_walks_from_the_right_and_stops_at_the_first_untrusted_address() -> None:
    trusted = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8"])
    # 1.1.1.1 is a spoofed entry the client wrote itself; 223.5.5.5 is who reached our proxy.
    xff = ("X-Forwarded-For", "1.1.1.1, 223.5.5.5, 10.0.0.7")
    result = resolve_client_address("127.0.0.1", [xff], trusted)
    assert result.address == "223.5.5.5"
    assert result.via == "x-forwarded-for"


def test_all_trusted_chain_gives_the_leftmost() -> None:
    trusted = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8"])
    assert (
        resolve("127.0.0.1", ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"), trusted=trusted)
        == "10.0.0.1"
    )


def test_forwarded_takes_precedence_and_multiple_lines_join_in_order() -> None:
    headers = [
        ("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"),
        ("forwarded", 'For="202.175.3.3:8080"'),
        ("X-Forwarded-For", "8.8.4.4"),
    ]
    assert resolve_client_address("127.0.0.1", headers, LOOPBACK).address == "202.175.3.3"


def test_trusted_peer_without_headers_is_the_client() -> None:
    result = resolve_client_address("127.0.0.1", [], LOOPBACK)
    assert (result.address, result.via) == ("127.0.0.1", "peer")


@pytest.mark.parametrize(
    "header",
    [
        ("X-Forwarded-For", "not-an-ip"),
        ("X-Forwarded-For", "223.5.5.5,,"),
        ("X-Forwarded-For", ""),
        ("Forwarded", "for=unknown"),
        ("Forwarded", "for=_hidden"),
        ("Forwarded", 'for="[2400:dd01::1'),
        ("Forwarded", "proto=https"),
        ("Forwarded", "for"),
        ("Forwarded", 'for="unterminated'),
        ("Forwarded", "for=1.2.3.4;for=5.6.7.8"),
        ("X-Forwarded-For", "1.2.3.4" + ", 1.2.3.4" * 100),
    ],
)
def test_malformed_headers_give_unknown_never_an_exception(header: tuple[str, str]) -> None:
    result = resolve_client_address("127.0.0.1", [header], LOOPBACK)
    assert result.address is None
    assert result.reason


def test_unknown_peer_gives_unknown() -> None:
    assert resolve_client_address(None, [], LOOPBACK).address is None
    assert resolve_client_address("testclient", [], LOOPBACK).address is None


def test_bad_trusted_proxy_cidr_is_a_clear_error() -> None:
    with pytest.raises(InvalidAddress, match="not a CIDR"):
        TrustedProxies(["10.0.0.0/33"])


# -- properties ------------------------------------------------------------------------------

ipv4 = st.integers(min_value=1, max_value=2**32 - 2).map(lambda n: str(ipaddress.IPv4Address(n)))
trusted_ranges = st.lists(st.integers(0, 255).map(lambda n: f"{n}.0.0.0/8"), max_size=4)


@given(peer=ipv4, chain=st.lists(ipv4, max_size=8), ranges=trusted_ranges)
def test_result_is_the_rightmost_untrusted_hop(
    peer: str, chain: list[str], ranges: list[str]
) -> None:
    trusted = TrustedProxies(ranges)
    result = resolve_client_address(
        peer, [("X-Forwarded-For", ", ".join(chain))] if chain else [], trusted
    )
    hops = [*chain, peer]
    if ipaddress.ip_address(peer) not in trusted:
        expected = peer
    else:
        untrusted = [h for h in hops if ipaddress.ip_address(h) not in trusted]
        expected = untrusted[-1] if untrusted else hops[0]
    assert result.address == expected


@given(peer=ipv4, chain=st.lists(ipv4, min_size=1, max_size=8))
def test_headers_from_an_untrusted_peer_never_matter(peer: str, chain: list[str]) -> None:
    result = resolve_client_address(peer, [("X-Forwarded-For", ", ".join(chain))], TrustedProxies())
    assert result.address == peer


@given(value=st.text(max_size=200), name=st.sampled_from(["Forwarded", "X-Forwarded-For"]))
def test_any_header_value_yields_an_address_or_unknown(value: str, name: str) -> None:
    result = resolve_client_address("127.0.0.1", [(name, value)], LOOPBACK)
    assert result.address is None or ipaddress.ip_address(result.address)
    assert result.address is not None or result.reason


@given(chain=st.lists(ipv4, min_size=1, max_size=6))
def test_forwarded_and_x_forwarded_for_agree(chain: list[str]) -> None:
    xff = resolve_client_address("127.0.0.1", [("X-Forwarded-For", ", ".join(chain))], LOOPBACK)
    fwd_value = ", ".join(f"for={hop}" for hop in chain)
    fwd = resolve_client_address("127.0.0.1", [("Forwarded", fwd_value)], LOOPBACK)
    assert xff.address == fwd.address
