"""Reporting periods: named half-years, quarters and years, and whole-day ranges."""

from __future__ import annotations

import datetime as dt

import pytest

from lexloci.errors import InvalidInput
from lexloci.transparency import (
    Period,
    current_half_year,
    parse_period,
    period_between,
    resolve_period,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026-H1", "2026-H1", utc(2026, 1, 1), utc(2026, 7, 1)),
        ("2026-h2", "2026-H2", utc(2026, 7, 1), utc(2027, 1, 1)),
        (" 2026-Q3 ", "2026-Q3", utc(2026, 7, 1), utc(2026, 10, 1)),
        ("2026-Q4", "2026-Q4", utc(2026, 10, 1), utc(2027, 1, 1)),
        ("2026", "2026", utc(2026, 1, 1), utc(2027, 1, 1)),
    ],
)
def test_named_periods_are_half_open_utc_intervals(
    text: str, label: str, start: dt.datetime, end: dt.datetime
) -> None:
    period = parse_period(text)
    assert (period.label, period.start, period.end) == (label, start, end)
    assert period.contains(start)
    assert not period.contains(end)
    assert period.contains(end - dt.timedelta(microseconds=1))


@pytest.mark.parametrize(
    "text", ["2026-H3", "2026-H0", "2026-Q5", "26-H1", "2026H1", "H2-2026", "", "1969-H1", "x"]
)
def test_malformed_named_periods_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="period"):
        parse_period(text)


def test_a_date_range_includes_both_of_its_days() -> None:
    period = period_between("2026-07-01", "2026-12-31")
    assert period.label == "2026-07-01..2026-12-31"
    assert (period.start, period.end) == (
        parse_period("2026-H2").start,
        parse_period("2026-H2").end,
    )
    assert (period.first_day, period.last_day) == (dt.date(2026, 7, 1), dt.date(2026, 12, 31))
    one_day = period_between("2026-07-01", "2026-07-01")
    assert one_day.end - one_day.start == dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-07-02", "2026-07-01", "before it starts"),
        ("2026-7-1", "2026-07-31", "not a date"),
        ("20260701", "2026-07-31", "not a date"),
        ("2026-07-01", "tomorrow", "not a date"),
        ("2026-02-30", "2026-03-01", "not a date"),
    ],
)
def test_malformed_date_ranges_are_invalid_input(first: str, last: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        period_between(first, last)


def test_the_default_period_is_the_current_half_year() -> None:
    assert current_half_year(utc(2026, 6, 30, 23, 59)).label == "2026-H1"
    assert current_half_year(utc(2026, 7, 1)).label == "2026-H2"
    assert resolve_period(None, None, None, utc(2026, 11, 27)).label == "2026-H2"


def test_a_period_and_a_date_range_cannot_both_be_given() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        resolve_period("2026-H2", "2026-07-01", None, utc(2026, 11, 27))
    with pytest.raises(InvalidInput, match="both from and to"):
        resolve_period(None, "2026-07-01", None, utc(2026, 11, 27))
    assert resolve_period(None, "2026-07-01", "2026-07-31", utc(2026, 11, 27)).label == (
        "2026-07-01..2026-07-31"
    )


def test_a_stated_label_must_name_the_stated_bounds() -> None:
    h2 = parse_period("2026-H2")
    assert Period.from_label_and_bounds("2026-H2", h2.start, h2.end) == h2
    ranged = period_between("2026-07-01", "2026-12-31")
    assert Period.from_label_and_bounds(ranged.label, h2.start, h2.end) == ranged
    with pytest.raises(InvalidInput, match="not the stated bounds"):
        Period.from_label_and_bounds("2026-H1", h2.start, h2.end)
