"""Locator.snapshot: the recorded evidence of a location, built once per territory on the
fast path, always equal to Location.to_dict()."""

from __future__ import annotations

from lexloci.geo import Evidence, Locator


def test_snapshots_equal_to_dict_and_are_shared_per_territory_on_the_fast_path() -> None:
    locator = Locator()
    cn = locator.locate_ip("223.5.5.5")
    assert locator.locate(Evidence(client_ip="180.76.76.76")) is cn  # the shared Location
    first = locator.snapshot(cn)
    assert first == cn.to_dict()
    assert locator.snapshot(locator.locate_ip("180.76.76.76")) is first
    assert locator.snapshot(locator.locate_ip("5.9.0.1")) == locator.locate_ip("5.9.0.1").to_dict()


def test_other_locations_get_a_fresh_snapshot() -> None:
    locator = Locator()
    with_phone = locator.locate(Evidence(client_ip="223.5.5.5", phone="+85221234567"))
    assert locator.snapshot(with_phone) == with_phone.to_dict()
    assert locator.snapshot(with_phone) is not locator.snapshot(with_phone)
    private = locator.locate_ip("10.0.0.1")
    assert locator.snapshot(private) == private.to_dict()
