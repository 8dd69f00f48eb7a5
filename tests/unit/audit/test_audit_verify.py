"""verify(): every kind of damage is found and the first broken entry is named."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexloci.audit import (
    GENESIS_HASH,
    AuditRecord,
    AuditTag,
    Checkpoint,
    Problem,
    VerifyStatus,
    entry_hash,
    seal,
    verify,
)
from lexloci.audit import verification as verify_module
from lexloci.audit.encoding import canonical_json, frame
from lexloci.audit.verification import join_segments, verify_segment

START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
TAGS = list(AuditTag)


def build_chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        sealed = seal(
            seq=seq,
            prev_hash=prev,
            tag=TAGS[seq % len(TAGS)],
            actor=f"token:user-{seq % 3}",
            at=START + dt.timedelta(seconds=seq),
            payload={"n": seq, "territory": "CN", "evidence": {"sources": ["iptocc"]}},
        )
        records.append(sealed.record)
        prev = sealed.record.hash
    return records


def rechain(records: list[AuditRecord], start: int = 0) -> list[AuditRecord]:
    """Recompute every hash from ``start`` on: what an attacker with write access would do."""
    out = list(records[:start])
    prev = out[-1].hash if out else GENESIS_HASH
    for record in records[start:]:
        digest = entry_hash(prev, record.body)
        out.append(record._replace(prev_hash=prev, hash=digest))
        prev = digest
    return out


CHAIN = build_chain(12)


def test_an_untouched_chain_is_intact_with_its_head_as_root() -> None:
    result = verify(CHAIN)
    assert result.status is VerifyStatus.INTACT
    assert (result.size, result.root_hash) == (12, CHAIN[-1].hash)
    assert result.breakage is None


def test_an_empty_log_is_intact_at_the_genesis_hash() -> None:
    result = verify([])
    assert (result.status, result.size, result.root_hash) == (VerifyStatus.INTACT, 0, GENESIS_HASH)


def _changed_text(text: str, position: int, delta: int) -> str:
    index = position % len(text)
    replacement = chr(32 + (ord(text[index]) - 32 + delta) % 95)  # another printable ASCII char
    return text[:index] + replacement + text[index + 1 :]


EXPECTED = {
    "body": Problem.HASH_MISMATCH,
    "hash": Problem.HASH_MISMATCH,
    "prev_hash": Problem.PREV_LINK_BROKEN,
    "tag": Problem.COLUMN_MISMATCH,
    "actor": Problem.COLUMN_MISMATCH,
    "at": Problem.COLUMN_MISMATCH,
}


@given(
    index=st.integers(0, len(CHAIN) - 1),
    field=st.sampled_from(sorted(EXPECTED)),
    position=st.integers(0, 10_000),
    delta=st.integers(1, 94),
)
def test_changing_one_byte_of_any_field_of_any_entry_names_that_entry(
    index: int, field: str, position: int, delta: int
) -> None:
    records = list(CHAIN)
    original = records[index]
    if field == "body":
        body = bytearray(original.body)
        at = position % len(body)
        body[at] = (body[at] + delta) % 256
        records[index] = original._replace(body=bytes(body))
    else:
        changed = _changed_text(getattr(original, field), position, delta)
        records[index] = original._replace(**{field: changed})  # type: ignore[arg-type]  # a str field

    result = verify(records)

    assert result.status is VerifyStatus.BROKEN
    assert result.breakage is not None
    assert result.breakage.seq == original.seq
    assert result.breakage.problem is EXPECTED[field]
    assert (result.size, result.root_hash) == (
        index,
        records[index - 1].hash if index else GENESIS_HASH,
    )


def test_a_column_mismatch_says_which_column_and_both_values() -> None:
    records = list(CHAIN)
    records[4] = records[4]._replace(tag="meeting:participant:join_allowed")
    breakage = verify(records).breakage
    assert breakage is not None
    assert breakage.problem is Problem.COLUMN_MISMATCH
    assert "tag column 'meeting:participant:join_allowed'" in breakage.detail
    assert f"body {CHAIN[4].tag!r}" in breakage.detail
    assert str(breakage).startswith("entry 5: column_mismatch: ")


@pytest.mark.parametrize("missing", [0, 5, 10])
def test_a_missing_entry_is_a_gap_named_by_its_seq(missing: int) -> None:
    records = CHAIN[:missing] + CHAIN[missing + 1 :]
    breakage = verify(records).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (missing + 1, Problem.SEQ_GAP)


def test_swapped_entries_break_the_chain_at_the_first_of_them() -> None:
    records = list(CHAIN)
    records[3], records[7] = records[7], records[3]
    breakage = verify(records).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (4, Problem.SEQ_GAP)


def test_a_renumbered_entry_is_found_where_it_breaks_the_order() -> None:
    records = list(CHAIN)
    records[6] = records[6]._replace(seq=3)
    breakage = verify(records).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (7, Problem.SEQ_OUT_OF_ORDER)
    assert "found seq 3" in breakage.detail


def test_a_duplicated_entry_is_out_of_order() -> None:
    records = [*CHAIN[:5], CHAIN[4], *CHAIN[5:]]
    breakage = verify(records).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (6, Problem.SEQ_OUT_OF_ORDER)


def test_cutting_off_the_end_is_only_visible_against_a_checkpoint() -> None:
    checkpoint = Checkpoint("lexloci", 12, CHAIN[-1].hash)
    truncated = CHAIN[:9]
    # What a chain alone cannot show, stated as a test so nobody relies on it:
    assert verify(truncated).status is VerifyStatus.INTACT
    breakage = verify(truncated, checkpoints=[checkpoint]).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (10, Problem.LOG_TRUNCATED)


def test_a_rewritten_and_rehashed_history_is_caught_by_an_earlier_checkpoint() -> None:
    cited = Checkpoint("lexloci", 8, CHAIN[7].hash)
    forged_body = CHAIN[2].body.replace(b'"territory":"CN"', b'"territory":"HK"')
    assert forged_body != CHAIN[2].body
    records = rechain([*CHAIN[:2], CHAIN[2]._replace(body=forged_body), *CHAIN[3:]], start=2)
    assert verify(records).status is VerifyStatus.INTACT  # self-consistent forgery
    result = verify(records, checkpoints=[cited])
    assert result.breakage is not None
    assert (result.breakage.seq, result.breakage.problem) == (8, Problem.CHECKPOINT_MISMATCH)
    assert result.size == 7


def test_a_matching_checkpoint_passes_and_a_size_zero_checkpoint_must_be_genesis() -> None:
    assert verify(CHAIN, checkpoints=[Checkpoint("o", 5, CHAIN[4].hash)]).status is (
        VerifyStatus.INTACT
    )
    wrong_genesis = Checkpoint("o", 0, CHAIN[0].hash)
    breakage = verify(CHAIN, checkpoints=[wrong_genesis]).breakage
    assert breakage is not None
    assert breakage.problem is Problem.CHECKPOINT_MISMATCH


def test_verification_can_continue_from_a_trusted_checkpoint() -> None:
    trusted = Checkpoint("lexloci", 6, CHAIN[5].hash)
    result = verify(CHAIN[6:], after=trusted)
    assert (result.status, result.size, result.root_hash) == (
        VerifyStatus.INTACT,
        12,
        CHAIN[-1].hash,
    )
    other = Checkpoint("lexloci", 6, CHAIN[4].hash)
    breakage = verify(CHAIN[6:], after=other).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (7, Problem.PREV_LINK_BROKEN)
    with pytest.raises(ValueError, match="before the first verified entry"):
        verify(CHAIN[6:], after=trusted, checkpoints=[Checkpoint("lexloci", 2, CHAIN[1].hash)])


def _with_body(records: list[AuditRecord], index: int, body: bytes) -> list[AuditRecord]:
    return rechain([*records[:index], records[index]._replace(body=body), *records[index + 1 :]])


def test_a_body_that_is_not_json_is_unparsable_even_with_a_valid_hash() -> None:
    records = _with_body(CHAIN, 3, b"\xff not json")
    breakage = verify(records).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (4, Problem.BODY_UNPARSABLE)


def test_deep_verification_also_checks_the_payload_and_the_canonical_form() -> None:
    record = CHAIN[3]
    head, tail = frame(seq=record.seq, tag=record.tag, actor=record.actor, at=record.at)
    payload = json.loads(record.body)["payload"]
    spaced = head + json.dumps(payload).encode() + tail  # same meaning, non-canonical bytes
    broken = head + b"{not json" + tail
    assert canonical_json(payload) != json.dumps(payload).encode()

    for body, problem in [(spaced, Problem.NON_CANONICAL_BODY), (broken, Problem.BODY_UNPARSABLE)]:
        records = _with_body(CHAIN, 3, body)
        # The fast check compares the frame only: bodies lexloci wrote are canonical by
        # construction, so it does not re-parse payloads (docs/audit.md, "Verification").
        assert verify(records).status is VerifyStatus.INTACT
        breakage = verify(records, deep=True).breakage
        assert breakage is not None
        assert (breakage.seq, breakage.problem) == (4, problem)
    assert verify(CHAIN, deep=True).status is VerifyStatus.INTACT


def test_progress_reports_the_running_count_and_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "PROGRESS_EVERY", 5)
    seen: list[int] = []
    verify(CHAIN, progress=seen.append)
    assert seen == [5, 10, 12]


def test_a_broken_result_keeps_the_intact_prefix_as_a_checkpoint() -> None:
    records = list(CHAIN)
    records[9] = records[9]._replace(hash="0" * 64)
    result = verify(records)
    assert result.checkpoint("lexloci") == Checkpoint("lexloci", 9, CHAIN[8].hash)
    assert dataclasses.asdict(result)["breakage"]["problem"] == Problem.HASH_MISMATCH


# -- verification in segments (what SqlAuditLog.verify runs in parallel) ---------------------


def _damage(records: list[AuditRecord], how: str, index: int) -> list[AuditRecord]:
    damaged = list(records)
    if how == "body":
        damaged[index] = damaged[index]._replace(body=damaged[index].body + b" ")
    elif how == "prev_hash":
        damaged[index] = damaged[index]._replace(prev_hash="f" * 64)
    elif how == "tag":
        damaged[index] = damaged[index]._replace(tag="auth:token:used")
    elif how == "delete":
        del damaged[index]
    elif how == "duplicate":
        damaged.insert(index, damaged[index])
    return damaged


@given(
    how=st.sampled_from(["none", "body", "prev_hash", "tag", "delete", "duplicate"]),
    index=st.integers(0, len(CHAIN) - 1),
    cuts=st.lists(st.integers(0, len(CHAIN)), max_size=4).map(sorted),
    cited=st.integers(0, len(CHAIN) + 2),
)
def test_verifying_in_segments_and_joining_equals_one_pass(
    how: str, index: int, cuts: list[int], cited: int
) -> None:
    records = _damage(CHAIN, how, index)
    bounds = [0, *cuts, len(records)]
    parts = [records[a:b] for a, b in itertools.pairwise(bounds)]
    # A checkpoint at, inside or beyond the end of the log (a size past the end is truncation).
    known = [GENESIS_HASH, *(r.hash for r in CHAIN)]
    checkpoints = [Checkpoint("o", cited, known[cited] if cited < len(known) else "a" * 64)]
    segments = [verify_segment(part, checkpoints=checkpoints) for part in parts]
    assert join_segments(segments, checkpoints=checkpoints) == verify(
        records, checkpoints=checkpoints
    )


def test_a_segment_starting_from_a_malformed_prev_hash_is_a_broken_link() -> None:
    first = CHAIN[4]._replace(prev_hash="not hex")
    segment = verify_segment([first, *CHAIN[5:]])
    assert segment.result.breakage is not None
    assert segment.result.breakage.problem is Problem.PREV_LINK_BROKEN
    joined = join_segments([verify_segment(CHAIN[:4]), segment])
    assert joined.breakage is not None
    assert (joined.breakage.seq, joined.breakage.problem) == (5, Problem.PREV_LINK_BROKEN)
