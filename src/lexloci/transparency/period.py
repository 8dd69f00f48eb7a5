"""Reporting periods: half-years by default, quarters, years, or any range of whole days.

Invariants:

- a period is a half-open interval of UTC instants, ``start <= t < end``, with ``start < end``;
  both bounds are midnight UTC, so a period is always a whole number of days;
- ``YYYY-H1`` is 1 January to 30 June, ``YYYY-H2`` 1 July to 31 December, ``YYYY-Qn`` a calendar
  quarter, ``YYYY`` the calendar year; a custom range names its first and last day, both
  included (``from 2026-07-01 to 2026-12-31`` is exactly ``2026-H2`` with another label);
- the label says which form was used and is checked against the bounds when a report is
  verified (``Period.from_label_and_bounds``), so a report cannot claim ``2026-H2`` for a
  different interval;
- every malformed period is an ``InvalidInput`` naming the accepted forms (HTTP 422, CLI exit 2).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from lexloci.audit.encoding import format_timestamp
from lexloci.errors import InvalidInput

__all__ = ["Period", "current_half_year", "parse_period", "period_between", "resolve_period"]

_NAMED = re.compile(r"(?P<year>\d{4})(?:-(?P<part>[HQ])(?P<n>\d))?\Z", re.IGNORECASE)
_FORMS: Final = "YYYY-H1, YYYY-H2, YYYY-Q1..YYYY-Q4 or YYYY (e.g. 2026-H2)"
MIN_YEAR: Final = 1970
MAX_YEAR: Final = 9998  # the end of 9999-H2 would be in year 10000, which datetime cannot hold


@dataclass(frozen=True, slots=True)
class Period:
    """``start <= t < end`` in UTC; ``label`` is ``2026-H2`` or ``2026-07-01..2026-12-31``."""

    label: str
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound.tzinfo is None or bound.utcoffset() != dt.timedelta(0):
                raise ValueError("period bounds are UTC datetimes")
        if not self.start < self.end:
            raise ValueError("a period ends after it starts")

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        """The last day inside the period (``end`` itself is outside)."""
        return (self.end - dt.timedelta(microseconds=1)).date()

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end

    def to_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "start": format_timestamp(self.start),
            "end": format_timestamp(self.end),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }

    @classmethod
    def from_label_and_bounds(cls, label: str, start: dt.datetime, end: dt.datetime) -> Period:
        """The period a report states, checked: the label must name exactly these bounds."""
        expected = parse_period(label) if ".." not in label else _parse_range_label(label)
        if (expected.start, expected.end) != (start, end):
            raise InvalidInput(
                f"the period label {label!r} means {format_timestamp(expected.start)} to "
                f"{format_timestamp(expected.end)}, not the stated bounds"
            )
        return expected


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"period {text!r}: the year must be from {MIN_YEAR} to {MAX_YEAR}")


def parse_period(text: str) -> Period:
    """``2026-H2``, ``2026-Q3`` or ``2026`` (case-insensitive) as a ``Period``."""
    cleaned = text.strip()
    match = _NAMED.match(cleaned)
    if match is None:
        raise InvalidInput(f"unknown period {text!r}; use {_FORMS}, or a from/to date range")
    year = int(match["year"])
    _check_year(year, text)
    part, n = (match["part"] or "").upper(), int(match["n"] or 0)
    if not part:
        return Period(str(year), _midnight(dt.date(year, 1, 1)), _midnight(dt.date(year + 1, 1, 1)))
    months = {"H": 6, "Q": 3}[part]
    if not 1 <= n <= 12 // months:
        raise InvalidInput(f"unknown period {text!r}; use {_FORMS}")
    first_month = (n - 1) * months + 1
    start = dt.date(year, first_month, 1)
    after = first_month + months
    end = dt.date(year + 1, 1, 1) if after > 12 else dt.date(year, after, 1)
    return Period(f"{year}-{part}{n}", _midnight(start), _midnight(end))


def _parse_day(text: str, what: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None
    if len(text.strip()) != 10:  # fromisoformat also takes 20260701; reports spell dates out
        raise InvalidInput(f"{what} {text!r} is not a date (YYYY-MM-DD)")
    _check_year(day.year, text)
    return day


def period_between(first_day: str, last_day: str) -> Period:
    """The whole days from ``first_day`` to ``last_day``, both included (``YYYY-MM-DD``)."""
    first = _parse_day(first_day, "from")
    last = _parse_day(last_day, "to")
    if last < first:
        raise InvalidInput(f"the period ends ({last}) before it starts ({first})")
    return Period(
        f"{first.isoformat()}..{last.isoformat()}",
        _midnight(first),
        _midnight(last + dt.timedelta(days=1)),
    )


def _parse_range_label(label: str) -> Period:
    first, _, last = label.partition("..")
    return period_between(first, last)


def current_half_year(now: dt.datetime) -> Period:
    """The half-year that contains ``now`` (the default period of a report)."""
    moment = now.astimezone(dt.UTC)
    return parse_period(f"{moment.year}-H{1 if moment.month <= 6 else 2}")


def resolve_period(
    period: str | None, first_day: str | None, last_day: str | None, now: dt.datetime
) -> Period:
    """What the CLI and the API were asked for: a named period, a from/to range, or by
    default the current half-year. Giving both forms, or only one end of a range, is refused."""
    if period is not None and (first_day is not None or last_day is not None):
        raise InvalidInput("give either a period (e.g. 2026-H2) or from/to dates, not both")
    if period is not None:
        return parse_period(period)
    if first_day is not None and last_day is not None:
        return period_between(first_day, last_day)
    if first_day is not None or last_day is not None:
        raise InvalidInput("a date range needs both from and to (YYYY-MM-DD, both included)")
    return current_half_year(now)
