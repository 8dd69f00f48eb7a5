"""Recompute a hash chain and name the first entry that breaks it.

``verify`` reads records in seq order (from a database, an export, or memory) and checks, for
each record, in this order, stopping at the first failure:

1. ``seq`` is the next number: a larger one means entries are missing (``seq_gap``), a
   smaller or repeated one that rows are out of order (``seq_out_of_order``); both name the
   seq that should have come next, i.e. where the chain breaks;
2. ``prev_hash`` equals the previous record's ``hash`` (the genesis hash, or the starting
   checkpoint's root, for the first) (``prev_link_broken``);
3. ``hash`` equals ``SHA-256(raw(prev_hash) || body)`` (``hash_mismatch``): any change to the
   body's bytes or to the stored hash lands here;
4. the body begins and ends with the frame built from the ``seq``, ``tag``, ``actor`` and
   ``at`` columns (``column_mismatch`` when it parses but a column differs, ``body_unparsable``
   when it does not parse): the query columns are copies and must agree with the hashed body;
5. with ``deep=True`` only: the body parses as an entry and re-encodes to the same bytes
   (``body_unparsable`` / ``non_canonical_body``).

Each given checkpoint is compared when its size is reached (``checkpoint_mismatch``); a
checkpoint beyond the end of the records means the log was cut short (``log_truncated``).

Step 4 compares bytes instead of parsing JSON, which keeps a million entries within seconds.
It is enough because of step 3: a body whose hash verifies is exactly the body lexloci wrote,
and lexloci only writes canonical bodies. ``deep`` is for checking another writer's output.

Verification splits: ``verify_segment`` checks a contiguous run of records on its own (another
process can do it) and ``join_segments`` checks the links between runs, giving exactly the
result of ``verify`` over the whole (``SqlAuditLog.verify`` uses this to use every core).

What verification cannot see: without a checkpoint to compare with, dropping entries from the
end, or rewriting entries and recomputing every later hash, leaves a chain that verifies. That
is what checkpoints are for: a published (or cited) checkpoint pins size and root.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from lexloci.audit.encoding import GENESIS_HASH, canonical_json, frame
from lexloci.audit.model import AuditEntry, AuditRecord, Checkpoint, UnparsableEntry

__all__ = [
    "PROGRESS_EVERY",
    "Breakage",
    "Problem",
    "RecordRow",
    "Segment",
    "VerifyResult",
    "VerifyStatus",
    "join_segments",
    "verify",
    "verify_segment",
]

PROGRESS_EVERY = 10_000


class VerifyStatus(enum.StrEnum):
    INTACT = "intact"
    BROKEN = "broken"


class Problem(enum.StrEnum):
    SEQ_GAP = "seq_gap"
    SEQ_OUT_OF_ORDER = "seq_out_of_order"
    PREV_LINK_BROKEN = "prev_link_broken"
    HASH_MISMATCH = "hash_mismatch"
    COLUMN_MISMATCH = "column_mismatch"
    BODY_UNPARSABLE = "body_unparsable"
    NON_CANONICAL_BODY = "non_canonical_body"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    LOG_TRUNCATED = "log_truncated"


@dataclass(frozen=True, slots=True)
class Breakage:
    """The first broken entry: its seq, what is wrong, and the details."""

    seq: int
    problem: Problem
    detail: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``size`` and ``root_hash`` describe the intact prefix: everything up to the breakage."""

    status: VerifyStatus
    size: int
    root_hash: str
    breakage: Breakage | None = None

    def checkpoint(self, origin: str) -> Checkpoint:
        return Checkpoint(origin, self.size, self.root_hash)


# What verify reads from each record: seq, tag, actor, at, body, prev_hash, hash, in this order.
# An AuditRecord is one, and so is a database row, which spares creating a million NamedTuples
# on the fast path.
RecordRow: TypeAlias = Sequence[Any]


