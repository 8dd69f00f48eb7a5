"""The join gate's durable writes, in a process of their own.

Every join (and every stateless decision of another platform) writes its participant and its
audit entry, and is answered only once both are durable (I4). Group commit
(``lexloci.storage.group_commit``) makes that one transaction and one fsync per batch, but in a
thread of the serving process the writer still shares the interpreter lock with the event loop:
measured on the 2-core box, the writer thread spent more of each batch waiting for the lock
than writing, and the joins waited for the writer (docs/performance.md, issue 4). Here the
same batches are written by a child process with its own interpreter, engine and connection.

How it works:

- **The child** is ``python -m lexloci.storage.gate_writer``, started by ``GateWriter`` with
  one end of a socket pair as its only channel (framed by ``multiprocessing.connection``). Its
  settings (the database URL may hold a password) come over that channel, not the command
  line. It opens the database, says ``ready``, then for each batch of ``GateRecord`` s runs
  ``write_batch`` — the very code the writer thread runs — and answers with one outcome per
  record. It ignores SIGINT and SIGTERM: it ends when the channel closes, so a ``lexloci
  serve`` that is stopping finishes its writes first, and a parent that died ends it too.
- **The parent** (``GateWriter``, on the event loop that first used it) sends the records of
  each turn of the loop as one message, without waiting for earlier answers (at most
  ``MAX_IN_FLIGHT`` unanswered). The child writes every message waiting for it in one
  transaction — group commit across messages — and answers them together; each caller's
  future is settled from that answer, on the loop.
- **The chain stays one chain.** The child appends to the same audit log as the serving
  process's own writes. Every append reads the head inside its transaction under the log's
  write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL advisory lock), so whichever process
  writes next extends the head the other left.
- **Failures.** A record that cannot be written fails alone (its savepoint rolls back, the
  caller gets ``GateWriteFailed``, a 500). If the child exits, every record it had been sent
  and not answered fails with ``Unavailable`` (503: whether it was written is not known, so it
  is not written again); records not yet sent, and every record for ``RESTART_AFTER_S`` after,
  are written in-process instead (the ``fallback``: the store's writer thread), and the next
  record after that starts a new child. Records submitted from another event loop than the
  writer's own also take the fallback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

import sqlalchemy as sa

from lexloci.audit.tags import AuditTag
from lexloci.errors import Unavailable
from lexloci.meetings.model import Participant, ParticipantState
from lexloci.meetings.ports import EncodedEntry, GateRecord
from lexloci.storage.group_commit import write_batch
from lexloci.storage.participant_rows import (
    ParticipantFields,
    participant_fields,
)

if TYPE_CHECKING:
    from lexloci.storage.meeting_store import SqlTx

__all__ = ["MAX_BATCH", "RESTART_AFTER_S", "GateWriteFailed", "GateWriter", "main"]

log = logging.getLogger("lexloci.storage")

#: After the child exits, how long records are written in-process before a new child starts.
RESTART_AFTER_S = 5.0
#: The most records in one message, and (roughly) in one of the child's transactions.
MAX_BATCH = 256
#: The most messages sent to the child and not yet answered.
MAX_IN_FLIGHT = 8
_STOP = b""


class GateWriteFailed(RuntimeError):
    """The writer process could not write this record (its transaction rolled back)."""


@dataclass(frozen=True, slots=True)
class _Config:
    database_url: str
    origin: str


class GateWriter:
    """The serving process's end: queue records, send them in batches, settle the futures.

    ``submit`` and everything it schedules run on one event loop (the first that submits);
    ``close`` may be called from any thread once that loop no longer submits."""

    def __init__(
        self,
        database_url: str,
        *,
        origin: str,
        fallback: Callable[[GateRecord], asyncio.Future[None]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._config = _Config(database_url, origin)
        self._fallback = fallback
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Connection | None = None
        self._ready = False
        self._queued: list[tuple[GateRecord, asyncio.Future[None]]] = []
        self._sent: collections.deque[list[tuple[GateRecord, asyncio.Future[None]]]] = (
            collections.deque()
        )  # messages sent and not yet answered, oldest first
        self._send_scheduled = False
        self._down_until = 0.0
        self.batches = 0
        self.records = 0
        self.starts = 0

    # -- the caller's side -------------------------------------------------------------------

    def start(self) -> bool:
        """Start the child now, for the running loop (it needs a few tenths of a second to be
        ready). False if records from this loop are written in-process instead."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        if self._loop is not loop or time.monotonic() < self._down_until:
            return False
        if self._process is None:
            try:
                self._spawn()
            except OSError as exc:
                self._down(f"could not start it: {exc}")
                return False
        return True

    def submit(self, record: GateRecord) -> asyncio.Future[None]:
        """Queue ``record``; the future is done once it is durable (here or in-process)."""
        loop = asyncio.get_running_loop()
        # A running child exists only for the writer's own loop, and never while it is down.
        if (self._process is None or loop is not self._loop) and not self.start():
            return self._fallback(record)
        future: asyncio.Future[None] = loop.create_future()
        self._queued.append((record, future))
        if self._ready and not self._send_scheduled:
            # Sent on the loop's next turn: the joins that arrive in this one share a message.
            self._send_scheduled = True
            loop.call_soon(self._send)
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Send the child what is queued, let it write everything it was sent, then stop it.
        Later records are written in-process. Idempotent; best called on the writer's loop
        (``lexloci serve`` does so at shutdown, after the last request was answered)."""
        self._down_until = float("inf")
        process, channel = self._process, self._channel
        if process is None or channel is None or not self._ready:
            queued, self._queued = self._queued, []
            self._fail(queued, Unavailable("the server is stopping; the join was not recorded"))
            if process is None or channel is None:
                return
        while self._queued:
            batch, self._queued = self._queued[: self._max_batch], self._queued[self._max_batch :]
            self._sent.append(batch)
            with contextlib.suppress(OSError):  # a child that is gone: failed below
                channel.send_bytes(
                    pickle.dumps([_to_wire(r) for r, _ in batch], pickle.HIGHEST_PROTOCOL)
                )
        self._forget_child()
        with contextlib.suppress(OSError):
            channel.send_bytes(_STOP)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "gate writer process %d did not stop in %.0f s: killed", process.pid, timeout
            )
            process.kill()
            process.wait()
        # The answers the child wrote before it stopped, then whatever is left unanswered.
        with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError, ValueError):
            while self._sent and channel.poll(0):
                answer = pickle.loads(channel.recv_bytes())  # noqa: S301 - our child
                self._settle(answer, on_loop=False)
        while self._sent:
            self._fail(self._sent.popleft(), Unavailable("the join could not be recorded; retry"))
        channel.close()

    # -- the child process -------------------------------------------------------------------

    def _spawn(self) -> None:
        parent_end, child_end = socket.socketpair()
        # The child imports lexloci from where this process did.
        path = os.pathsep.join(p for p in sys.path if p)
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
                [sys.executable, "-m", "lexloci.storage.gate_writer", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError:
            parent_end.close()
            raise
        finally:
            child_end.close()
        channel = Connection(parent_end.detach())
        channel.send_bytes(pickle.dumps(self._config))
        self._process, self._channel, self._ready = process, channel, False
        self.starts += 1
        assert self._loop is not None
        self._loop.add_reader(channel.fileno(), self._on_message)

    def _send(self) -> None:
        """Send what is queued as one message, without waiting for earlier answers: the child
        writes every message waiting for it in one transaction (``main``). At most
        ``MAX_IN_FLIGHT`` messages are unanswered, so a slow disk holds records here, never
        the event loop in a blocked send."""
        self._send_scheduled = False
        if not self._queued or self._channel is None or len(self._sent) >= MAX_IN_FLIGHT:
            return
        batch, self._queued = self._queued[: self._max_batch], self._queued[self._max_batch :]
        self._sent.append(batch)
        try:
            self._channel.send_bytes(
                pickle.dumps([_to_wire(record) for record, _ in batch], pickle.HIGHEST_PROTOCOL)
            )
        except OSError as exc:
            self._child_gone(f"could not send to it: {exc}")
            return
        if self._queued:
            self._send()

    def _on_message(self) -> None:
        channel = self._channel
        if channel is None:
            return
        try:
            message = pickle.loads(channel.recv_bytes())  # noqa: S301 - our own child, private socket
        except (EOFError, OSError) as exc:
            self._child_gone(str(exc) or "it closed its end")
            return
        if not self._ready:
            kind, detail = message
            if kind != "ready":
                self._child_gone(f"it could not start: {detail}")
                return
            self._ready = True
        else:
            self._settle(message)
        self._send()

    def _settle(
        self, answers: Sequence[Sequence[tuple[str, str] | None]], *, on_loop: bool = True
    ) -> None:
        """One answer of the child: the outcomes of its oldest unanswered messages, written
        together in one transaction. ``on_loop``: called on the writer's loop (the reader)."""
        self.batches += 1
        for outcomes in answers:
            batch = self._sent.popleft()
            self.records += len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not on_loop:
                    _settle_one(future, outcome)
                elif outcome is None:
                    if not future.done():  # else the caller stopped waiting; the record counts
                        future.set_result(None)
                else:
                    _set(future, None, _failed(outcome))

    def _child_gone(self, why: str) -> None:
        process = self._process
        channel = self._channel
        self._forget_child()
        if channel is not None:
            channel.close()
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()
        code = process.returncode if process is not None else None
        self._down(f"{why}; exit code {code}")
        error = Unavailable("the join could not be recorded (the writer process exited); retry")
        while self._sent:
            self._fail(self._sent.popleft(), error)
        # Records never sent are written in-process, each into its caller's future.
        queued, self._queued = self._queued, []
        for record, future in queued:
            _chain(self._fallback(record), future)

    def _down(self, why: str) -> None:
        log.error(
            "gate writer process: %s; writing joins in-process for %.0f s", why, RESTART_AFTER_S
        )
        self._down_until = time.monotonic() + RESTART_AFTER_S

    def _forget_child(self) -> None:
        channel, loop = self._channel, self._loop
        if channel is not None and loop is not None and not loop.is_closed():
            with contextlib.suppress(OSError, RuntimeError, ValueError):  # the loop is going
                loop.remove_reader(channel.fileno())
        self._process, self._channel, self._ready = None, None, False

    @staticmethod
    def _fail(
        batch: Sequence[tuple[GateRecord, asyncio.Future[None]]], error: BaseException
    ) -> None:
        for _, future in batch:
            _on_its_loop(future, functools.partial(_set, future, None, error))


