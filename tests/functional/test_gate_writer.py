"""The gate's writer process (lexloci.storage.gate_writer), a real child process on both
backends: it writes each record with its audit entry in the one chain, a record that cannot be
written fails alone, a child that dies fails only what it held and the server writes on
in-process, and stopping it loses nothing it was given."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lexloci.audit.verification import VerifyStatus
from lexloci.bootstrap import Container, build_container
from lexloci.clock import FixedClock
from lexloci.config import Settings
from lexloci.errors import Unavailable
from lexloci.meetings.ports import GateRecord
from lexloci.storage import gate_writer
from lexloci.storage.gate_writer import GateWriteFailed, GateWriter
from tests.functional.conftest import prepared_joins
from tests.functional.live_server import live_server


def writer_of(container: Container) -> GateWriter:
    writer = container.store.gate_writer
    assert writer is not None, "the default settings write the gate's records in a process"
    return writer


def join_ids(container: Container) -> list[str]:
    return [
        e.payload["participant_id"]
        for e in container.audit_log.iter_entries()
        if e.tag.startswith("meeting:participant:join_")
    ]


async def record_all(container: Container, records: list[GateRecord]) -> list[Any]:
    futures = [container.store.record_gate_async(r) for r in records]
    return await asyncio.gather(*futures, return_exceptions=True)


def test_the_child_writes_each_join_with_its_audit_entry_in_the_one_chain(
    container: Container, session_id: str
) -> None:
    writer = writer_of(container)
    joins = prepared_joins(container, session_id, 40)

    async def scenario() -> list[Any]:
        first = await record_all(container, [j.record for j in joins[:10]])
        # A write of this process between two of the child's: the chain takes both in turn.
        container.meetings.create_account("In between", "US", "admin")
        return first + await record_all(container, [j.record for j in joins[10:]])

    outcomes = asyncio.run(scenario())
    assert outcomes == [None] * 40
    assert writer.records == 40
    assert writer.starts == 1
    assert join_ids(container) == [j.result.participant.id for j in joins]
    for join in joins:
        stored = container.store.participant(join.result.participant.id)
        assert stored is not None
        assert stored.location == join.result.participant.location
        assert stored.state is join.result.participant.state
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_record_that_cannot_be_written_fails_alone(container: Container, session_id: str) -> None:
    first, *others, last = prepared_joins(container, session_id, 7)
    container.store.record_gate(first.record)
    assert others[0].record.participant is not None
    duplicate = dataclasses.replace(
        others[0].record,
        participant=dataclasses.replace(
            others[0].record.participant, id=first.result.participant.id
        ),
    )
    records = [j.record for j in others[1:]]
    records.insert(2, duplicate)

    async def scenario() -> tuple[list[Any], list[Any]]:
        outcomes = await record_all(container, records)
        return outcomes, await record_all(container, [last.record])  # the child writes on

    outcomes, after = asyncio.run(scenario())
    assert isinstance(outcomes[2], GateWriteFailed)
    assert "the gate's write failed" in str(outcomes[2])
    assert [o for i, o in enumerate(outcomes) if i != 2] == [None] * 4
    assert after == [None]
    assert writer_of(container).starts == 1
    expected = [first.result.participant.id] + [j.result.participant.id for j in others[1:]]
    expected.append(last.result.participant.id)
    assert join_ids(container) == expected
    assert container.audit_log.verify().status is VerifyStatus.INTACT


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_when_the_child_dies_what_it_held_fails_and_the_server_writes_on(
    container: Container, session_id: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is killed while SQLite's write lock (held here) keeps it from committing:
    the records it held fail with 503, not knowing whether they were written is not a
    reason to write them twice. Records after that are written in this process, and once
    ``RESTART_AFTER_S`` passed a new child starts."""
    monkeypatch.setattr(gate_writer, "RESTART_AFTER_S", 0.3)
    writer = writer_of(container)
    joins = prepared_joins(container, session_id, 5)
    path = database_url.removeprefix("sqlite:///")

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        assert await record_all(container, [joins[0].record]) == [None]
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            held = [container.store.record_gate_async(j.record) for j in joins[1:3]]
            while not writer._sent:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            process = writer._process
            assert process is not None
            os.kill(process.pid, signal.SIGKILL)
            failed = await asyncio.gather(*held, return_exceptions=True)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        here = await record_all(container, [joins[3].record])
        await asyncio.sleep(0.4)
        again = await record_all(container, [joins[4].record])
        return failed, here, again

    failed, here, again = asyncio.run(scenario())
    assert all(isinstance(f, Unavailable) for f in failed), failed
    assert here == [None]
    assert again == [None]
    assert writer.starts == 2
    ids = join_ids(container)
    assert ids == [joins[i].result.participant.id for i in (0, 3, 4)]
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_stopping_writes_everything_the_child_was_given(
    container: Container, session_id: str
) -> None:
    writer = writer_of(container)
    joins = prepared_joins(container, session_id, 30)

    async def scenario() -> tuple[list[Any], Any, int | None]:
        assert await record_all(container, [joins[0].record]) == [None]
        process = writer._process
        assert process is not None
        futures = [container.store.record_gate_async(j.record) for j in joins[1:29]]
        container.store.close_gate_writer()  # queued, some perhaps sent: all get written
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        after = await container.store.record_gate_async(joins[29].record)  # in-process now
        return outcomes, after, process.returncode

    outcomes, after, returncode = asyncio.run(scenario())
    assert outcomes == [None] * 28
    assert after is None
    assert returncode == 0
    assert join_ids(container) == [j.result.participant.id for j in joins]
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_child_whose_server_is_gone_writes_what_it_was_sent_and_ends(
    container: Container, session_id: str
) -> None:
    """The server's end of the socket closes without a word (as when the server is killed):
    the child writes the records it had been sent and exits cleanly."""
    writer = writer_of(container)
    joins = prepared_joins(container, session_id, 4)

    async def scenario() -> int:
        assert await record_all(container, [joins[0].record]) == [None]
        process, channel = writer._process, writer._channel
        assert process is not None
        assert channel is not None
        for join in joins[1:]:
            container.store.record_gate_async(join.record)  # answers nobody will read
        while writer._queued:  # sent on the loop's next turn
            await asyncio.sleep(0.01)
        writer._forget_child()
        channel.close()
        return await asyncio.to_thread(process.wait, 30)

    assert asyncio.run(scenario()) == 0
    assert join_ids(container) == [j.result.participant.id for j in joins]
    assert container.audit_log.verify().status is VerifyStatus.INTACT


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_childs_command_line_holds_no_database_url(
    container: Container, session_id: str
) -> None:
    writer = writer_of(container)
    joins = prepared_joins(container, session_id, 1)

    async def scenario() -> bytes:
        await record_all(container, [joins[0].record])
        process = writer._process
        assert process is not None
        return Path(f"/proc/{process.pid}/cmdline").read_bytes()

    cmdline = asyncio.run(scenario())
    assert b"lexloci.storage.gate_writer" in cmdline
    assert b"sqlite" not in cmdline
    assert str(container.settings.database_url).encode() not in cmdline


