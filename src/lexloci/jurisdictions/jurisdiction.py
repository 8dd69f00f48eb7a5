"""Jurisdictions: sets of territories, named groups, and containment.

A ``Jurisdiction`` is an immutable set of normalized territory codes. Named groups (``EU`` and
any group from configuration) are expanded when a jurisdiction is parsed, and the names used are
kept for display. Containment is tri-state on purpose (``Containment``):

- a location in territory ``T`` is INSIDE J when ``T`` is in J, or when its subdivision is;
- a location known only at country level, when J names only some subdivisions of that country,
  is UNCERTAIN: lexloci never guesses that it is inside;
- everything else is OUTSIDE.

``Jurisdiction.covers(other)`` says whether every territory of ``other`` lies inside this one; it
is what the scope guard uses to keep a restriction inside its authority's jurisdiction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lexloci.errors import InvalidTerritory
from lexloci.jurisdictions.territories import country_of, is_subdivision, normalize_territory

__all__ = ["EU_MEMBERS", "Containment", "GroupRegistry", "Jurisdiction"]

EU_MEMBERS: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip


class Containment(enum.Enum):
    INSIDE = "inside"
    OUTSIDE = "outside"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A set of territories. Build it with ``GroupRegistry.parse`` or ``Jurisdiction.of``."""

    territories: frozenset[str]
    groups: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.territories:
            raise InvalidTerritory("a jurisdiction needs at least one territory")

    @classmethod
    def of(cls, *codes: str) -> Jurisdiction:
        """A jurisdiction of explicit territory codes (no groups)."""
        return cls(frozenset(normalize_territory(c) for c in codes))

    def contains(self, territory: str | None, subdivision: str | None = None) -> Containment:
        """Where a location (country code and optional subdivision) lies relative to this set."""
        if territory is None:
            return Containment.UNCERTAIN
        if territory in self.territories:
            return Containment.INSIDE
        if subdivision is not None and subdivision in self.territories:
            return Containment.INSIDE
        if subdivision is None and any(
            is_subdivision(t) and country_of(t) == territory for t in self.territories
        ):
            return Containment.UNCERTAIN
        return Containment.OUTSIDE

    def covers(self, other: Jurisdiction) -> bool:
        """True when every territory of ``other`` lies inside this jurisdiction."""
        return all(self._covers_one(t) for t in other.territories)

    def _covers_one(self, territory: str) -> bool:
        if territory in self.territories:
            return True
        return is_subdivision(territory) and country_of(territory) in self.territories

    def outside_of(self, other: Jurisdiction) -> frozenset[str]:
        """The territories of ``other`` that this jurisdiction does not cover."""
        return frozenset(t for t in other.territories if not self._covers_one(t))

    def codes(self) -> list[str]:
        return sorted(self.territories)

    def __str__(self) -> str:
        return ",".join(self.codes())


class GroupRegistry:
    """Named groups of territories: the built-in ``EU`` plus groups from configuration."""

    BUILTIN: Mapping[str, frozenset[str]] = {"EU": EU_MEMBERS}

    def __init__(self, extra: Mapping[str, Iterable[str]] | None = None) -> None:
        groups: dict[str, frozenset[str]] = dict(self.BUILTIN)
        for raw_name, members in (extra or {}).items():
            name = raw_name.strip().upper()
            if not name or not name.replace("_", "").isalnum():
                raise InvalidTerritory(f"invalid group name {raw_name!r}: use letters, digits, _")
            if len(name) == 2 and name not in groups:
                try:
                    normalize_territory(name)
                except InvalidTerritory:
                    pass
                else:
                    raise InvalidTerritory(
                        f"group name {name!r} is a territory code; pick another name"
                    )
            normalized = frozenset(normalize_territory(m) for m in members)
            if not normalized:
                raise InvalidTerritory(f"group {name!r} has no members")
            groups[name] = normalized
        self._groups = groups

    def names(self) -> list[str]:
        return sorted(self._groups)

    def members(self, name: str) -> frozenset[str]:
        return self._groups[name.strip().upper()]

    def is_group(self, name: str) -> bool:
        return name.strip().upper() in self._groups

    def parse(self, codes: Iterable[str] | str) -> Jurisdiction:
        """Parse territory codes and group names (a list, or one comma-separated string)."""
        items = codes.split(",") if isinstance(codes, str) else list(codes)
        territories: set[str] = set()
        used: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidTerritory(f"a territory code must be a string, not {item!r}")
            key = item.strip().upper()
            if key in self._groups:
                territories |= self._groups[key]
                used.append(key)
            else:
                territories.add(normalize_territory(item))
        if not territories:
            raise InvalidTerritory("a jurisdiction needs at least one territory")
        return Jurisdiction(frozenset(territories), tuple(used))