def _settle_one(future: asyncio.Future[None], outcome: tuple[str, str] | None) -> None:
    if outcome is None:
        _on_its_loop(future, functools.partial(_set, future, None, None))
    else:
        _on_its_loop(future, functools.partial(_set, future, None, _failed(outcome)))


def _failed(outcome: tuple[str, str]) -> GateWriteFailed:
    kind, message = outcome
    return GateWriteFailed(f"the gate's write failed: {kind}: {message}")


def _set(future: asyncio.Future[None], result: None, error: BaseException | None) -> None:
    if future.done():  # the caller stopped waiting; its record still counts
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
        future.exception()  # marked retrieved: its caller may have gone


def _on_its_loop(future: asyncio.Future[None], action: Callable[[], None]) -> None:
    """Run ``action`` now if this is the future's loop's thread (or the loop is not running),
    else on that loop; never on a closed loop (nobody can be waiting there)."""
    loop = future.get_loop()
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or not loop.is_running():
        action()
    else:
        loop.call_soon_threadsafe(action)


# A record on the wire: plain tuples, several times cheaper to pickle than the dataclasses
# (measured: ~2.6 µs against ~8.8 µs a join). A batch is pickled whole, so the evidence
# snapshot its joins share (``Locator.snapshot``) is sent once per message. The participant
# is its insert's fields (``participant_rows.participant_fields``, token hash included).
_Wire = tuple[ParticipantFields | None, tuple[tuple[str, str, str], ...]]


