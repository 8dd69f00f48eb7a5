"""Functional tests run on both database backends: SQLite, and PostgreSQL (marker postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lexloci.bootstrap import Container, build_container
from lexloci.config import Settings
from lexloci.geo import ClientAddress
from lexloci.meetings.service import JoinRequest, PreparedJoin
from tests.databases import BACKENDS, fresh_database

#: Join addresses of the gate-write tests: DE, CN, US, HK.
JOIN_ADDRESSES = ["5.9.0.1", "223.5.5.5", "8.8.4.4", "202.45.84.58"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def container(database_url: str) -> Iterator[Container]:
    """The composition root on each backend, with the default settings."""
    built = build_container(Settings(database_url=database_url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def session_id(container: Container) -> str:
    """A live session of a DE host's meeting, no restriction on it."""
    meetings = container.meetings
    account = meetings.create_account("Host", "DE", "admin")
    meeting = meetings.create_meeting("Joins", account.id, "admin")
    return meetings.start_session(meeting.id, "admin").id


def prepared_joins(container: Container, session_id: str, count: int) -> list[PreparedJoin]:
    """``count`` decided joins of ``session_id``, not yet written."""
    return [
        container.meetings.prepare_join(
            JoinRequest(session_id, f"guest {i}", ClientAddress(JOIN_ADDRESSES[i % 4], "test"))
        )
        for i in range(count)
    ]
