"""Which address is the participant's? Forwarding headers are believed only from trusted proxies.

``resolve_client_address(peer, headers, trusted)`` works like nginx's ``real_ip_recursive on``:

1. If the TCP peer is not inside a trusted-proxy CIDR, the peer *is* the client; forwarding
   headers are ignored, whatever they say.
2. Otherwise the forwarding chain is read: ``Forwarded`` (RFC 7239, its ``for=`` parameters)
   when any such header is present, else ``X-Forwarded-For``. Several header lines are joined in
   order. No header at all: the trusted peer itself is the client.
3. The chain is walked from the right; the first address outside the trusted CIDRs is the
   client. If every address is trusted, the leftmost one is the client.
4. Anything the walk cannot read with confidence before it stops — a malformed header, an
   ``unknown`` or obfuscated (``_hidden``) node, a non-address — makes the client address
   unknown, with the reason. It never raises.

Ports (``1.2.3.4:5678``, ``"[2001:db8::1]:443"``) are dropped; IPv4-mapped IPv6 addresses are
compared and returned as IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lexloci.errors import InvalidAddress
from lexloci.frozen import direct_init
from lexloci.geo.addresses import IPAddress, canonical_ipv4_value, parse_ip_text

__all__ = ["ClientAddress", "TrustedProxies", "resolve_client_address"]

_MAX_CHAIN = 64
_MAX_HEADER = 8192
#: Connection peers whose trust decision ``TrustedProxies.peer`` keeps (then it starts over).
_PEER_MEMO = 256


class TrustedProxies:
    """A set of CIDR ranges whose forwarding headers are believed.

    Membership is asked for every join (the peer, then the chain from the right), so each
    range is also kept as its first and last address as integers, per IP version: the same
    answer as ``address in network`` (which compares versions, then the masked integer).
    The decision for a connection peer is also kept, per peer string (``peer``): behind a
    proxy, every request comes from one of a few peers. Clients reaching the node directly
    are many; the memo never holds more than ``_PEER_MEMO`` of them."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except (ValueError, AttributeError):
                raise InvalidAddress(
                    f"not a CIDR range for --trust-proxy: {cidr!r} (e.g. 127.0.0.1/32, 10.0.0.0/8)",
                    value=str(cidr),
                ) from None
        self.networks = tuple(networks)
        self._peers: dict[str, tuple[str, bool]] = {}
        self._ranges: dict[int, tuple[tuple[int, int], ...]] = {
            version: tuple(
                (int(n.network_address), int(n.broadcast_address))
                for n in self.networks
                if n.version == version
            )
            for version in (4, 6)
        }

    def __contains__(self, address: IPAddress) -> bool:
        value = int(address)
        for first, last in self._ranges[address.version]:  # noqa: SIM110 - any() costs 5x here
            if first <= value <= last:
                return True
        return False

    def holds_ipv4(self, value: int) -> bool:
        """``IPv4Address(value) in self``, for an IPv4 address given as its integer."""
        for first, last in self._ranges[4]:  # noqa: SIM110 - any() costs 5x here
            if first <= value <= last:
                return True
        return False

    def peer(self, raw: str) -> tuple[str, bool] | None:
        """A connection peer's address text (``str()`` of ``parse_ip(raw)``) and whether it is
        trusted; None if ``raw`` is not an address."""
        held = self._peers.get(raw) if type(raw) is str else None
        if held is None:
            try:
                address, text = parse_ip_text(raw)
            except InvalidAddress:
                return None
            held = (text, address in self)
            if type(raw) is str:
                if len(self._peers) >= _PEER_MEMO:
                    self._peers.clear()
                self._peers[raw] = held
        return held

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r})"


@direct_init
@dataclass(frozen=True, slots=True)
class ClientAddress:
    """The resolved client address (None when unknown), how it was found, and why if unknown."""

    address: str | None
    via: str  # "peer", "forwarded", "x-forwarded-for" or "none"
    reason: str | None = None


class _Unreadable(Exception):
    pass


def resolve_client_address(
    peer: str | None,
    headers: Sequence[tuple[str, str]],
    trusted: TrustedProxies,
) -> ClientAddress:
    found = trusted.peer(peer) if peer else None
    if found is None:
        return ClientAddress(None, "none", f"the connection's peer address is unknown ({peer!r})")
    peer_text, peer_trusted = found
    if not peer_trusted:
        return ClientAddress(peer_text, "peer")

    forwarded: list[str] = []
    xff: list[str] = []
    for key, value in headers:
        name = key.lower()
        if name == "forwarded":
            forwarded.append(value)
        elif name == "x-forwarded-for":
            xff.append(value)
    via = "forwarded" if forwarded else "x-forwarded-for" if xff else "peer"
    if via == "peer":
        return ClientAddress(peer_text, "peer")
    try:
        raw = ", ".join(forwarded or xff)
        if len(raw) > _MAX_HEADER:
            raise _Unreadable(f"{via} header longer than {_MAX_HEADER} characters")
        chain = _forwarded_chain(raw) if forwarded else _xff_chain(raw)
        if len(chain) > _MAX_CHAIN:
            raise _Unreadable(f"{via} chain longer than {_MAX_CHAIN} hops")
        return ClientAddress(_client_of(chain, trusted), via)
    except _Unreadable as exc:
        return ClientAddress(None, via, f"unreadable {via} header: {exc}")


def _client_of(chain: list[str], trusted: TrustedProxies) -> str:
    """Steps 3 and 4: the text of the first node from the right outside the trusted ranges,
    else of the leftmost one. Raises ``_Unreadable`` for a node it reaches and cannot read."""
    for entry in reversed(chain):
        # A canonical IPv4 node (what proxies write) is its own text and only compared with
        # the trusted ranges: ``_address`` would give it back as it is.
        value = canonical_ipv4_value(entry)
        if value is not None:
            if not trusted.holds_ipv4(value):
                return entry
            continue
        address, text = _address(entry)
        if address not in trusted:
            return text
    return _address(chain[0])[1]


def _address(entry: str) -> tuple[IPAddress, str]:
    """One chain node: an address with an optional port, in brackets for IPv6; and its text."""
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
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return parse_ip_text(text)
    except InvalidAddress:
        raise _Unreadable(f"not an address: {entry.strip()!r}") from None


def _xff_chain(raw: str) -> list[str]:
    chain = [part.strip() for part in raw.split(",")]
    if any(not part for part in chain):
        raise _Unreadable("empty element")
    return chain


def _forwarded_chain(raw: str) -> list[str]:
    """The ``for=`` value of every element of RFC 7239 Forwarded headers, in order."""
    chain: list[str] = []
    for element in _split_outside_quotes(raw, ","):
        node: str | None = None
        for pair in _split_outside_quotes(element, ";"):
            if not pair.strip():
                continue
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise _Unreadable(f"malformed parameter {pair.strip()!r}")
            value = value.strip()
            if value.startswith('"'):
                if len(value) < 2 or not value.endswith('"'):
                    raise _Unreadable(f"unterminated quoted string {value!r}")
                value = value[1:-1].replace('\\"', '"')
            if name.strip().lower() == "for":
                if node is not None:
                    raise _Unreadable("two for= parameters in one element")
                node = value
        if node is None:
            raise _Unreadable(f"element without for=: {element.strip()!r}")
        chain.append(node)
    return chain


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise _Unreadable("unbalanced quotes")
    parts.append("".join(current))
    return parts
