"""The AuditLog contract, run over every implementation: memory, SQLite, PostgreSQL.

PostgreSQL runs when LEXLOCI_TEST_POSTGRES_URL is set (marker ``postgres``); each test gets
its own schema, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from lexloci.audit import (
    GENESIS_HASH,
    AuditEncodingError,
    AuditLog,
    AuditTag,
    InMemoryAuditLog,
    NewEntry,
    Problem,
    VerifyStatus,
    seal,
    verify,
)
from lexloci.audit.verification import join_segments
from lexloci.clock import FixedClock
from lexloci.storage.audit import SqlAuditLog, _ParallelVerification
from lexloci.storage.engine import connect_read_only, make_engine
from lexloci.storage.tables import audit_log, create_tables

POSTGRES_URL = os.environ.get("LEXLOCI_TEST_POSTGRES_URL")
START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("LEXLOCI_TEST_POSTGRES_URL is not set")
    schema = f"lexloci_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def drop_append_only_guard(conn: sa.Connection) -> None:
    """What someone with write access to the database does before tampering."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_change ON audit_log")


@dataclass
class Backend:
    """One implementation with the test-side operations the contract needs."""

    name: str
    log: AuditLog[Any]
    clock: FixedClock
    transaction: Callable[[], AbstractContextManager[Any]]
    engine: sa.Engine | None = None

    def stored(self, seq: int, column: str) -> Any:
        if isinstance(self.log, InMemoryAuditLog):
            return next(getattr(r, column) for r in self.log._records if r.seq == seq)
        assert self.engine is not None
        with self.engine.connect() as conn:
            query = sa.select(audit_log.c[column]).where(audit_log.c.seq == seq)
            return conn.execute(query).scalar_one()

    def overwrite(self, seq: int, column: str, value: Any) -> None:
        if isinstance(self.log, InMemoryAuditLog):
            records = self.log._records
            index = next(i for i, r in enumerate(records) if r.seq == seq)
            records[index] = records[index]._replace(**{column: value})
            return
        assert self.engine is not None
        with self.engine.begin() as conn:
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values({column: value}))

    def delete(self, seq: int) -> None:
        if isinstance(self.log, InMemoryAuditLog):
            self.log._records[:] = [r for r in self.log._records if r.seq != seq]
            return
        assert self.engine is not None
        with self.engine.begin() as conn:
            conn.execute(audit_log.delete().where(audit_log.c.seq == seq))


def memory_backend() -> Backend:
    clock = FixedClock(START)
    memory = InMemoryAuditLog(clock)
    return Backend("memory", memory, clock, memory.transaction)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield memory_backend()
        return
    clock = FixedClock(START)
    with postgres_schema_url() if request.param == "postgres" else _sqlite_url(tmp_path) as url:
        engine = make_engine(url)
        try:
            create_tables(engine)
            with engine.begin() as conn:
                drop_append_only_guard(conn)  # the contract tests play the attacker
            # A small read batch so that every iteration crosses page boundaries.
            log = SqlAuditLog(engine, clock, read_batch=3)
            yield Backend(request.param, log, clock, engine.begin, engine)
        finally:
            engine.dispose()


@contextmanager
def _sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'audit.db'}"


def append_n(backend: Backend, n: int, *, tag: AuditTag = AuditTag.AUTH_TOKEN_USED) -> None:
    for i in range(n):
        with backend.transaction() as tx:
            backend.log.append(tx, tag, f"token:user-{i % 3}", {"i": i, "territory": "CN"})
        backend.clock.advance(dt.timedelta(seconds=1))


# -- appending ----------------------------------------------------------------------------------


def test_appends_are_numbered_from_one_and_chained_from_genesis(backend: Backend) -> None:
    assert backend.log.checkpoint().size == 0
    assert backend.log.checkpoint().root_hash == GENESIS_HASH
    with backend.transaction() as tx:
        first = backend.log.append(tx, AuditTag.CASE_CASE_APPEALED, "token:a", {"case_id": "c1"})
        rest = backend.log.append_many(
            tx, [NewEntry(AuditTag.AUTH_TOKEN_USED, "token:b", {"n": n}) for n in range(3)]
        )
    assert [first.seq, *(e.seq for e in rest)] == [1, 2, 3, 4]
    assert first.prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in rest] == [first.hash, rest[0].hash, rest[1].hash]
    checkpoint = backend.log.checkpoint()
    assert (checkpoint.size, checkpoint.root_hash) == (4, rest[-1].hash)
    assert verify(backend.log.iter_records()).status is VerifyStatus.INTACT


def test_every_backend_writes_the_same_bytes_for_the_same_appends(backend: Backend) -> None:
    append_n(backend, 5)
    reference = memory_backend()
    append_n(reference, 5)
    assert list(backend.log.iter_records()) == list(reference.log.iter_records())


