"""Group commit: many small audited writes share one transaction and one fsync.

Every join writes a participant and its audit entry and must not be answered before both are
durable (I4). Committing each on its own costs one fsync per join, which caps a node at the
disk's fsync rate (~100/s on the machines measured here). ``GroupCommitter`` runs one writer
thread: callers hand it a unit of work and block; the writer takes every unit waiting (up to
``max_batch``), runs each inside its own SAVEPOINT of one transaction, commits once, and only
then releases each caller with its own result or its own exception.

Fast path: with a ``buffered`` factory, a batch first runs on a transaction that buffers its
rows (``SqlTx.buffered``: one ``executemany`` per table at the end, no savepoints). Only if
anything in that attempt raises is the transaction rolled back and the batch run again the slow
way, each unit in its own savepoint. A unit's work may therefore run twice; it must do nothing
but write through the transaction it is given (no effects outside it).

Invariants:

- a caller returns only after the transaction holding its writes committed (durable), or with
  the exception that prevented it — never before;
- one unit's failure rolls back only that unit (its savepoint); the others commit;
- a failed commit fails every unit of that batch; nothing of it was written;
- units run in arrival order, so audit entries keep the order the decisions were made in.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

__all__ = ["GroupCommitter"]

log = logging.getLogger("lexloci.storage")

T = TypeVar("T")
TxT = TypeVar("TxT")


class _Unit(Generic[TxT]):
    __slots__ = ("future", "work")

    def __init__(self, work: Callable[[TxT], Any]) -> None:
        self.work = work
        self.future: Future[Any] = Future()


class GroupCommitter(Generic[TxT]):
    def __init__(
        self,
        engine: sa.Engine,
        make_tx: Callable[[sa.Connection], TxT],
        *,
        buffered: Callable[[sa.Connection], tuple[TxT, Callable[[], None]]] | None = None,
        max_batch: int = 256,
        name: str = "lexloci-group-commit",
    ) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._buffered = buffered
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Unit[TxT] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._lock = threading.Lock()
        self.batches = 0
        self.units = 0

    def run(self, work: Callable[[TxT], T]) -> T:
        """Run ``work(tx)`` in a shared transaction; return once that transaction committed."""
        return self.submit(work).result()  # type: ignore[no-any-return]

    def submit(self, work: Callable[[TxT], Any]) -> Future[Any]:
        """Queue ``work``; the future completes when its transaction committed (or failed).
        An event loop awaits it with ``asyncio.wrap_future`` instead of blocking a thread."""
        with self._lock:
            if not self._started:
                self._thread.start()
                self._started = True
        unit: _Unit[TxT] = _Unit(work)
        self._queue.put(unit)
        return unit.future

    def close(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(unit)
            self._commit(batch)

    def _commit(self, batch: list[_Unit[TxT]]) -> None:
        if self._buffered is None or not self._commit_buffered(self._buffered, batch):
            self._commit_each(batch)

    def _commit_buffered(
        self,
        buffered: Callable[[sa.Connection], tuple[TxT, Callable[[], None]]],
        batch: list[_Unit[TxT]],
    ) -> bool:
        """The fast path; False (nothing written) if anything in it raised."""
        results: list[Any] = []
        try:
            with self._engine.begin() as conn:
                tx, flush = buffered(conn)
                for unit in batch:
                    results.append(unit.work(tx))
                flush()
        except Exception as exc:  # noqa: BLE001 - the slow path finds whose it was
            log.debug("buffered group commit of %d units failed (%s); one by one", len(batch), exc)
            return False
        self.batches += 1
        self.units += len(batch)
        for unit, result in zip(batch, results, strict=True):
            unit.future.set_result(result)
        return True

    def _commit_each(self, batch: list[_Unit[TxT]]) -> None:
        outcomes: list[tuple[_Unit[TxT], Any, BaseException | None]] = []
        try:
            with self._engine.begin() as conn:
                tx = self._make_tx(conn)
                for unit in batch:
                    savepoint = conn.begin_nested()
                    try:
                        result = unit.work(tx)
                    except BaseException as exc:  # noqa: BLE001 - handed to that unit's caller
                        savepoint.rollback()
                        outcomes.append((unit, None, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((unit, result, None))
        except BaseException as exc:  # noqa: BLE001 - the commit failed: every unit fails with it
            log.warning("group commit of %d units failed: %s", len(batch), exc)
            for unit in batch:
                if not unit.future.done():
                    unit.future.set_exception(exc)
            return
        self.batches += 1
        self.units += len(batch)
        for unit, result, error in outcomes:
            if error is not None:
                unit.future.set_exception(error)
            else:
                unit.future.set_result(result)
