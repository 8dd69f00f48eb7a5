"""``parse_ip``'s IPv4 fast path changes nothing: for every input, the same address (same
class, same text) or the same ``InvalidAddress`` as parsing with ``ipaddress`` alone;
``TrustedProxies`` answers membership as ``ipaddress`` networks do; and a request's client
address resolves as it did before the fast paths (peer decisions kept, IPv4 read in C)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lexloci.errors import InvalidAddress
from lexloci.geo import ClientAddress, TrustedProxies, parse_ip, resolve_client_address
from lexloci.geo.addresses import IPAddress, canonical_ipv4_value, parse_ip_text
from lexloci.geo.client_address import _PEER_MEMO, _forwarded_chain, _Unreadable, _xff_chain


def reference_parse_ip(raw: str) -> IPAddress:
    """``parse_ip`` as it was before the fast path: ``ipaddress`` alone."""
    if not isinstance(raw, str):
        raise InvalidAddress(f"an IP address must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if len(text) > 64:
        raise InvalidAddress(f"not an IP address (too long: {len(text)} characters)")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidAddress(f"not an IP address: {raw!r}", value=raw) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def outcome(parse: object, raw: object) -> tuple[str, object, object]:
    try:
        address = parse(raw)  # type: ignore[operator]
    except InvalidAddress as exc:
        return ("error", type(exc), exc.as_dict())
    if isinstance(address, tuple):  # parse_ip_text: the address and its text
        return ("address", (type(address[0]), address[0]), address[1])
    return ("address", (type(address), address), str(address))


def assert_same_as_reference(raw: object) -> None:
    expected = outcome(reference_parse_ip, raw)
    assert outcome(parse_ip, raw) == expected
    assert outcome(parse_ip_text, raw) == expected


# Octets as people (and forgers) write them: leading zeros, too many digits, too large, empty,
# hexadecimal, signs, non-ASCII digits.
octet = st.one_of(
    st.integers(0, 255).map(str),
    st.integers(0, 999).map(str),
    st.integers(0, 255).map(lambda n: f"0{n}"),
    st.integers(0, 255).map(lambda n: f"00{n}"),
    st.sampled_from(["", "0x1", "+1", "-1", " 1", "1 ", "٣", "１", "1e1", "0000", "256"]),
)
dotted = st.lists(octet, min_size=1, max_size=6).map(".".join)
wrapping = st.sampled_from(
    ["{}", " {} ", "\t{}\n", "\u2003{}\u00a0", "[{}]", " [{}] ", "{}%eth0", "[{}%1]", "{}.", ".{}"]
)
ipv6 = st.ip_addresses(v=6).flatmap(lambda a: st.sampled_from([str(a), a.exploded, str(a).upper()]))
mapped = st.ip_addresses(v=4).flatmap(
    lambda a: st.sampled_from([f"::ffff:{a}", f"::FFFF:{a}", f"0:0:0:0:0:ffff:{a}", f"::{a}"])
)
junk = st.text(alphabet="0123456789abcdefABCDEFx.:%[]/ \t\x00\ud800", max_size=70)
raw_addresses = st.one_of(
    st.tuples(wrapping, dotted).map(lambda w: w[0].format(w[1])),
    st.tuples(wrapping, st.ip_addresses(v=4).map(str)).map(lambda w: w[0].format(w[1])),
    st.tuples(wrapping, ipv6).map(lambda w: w[0].format(w[1])),
    st.tuples(wrapping, mapped).map(lambda w: w[0].format(w[1])),
    junk,
    st.text(max_size=80),
)


@settings(max_examples=3000)
@given(raw=raw_addresses)
@example(raw="1.2.3.4")
@example(raw="01.2.3.4")
@example(raw="1.2.3.04")
@example(raw="1.2.3")
@example(raw="1.2.3.4.5")
@example(raw="256.1.1.1")
@example(raw="0.0.0.0")
@example(raw="255.255.255.255")
@example(raw="1.2.3.4\x00")
@example(raw="1.2.3.4/32")
@example(raw="::ffff:1.2.3.4")
@example(raw="[2001:db8::1]")
@example(raw="fe80::1%eth0")
@example(raw="1.2.3.4%eth0")
@example(raw=" 1.2.3.4 ")
@example(raw="")
@example(raw="\ud800")
@example(raw="1" * 65)
def test_parses_every_input_as_ipaddress_alone_does(raw: str) -> None:
    assert_same_as_reference(raw)


@pytest.mark.parametrize("raw", [None, 1, b"1.2.3.4", 3.5])
def test_refuses_what_is_not_a_string_as_before(raw: object) -> None:
    assert_same_as_reference(raw)


@given(value=st.integers(0, 2**32 - 1))
def test_every_ipv4_address_in_canonical_form_reads_back_as_itself(value: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    address, written = parse_ip_text(text)
    assert address == ipaddress.IPv4Address(value)
    assert written == text


@given(raw=raw_addresses | st.text(max_size=20))
@example(raw=" 1.2.3.4")
@example(raw="01.2.3.4")
@example(raw="::ffff:1.2.3.4")
def test_a_canonical_ipv4_value_is_the_parsed_address_and_its_own_text(raw: str) -> None:
    value = canonical_ipv4_value(raw)
    if value is not None:
        assert parse_ip_text(raw) == (ipaddress.IPv4Address(value), raw)
    else:
        try:
            address, text = parse_ip_text(raw)
        except InvalidAddress:
            return
        assert address.version == 6 or text != raw


networks = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
)
addresses = st.one_of(
    st.ip_addresses(v=4),
    st.ip_addresses(v=6),
    st.sampled_from(
        [
            ipaddress.ip_address(a)
            for a in ["0.0.0.0", "255.255.255.255", "::", "::1", "::ffff:10.0.0.1", "10.0.0.1"]
        ]
    ),
)


@settings(max_examples=2000)
@given(cidrs=st.lists(networks, max_size=5), address=addresses)
@example(cidrs=["0.0.0.0/0"], address=ipaddress.ip_address("::"))
@example(cidrs=["::/0"], address=ipaddress.ip_address("0.0.0.0"))
@example(cidrs=["10.0.0.0/8"], address=ipaddress.ip_address("::ffff:10.0.0.1"))
def test_trusted_proxies_contain_what_their_networks_contain(
    cidrs: list[str], address: IPAddress
) -> None:
    trusted = TrustedProxies(cidrs)
    expected = any(
        address.version == n.version and address in n
        for n in (ipaddress.ip_network(c, strict=False) for c in cidrs)
    )
    assert (address in trusted) is expected
    if address.version == 4:
        assert trusted.holds_ipv4(int(address)) is expected


# -- the whole resolution, against the one before the fast paths --------------------------


def reference_resolve(
    peer: str | None, headers: list[tuple[str, str]], trusted: TrustedProxies
) -> ClientAddress:
    """``resolve_client_address`` as it was: ``ipaddress`` parsing, ``ipaddress`` networks."""
    networks = [ipaddress.ip_network(str(n)) for n in trusted.networks]

    def inside(address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in networks)

    def node(entry: str) -> IPAddress:
        text = entry.strip()
        if not text:
            raise _Unreadable("empty node")
        if text.lower() == "unknown" or text.startswith("_"):
            raise _Unreadable(f"node {text!r} hides its address")
        if text.startswith("["):
            end = text.find("]")
            if end < 0 or (end + 1 < len(text) and not text[end + 1 :].startswith(":")):
                raise _Unreadable(f"malformed node {text!r}")
            text = text[1:end]
        elif text.count(":") == 1:
            text = text.split(":", 1)[0]
        try:
            return reference_parse_ip(text)
        except InvalidAddress:
            raise _Unreadable(f"not an address: {entry.strip()!r}") from None

    try:
        peer_ip = reference_parse_ip(peer) if peer else None
    except InvalidAddress:
        peer_ip = None
    if peer_ip is None:
        return ClientAddress(None, "none", f"the connection's peer address is unknown ({peer!r})")
    if not inside(peer_ip):
        return ClientAddress(str(peer_ip), "peer")
    forwarded = [v for k, v in headers if k.lower() == "forwarded"]
    xff = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    via = "forwarded" if forwarded else "x-forwarded-for" if xff else "peer"
    if via == "peer":
        return ClientAddress(str(peer_ip), "peer")
    try:
        raw = ", ".join(forwarded or xff)
        if len(raw) > 8192:
            raise _Unreadable(f"{via} header longer than 8192 characters")
        chain = _forwarded_chain(raw) if forwarded else _xff_chain(raw)
        if len(chain) > 64:
            raise _Unreadable(f"{via} chain longer than 64 hops")
        for entry in reversed(chain):
            address = node(entry)
            if not inside(address):
                return ClientAddress(str(address), via)
        return ClientAddress(str(node(chain[0])), via)
    except _Unreadable as exc:
        return ClientAddress(None, via, f"unreadable {via} header: {exc}")


_PROXIES = [
    TrustedProxies(["127.0.0.1/32"]),
    TrustedProxies(["127.0.0.0/8", "::1/128", "10.0.0.0/8"]),
    TrustedProxies(),
    TrustedProxies(["0.0.0.0/0", "::/0"]),
]
_NODE = st.one_of(raw_addresses, st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "unknown"]))
_HEADER = st.tuples(
    st.sampled_from(["X-Forwarded-For", "x-forwarded-for", "Forwarded", "Via"]),
    st.one_of(
        st.lists(_NODE, min_size=1, max_size=4).map(", ".join),
        st.lists(_NODE, min_size=1, max_size=3).map(lambda n: ", ".join(f"for={a}" for a in n)),
        st.lists(_NODE, min_size=1, max_size=3).map(lambda n: ",".join(f'for="{a}"' for a in n)),
        st.text(max_size=30),
    ),
)


@settings(max_examples=2000)
@given(
    peer=st.one_of(st.none(), _NODE),
    headers=st.lists(_HEADER, max_size=3),
    which=st.integers(0, len(_PROXIES) - 1),
)
@example(peer="127.0.0.1", headers=[("X-Forwarded-For", "202.45.84.58")], which=0)
@example(peer="127.0.0.1", headers=[("X-Forwarded-For", "10.0.0.1, 10.0.0.2")], which=1)
@example(peer="::ffff:127.0.0.1", headers=[("Forwarded", 'for="[::1]:80"')], which=1)
def test_resolves_every_request_as_before(
    peer: str | None, headers: list[tuple[str, str]], which: int
) -> None:
    trusted = _PROXIES[which]
    for _ in range(2):  # the peer's decision is made, then kept
        assert resolve_client_address(peer, headers, trusted) == reference_resolve(
            peer, headers, trusted
        )


def test_keeps_the_decisions_of_a_bounded_number_of_peers() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    for n in range(3 * _PEER_MEMO):
        address = str(ipaddress.IPv4Address(0x0A000000 + n))
        assert trusted.peer(address) == (address, True)
        assert len(trusted._peers) <= _PEER_MEMO
    assert trusted.peer("not an address") is None
    assert trusted.peer(" 8.8.8.8 ") == ("8.8.8.8", False)
