"""``SqlAuditLog``: the audit log in the ``audit_log`` table, on SQLite or PostgreSQL.

Invariants (on top of the ``AuditLog`` contract in ``lexloci.audit.log``):

- **Appends are serialized per database.** On SQLite the caller's transaction already holds
  the write lock from its ``BEGIN IMMEDIATE`` (an engine from ``make_engine`` is required and
  checked). On PostgreSQL the first append in a transaction takes a transaction-scoped
  advisory lock (``pg_advisory_xact_lock``) before it reads the head, and holds it until
  commit or rollback. Either way the head that is read is the head that is extended. Behind
  that, the ``seq`` primary key turns any race that slipped through into a failed commit, never
  a fork.
- On PostgreSQL, append in a READ COMMITTED transaction (the default) or append before the
  transaction's first read: a REPEATABLE READ snapshot taken before the lock could see an old
  head, and the commit would then fail on the primary key.
- **Reads** (checkpoint, page, iteration) run in their own read-only connections, never in a
  write transaction, so they do not hold the SQLite write lock. Iteration walks the table by
  seq in pages (keyset pagination), one short read transaction per page: memory stays bounded
  and no snapshot is held open for the length of a million-entry verification. An iterator
  holds its connection until it is exhausted or closed: wrap one you may abandon early in
  ``contextlib.closing``.
- **Verification** (``SqlAuditLog.verify``) may use several processes, each reading its own
  seq range through its own connection; the answer is the same as one pass (see
  ``lexloci.audit.verification.join_segments``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
from collections.abc import Callable, Collection, Generator, Iterable, Mapping, Sequence
from contextlib import closing
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue as MultiprocessingQueue
from typing import Any, Final

from sqlalchemy import Connection, Engine, Select, inspect, select, text

from lexloci.audit.encoding import (
    GENESIS_HASH,
    NormalizeMemo,
    validate_actor,
)
from lexloci.audit.log import DEFAULT_ORIGIN, check_page_limit
from lexloci.audit.model import (
    AuditEntry,
    AuditPage,
    AuditRecord,
    Checkpoint,
    NewEntry,
    PreparedEntry,
    link,
    prepare,
    seal_prepared,
)
from lexloci.audit.tags import AuditTag
from lexloci.audit.verification import (
    RecordRow,
    Segment,
    VerifyResult,
    join_segments,
    verify,
    verify_segment,
)
from lexloci.clock import Clock, SystemClock
from lexloci.storage.driver_sql import render
from lexloci.storage.engine import (
    READ_ONLY_OPTION,
    begins_immediate,
    connect_read_only,
    make_engine,
)
from lexloci.storage.tables import audit_log

__all__ = [
    "ADVISORY_LOCK_KEY",
    "PARALLEL_MIN_ENTRIES",
    "READ_BATCH",
    "ChainWriter",
    "SqlAuditLog",
]

# A fixed 64-bit key for pg_advisory_xact_lock, derived from a name so it is unlikely to
# collide with another application's advisory locks on the same server.
ADVISORY_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"lexloci.audit_log.append").digest()[:8], "big", signed=True
)
READ_BATCH: Final = 10_000
PARALLEL_MIN_ENTRIES: Final = 200_000

_COLUMNS = (
    audit_log.c.seq,
    audit_log.c.tag,
    audit_log.c.actor,
    audit_log.c.at,
    audit_log.c.body,
    audit_log.c.prev_hash,
    audit_log.c.hash,
)
# Appends run on every join decision: plain driver SQL skips SQLAlchemy's per-statement
# cache-key and compile lookup, which costs more than the insert itself. Columns in
# AuditRecord's order (a lexloci.storage.driver_sql template).
_HEAD_SQL = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
_INSERT_SQL = (
    "INSERT INTO audit_log (seq, tag, actor, at, body, prev_hash, hash) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


class SqlAuditLog:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        origin: str = DEFAULT_ORIGIN,
        read_batch: int = READ_BATCH,
    ) -> None:
        if engine.dialect.name == "sqlite" and not begins_immediate(engine):
            raise ValueError(
                "SqlAuditLog on SQLite needs an engine from lexloci.storage.engine.make_engine "
                "(transactions must begin IMMEDIATE)"
            )
        Checkpoint(origin, 0, GENESIS_HASH)  # validates the origin now, not at first use
        self._engine = engine
        self._clock = clock
        self._origin = origin
        self._read_batch = read_batch
        self._postgresql = engine.dialect.name == "postgresql"
        self._insert_sql = render(_INSERT_SQL, engine.dialect)  # ValueError: unknown paramstyle

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def engine(self) -> Engine:
        return self._engine

    def table_exists(self) -> bool:
        return inspect(self._engine).has_table(audit_log.name)

    # -- writing ---------------------------------------------------------------------------------

    def append(
        self, conn: Connection, tag: AuditTag, actor: str, payload: Mapping[str, object]
    ) -> AuditEntry:
        return self.append_many(conn, [NewEntry(tag, actor, payload)])[0]

    def append_many(self, conn: Connection, entries: Iterable[NewEntry]) -> list[AuditEntry]:
        wanted = list(entries)
        if not wanted:
            return []
        self._check_writable(conn)
        # Checked and encoded before the lock: in a fleet every node's appends queue on it, so
        # it is held only for framing and hashing (a removal's payload, with its evidence, is
        # most of the cost of sealing it). Values the entries share are encoded once.
        memo: NormalizeMemo = {}
        prepared = [prepare(tag, actor, payload, memo) for tag, actor, payload in wanted]
        writer = self.writer(conn)
        out = [writer.append_prepared(entry) for entry in prepared]
        writer.flush()
        return out

    def writer(self, conn: Connection) -> ChainWriter:
        """A writer that extends the chain inside ``conn``'s write transaction: it takes the
        log's write lock and reads the head once, seals each appended entry at once (so its
        seq and hash are known), and inserts everything sealed so far in one ``executemany``
        at ``flush``. The transaction must not commit with entries left unflushed."""
        self._check_writable(conn)
        if self._postgresql:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        seq, prev_hash = self._head(conn)
        return ChainWriter(conn, self._insert_sql, self._clock, seq, prev_hash)

    @staticmethod
    def _check_writable(conn: Connection) -> None:
        if not conn.in_transaction() or conn.get_execution_options().get(READ_ONLY_OPTION):
            raise RuntimeError(
                "append needs the caller's write transaction (with engine.begin() as conn: ...), "
                "so the entry commits together with the change it records"
            )

    # -- reading ---------------------------------------------------------------------------------

    def checkpoint(self, conn: Connection | None = None) -> Checkpoint:
        """The committed head, or the head as seen inside ``conn``'s transaction."""
        if conn is not None:
            seq, root = self._head(conn)
        else:
            with connect_read_only(self._engine) as reader:
                seq, root = self._head(reader)
        return Checkpoint(self._origin, seq, root)

    def page(
        self, *, after_seq: int = 0, limit: int = 100, tags: Collection[str] | None = None
    ) -> AuditPage:
        check_page_limit(limit)
        query = self._range(after_seq, None, tags).limit(limit + 1)
        with connect_read_only(self._engine) as reader:
            records = [AuditRecord._make(row) for row in reader.execute(query)]
        entries = tuple(AuditEntry.from_record(r) for r in records[:limit])
        more = len(records) > limit
        return AuditPage(entries, entries[-1].seq if more else None)

    def iter_entries(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        tags: Collection[str] | None = None,
    ) -> Generator[AuditEntry]:
        with closing(self._iter(after_seq, until_seq, tags)) as records:
            for record in records:
                yield AuditEntry.from_record(record)

    def iter_records(
        self, *, after_seq: int = 0, until_seq: int | None = None
    ) -> Generator[AuditRecord]:
        return self._iter(after_seq, until_seq, None)

    def _iter(
        self, after_seq: int, until_seq: int | None, tags: Collection[str] | None
    ) -> Generator[AuditRecord]:
        make = AuditRecord._make
        with closing(self._iter_rows(after_seq, until_seq, tags)) as rows:
            for row in rows:
                yield make(row)

    def _iter_rows(
        self, after_seq: int, until_seq: int | None, tags: Collection[str] | None = None
    ) -> Generator[RecordRow]:
        """The stored rows as tuples in AuditRecord's field order (verify's fast path)."""
        with connect_read_only(self._engine) as reader:
            while True:
                query = self._range(after_seq, until_seq, tags).limit(self._read_batch)
                rows: Sequence[RecordRow] = reader.execute(query).all()
                # End the read transaction between pages: no snapshot outlives one page.
                reader.rollback()
                if not rows:
                    return
                yield from rows
                after_seq = rows[-1][0]

    # -- verifying -------------------------------------------------------------------------------

    def verify(
        self,
        *,
        until_seq: int | None = None,
        checkpoints: Sequence[Checkpoint] = (),
        deep: bool = False,
        progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> VerifyResult:
        """``lexloci.audit.verify`` over entries 1..``until_seq`` (default: the head now).

        With more than one worker the seq range is cut into equal segments: this process
        verifies the first while spawned processes verify the others, and ``join_segments``
        checks the links between them, so the result is the same as a single pass (the first
        broken entry is named). ``workers`` defaults to the number of CPUs for logs of at least
        ``PARALLEL_MIN_ENTRIES`` entries and to 1 below, where starting processes costs more
        than it saves. An in-memory SQLite database is always verified in this process.
        """
        size = self.checkpoint().size if until_seq is None else until_seq
        if workers is None:
            workers = (os.cpu_count() or 1) if size >= PARALLEL_MIN_ENTRIES else 1
        workers = max(1, min(workers, size))
        if workers == 1 or self._in_memory():
            with closing(self._iter_rows(0, size)) as rows:
                return verify(rows, checkpoints=checkpoints, deep=deep, progress=progress)
        bounds = [size * k // workers for k in range(workers + 1)]
        segments = _ParallelVerification(self, bounds, checkpoints, deep, progress).run()
        return join_segments(segments, checkpoints=checkpoints)

    def _in_memory(self) -> bool:
        url = self._engine.url
        return url.get_backend_name() == "sqlite" and url.database in {None, "", ":memory:"}

    def _verify_range(
        self,
        after_seq: int,
        until_seq: int,
        checkpoints: Sequence[Checkpoint],
        deep: bool,
        progress: Callable[[int], None] | None,
    ) -> Segment:
        with closing(self._iter_rows(after_seq, until_seq)) as rows:
            return verify_segment(rows, checkpoints=checkpoints, deep=deep, progress=progress)

    def _range(
        self, after_seq: int, until_seq: int | None, tags: Collection[str] | None
    ) -> Select[Any]:
        query = select(*_COLUMNS).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
        if until_seq is not None:
            query = query.where(audit_log.c.seq <= until_seq)
        if tags is not None:
            query = query.where(audit_log.c.tag.in_(sorted(tags)))
        return query

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.exec_driver_sql(_HEAD_SQL).first()
        if row is None:
            return 0, GENESIS_HASH
        return int(row[0]), str(row[1])


class ChainWriter:
    """Appends to the chain within one write transaction (``SqlAuditLog.writer``)."""

    __slots__ = ("_clock", "_conn", "_insert_sql", "_memo", "_pending", "prev_hash", "seq")

    def __init__(
        self, conn: Connection, insert_sql: str, clock: Clock, seq: int, prev_hash: str
    ) -> None:
        self._conn = conn
        self._insert_sql = insert_sql
        self._clock = clock
        self.seq = seq
        self.prev_hash = prev_hash
        self._pending: list[AuditRecord] = []
        # Entries of one transaction often share values (a sweep's evidence and context).
        self._memo: NormalizeMemo = {}

    def append(self, tag: AuditTag, actor: str, payload: Mapping[str, object]) -> AuditEntry:
        return self.append_prepared(prepare(tag, actor, payload, self._memo))

    def append_prepared(self, prepared: PreparedEntry) -> AuditEntry:
        """Seal an entry ``prepare`` checked and encoded (possibly before the lock was held)."""
        sealed = seal_prepared(
            prepared, seq=self.seq + 1, prev_hash=self.prev_hash, at=self._clock.now()
        )
        self._pending.append(sealed.record)
        self.seq += 1
        self.prev_hash = sealed.record.hash
        return sealed.entry

    def append_encoded(self, tag: AuditTag, actor: str, payload: str) -> int:
        """Append an entry whose payload is given as its canonical JSON text; returns its seq.

        For bulk writers that build many payloads from shared, pre-encoded parts
        (``lexloci.audit.encoding.canonical_spliced``). ``payload`` must be exactly
        ``canonical_json`` of a normalized payload object: the body is its frame around it,
        as ``seal`` would have written it, so verification (deep included) sees no difference.
        """
        if not isinstance(tag, AuditTag):
            raise TypeError(f"tag must be an AuditTag, got {tag!r}")
        if not payload.startswith("{"):
            raise ValueError("an encoded payload is a canonical JSON object")
        validate_actor(actor)
        record = link(
            seq=self.seq + 1,
            prev_hash=self.prev_hash,
            tag=tag.value,
            actor=actor,
            at=self._clock.now(),
            payload_bytes=payload.encode("utf-8"),
        )
        self._pending.append(record)
        self.seq = record.seq
        self.prev_hash = record.hash
        return record.seq

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            self._conn.exec_driver_sql(self._insert_sql, rows if len(rows) > 1 else rows[0])


class _ParallelVerification:
    """This process verifies segment 0; one spawned process verifies each other segment.

    Workers report on one queue: ``("progress", index, count)`` and, at the end,
    ``("done", index, Segment)`` or ``("failed", index, reason)``. A segment whose worker
    failed, or died without a result, is verified again in this process, so that a real error
    (a lost database connection, say) is raised here with its own type and message.
    """

    def __init__(
        self,
        log: SqlAuditLog,
        bounds: list[int],
        checkpoints: Sequence[Checkpoint],
        deep: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._log = log
        self._bounds = bounds
        self._checkpoints = checkpoints
        self._deep = deep
        self._progress = progress
        self._counts = [0] * (len(bounds) - 1)
        self._segments: dict[int, Segment] = {}
        self._failed: set[int] = set()
        # spawn, not fork: a forked child would inherit this process's open database
        # connections, which neither SQLite nor psycopg allow to be used across a fork.
        self._context = multiprocessing.get_context("spawn")
        self._queue: MultiprocessingQueue[tuple[str, int, Any]] = self._context.Queue()

    def run(self) -> list[Segment]:
        url = self._log.engine.url.render_as_string(hide_password=False)
        checkpoint_dicts = [cp.to_dict() for cp in self._checkpoints]
        workers: dict[int, BaseProcess] = {
            index: self._context.Process(
                target=_verify_range_in_worker,
                args=(url, index, self._bounds[index], self._bounds[index + 1]),
                kwargs={
                    "checkpoints": checkpoint_dicts,
                    "deep": self._deep,
                    "results": self._queue,
                },
                daemon=True,
            )
            for index in range(1, len(self._counts))
        }
        for worker in workers.values():
            worker.start()
        try:
            self._segments[0] = self._verify_here(0)
            while len(self._segments) < len(self._counts):
                self._wait(workers)
        finally:
            for worker in workers.values():
                if worker.is_alive():
                    worker.terminate()
                worker.join()
            self._queue.close()
            self._queue.join_thread()
        return [self._segments[index] for index in range(len(self._counts))]

    def _verify_here(self, index: int) -> Segment:
        def report(count: int) -> None:
            self._report(index, count)
            self._drain()

        return self._log._verify_range(
            self._bounds[index], self._bounds[index + 1], self._checkpoints, self._deep, report
        )

    def _wait(self, workers: dict[int, BaseProcess]) -> None:
        for index in sorted(self._failed - self._segments.keys()):
            self._segments[index] = self._verify_here(index)
        try:
            self._handle(*self._queue.get(timeout=1.0))
            return
        except queue.Empty:
            pass
        for index, worker in workers.items():
            if index not in self._segments and not worker.is_alive():
                self._drain()  # its last words may have arrived just before it exited
                if index not in self._segments:
                    self._failed.add(index)

    def _drain(self) -> None:
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                return
            self._handle(*message)

    def _handle(self, kind: str, index: int, value: Any) -> None:
        if kind == "progress":
            self._report(index, value)
        elif kind == "done":
            self._segments[index] = value
        else:
            self._failed.add(index)

    def _report(self, index: int, count: int) -> None:
        self._counts[index] = count
        if self._progress is not None:
            self._progress(sum(self._counts))


def _verify_range_in_worker(
    url: str,
    index: int,
    after_seq: int,
    until_seq: int,
    *,
    checkpoints: list[dict[str, Any]],
    deep: bool,
    results: MultiprocessingQueue[tuple[str, int, Any]],
) -> None:
    """A worker process's whole life: verify one seq range and put the result on the queue."""
    try:
        engine = make_engine(url)
        try:
            # The clock only stamps appends, which verification never makes.
            log = SqlAuditLog(engine, SystemClock())
            segment = log._verify_range(
                after_seq,
                until_seq,
                [Checkpoint.from_dict(cp) for cp in checkpoints],
                deep,
                lambda count: results.put(("progress", index, count)),
            )
        finally:
            engine.dispose()
        results.put(("done", index, segment))
    except Exception as exc:  # noqa: BLE001 - reported; the parent redoes the range and raises
        results.put(("failed", index, f"{type(exc).__name__}: {exc}"))