def test_the_time_of_an_entry_comes_from_the_injected_clock(backend: Backend) -> None:
    backend.clock.set(dt.datetime(2026, 6, 4, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with backend.transaction() as tx:
        entry = backend.log.append(tx, AuditTag.CASE_CASE_APPEALED, "token:a", {"case_id": "c"})
    assert entry.at == dt.datetime(2026, 6, 4, 12, 0, tzinfo=dt.UTC)
    assert backend.stored(1, "at") == "2026-06-04T12:00:00.000000Z"


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(backend: Backend) -> None:
    append_n(backend, 2)

    def record_then_fail() -> None:
        with backend.transaction() as tx:
            backend.log.append(tx, AuditTag.CASE_CASE_APPEALED, "token:a", {"case_id": "lost"})
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError, match="the state change failed"):
        record_then_fail()
    assert backend.log.checkpoint().size == 2
    with backend.transaction() as tx:
        entry = backend.log.append(tx, AuditTag.CASE_CASE_APPEALED, "token:a", {"case_id": "kept"})
    assert entry.seq == 3
    assert [e.payload.get("case_id") for e in backend.log.iter_entries(after_seq=2)] == ["kept"]
    assert verify(backend.log.iter_records()).status is VerifyStatus.INTACT


def test_a_refused_payload_appends_nothing_from_its_batch(backend: Backend) -> None:
    with pytest.raises(AuditEncodingError, match="float"), backend.transaction() as tx:
        backend.log.append_many(
            tx,
            [
                NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"ok": 1}),
                NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"ratio": 0.5}),
            ],
        )
    assert backend.log.checkpoint().size == 0


def test_readers_do_not_see_entries_before_their_transaction_commits(backend: Backend) -> None:
    append_n(backend, 1)
    seen_inside: list[int] = []
    with backend.transaction() as tx:
        backend.log.append(tx, AuditTag.CASE_CASE_APPEALED, "token:a", {"case_id": "c"})
        # Another thread reads while the writer's transaction (and, on SQLite, its write lock)
        # is held: it must neither wait for it nor see the uncommitted entry.
        reader = threading.Thread(target=lambda: seen_inside.append(backend.log.checkpoint().size))
        reader.start()
        reader.join()
    assert seen_inside == [1]
    assert backend.log.checkpoint().size == 2


# -- reading ------------------------------------------------------------------------------------


def test_pages_follow_seq_order_and_say_where_to_continue(backend: Backend) -> None:
    append_n(backend, 7)
    first = backend.log.page(limit=3)
    assert [e.seq for e in first.entries] == [1, 2, 3]
    assert first.next_after_seq == 3
    second = backend.log.page(after_seq=3, limit=3)
    last = backend.log.page(after_seq=6, limit=3)
    assert [e.seq for e in second.entries] == [4, 5, 6]
    assert [e.seq for e in last.entries] == [7]
    assert last.next_after_seq is None
    exact = backend.log.page(after_seq=4, limit=3)
    assert [e.seq for e in exact.entries] == [5, 6, 7]
    assert exact.next_after_seq is None
    assert backend.log.page(after_seq=7).entries == ()


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_limit_outside_1_to_1000_is_refused(backend: Backend, limit: int) -> None:
    with pytest.raises(ValueError, match="page limit"):
        backend.log.page(limit=limit)


def test_entries_can_be_filtered_by_tag_and_bounded_by_seq(backend: Backend) -> None:
    append_n(backend, 4)
    append_n(backend, 3, tag=AuditTag.AUTH_TOKEN_REJECTED)
    append_n(backend, 2)
    rejected = list(backend.log.iter_entries(tags=[AuditTag.AUTH_TOKEN_REJECTED]))
    assert [e.seq for e in rejected] == [5, 6, 7]
    assert all(e.tag == AuditTag.AUTH_TOKEN_REJECTED for e in rejected)
    page = backend.log.page(limit=2, tags=[AuditTag.AUTH_TOKEN_REJECTED])
    assert ([e.seq for e in page.entries], page.next_after_seq) == ([5, 6], 6)
    assert [e.seq for e in backend.log.iter_entries(after_seq=2, until_seq=6)] == [3, 4, 5, 6]
    assert [r.seq for r in backend.log.iter_records(until_seq=4)] == [1, 2, 3, 4]


def test_entries_read_back_carry_the_normalized_payload(backend: Backend) -> None:
    with backend.transaction() as tx:
        written = backend.log.append(
            tx,
            AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
            "participant:p-1",
            {"evidence": {"sources": ("iptocc",)}, "until": START, "name": "張三"},
        )
    (read,) = backend.log.iter_entries()
    assert read == written
    assert read.payload == {
        "evidence": {"sources": ["iptocc"]},
        "until": "2026-11-27T12:00:00.000000Z",
        "name": "張三",
    }


