"""The one injected clock. Nothing else in lexloci reads "now".

Production code receives a ``Clock`` from the composition root; tests pass a ``FixedClock`` they
can move, so validity periods, sunsets and audit timestamps are deterministic.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> None:
        self._now += delta

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = when
