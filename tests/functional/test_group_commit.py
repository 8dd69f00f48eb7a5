"""Group commit (lexloci.storage.group_commit) on both backends: a batch shares one
transaction, a unit's failure is that unit's alone, and the audit chain stays whole.

The writer thread is held inside a first unit while the others queue, so the rest arrive as
one batch — the fast path (rows buffered, one ``executemany`` per table) — whatever the
machine's timing."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from lexloci.audit.verification import VerifyStatus
from lexloci.bootstrap import Container
from lexloci.geo import ClientAddress
from lexloci.meetings.ports import GateRecord, Tx
from lexloci.meetings.service import JoinRequest
from tests.functional.conftest import JOIN_ADDRESSES as ADDRESSES
from tests.functional.conftest import prepared_joins


def written(record: GateRecord) -> Callable[[Tx], None]:
    """A unit of work that writes a gate record (what ``Store.record_gate`` hands the writer)."""
    return lambda tx: tx.record_gate(record)


def in_one_batch(container: Container, works: list[Callable[[Tx], Any]]) -> list[Future[Any]]:
    """Submit ``works`` while the writer is held inside an earlier unit, so they queue up and
    are taken as one batch when it is released."""
    store = container.store
    entered, release = threading.Event(), threading.Event()

    def hold(_: Tx) -> None:
        entered.set()
        assert release.wait(30)

    held = store.submit_in_batch(hold)
    assert entered.wait(30)
    futures = [store.submit_in_batch(work) for work in works]
    release.set()
    held.result(30)
    for future in futures:
        future.exception(30)  # wait, whatever the outcome
    return futures


def join_entries(container: Container) -> list[Any]:
    return [
        e
        for e in container.audit_log.iter_entries()
        if e.tag.startswith("meeting:participant:join_")
    ]


def test_a_batch_commits_every_join_with_its_audit_entry_in_order(
    container: Container, session_id: str
) -> None:
    joins = prepared_joins(container, session_id, 40)
    batches_before = container.store.group_commit_stats()[0]
    futures = in_one_batch(container, [written(j.record) for j in joins])
    assert all(f.exception() is None for f in futures)
    batches, units = container.store.group_commit_stats()
    assert batches - batches_before == 2  # the holding unit's, then all 40 in one
    assert units >= 41
    entries = join_entries(container)
    assert [e.payload["participant_id"] for e in entries] == [
        j.result.participant.id for j in joins
    ]
    seqs = [e.seq for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + 40))
    for join in joins:
        stored = container.store.participant(join.result.participant.id)
        assert stored is not None
        assert stored.location == join.result.participant.location
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_failing_unit_rolls_back_alone_and_the_others_commit(
    container: Container, session_id: str
) -> None:
    joins = prepared_joins(container, session_id, 9)
    doomed = joins[4]

    def fail_after_writing(tx: Tx) -> None:
        tx.record_gate(doomed.record)  # its participant and audit entry are written, then it fails
        raise ValueError("this unit fails")

    works = [written(j.record) for j in joins]
    works[4] = fail_after_writing
    futures = in_one_batch(container, works)
    with pytest.raises(ValueError, match="this unit fails"):
        futures[4].result()
    assert all(f.exception() is None for i, f in enumerate(futures) if i != 4)
    assert container.store.participant(doomed.result.participant.id) is None
    committed = [j.result.participant.id for i, j in enumerate(joins) if i != 4]
    assert [e.payload["participant_id"] for e in join_entries(container)] == committed
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_conflict_found_only_when_the_batch_is_written_fails_only_its_unit(
    container: Container, session_id: str
) -> None:
    """A duplicate participant id is noticed by the database at the batched insert, not in
    the unit's own code: the batch is written again one unit at a time."""
    first, *others = prepared_joins(container, session_id, 6)
    container.store.record_gate(first.record)
    duplicate = dataclasses.replace(others[0].result.participant, id=first.result.participant.id)

    def insert_duplicate(tx: Tx) -> None:
        tx.insert_participant(duplicate, None)

    works: list[Callable[[Tx], Any]] = [written(j.record) for j in others]
    works.insert(2, insert_duplicate)
    futures = in_one_batch(container, works)
    assert futures[2].exception() is not None
    assert all(f.exception() is None for i, f in enumerate(futures) if i != 2)
    stored = container.store.participant(first.result.participant.id)
    assert stored is not None
    assert stored.display_name == first.result.participant.display_name
    expected = [first.result.participant.id] + [j.result.participant.id for j in others]
    assert [e.payload["participant_id"] for e in join_entries(container)] == expected
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_coroutines_units_are_settled_on_its_loop_each_with_its_own_outcome(
    container: Container, session_id: str
) -> None:
    """``submit_in_batch_async``: the join gate's way. One batch holds units of a coroutine
    (one of them failing) and a cancelled one; each gets its own outcome on the loop, the
    cancelled unit's write still counts, and the writer carries on."""
    store = container.store
    joins = prepared_joins(container, session_id, 6)

    def fail(_: Tx) -> None:
        raise ValueError("this unit fails")

    async def scenario() -> list[Any]:
        entered, release = threading.Event(), threading.Event()

        def hold(_: Tx) -> None:
            entered.set()
            assert release.wait(30)

        held = store.submit_in_batch(hold)
        assert await asyncio.to_thread(entered.wait, 30)
        futures = [store.submit_in_batch_async(written(j.record)) for j in joins[:4]]
        futures.insert(2, store.submit_in_batch_async(fail))
        futures[4].cancel()
        release.set()
        await asyncio.wrap_future(held)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        outcomes.append(await store.submit_in_batch_async(written(joins[4].record)))
        return outcomes

    outcomes = asyncio.run(scenario())
    assert isinstance(outcomes[2], ValueError)
    assert isinstance(outcomes[4], asyncio.CancelledError)
    assert [o for i, o in enumerate(outcomes) if i not in (2, 4)] == [None] * 4
    expected = [j.result.participant.id for j in joins[:5]]
    assert [e.payload["participant_id"] for e in join_entries(container)] == expected
    assert container.audit_log.verify().status is VerifyStatus.INTACT


