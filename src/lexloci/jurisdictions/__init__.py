"""Territories, named groups and containment. Pure: imports only the standard library and
pycountry's data."""

from lexloci.jurisdictions.jurisdiction import (
    EU_MEMBERS,
    Containment,
    GroupRegistry,
    Jurisdiction,
)
from lexloci.jurisdictions.territories import (
    country_of,
    is_subdivision,
    normalize_territory,
    territory_name,
)

__all__ = [
    "EU_MEMBERS",
    "Containment",
    "GroupRegistry",
    "Jurisdiction",
    "country_of",
    "is_subdivision",
    "normalize_territory",
    "territory_name",
]
