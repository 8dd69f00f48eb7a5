"""Concurrent writers keep one chain; ``kill -9`` mid-burst loses no acknowledged entry.

Runs on SQLite, and on PostgreSQL when LEXLOCI_TEST_POSTGRES_URL is set (marker ``postgres``).
The writer processes are this file run as a script (see ``main`` at the bottom).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from lexloci.audit import AuditTag, JsonValue, NewEntry, VerifyStatus, verify
from lexloci.clock import FixedClock, SystemClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import create_tables

POSTGRES_URL = os.environ.get("LEXLOCI_TEST_POSTGRES_URL")
START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
WRITER = [sys.executable, "-W", "error", __file__]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with the audit table, on each backend (a fresh schema on PostgreSQL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        _create(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("LEXLOCI_TEST_POSTGRES_URL is not set")
    schema = f"lexloci_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        _create(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def _create(url: str) -> None:
    engine = make_engine(url)
    try:
        create_tables(engine)
    finally:
        engine.dispose()


def _read_log(url: str) -> tuple[VerifyStatus, dict[int, dict[str, JsonValue]]]:
    """Verify the chain from a fresh engine and return every entry's payload by seq."""
    engine = make_engine(url)
    try:
        log = SqlAuditLog(engine, SystemClock())
        status = verify(log.iter_records()).status
        return status, {e.seq: e.payload for e in log.iter_entries()}
    finally:
        engine.dispose()


def test_concurrent_threads_extend_one_unbroken_chain(database_url: str) -> None:
    workers, each = 4, 25
    engine = make_engine(database_url)
    log = SqlAuditLog(engine, FixedClock(START))
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with engine.begin() as conn:
                    payload = {"worker": worker, "i": i}
                    log.append(conn, AuditTag.AUTH_TOKEN_USED, f"token:w{worker}", payload)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread and re-raised
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        engine.dispose()
    assert failures == []
    status, payloads = _read_log(database_url)
    assert status is VerifyStatus.INTACT
    assert sorted(payloads) == list(range(1, workers * each + 1))
    _assert_each_writer_in_order(payloads, workers, each)


def test_concurrent_processes_extend_one_unbroken_chain(database_url: str) -> None:
    workers, each = 3, 25
    procs = [
        subprocess.Popen(
            [*WRITER, "append", database_url, str(w), str(each)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(workers)
    ]
    outputs = [proc.communicate() for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    status, payloads = _read_log(database_url)
    assert status is VerifyStatus.INTACT
    assert sorted(payloads) == list(range(1, workers * each + 1))
    _assert_each_writer_in_order(payloads, workers, each)


def _assert_each_writer_in_order(
    payloads: dict[int, dict[str, JsonValue]], workers: int, each: int
) -> None:
    """Every writer's entries are all there, in the order that writer appended them."""
    by_worker: dict[object, list[object]] = defaultdict(list)
    for seq in sorted(payloads):
        by_worker[payloads[seq]["worker"]].append(payloads[seq]["i"])
    assert by_worker == {w: list(range(each)) for w in range(workers)}


def test_kill_9_mid_burst_keeps_the_chain_and_every_acknowledged_entry(
    database_url: str,
) -> None:
    acknowledged: dict[int, tuple[int, int]] = {}
    for burst in range(3):  # each burst also extends the log a previous kill left behind
        writer = subprocess.Popen(
            [*WRITER, "burst", database_url, str(burst)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert writer.stdout is not None
        seen = 0
        while seen < 120:  # let it get well into the burst, then kill it mid-write
            line = writer.stdout.readline()
            if not line:
                pytest.fail(f"the writer stopped early: {writer.communicate()[1].decode()}")
            _acknowledge(acknowledged, line)
            seen += 1
        os.kill(writer.pid, signal.SIGKILL)
        rest, _ = writer.communicate()
        assert writer.returncode == -signal.SIGKILL
        for line in rest.splitlines(keepends=True):
            if line.endswith(b"\n"):  # a line cut by the kill was never acknowledged
                _acknowledge(acknowledged, line)

        status, payloads = _read_log(database_url)
        assert status is VerifyStatus.INTACT
        assert sorted(payloads) == list(range(1, len(payloads) + 1))
        for seq, (burst_number, i) in acknowledged.items():
            assert seq in payloads, f"acknowledged entry {seq} is missing after kill -9"
            assert (payloads[seq]["burst"], payloads[seq]["i"]) == (burst_number, i)


def _acknowledge(acknowledged: dict[int, tuple[int, int]], line: bytes) -> None:
    seq, burst, i = (int(part) for part in line.split())
    acknowledged[seq] = (burst, i)


# -- the writer processes -----------------------------------------------------------------------


def _append(url: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    log = SqlAuditLog(engine, SystemClock())
    for i in range(count):
        with engine.begin() as conn:
            log.append(
                conn, AuditTag.AUTH_TOKEN_USED, f"token:w{worker}", {"worker": worker, "i": i}
            )
    engine.dispose()


def _burst(url: str, burst: int) -> None:
    """Append until killed: single entries and batches, each in its own transaction, printing
    ``seq burst i`` for each entry only after its transaction has committed."""
    engine = make_engine(url)
    log = SqlAuditLog(engine, SystemClock())
    padding = "x" * 2000  # larger writes, so the kill more often lands inside one
    i = 0
    while True:
        batch = 1 if i % 4 else 10
        entries = [
            NewEntry(
                AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
                "system:join-gate",
                {"burst": burst, "i": i + k, "padding": padding},
            )
            for k in range(batch)
        ]
        with engine.begin() as conn:
            written = log.append_many(conn, entries)
        # Only now, after the commit returned, is the entry acknowledged.
        sys.stdout.write("".join(f"{e.seq} {burst} {i + k}\n" for k, e in enumerate(written)))
        sys.stdout.flush()
        i += batch


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "append":
        _append(url, int(rest[0]), int(rest[1]))
    elif command == "burst":
        _burst(url, int(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
