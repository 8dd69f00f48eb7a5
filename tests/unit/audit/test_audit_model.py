"""Tags, checkpoints, entries read back from bodies, the export format, and the public names."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lexloci.audit
from lexloci.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    AuditTag,
    Checkpoint,
    Problem,
    UnparsableEntry,
    VerifyStatus,
    export_line,
    records_from_export,
    seal,
    verify,
)
from lexloci.audit.encoding import (
    AuditEncodingError,
    encode_body,
    entry_hash,
    format_timestamp,
    normalize_payload,
)
from lexloci.audit.model import prepare, seal_prepared

ROOT = Path(__file__).resolve().parents[3]
START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def chain(payloads: list[dict[str, object]]) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq, payload in enumerate(payloads, start=1):
        record = seal(
            seq=seq,
            prev_hash=prev,
            tag=AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
            actor="system:join-gate",
            at=START,
            payload=payload,
        ).record
        out.append(record)
        prev = record.hash
    return out


# -- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", list(AuditTag))
def test_every_tag_is_source_subject_action(tag: AuditTag) -> None:
    assert re.fullmatch(r"[a-z]+:[a-z_]+:[a-z_]+", tag.value)
    assert f"{tag.source}:{tag.subject}:{tag.action}" == tag.value


def test_tag_values_are_unique() -> None:
    values = [tag.value for tag in AuditTag]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("tag", list(AuditTag))
def test_every_tag_is_documented(tag: AuditTag) -> None:
    docs = (ROOT / "docs" / "audit.md").read_text()
    assert f"| `{tag.value}` |" in docs


# -- checkpoints --------------------------------------------------------------------------------


def test_a_checkpoint_note_is_origin_size_and_base64_root_on_three_lines() -> None:
    root = "ab" * 32
    checkpoint = Checkpoint("lexloci.example.org/audit", 42, root)
    note = checkpoint.to_note()
    assert (
        note == f"lexloci.example.org/audit\n42\n{base64.b64encode(bytes.fromhex(root)).decode()}\n"
    )
    assert Checkpoint.from_note(note) == checkpoint
    assert Checkpoint.from_dict(checkpoint.to_dict()) == checkpoint


@pytest.mark.parametrize(
    "note",
    ["lexloci\n42\n", "lexloci\nforty\nAAAA\n", "lexloci\n1\n!!notbase64\n", "lexloci\n1\nAAAA\n"],
)
def test_malformed_checkpoint_notes_are_refused(note: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint.from_note(note)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 0, GENESIS_HASH),
        ("a\nb", 0, GENESIS_HASH),
        ("o", -1, GENESIS_HASH),
        ("o", 0, "AB" * 32),
    ],
)
def test_checkpoints_validate_their_fields(origin: str, size: int, root: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint(origin, size, root)


@pytest.mark.parametrize(
    "data", [{"origin": "o", "size": True, "root_hash": GENESIS_HASH}, {"origin": "o", "size": 1}]
)
def test_checkpoint_dicts_need_every_field_with_its_type(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint.from_dict(data)


# -- entries ------------------------------------------------------------------------------------


def test_an_entry_is_read_from_the_body_not_from_the_columns() -> None:
    record = chain([{"territory": "CN"}])[0]
    lying_columns = record._replace(tag="auth:token:used", actor="someone:else")
    entry = AuditEntry.from_record(lying_columns)
    assert (entry.tag, entry.actor, entry.at) == (
        "meeting:participant:join_denied",
        "system:join-gate",
        START,
    )
    assert entry.payload == {"territory": "CN"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[]", "must be an object"),
        (b'{"actor":"a","at":"x","payload":{},"seq":1,"tag":"t"}', "must be an object with keys"),
        (b'{"actor":"a","at":"x","payload":{},"seq":1,"tag":"t","v":2}', "encoding version"),
        (b'{"actor":"a","at":"x","payload":{},"seq":true,"tag":"t","v":1}', "'seq' is not a int"),
        (b'{"actor":"a","at":"x","payload":[],"seq":1,"tag":"t","v":1}', "'payload' is not a"),
        (b'{"actor":"a","at":"noon","payload":{},"seq":1,"tag":"t","v":1}', "bad 'at'"),
    ],
)
def test_bodies_that_are_not_entries_are_unparsable(body: bytes, reason: str) -> None:
    record = AuditRecord(1, "t", "a", "x", body, GENESIS_HASH, GENESIS_HASH)
    with pytest.raises(UnparsableEntry, match=reason) as caught:
        AuditEntry.from_record(record)
    assert caught.value.seq == 1


# -- export -------------------------------------------------------------------------------------

texts = st.text(st.characters(codec="utf-8"), max_size=12)
payload_lists = st.lists(
    st.dictionaries(texts, texts | st.integers(-(2**53) + 1, 2**53 - 1) | st.none()),
    min_size=1,
    max_size=5,
)


@given(payload_lists)
def test_an_export_rebuilds_the_exact_stored_records(payloads: list[dict[str, object]]) -> None:
    records = chain(payloads)
    lines = [export_line(record) for record in records]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert list(records_from_export(lines)) == records
    assert verify(records_from_export(lines), deep=True).status is VerifyStatus.INTACT


@given(payload_lists, st.integers(1, 2**53 - 1))
def test_a_prepared_entry_seals_to_the_body_encode_body_gives(
    payloads: list[dict[str, object]], seq: int
) -> None:
    # The SQL log prepares entries before its lock and frames them after: same bytes.
    for payload in payloads:
        prepared = prepare(AuditTag.MEETING_PARTICIPANT_REMOVED, "system:enforcement", payload)
        sealed = seal_prepared(prepared, seq=seq, prev_hash=GENESIS_HASH, at=START)
        body = encode_body(
            seq=seq,
            tag=AuditTag.MEETING_PARTICIPANT_REMOVED.value,
            actor="system:enforcement",
            at=format_timestamp(START),
            payload=normalize_payload(payload),
        )
        assert sealed.record.body == body
        assert sealed.record.hash == entry_hash(GENESIS_HASH, body)
        assert sealed.entry == AuditEntry.from_record(sealed.record)


def test_prepare_refuses_what_seal_refuses() -> None:
    with pytest.raises(TypeError):
        prepare("meeting:participant:removed", "system", {})  # type: ignore[arg-type]
    with pytest.raises(AuditEncodingError):
        prepare(AuditTag.MEETING_PARTICIPANT_REMOVED, "", {})
    with pytest.raises(AuditEncodingError):
        prepare(AuditTag.MEETING_PARTICIPANT_REMOVED, "system", {"x": 1.5})


def test_an_export_line_is_the_body_object_plus_both_hashes() -> None:
    record = chain([{"n": 1}])[0]
    document = json.loads(export_line(record))
    assert document.pop("hash") == record.hash
    assert document.pop("prev_hash") == record.prev_hash
    assert document == json.loads(record.body)


def test_a_changed_value_in_an_export_is_caught_by_verify() -> None:
    lines = [export_line(r) for r in chain([{"territory": "CN"}, {"territory": "CN"}])]
    lines[1] = lines[1].replace(b'"territory":"CN"', b'"territory":"US"')
    breakage = verify(records_from_export(lines)).breakage
    assert breakage is not None
    assert (breakage.seq, breakage.problem) == (2, Problem.HASH_MISMATCH)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\n", "not JSON"),
        (b"[1]\n", "not a JSON object"),
        (b'{"seq":1}\n', "lacks 'hash' or 'prev_hash'"),
        (b'{"hash":"a","prev_hash":"b","x":NaN}\n', "no canonical form"),
    ],
)
def test_lines_that_are_not_export_records_are_named_by_line_number(
    line: bytes, reason: str
) -> None:
    good = export_line(chain([{}])[0])
    with pytest.raises(UnparsableEntry, match=reason) as caught:
        list(records_from_export([good, line]))
    assert caught.value.seq == 2


def test_a_body_that_is_not_an_object_cannot_be_exported() -> None:
    record = AuditRecord(3, "t", "a", "x", b"garbage", GENESIS_HASH, GENESIS_HASH)
    with pytest.raises(UnparsableEntry, match="entry 3"):
        export_line(record)


# -- public names -------------------------------------------------------------------------------


def test_exported_members_exist_and_are_unique() -> None:
    exported = lexloci.audit.__all__
    assert len(set(exported)) == len(exported)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n[0].islower(), n))
    for name in exported:
        assert getattr(lexloci.audit, name) is not None
