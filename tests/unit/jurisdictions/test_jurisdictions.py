from __future__ import annotations

import pytest

from lexloci.errors import InvalidTerritory
from lexloci.jurisdictions import (
    EU_MEMBERS,
    Containment,
    GroupRegistry,
    Jurisdiction,
    normalize_territory,
    territory_name,
)


@pytest.mark.parametrize(
    "code", ["CN", "HK", "MO", "TW", "US", "DE", "GB", "XK", "UA-43", "cn", " tw "]
)
def test_accepts_iso_codes(code: str) -> None:
    assert normalize_territory(code) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "hint"),
    [("UK", "GB"), ("EL", "GR"), ("CN-HK", "HK"), ("CN-MO", "MO"), ("CN-TW", "TW")],
)
def test_rejects_lookalike_codes_with_a_hint(code: str, hint: str) -> None:
    with pytest.raises(InvalidTerritory) as info:
        normalize_territory(code)
    assert info.value.details["hint"] == hint
    assert hint in info.value.message


@pytest.mark.parametrize("code", ["", "ZZ", "CHN", "UA-999", "QQ-01", "12", "C"])
def test_rejects_unknown_codes_clearly(code: str) -> None:
    with pytest.raises(InvalidTerritory) as info:
        normalize_territory(code)
    assert info.value.code == "invalid_territory"
    assert info.value.message


def test_cn_hk_mo_tw_are_four_distinct_territories() -> None:
    cn = Jurisdiction.of("CN")
    assert cn.contains("CN") is Containment.INSIDE
    for other in ("HK", "MO", "TW"):
        assert cn.contains(other) is Containment.OUTSIDE
        assert Jurisdiction.of(other).contains("CN") is Containment.OUTSIDE


def test_country_jurisdiction_contains_its_subdivisions() -> None:
    assert Jurisdiction.of("UA").contains("UA", "UA-43") is Containment.INSIDE
    assert Jurisdiction.of("UA").covers(Jurisdiction.of("UA-43"))
    assert not Jurisdiction.of("UA-43").covers(Jurisdiction.of("UA"))


def test_subdivision_jurisdiction_is_uncertain_without_a_subdivision() -> None:
    crimea = Jurisdiction.of("UA-43")
    assert crimea.contains("UA", "UA-43") is Containment.INSIDE
    assert crimea.contains("UA", "UA-30") is Containment.OUTSIDE
    assert crimea.contains("UA") is Containment.UNCERTAIN
    assert crimea.contains("RU") is Containment.OUTSIDE
    assert crimea.contains(None) is Containment.UNCERTAIN


def test_eu_group_expands_to_its_members() -> None:
    eu = GroupRegistry().parse(["EU"])
    assert eu.territories == EU_MEMBERS
    assert eu.groups == ("EU",)
    assert eu.contains("DE") is Containment.INSIDE
    assert eu.contains("GB") is Containment.OUTSIDE
    assert len(EU_MEMBERS) == 27


def test_configured_groups_and_comma_separated_strings() -> None:
    registry = GroupRegistry({"greater_bay": ["CN-GD", "HK", "MO"]})
    j = registry.parse("GREATER_BAY, TW")
    assert j.territories == {"CN-GD", "HK", "MO", "TW"}
    assert j.contains("CN", "CN-GD") is Containment.INSIDE
    assert j.contains("CN", "CN-BJ") is Containment.OUTSIDE


def test_group_definitions_are_validated() -> None:
    with pytest.raises(InvalidTerritory, match="did you mean GB"):
        GroupRegistry({"ISLES": ["UK", "IE"]})
    with pytest.raises(InvalidTerritory, match="territory code"):
        GroupRegistry({"DE": ["FR"]})
    with pytest.raises(InvalidTerritory, match="no members"):
        GroupRegistry({"EMPTY": []})


def test_covers_names_what_lies_outside() -> None:
    cn = Jurisdiction.of("CN")
    wider = Jurisdiction.of("CN", "HK")
    assert cn.covers(Jurisdiction.of("CN"))
    assert not cn.covers(wider)
    assert cn.outside_of(wider) == {"HK"}


def test_territory_names_are_human_readable() -> None:
    assert territory_name("TW") == "Taiwan"
    assert territory_name("HK") == "Hong Kong"
    assert territory_name("XK") == "Kosovo"
    assert "Krym" in territory_name("UA-43")
