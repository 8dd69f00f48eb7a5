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

Callers on an event loop (the join gate) use ``submit_async``: their future is the loop's own,
and the writer settles all of one batch's futures of a loop in one callback on that loop (one
wake-up per batch instead of a thread-safe future and a wake-up per unit).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

__all__ = ["BatchResults", "GroupCommitter", "write_batch"]

log = logging.getLogger("lexloci.storage")

T = TypeVar("T")
TxT = TypeVar("TxT")


class _Unit(Generic[TxT]):
    """A unit of work and its caller's future: a thread-safe one, or (``loop`` set) a future
    of that event loop, which only the loop's own thread may settle."""

    __slots__ = ("future", "loop", "work")

    def __init__(
        self,
        work: Callable[[TxT], Any],
        future: Future[Any] | asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.work = work
        self.future = future
        self.loop = loop


#: What became of a unit: (unit, result, exception or None).
_Outcome = tuple[_Unit[Any], Any, BaseException | None]


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
        """Queue ``work``; the future completes when its transaction committed (or failed)."""
        future: Future[Any] = Future()
        self._put(_Unit(work, future))
        return future

    def submit_async(self, work: Callable[[TxT], Any]) -> asyncio.Future[Any]:
        """``submit`` from a coroutine: a future of the running loop, to be awaited there."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put(_Unit(work, future, loop))
        return future

    def _put(self, unit: _Unit[TxT]) -> None:
        with self._lock:
            if not self._started:
                self._thread.start()
                self._started = True
        self._queue.put(unit)

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
        results = write_batch(
            self._engine, self._make_tx, self._buffered, [unit.work for unit in batch]
        )
        if results.committed:
            self.batches += 1
            self.units += len(batch)
        _settle(
            [(unit, result, error) for unit, (result, error) in zip(batch, results, strict=True)]
        )


class BatchResults(list[tuple[Any, BaseException | None]]):
    """Each unit's (result, exception or None), in the batch's order; ``committed`` is False
    when the transaction itself failed (every unit then has the commit's exception)."""

    committed = True


def write_batch(
    engine: sa.Engine,
    make_tx: Callable[[sa.Connection], TxT],
    buffered: Callable[[sa.Connection], tuple[TxT, Callable[[], None]]] | None,
    works: Sequence[Callable[[TxT], Any]],
) -> BatchResults:
    """Run ``works`` in one transaction and commit it once: the fast path first (``buffered``,
    if given), and if anything in it raised, again with each unit in its own SAVEPOINT so that
    only the failing units fail. Returns once the transaction committed (or failed).

    The one implementation of a batch, shared by the writer thread (``GroupCommitter``) and
    the gate's writer process (``lexloci.storage.gate_writer``)."""
    if buffered is not None:
        results = _write_buffered(engine, buffered, works)
        if results is not None:
            return results
    return _write_each(engine, make_tx, works)


def _write_buffered(
    engine: sa.Engine,
    buffered: Callable[[sa.Connection], tuple[TxT, Callable[[], None]]],
    works: Sequence[Callable[[TxT], Any]],
) -> BatchResults | None:
    """The fast path; None (nothing written) if anything in it raised."""
    results = BatchResults()
    try:
        with engine.begin() as conn:
            tx, flush = buffered(conn)
            for work in works:
                results.append((work(tx), None))
            flush()
    except Exception as exc:  # noqa: BLE001 - the slow path finds whose it was
        log.debug("buffered group commit of %d units failed (%s); one by one", len(works), exc)
        return None
    return results


def _write_each(
    engine: sa.Engine,
    make_tx: Callable[[sa.Connection], TxT],
    works: Sequence[Callable[[TxT], Any]],
) -> BatchResults:
    results = BatchResults()
    try:
        with engine.begin() as conn:
            tx = make_tx(conn)
            for work in works:
                savepoint = conn.begin_nested()
                try:
                    result = work(tx)
                except BaseException as exc:  # noqa: BLE001 - handed to that unit's caller
                    savepoint.rollback()
                    results.append((None, exc))
                else:
                    savepoint.commit()
                    results.append((result, None))
    except BaseException as exc:  # noqa: BLE001 - the commit failed: every unit fails with it
        log.warning("group commit of %d units failed: %s", len(works), exc)
        failed = BatchResults((None, exc) for _ in works)
        failed.committed = False
        return failed
    return results


def _settle(outcomes: list[_Outcome]) -> None:
    """Complete each unit's future: thread-safe ones here, each loop's in one call on it."""
    on_loops: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        unit = outcome[0]
        if unit.loop is not None:
            on_loops.setdefault(unit.loop, []).append(outcome)
        else:
            _complete(outcome)
    for loop, settled in on_loops.items():
        try:
            loop.call_soon_threadsafe(_complete_all, settled)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            log.debug("group commit: %d results for a closed event loop", len(settled))


def _complete_all(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        _complete(outcome)


def _complete(outcome: _Outcome) -> None:
    unit, result, error = outcome
    if unit.future.done():  # cancelled: the caller stopped waiting (its write still counts)
        return
    if error is not None:
        unit.future.set_exception(error)
    else:
        unit.future.set_result(result)