def _to_wire(record: GateRecord) -> _Wire:
    p = record.participant
    fields = None if p is None else participant_fields(p, record.token_hash)
    return fields, tuple((e.tag.value, e.actor, e.payload) for e in record.entries)


def _from_wire(wire: _Wire) -> GateRecord:
    fields, entries = wire
    participant = token_hash = None
    if fields is not None:
        (id_, session_id, name, user_id, client_ip, phone, territory, location, state) = fields[:9]
        reason, language, decision_id, token_hash, joined_at, left_at = fields[9:]
        participant = Participant(
            id=id_,
            session_id=session_id,
            display_name=name,
            state=ParticipantState(state),
            joined_at=joined_at,
            territory=territory,
            location=location,
            client_ip=client_ip,
            phone=phone,
            user_id=user_id,
            language=language,
            reason=reason,
            left_at=left_at,
            decision_id=decision_id,
        )
    return GateRecord(
        tuple(EncodedEntry(AuditTag(tag), actor, payload) for tag, actor, payload in entries),
        participant,
        token_hash,
    )


def _chain(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    def copy(done: asyncio.Future[None]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(None)

    source.add_done_callback(copy)


def main(argv: Sequence[str] | None = None) -> int:
    """The child: ``python -m lexloci.storage.gate_writer FD``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].isdigit():
        sys.stderr.write(
            "usage: python -m lexloci.storage.gate_writer FD (lexloci serve starts it)\n"
        )
        return 2
    # The serving process decides when this ends (by closing the channel), not a signal to
    # the process group: a Ctrl-C must not cut a batch short while joins wait for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel = Connection(int(args[0]))
    try:
        config: _Config = pickle.loads(channel.recv_bytes())  # noqa: S301 - our parent
        writer = _ChildWriter(config)
    except EOFError:
        return 0
    except Exception as exc:  # noqa: BLE001 - told to the parent, which logs it
        channel.send_bytes(pickle.dumps(("failed", f"{type(exc).__name__}: {exc}")))
        return 1
    channel.send_bytes(pickle.dumps(("ready", os.getpid())))
    try:
        _serve(channel, writer)
    finally:
        writer.close()
    return 0


def _serve(channel: Connection, writer: _ChildWriter) -> None:
    """Write batches until told to stop or the server's end closes."""
    while True:
        try:
            data = channel.recv_bytes()
        except EOFError:
            return
        messages, stop = _gather(channel, data)
        if messages:
            outcomes = writer.write([item for m in messages for item in m])
            answers, start = [], 0
            for message in messages:
                answers.append(outcomes[start : start + len(message)])
                start += len(message)
            try:
                channel.send_bytes(pickle.dumps(answers, pickle.HIGHEST_PROTOCOL))
            except OSError:  # the server is gone; what it sent is written
                return
        if stop:
            return


def _gather(channel: Connection, data: bytes) -> tuple[list[list[_Wire]], bool]:
    """The message ``data`` and every message already waiting behind it (up to ``MAX_BATCH``
    records), to be written in one transaction — group commit across messages, as the server
    sends without waiting for answers; and whether the server said stop (or is gone)."""
    messages: list[list[_Wire]] = []
    while data != _STOP:
        messages.append(pickle.loads(data))  # noqa: S301 - our parent
        if sum(map(len, messages)) >= MAX_BATCH or not channel.poll(0):
            return messages, False
        try:
            data = channel.recv_bytes()
        except EOFError:  # the server is gone: write what it sent, then end
            return messages, True
    return messages, True


class _ChildWriter:
    """Writes batches straight from their wire form on one long-lived connection, through the
    writer thread's buffered transaction (``SqlTx.buffered``), without building the records'
    objects or checking a connection out of the pool per batch. A batch that fails there is
    written again the writer thread's way, one record per savepoint (``write_batch``), so
    that only the failing records fail."""

    def __init__(self, config: _Config) -> None:
        # lexloci.storage.meeting_store imports this module: what the child needs of it is
        # imported when a child starts.
        from lexloci.clock import SystemClock
        from lexloci.storage.audit import SqlAuditLog
        from lexloci.storage.engine import make_engine
        from lexloci.storage.meeting_store import SqlTx

        self._sql_tx = SqlTx
        self._engine = make_engine(config.database_url, must_exist=True)
        self._audit_log = SqlAuditLog(self._engine, SystemClock(), origin=config.origin)
        self._conn: sa.Connection | None = None

    def write(self, wires: Sequence[_Wire]) -> list[tuple[str, str] | None]:
        try:
            self._write_together(wires)
        except Exception as exc:  # noqa: BLE001 - the slow path finds whose it was
            log.debug("gate writer: batch of %d failed (%s); one by one", len(wires), exc)
            self._drop_connection()
            return self._write_one_by_one(wires)
        return [None] * len(wires)

    def _write_together(self, wires: Sequence[_Wire]) -> None:
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn
        with conn.begin():
            tx = self._make_tx(conn).buffered()
            for fields, entries in wires:
                if fields is not None:
                    tx.buffer_participant(fields)
                for tag, actor, payload in entries:
                    tx.audit_encoded(AuditTag(tag), actor, payload)
            tx.flush()

    def _write_one_by_one(self, wires: Sequence[_Wire]) -> list[tuple[str, str] | None]:
        works = [functools.partial(self._sql_tx.record_gate, record=_from_wire(w)) for w in wires]
        results = write_batch(self._engine, self._make_tx, None, works)
        return [
            None if error is None else (type(error).__name__, str(error)[:500])
            for _, error in results
        ]

    def _make_tx(self, conn: sa.Connection) -> SqlTx:
        return self._sql_tx(conn, self._audit_log)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop_connection()
        self._engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
