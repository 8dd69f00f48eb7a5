"""``InMemoryAuditLog``: the ``AuditLog`` for use-case tests, with real transaction semantics.

It stores the same ``AuditRecord`` bytes as ``SqlAuditLog`` (both build entries with
``seal``), so ``verify`` and the contract tests apply to it unchanged. Like SQLite with
``BEGIN IMMEDIATE``, ``transaction()`` takes the single writer lock when it begins and holds it
until it ends: committed on a normal exit, rolled back (pending entries dropped) on an
exception. Readers take no lock: they see the records committed when they start.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager

from lexloci.audit.encoding import GENESIS_HASH
from lexloci.audit.log import DEFAULT_ORIGIN, check_page_limit
from lexloci.audit.model import (
    AuditEntry,
    AuditPage,
    AuditRecord,
    Checkpoint,
    NewEntry,
    seal,
)
from lexloci.audit.tags import AuditTag
from lexloci.clock import Clock

__all__ = ["InMemoryAuditLog", "InMemoryTransaction"]


class InMemoryTransaction:
    """An open write transaction on one ``InMemoryAuditLog``."""

    def __init__(self, log: InMemoryAuditLog) -> None:
        self.log = log
        self.pending: list[AuditRecord] = []
        self.open = True


class InMemoryAuditLog:
    def __init__(self, clock: Clock, *, origin: str = DEFAULT_ORIGIN) -> None:
        Checkpoint(origin, 0, GENESIS_HASH)  # validates the origin now, not at first use
        self._clock = clock
        self._origin = origin
        # Only ever extended (under the writer lock), so a reader that notes len() first can
        # read that prefix without a lock.
        self._records: list[AuditRecord] = []
        self._writer = threading.Lock()
        self._writer_thread: int | None = None

    @property
    def origin(self) -> str:
        return self._origin

    @contextmanager
    def transaction(self) -> Iterator[InMemoryTransaction]:
        if self._writer_thread == threading.get_ident():
            # Waiting on our own lock would hang the test instead of failing it.
            raise RuntimeError("this thread already has a transaction open on this audit log")
        with self._writer:
            self._writer_thread = threading.get_ident()
            tx = InMemoryTransaction(self)
            try:
                yield tx
                self._records.extend(tx.pending)
            finally:
                tx.open = False
                self._writer_thread = None

    def append(
        self, tx: InMemoryTransaction, tag: AuditTag, actor: str, payload: Mapping[str, object]
    ) -> AuditEntry:
        return self.append_many(tx, [NewEntry(tag, actor, payload)])[0]

    def append_many(self, tx: InMemoryTransaction, entries: Iterable[NewEntry]) -> list[AuditEntry]:
        if tx.log is not self or not tx.open:
            raise RuntimeError("append needs an open transaction of this audit log")
        head = tx.pending[-1] if tx.pending else (self._records[-1] if self._records else None)
        seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
        out: list[AuditEntry] = []
        staged: list[AuditRecord] = []
        for tag, actor, payload in entries:
            seq += 1
            sealed = seal(
                seq=seq,
                prev_hash=prev_hash,
                tag=tag,
                actor=actor,
                at=self._clock.now(),
                payload=payload,
            )
            staged.append(sealed.record)
            out.append(sealed.entry)
            prev_hash = sealed.record.hash
        # All or nothing: an encoding error part-way leaves the transaction as it was.
        tx.pending.extend(staged)
        return out

    def checkpoint(self) -> Checkpoint:
        records = self._records
        size = len(records)
        if size == 0:
            return Checkpoint(self._origin, 0, GENESIS_HASH)
        head = records[size - 1]
        return Checkpoint(self._origin, head.seq, head.hash)

    def page(
        self, *, after_seq: int = 0, limit: int = 100, tags: Collection[str] | None = None
    ) -> AuditPage:
        check_page_limit(limit)
        found: list[AuditEntry] = []
        for entry in self.iter_entries(after_seq=after_seq, tags=tags):
            if len(found) == limit:
                return AuditPage(tuple(found), found[-1].seq)
            found.append(entry)
        return AuditPage(tuple(found), None)

    def iter_entries(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        tags: Collection[str] | None = None,
    ) -> Iterator[AuditEntry]:
        wanted = None if tags is None else frozenset(tags)
        for record in self.iter_records(after_seq=after_seq, until_seq=until_seq):
            if wanted is None or record.tag in wanted:
                yield AuditEntry.from_record(record)

    def iter_records(
        self, *, after_seq: int = 0, until_seq: int | None = None
    ) -> Iterator[AuditRecord]:
        records = self._records
        for index in range(len(records)):
            record = records[index]
            if record.seq > after_seq and (until_seq is None or record.seq <= until_seq):
                yield record
