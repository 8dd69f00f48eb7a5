"""IP address parsing and classification, before any database is asked.

- Surrounding white space and ``[...]`` brackets are removed; IPv6 zone ids are dropped.
- An IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is located as its IPv4 address: databases
  answer nothing for the mapped form.
- Non-global addresses (private, loopback, link-local, CGNAT shared space, documentation,
  multicast, reserved, unspecified) are not located at all: they resolve to unknown with the
  kind of address as the reason, because no database can say where such an address is.
- Anything that is not an IP address raises ``InvalidAddress`` with the offending value.

``parse_ip`` sits on every join's path (twice: the trusted proxy and the forwarded client), so
an IPv4 address written in canonical dotted-quad form is read by the C library instead of
``ipaddress``'s pure-Python parser. That fast path only ever *accepts*: whatever it does not
take (IPv6, anything unusual, anything invalid) goes through ``ipaddress.ip_address`` as
before, so results and errors are the same for every input.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from socket import AF_INET, inet_ntoa, inet_pton

from lexloci.errors import InvalidAddress

__all__ = [
    "IPAddress",
    "canonical_ipv4_value",
    "ipv4_non_global_kind",
    "non_global_kind",
    "parse_ip",
    "parse_ip_text",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DOCUMENTATION = (
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
    ipaddress.ip_network("2001:db8::/32"),
    ipaddress.ip_network("3fff::/20"),
)
_MAX_LEN = 64


def parse_ip(raw: str) -> IPAddress:
    """Parse one address, normalizing IPv4-mapped IPv6 to IPv4. Raise InvalidAddress."""
    text = _unwrapped(raw)
    packed = _canonical_ipv4(text)
    if packed is not None:
        return ipaddress.IPv4Address(packed)
    return _parse_unwrapped(text, raw)


def parse_ip_text(raw: str) -> tuple[IPAddress, str]:
    """``parse_ip(raw)`` and the address's text, ``str()`` of it.

    When the input already was that text (a canonical IPv4 address, as forwarding headers
    carry), it is returned as it is instead of being written again."""
    text = _unwrapped(raw)
    packed = _canonical_ipv4(text)
    if packed is not None:
        return ipaddress.IPv4Address(packed), text
    address = _parse_unwrapped(text, raw)
    return address, str(address)


def canonical_ipv4_value(text: str) -> int | None:
    """``int(parse_ip(text))`` if ``text`` is an IPv4 address in canonical form (then
    ``parse_ip_text(text)`` is that address and ``text`` itself), else None.

    For callers that only compare the address with ranges, on every join's path: no
    ``IPv4Address`` is made."""
    packed = _canonical_ipv4(text)
    return None if packed is None else int.from_bytes(packed, "big")


def _unwrapped(raw: str) -> str:
    """The address part of ``raw``: no surrounding white space, brackets or zone id."""
    if not isinstance(raw, str):
        raise InvalidAddress(f"an IP address must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if len(text) > _MAX_LEN:
        raise InvalidAddress(f"not an IP address (too long: {len(text)} characters)")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        text = text.split("%", 1)[0]
    return text


def _parse_unwrapped(text: str, raw: str) -> IPAddress:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidAddress(f"not an IP address: {raw!r}", value=raw) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical_ipv4(text: str) -> bytes | None:
    """The four bytes of ``text`` if it is an IPv4 address in canonical form, else None.

    Canonical is what ``str(IPv4Address)`` writes: four decimal octets, no leading zeros, no
    white space. ``inet_pton`` is strict for dotted quads on glibc and the BSDs, and the
    round trip through ``inet_ntoa`` makes the check independent of any C library's
    leniency: text that writes back as itself is text ``ipaddress`` reads as the same address.
    """
    try:
        packed = inet_pton(AF_INET, text)
    except (OSError, ValueError):  # ValueError: a NUL character, or unencodable (surrogates)
        return None
    return packed if inet_ntoa(packed) == text else None


# IPv4 space that no geolocation database can place, as sorted (first, last, kind) intervals,
# so classifying an IPv4 address is one bisect on an integer (it sits on every join's path).
_V4_NON_GLOBAL: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "reserved"),  # "this network"; 0.0.0.0 itself is "unspecified"
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V4_STARTS: list[int] = []
_V4_ENDS: list[int] = []
_V4_KINDS: list[str] = []
for _cidr, _kind in _V4_NON_GLOBAL:
    _net = ipaddress.IPv4Network(_cidr)
    _V4_STARTS.append(int(_net.network_address))
    _V4_ENDS.append(int(_net.broadcast_address))
    _V4_KINDS.append(_kind)


def ipv4_non_global_kind(value: int) -> str | None:
    """The kind of a non-global IPv4 address given as an integer, or None if it is global."""
    if value == 0:
        return "unspecified"
    i = bisect_right(_V4_STARTS, value) - 1
    if i >= 0 and value <= _V4_ENDS[i]:
        return _V4_KINDS[i]
    return None


def non_global_kind(address: IPAddress) -> str | None:  # noqa: PLR0911 - one return per kind
    """Name the kind of a non-global address, or None for a global (locatable) one."""
    if isinstance(address, ipaddress.IPv4Address):
        return ipv4_non_global_kind(int(address))
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in net for net in _DOCUMENTATION if net.version == address.version):
        return "documentation"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None