def test_a_joins_audit_payload_is_the_canonical_encoding_of_its_decision(
    container: Container, session_id: str
) -> None:
    """The join's payload is encoded before the write with its evidence spliced in as text
    (kept per territory): the stored entries hold each join's own evidence, byte for byte
    what sealing the payload would have written, on the buffered path and the one-by-one
    path alike (a dial-in phone number takes the locator's slow path)."""
    meetings = container.meetings
    joins = [
        meetings.prepare_join(JoinRequest(session_id, f"guest {i}", ClientAddress(a, "test")))
        for i, a in enumerate([*ADDRESSES, *ADDRESSES])
    ]
    joins.append(
        meetings.prepare_join(
            JoinRequest(session_id, "dial-in", ClientAddress(None, "none"), phone="+85366123456")
        )
    )

    def fail(_: Tx) -> None:
        raise ValueError("sends the batch down the one-by-one path")

    in_one_batch(container, [written(j.record) for j in joins[:5]])
    in_one_batch(container, [*(written(j.record) for j in joins[5:]), fail])
    entries = join_entries(container)
    assert [e.payload["participant_id"] for e in entries] == [
        j.result.participant.id for j in joins
    ]
    for join, entry in zip(joins, entries, strict=True):
        assert entry.payload["evidence"] == join.result.participant.location
        assert entry.payload["territory"] == join.result.participant.territory
        assert entry.payload["decision_id"] == join.result.decision.decision_id
    assert entries[-1].payload["territory"] == "MO"
    assert container.audit_log.verify(deep=True).status is VerifyStatus.INTACT