# -- tampering ----------------------------------------------------------------------------------

EXPECTED = {
    "body": Problem.HASH_MISMATCH,
    "hash": Problem.HASH_MISMATCH,
    "prev_hash": Problem.PREV_LINK_BROKEN,
    "tag": Problem.COLUMN_MISMATCH,
    "actor": Problem.COLUMN_MISMATCH,
    "at": Problem.COLUMN_MISMATCH,
}
SIZE = 8


# The fixture's log is built once per test and every example restores what it changed, so the
# function-scoped fixture is deliberate; the deadline is off because commits fsync.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_changing_one_stored_byte_of_any_entry_is_found_at_that_entry(
    backend: Backend, data: st.DataObject
) -> None:
    if backend.log.checkpoint().size == 0:
        append_n(backend, SIZE)
    seq = data.draw(st.integers(1, SIZE), label="seq")
    column = data.draw(st.sampled_from(sorted(EXPECTED)), label="column")
    original = backend.stored(seq, column)
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    delta = data.draw(st.integers(1, 94), label="delta")
    if column == "body":
        changed: Any = bytearray(original)
        changed[position] = (changed[position] + delta) % 256
        changed = bytes(changed)
    else:
        replacement = chr(32 + (ord(original[position]) - 32 + delta) % 95)
        changed = original[:position] + replacement + original[position + 1 :]
    backend.overwrite(seq, column, changed)
    try:
        result = verify(backend.log.iter_records())
    finally:
        backend.overwrite(seq, column, original)
    assert result.status is VerifyStatus.BROKEN
    assert result.breakage is not None
    assert (result.breakage.seq, result.breakage.problem) == (seq, EXPECTED[column])
    assert verify(backend.log.iter_records()).status is VerifyStatus.INTACT


def test_a_deleted_entry_is_a_gap_at_its_seq(backend: Backend) -> None:
    append_n(backend, 6)
    backend.delete(4)
    breakage = verify(backend.log.iter_records()).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (4, Problem.SEQ_GAP)


def test_deleting_the_newest_entries_is_found_against_an_older_checkpoint(
    backend: Backend,
) -> None:
    append_n(backend, 6)
    cited = backend.log.checkpoint()
    backend.delete(6)
    backend.delete(5)
    assert backend.log.checkpoint().size == 4
    breakage = verify(backend.log.iter_records(), checkpoints=[cited]).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (5, Problem.LOG_TRUNCATED)


# -- SQL specifics ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    with postgres_schema_url() if request.param == "postgres" else _sqlite_url(tmp_path) as url:
        engine = make_engine(url)
        try:
            create_tables(engine)
            yield engine
        finally:
            engine.dispose()


widgets = sa.Table(
    "audit_test_widgets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
)


def test_an_entry_commits_and_rolls_back_with_the_state_change_it_records(
    sql_engine: sa.Engine,
) -> None:
    widgets.create(sql_engine)
    log = SqlAuditLog(sql_engine, FixedClock(START))
    with sql_engine.begin() as conn:
        conn.execute(widgets.insert(), {"id": 1})
        log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {"widget": 1})

    def record_then_fail() -> None:
        with sql_engine.begin() as conn:
            log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {"widget": 1})
            conn.execute(widgets.insert(), {"id": 1})  # fails: the audit entry goes with it

    with pytest.raises(sa.exc.IntegrityError):
        record_then_fail()
    with sql_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(widgets)).scalar() == 1
    assert log.checkpoint().size == 1


def test_append_outside_a_write_transaction_is_refused(sql_engine: sa.Engine) -> None:
    log = SqlAuditLog(sql_engine, FixedClock(START))
    with sql_engine.connect() as conn, pytest.raises(RuntimeError, match="write transaction"):
        log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {})
    with connect_read_only(sql_engine) as conn:
        conn.execute(sa.text("SELECT 1"))
        with pytest.raises(RuntimeError, match="write transaction"):
            log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {})


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"],
)
def test_the_database_refuses_to_change_or_delete_entries(
    sql_engine: sa.Engine, statement: str
) -> None:
    log = SqlAuditLog(sql_engine, FixedClock(START))
    with sql_engine.begin() as conn:
        log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {})
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), sql_engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert verify(log.iter_records()).status is VerifyStatus.INTACT


@pytest.mark.postgres
def test_postgresql_refuses_to_truncate_the_log() -> None:
    with postgres_schema_url() as url:
        engine = make_engine(url)
        try:
            create_tables(engine)
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE audit_log")
        finally:
            engine.dispose()


