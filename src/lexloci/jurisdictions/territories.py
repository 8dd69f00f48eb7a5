"""Territory codes: ISO 3166-1 alpha-2 countries and ISO 3166-2 subdivisions.

Invariants:

- A territory is an upper-case ISO 3166-1 alpha-2 code from ``pycountry`` (``CN``) or an ISO
  3166-2 subdivision code (``UA-43``). ``XK`` (Kosovo, user-assigned but used by every
  geolocation source) is accepted too.
- CN, HK, MO and TW are four distinct territories. ISO 3166-2 also lists ``CN-HK``, ``CN-MO``
  and ``CN-TW`` as subdivisions of CN; lexloci rejects those codes with a hint to use the
  territory's own code, so that no restriction on CN can reach HK, MO or TW by accident.
- Every rejection says why and, where one exists, what was probably meant (``UK`` -> ``GB``).
"""

from __future__ import annotations

import difflib
from functools import cache

import pycountry

from lexloci.errors import InvalidTerritory

__all__ = [
    "country_of",
    "is_subdivision",
    "normalize_territory",
    "territory_name",
]

# Codes people (and some data sources) use that are not the ISO 3166-1 code of the territory.
_HINTS: dict[str, str] = {
    "UK": "GB",  # the United Kingdom's ISO code is GB
    "EL": "GR",  # the EU's code for Greece
    "FX": "FR",  # "metropolitan France", withdrawn from ISO 3166-1
}

# Not ISO 3166-1, but assigned in practice by every geolocation database.
_USER_ASSIGNED: dict[str, str] = {"XK": "Kosovo"}

# ISO 3166-2 lists these as subdivisions of CN; lexloci treats each as a territory of its own.
_SEPARATE_TERRITORIES: dict[str, str] = {"CN-HK": "HK", "CN-MO": "MO", "CN-TW": "TW"}


@cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries) | frozenset(_USER_ASSIGNED)


@cache
def _subdivisions() -> frozenset[str]:
    return frozenset(s.code for s in pycountry.subdivisions) - frozenset(_SEPARATE_TERRITORIES)


def normalize_territory(code: str) -> str:
    """Return the canonical form of a territory code, or raise InvalidTerritory saying why."""
    if not isinstance(code, str):
        raise InvalidTerritory(f"a territory code must be a string, not {type(code).__name__}")
    candidate = code.strip().upper()
    if not candidate:
        raise InvalidTerritory("empty territory code")
    if candidate in _SEPARATE_TERRITORIES:
        own = _SEPARATE_TERRITORIES[candidate]
        raise InvalidTerritory(
            f"{candidate} is listed by ISO 3166-2 under CN, but lexloci treats {own} as a "
            f"territory of its own: use {own}",
            value=code,
            hint=own,
        )
    if "-" in candidate:
        if candidate in _subdivisions():
            return candidate
        country = candidate.split("-", 1)[0]
        if country not in _countries():
            raise InvalidTerritory(
                f"{candidate!r} is not an ISO 3166-2 subdivision: "
                f"{country!r} is not a country code",
                value=code,
            )
        raise InvalidTerritory(
            f"{candidate!r} is not an ISO 3166-2 subdivision of {country}", value=code
        )
    if candidate in _countries():
        return candidate
    if candidate in _HINTS:
        hint = _HINTS[candidate]
        raise InvalidTerritory(
            f"{candidate!r} is not an ISO 3166-1 alpha-2 code; did you mean {hint}?",
            value=code,
            hint=hint,
        )
    close = difflib.get_close_matches(candidate, sorted(_countries()), n=1)
    suffix = f"; did you mean {close[0]}?" if close and len(candidate) == 2 else ""
    raise InvalidTerritory(
        f"{candidate!r} is not an ISO 3166-1 alpha-2 country code or ISO 3166-2 "
        f"subdivision{suffix}",
        value=code,
    )


def is_subdivision(territory: str) -> bool:
    return "-" in territory


def country_of(territory: str) -> str:
    """The ISO 3166-1 code a (normalized) territory belongs to: ``UA-43`` -> ``UA``."""
    return territory.split("-", 1)[0]


@cache
def territory_name(territory: str) -> str:
    """A human-readable English name, for notices and reports."""
    if territory in _USER_ASSIGNED:
        return _USER_ASSIGNED[territory]
    if is_subdivision(territory):
        sub = pycountry.subdivisions.get(code=territory)  # type: ignore[no-untyped-call]  # pycountry is unannotated
        return str(sub.name) if sub is not None else territory
    country = pycountry.countries.get(alpha_2=territory)
    if country is None:
        return territory
    return str(getattr(country, "common_name", None) or country.name)