def verify(
    records: Iterable[RecordRow],
    *,
    after: Checkpoint | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    deep: bool = False,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Verify ``records`` (seq order) as a chain from genesis, or from the trusted ``after``.

    ``progress`` is called with the number of records verified so far, every
    ``PROGRESS_EVERY`` records and once at the end.
    """
    size = after.size if after is not None else 0
    root = after.root_hash if after is not None else GENESIS_HASH
    expected = _expected_roots(checkpoints, size)
    if expected.get(size, root) != root:
        return _broken(size, root, size, Problem.CHECKPOINT_MISMATCH, "at the starting point")
    result = _verify_run(records, size, root, expected, deep=deep, progress=progress)
    return _check_truncation(result, expected)


@dataclass(frozen=True, slots=True)
class Segment:
    """One contiguous run of records verified on its own, e.g. by another process.

    Its first record's link to whatever precedes it is not checked here but by
    ``join_segments``, which knows the previous segment's last hash.
    """

    first_seq: int | None
    first_prev_hash: str | None
    result: VerifyResult


def verify_segment(
    records: Iterable[RecordRow],
    *,
    checkpoints: Iterable[Checkpoint] = (),
    deep: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Segment:
    """Verify records that continue a chain from an unknown point (see ``join_segments``)."""
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        if progress is not None:
            progress(0)
        return Segment(None, None, VerifyResult(VerifyStatus.INTACT, 0, GENESIS_HASH))
    seq, prev_hash = first[0], first[5]
    expected = {cp.size: cp.root_hash for cp in checkpoints}
    result = _verify_run(
        itertools.chain([first], iterator),
        seq - 1,
        prev_hash,
        expected,
        deep=deep,
        progress=progress,
    )
    return Segment(seq, prev_hash, result)


def join_segments(
    segments: Iterable[Segment],
    *,
    after: Checkpoint | None = None,
    checkpoints: Iterable[Checkpoint] = (),
) -> VerifyResult:
    """The result of verifying the segments' records as one chain, in seq order.

    Equal to ``verify`` over the concatenated records: each segment has checked its own links,
    so what is left is each boundary (the next seq, and prev_hash against the last hash before
    it), taken in order, so the first broken entry is still the one named.
    """
    size = after.size if after is not None else 0
    root = after.root_hash if after is not None else GENESIS_HASH
    expected = _expected_roots(checkpoints, size)
    if expected.get(size, root) != root:
        return _broken(size, root, size, Problem.CHECKPOINT_MISMATCH, "at the starting point")
    for segment in segments:
        if segment.first_seq is None:
            continue
        if segment.first_seq != size + 1:
            return _sequence_break(size, root, segment.first_seq)
        if segment.first_prev_hash != root:
            return _link_break(size, root, segment.first_seq, segment.first_prev_hash)
        if segment.result.status is VerifyStatus.BROKEN:
            return segment.result
        size, root = segment.result.size, segment.result.root_hash
    return _check_truncation(VerifyResult(VerifyStatus.INTACT, size, root), expected)


def _expected_roots(checkpoints: Iterable[Checkpoint], start: int) -> dict[int, str]:
    expected: dict[int, str] = {}
    for cp in checkpoints:
        if cp.size < start:
            raise ValueError(f"checkpoint size {cp.size} is before the first verified entry")
        expected[cp.size] = cp.root_hash
    return expected


def _verify_run(  # noqa: PLR0911 - one flat loop of checks; helpers would cost a call per entry
    records: Iterable[RecordRow],
    size: int,
    root: str,
    expected: dict[int, str],
    *,
    deep: bool,
    progress: Callable[[int], None] | None,
) -> VerifyResult:
    """The checks of the module docstring, from a chain whose entry ``size`` hashes to ``root``.

    Checkpoints in ``expected`` are compared as their sizes are reached; whether the records
    reach them all is the caller's question (``_check_truncation``).
    """
    try:
        root_raw = bytes.fromhex(root)
    except ValueError:  # only a segment's unverified starting point can be malformed
        return _link_break(size, root, size + 1, root)
    sha256 = hashlib.sha256
    count = 0
    next_report = PROGRESS_EVERY
    for record in records:
        seq, tag, actor, at, body, prev_hash, digest = record
        if seq != size + 1:
            return _sequence_break(size, root, seq)
        if prev_hash != root:
            return _link_break(size, root, seq, prev_hash)
        raw = sha256(root_raw + body).digest()
        if raw.hex() != digest:
            detail = f"stored hash {digest!r}, computed {raw.hex()!r}"
            return _broken(size, root, seq, Problem.HASH_MISMATCH, detail)
        head, tail = frame(seq=seq, tag=tag, actor=actor, at=at)
        if not (body.startswith(head) and body.endswith(tail)):
            problem, detail = _diagnose_frame(AuditRecord._make(record))
            return _broken(size, root, seq, problem, detail)
        if deep:
            found = _deep_problem(AuditRecord._make(record))
            if found is not None:
                return _broken(size, root, seq, *found)
        size, root, root_raw = seq, digest, raw
        if size in expected and expected[size] != root:
            detail = f"checkpoint root {expected[size]!r}, log has {root!r}"
            return _broken(size - 1, prev_hash, size, Problem.CHECKPOINT_MISMATCH, detail)
        count += 1
        if progress is not None and count >= next_report:
            progress(count)
            next_report += PROGRESS_EVERY
    if progress is not None:
        progress(count)
    return VerifyResult(VerifyStatus.INTACT, size, root)


def _sequence_break(size: int, root: str, seq: int) -> VerifyResult:
    if seq > size + 1:
        detail = f"seq {size + 1} is missing: the next stored seq is {seq}"
        return _broken(size, root, size + 1, Problem.SEQ_GAP, detail)
    detail = f"found seq {seq} where seq {size + 1} should be (reordered or renumbered)"
    return _broken(size, root, size + 1, Problem.SEQ_OUT_OF_ORDER, detail)


def _link_break(size: int, root: str, seq: int, prev_hash: str | None) -> VerifyResult:
    detail = f"prev_hash {prev_hash!r} is not the hash of entry {size}, {root!r}"
    return _broken(size, root, seq, Problem.PREV_LINK_BROKEN, detail)


def _check_truncation(result: VerifyResult, expected: dict[int, str]) -> VerifyResult:
    if result.status is VerifyStatus.BROKEN:
        return result
    beyond = [s for s in expected if s > result.size]
    if not beyond:
        return result
    detail = f"a checkpoint has size {max(beyond)}, the log ends at {result.size}"
    return _broken(result.size, result.root_hash, result.size + 1, Problem.LOG_TRUNCATED, detail)


def _broken(size: int, root: str, seq: int, problem: Problem, detail: str) -> VerifyResult:
    return VerifyResult(VerifyStatus.BROKEN, size, root, Breakage(seq, problem, detail))


def _diagnose_frame(record: AuditRecord) -> tuple[Problem, str]:
    """Why a body with a valid hash does not match its columns (the slow path, once)."""
    try:
        entry = AuditEntry.from_record(record)
    except UnparsableEntry as exc:
        return Problem.BODY_UNPARSABLE, exc.reason
    differing = [
        f"{name} column {column!r}, body {in_body!r}"
        for name, column, in_body in (
            ("seq", record.seq, entry.seq),
            ("tag", record.tag, entry.tag),
            ("actor", record.actor, entry.actor),
            ("at", record.at, entry.to_dict()["at"]),
        )
        if column != in_body
    ]
    if differing:
        return Problem.COLUMN_MISMATCH, "; ".join(differing)
    return Problem.NON_CANONICAL_BODY, "the body's fields match but its bytes are not canonical"


def _deep_problem(record: AuditRecord) -> tuple[Problem, str] | None:
    try:
        entry = AuditEntry.from_record(record)
    except UnparsableEntry as exc:
        return Problem.BODY_UNPARSABLE, exc.reason
    document = entry.to_dict()
    del document["prev_hash"], document["hash"]
    if canonical_json(document) != record.body:
        return Problem.NON_CANONICAL_BODY, "the body does not re-encode to the same bytes"
    return None
