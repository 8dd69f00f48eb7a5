"""IP address parsing and classification, before any database is asked.

- Surrounding white space and ``[...]`` brackets are removed; IPv6 zone ids are dropped.
- An IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is located as its IPv4 address: databases
  answer nothing for the mapped form.
- Non-global addresses (private, loopback, link-local, CGNAT shared space, documentation,
  multicast, reserved, unspecified) are not located at all: they resolve to unknown with the
  kind of address as the reason, because no database can say where such an address is.
- Anything that is not an IP address raises ``InvalidAddress`` with the offending value.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right

from lexloci.errors import InvalidAddress

__all__ = ["IPAddress", "ipv4_non_global_kind", "non_global_kind", "parse_ip"]

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
    if not isinstance(raw, str):
        raise InvalidAddress(f"an IP address must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if len(text) > _MAX_LEN:
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
