"""Shared fixtures, and the rule that CI never skips a test that needs a real service.

Tests marked ``postgres``, ``nats``, ``browser`` or ``janus`` skip on a bare laptop when the
service is missing. When ``CI`` is set (``.ci/run`` sets it), such a skip is turned into a
failure, so a green CI run means every real component was really exercised.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest

from lexloci.clock import FixedClock

SERVICE_MARKERS = ("postgres", "nats", "browser", "janus")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    markers = [m for m in SERVICE_MARKERS if item.get_closest_marker(m)]
    if in_ci() and markers and report.skipped:  # type: ignore[attr-defined]
        report.outcome = "failed"  # type: ignore[attr-defined]
        report.longrepr = (  # type: ignore[attr-defined]
            f"CI must not skip a test that needs {', '.join(markers)}: {report.longrepr}"  # type: ignore[attr-defined]
        )
    return report  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC))