def test_sqlite_write_transactions_hold_the_write_lock_from_begin(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        create_tables(engine)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            # No statement yet in the transaction: the write lock must already be ours.
            with engine.begin(), pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            with connect_read_only(engine) as reader, reader.begin():
                reader.execute(sa.text("SELECT count(*) FROM audit_log"))
                other.execute("BEGIN IMMEDIATE")  # a reader does not hold the write lock
                other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        engine.dispose()


def test_sqlite_engines_are_durable_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "synchronous": 2,  # FULL
            "foreign_keys": 1,
            "busy_timeout": 30_000,
        }
    finally:
        engine.dispose()


def test_the_sql_log_refuses_a_sqlite_engine_that_begins_deferred(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with pytest.raises(ValueError, match="make_engine"):
            SqlAuditLog(engine, FixedClock(START))
    finally:
        engine.dispose()


def test_records_are_the_sealed_records(sql_engine: sa.Engine) -> None:
    log = SqlAuditLog(sql_engine, FixedClock(START))
    with sql_engine.begin() as conn:
        log.append(conn, AuditTag.CASE_CASE_APPEALED, "token:a", {"x": "y"})
    expected = seal(
        seq=1,
        prev_hash=GENESIS_HASH,
        tag=AuditTag.CASE_CASE_APPEALED,
        actor="token:a",
        at=START,
        payload={"x": "y"},
    ).record
    (record,) = log.iter_records()
    assert record == expected
    assert type(record.body) is bytes


# -- verification with worker processes ---------------------------------------------------------

# With 12 entries and 3 workers the segments are seqs 1-4, 5-8 and 9-12: entries 5 and 9 start
# a segment, so damage there is found by the join between segments, not inside one.
DAMAGE: dict[str, list[tuple[int, str, object]]] = {
    "none": [],
    "link at a segment start": [(5, "prev_hash", "f" * 64)],
    "body inside the last segment": [(11, "body", b"{}")],
    "two breaks, the first wins": [(3, "tag", "auth:token:rejected"), (10, "body", b"{}")],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_verifying_with_workers_names_the_same_first_broken_entry(
    sql_engine: sa.Engine, damage: str
) -> None:
    log = SqlAuditLog(sql_engine, FixedClock(START), read_batch=3)
    with sql_engine.begin() as conn:
        log.append_many(
            conn, [NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"i": i}) for i in range(12)]
        )
        drop_append_only_guard(conn)
        for seq, column, value in DAMAGE[damage]:
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values({column: value}))
    seen: list[int] = []
    in_parallel = log.verify(workers=3, progress=seen.append)
    assert in_parallel == log.verify(workers=1) == verify(log.iter_records())
    if damage == "none":
        assert in_parallel.status is VerifyStatus.INTACT
        assert seen[-1] == 12
    else:
        assert in_parallel.breakage is not None
        assert in_parallel.breakage.seq == DAMAGE[damage][0][0]


def test_a_gap_at_a_segment_start_is_found_with_workers(sql_engine: sa.Engine) -> None:
    log = SqlAuditLog(sql_engine, FixedClock(START))
    with sql_engine.begin() as conn:
        log.append_many(
            conn, [NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"i": i}) for i in range(12)]
        )
        drop_append_only_guard(conn)
        conn.execute(audit_log.delete().where(audit_log.c.seq == 9))
    result = log.verify(until_seq=12, workers=3)
    assert result.breakage is not None
    assert (result.breakage.seq, result.breakage.problem) == (9, Problem.SEQ_GAP)


def twelve_entries() -> list[NewEntry]:
    return [NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"i": i}) for i in range(12)]


class _DeadWorker:
    def is_alive(self) -> bool:
        return False


@pytest.mark.parametrize("how", ["died silently", "reported a failure"])
def test_a_segment_whose_worker_failed_is_verified_here(tmp_path: Path, how: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        create_tables(engine)
        log = SqlAuditLog(engine, FixedClock(START))
        with engine.begin() as conn:
            log.append_many(
                conn, [NewEntry(AuditTag.AUTH_TOKEN_USED, "token:a", {"i": i}) for i in range(12)]
            )
        run = _ParallelVerification(log, [0, 6, 12], (), False, None)
        try:
            run._segments[0] = run._verify_here(0)
            workers: dict[int, Any] = {1: _DeadWorker()}
            if how == "reported a failure":
                run._queue.put(("failed", 1, "OperationalError: disk I/O error"))
            while 1 not in run._segments:
                run._wait(workers)
        finally:
            run._queue.close()
            run._queue.join_thread()
        assert join_segments([run._segments[0], run._segments[1]]) == log.verify(workers=1)
    finally:
        engine.dispose()
