"""Geolocation sources: where an IP address is registered or used, and whether it anonymizes.

Ports:

- ``IpCountrySource``: ``lookup(ip) -> SourceAnswer | None`` for one normalized address and
  ``lookup_many(ips)`` for a batch. ``None`` means "this source has no answer".
- ``AnonymizerSource``: ``flags(ip) -> frozenset[Flag]``.

Adapters:

- ``IptoccSource`` — the embedded default: RIR delegation data compiled into the ``iptocc``
  wheel; IPv4 and IPv6; nothing to download. It tells where a block was *registered*.
- ``MmdbCountrySource`` — any MaxMind-format database (GeoIP2/GeoLite2 Country or City, DB-IP,
  IP2Location): country, and the first subdivision when the file has one.
- ``TorExitListSource`` — a file of Tor exit addresses (one per line, or the Tor Project's bulk
  ``ExitAddress`` format); flags ``tor``.
- ``MmdbAnonymizerSource`` — a GeoIP2 Anonymous-IP style database; flags from its ``is_*``
  booleans.

Source codes are normalized on the way in: a code that is not an ISO 3166-1 territory (``EU``,
``AP``, ``--``, withdrawn ``AN``) becomes "no territory" with the raw code kept; ``UK`` becomes
``GB`` and ``FX`` becomes ``FR``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Protocol

import iptocc
import pycountry

from lexloci.errors import ConfigurationError
from lexloci.geo.model import Flag, SourceAnswer

__all__ = [
    "AnonymizerSource",
    "IpCountrySource",
    "IptoccSource",
    "MmdbAnonymizerSource",
    "MmdbCountrySource",
    "TorExitListSource",
    "normalize_source_code",
    "territory_codes",
]

_ALIASES = {"UK": "GB", "FX": "FR"}


@cache
def territory_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries) | {"XK"}


def normalize_source_code(raw: str | None) -> str | None:
    """Map a source's country code to a territory code, or None when it is not one."""
    if not raw:
        return None
    code = raw.strip().upper()
    code = _ALIASES.get(code, code)
    return code if code in territory_codes() else None


class IpCountrySource(Protocol):
    name: str
    version: str

    def lookup(self, ip: str) -> SourceAnswer | None: ...

    def lookup_many(self, ips: Sequence[str]) -> list[SourceAnswer | None]: ...


class AnonymizerSource(Protocol):
    name: str
    version: str

    def flags(self, ip: str) -> frozenset[Flag]: ...


class IptoccSource:
    """RIR registration data embedded in the ``iptocc`` package."""

    name = "iptocc"

    def __init__(self) -> None:
        self.version = f"iptocc {package_version('iptocc')} (RIR delegation data)"
        self._answers: dict[str, SourceAnswer] = {}

    def answer_for(self, raw: str | None) -> SourceAnswer | None:
        if raw is None:
            return None
        cached = self._answers.get(raw)
        if cached is None:
            territory = normalize_source_code(raw)
            cached = SourceAnswer(
                self.name, self.version, territory, raw=None if territory == raw else raw
            )
            self._answers[raw] = cached
        return cached

    def lookup(self, ip: str) -> SourceAnswer | None:
        return self.answer_for(iptocc.country_code(ip))

    def lookup_many(self, ips: Sequence[str]) -> list[SourceAnswer | None]:
        return [self.answer_for(code) for code in iptocc.country_code(list(ips))]


def _open_mmdb(path: str | Path, what: str) -> Any:
    import maxminddb

    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{what}: no such file {str(file)!r}")
    try:
        return maxminddb.open_database(str(file), maxminddb.MODE_MMAP)
    except (maxminddb.InvalidDatabaseError, OSError, ValueError) as exc:
        raise ConfigurationError(f"{what}: {str(file)!r} is not a MaxMind DB file: {exc}") from None


def _mmdb_version(reader: Any, file: Path) -> str:
    meta = reader.metadata()
    built = dt.datetime.fromtimestamp(meta.build_epoch, dt.UTC).date().isoformat()
    return f"{meta.database_type} built {built} ({file.name})"