def test_the_join_gate_over_http_is_written_by_the_child(tmp_path: Path) -> None:
    with live_server(tmp_path) as live:
        writer = writer_of(live.container)
        meetings = live.container.meetings
        account = meetings.create_account("Host", "DE", "admin")
        meeting = meetings.create_meeting("Over HTTP", account.id, "admin")
        session = live.run(live.container.live.start_session(meeting.id, "admin"))
        for address, status in (("5.9.0.1", 201), ("223.5.5.5", 201)):
            response = live.http.post(
                f"/api/v1/sessions/{session.id}/join",
                json={"display_name": "guest"},
                headers={"X-Forwarded-For": address},
            )
            assert response.status_code == status, response.text
        assert writer.records == 2
        assert writer.starts == 1
    assert live.container.audit_log.verify().status is VerifyStatus.INTACT


@pytest.mark.parametrize(
    ("settings", "clock", "expected"),
    [
        ({}, None, True),
        ({"gate_writer": "thread"}, None, False),
        ({"database_url": "sqlite://"}, None, False),
        ({}, lambda: FixedClock(dt.datetime(2026, 6, 4, tzinfo=dt.UTC)), False),
    ],
    ids=["default", "thread", "in-memory", "fake-clock"],
)
def test_settings_choose_who_writes(
    tmp_path: Path, settings: dict[str, Any], clock: Any, expected: bool
) -> None:
    settings.setdefault("database_url", f"sqlite:///{tmp_path / 'lexloci.db'}")
    built = build_container(Settings(**settings), clock() if clock else None)
    try:
        assert (built.store.gate_writer is not None) is expected
    finally:
        built.close()


def test_the_module_run_by_hand_explains_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lexloci.storage.gate_writer"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "lexloci serve starts it" in result.stderr