class MmdbCountrySource:
    """A MaxMind-format country or city database supplied by the operator."""

    def __init__(self, path: str | Path, name: str = "mmdb") -> None:
        self.name = name
        self._reader = _open_mmdb(path, "LEXLOCI_GEOIP_MMDB")
        self.version = _mmdb_version(self._reader, Path(path))

    def lookup(self, ip: str) -> SourceAnswer | None:
        try:
            record = self._reader.get(ip)
        except ValueError:
            return None
        if not isinstance(record, Mapping):
            return None
        raw = _country_code(record)
        if raw is None:
            return None
        territory = normalize_source_code(raw)
        subdivision = _subdivision_code(record, territory)
        return SourceAnswer(
            self.name,
            self.version,
            territory,
            subdivision=subdivision,
            raw=None if territory == raw else raw,
        )

    def lookup_many(self, ips: Sequence[str]) -> list[SourceAnswer | None]:
        return [self.lookup(ip) for ip in ips]


def _country_code(record: Mapping[str, Any]) -> str | None:
    country = record.get("country")
    if isinstance(country, Mapping):
        code = country.get("iso_code")
        return code if isinstance(code, str) else None
    if isinstance(country, str):
        return country
    for key in ("country_code", "country_iso_code", "iso_code"):
        value = record.get(key)
        if isinstance(value, str):
            return value
    return None


def _subdivision_code(record: Mapping[str, Any], territory: str | None) -> str | None:
    subdivisions = record.get("subdivisions")
    if territory is None or not isinstance(subdivisions, list) or not subdivisions:
        return None
    first = subdivisions[0]
    if not isinstance(first, Mapping) or not isinstance(first.get("iso_code"), str):
        return None
    code = f"{territory}-{first['iso_code'].upper()}"
    return code if pycountry.subdivisions.get(code=code) is not None else None  # type: ignore[no-untyped-call]  # pycountry is unannotated


class TorExitListSource:
    """Tor exit addresses from a file: one address a line, or ``ExitAddress IP date time``."""

    name = "tor-exit-list"

    def __init__(self, path: str | Path) -> None:
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ConfigurationError(
                f"LEXLOCI_TOR_EXIT_LIST: cannot read {str(file)!r}: {exc.strerror}"
            ) from None
        exits: set[str] = set()
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "ExitAddress" and len(fields) >= 2:
                candidate = fields[1]
            elif len(fields) == 1:
                candidate = fields[0]
            else:
                continue  # other lines of the bulk format (ExitNode, Published, LastStatus)
            try:
                exits.add(str(ipaddress.ip_address(candidate)))
            except ValueError:
                raise ConfigurationError(
                    f"LEXLOCI_TOR_EXIT_LIST: {file}:{number}: not an IP address: {candidate!r}"
                ) from None
        self._exits = frozenset(exits)
        modified = dt.datetime.fromtimestamp(file.stat().st_mtime, dt.UTC)
        self.version = f"{len(exits)} exits, file of {modified:%Y-%m-%d %H:%M}Z ({file.name})"

    def flags(self, ip: str) -> frozenset[Flag]:
        return frozenset({Flag.TOR}) if ip in self._exits else frozenset()


_ANONYMOUS_KEYS: dict[str, Flag] = {
    "is_tor_exit_node": Flag.TOR,
    "is_anonymous_vpn": Flag.VPN,
    "is_public_proxy": Flag.PROXY,
    "is_residential_proxy": Flag.PROXY,
    "is_hosting_provider": Flag.HOSTING,
}


class MmdbAnonymizerSource:
    """A GeoIP2 Anonymous-IP style database (``is_tor_exit_node``, ``is_anonymous_vpn``...)."""

    def __init__(self, path: str | Path, name: str = "anonymizer-mmdb") -> None:
        self.name = name
        self._reader = _open_mmdb(path, "LEXLOCI_ANONYMIZER_MMDB")
        self.version = _mmdb_version(self._reader, Path(path))

    def flags(self, ip: str) -> frozenset[Flag]:
        try:
            record = self._reader.get(ip)
        except ValueError:
            return frozenset()
        if not isinstance(record, Mapping):
            return frozenset()
        return frozenset(flag for key, flag in _ANONYMOUS_KEYS.items() if record.get(key) is True)
