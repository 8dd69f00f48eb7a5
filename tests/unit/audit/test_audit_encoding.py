"""The canonical encoding: exact bytes, the refusals, timestamps and the hash definition."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexloci.audit import GENESIS_HASH, AuditEncodingError, AuditTag, seal
from lexloci.audit.encoding import (
    MAX_ACTOR_LENGTH,
    JsonValue,
    canonical_json,
    encode_body,
    entry_hash,
    format_timestamp,
    frame,
    normalize_payload,
    parse_timestamp,
    validate_actor,
)

NOON = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SAFE = 2**53 - 1

json_scalars = (
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.text(st.characters(codec="utf-8"))
)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), json_values)


def test_body_is_sorted_compact_utf8_json_with_six_keys() -> None:
    body = encode_body(
        seq=7,
        tag="case:case:received",
        actor="token:intake-1",
        at="2026-11-27T12:00:00.000000Z",
        payload={"z": [1, True, None], "a": {"y": "北京", "b": "x\ny"}},
    )
    assert (
        body
        == (
            '{"actor":"token:intake-1","at":"2026-11-27T12:00:00.000000Z",'
            '"payload":{"a":{"b":"x\\ny","y":"北京"},"z":[1,true,null]},'
            '"seq":7,"tag":"case:case:received","v":1}'
        ).encode()
    )


def test_hash_is_sha256_of_raw_previous_hash_then_body() -> None:
    body = b'{"any":"bytes"}'
    assert entry_hash(GENESIS_HASH, body) == hashlib.sha256(bytes(32) + body).hexdigest()
    prev = hashlib.sha256(b"x").hexdigest()
    assert entry_hash(prev, body) == hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()


def test_seal_links_to_the_given_head_and_hashes_the_body() -> None:
    sealed = seal(
        seq=1,
        prev_hash=GENESIS_HASH,
        tag=AuditTag.CASE_CASE_APPEALED,
        actor="token:bob",
        at=NOON,
        payload={"case_id": "c-1"},
    )
    record = sealed.record
    assert record.prev_hash == GENESIS_HASH
    assert record.hash == hashlib.sha256(bytes(32) + record.body).hexdigest()
    assert json.loads(record.body) == {
        "actor": "token:bob",
        "at": "2026-11-27T12:00:00.000000Z",
        "payload": {"case_id": "c-1"},
        "seq": 1,
        "tag": "case:case:appealed",
        "v": 1,
    }
    assert (record.tag, record.actor, record.at) == (
        "case:case:appealed",
        "token:bob",
        "2026-11-27T12:00:00.000000Z",
    )


@given(payloads)
def test_canonical_bytes_are_a_fixed_point_of_parse_and_reencode(payload: dict[str, Any]) -> None:
    body = encode_body(seq=1, tag="t:t:t", actor="a:b", at="x", payload=payload)
    assert canonical_json(json.loads(body)) == body
    assert json.loads(body)["payload"] == payload


@given(
    payloads,
    st.integers(1, SAFE),
    st.text(st.characters(codec="utf-8"), min_size=1),
    st.text(st.characters(codec="utf-8")),
)
def test_every_body_is_its_frame_around_the_payload(
    payload: dict[str, Any], seq: int, actor: str, tag: str
) -> None:
    at = "2026-11-27T12:00:00.000000Z"
    body = encode_body(seq=seq, tag=tag, actor=actor, at=at, payload=payload)
    head, tail = frame(seq=seq, tag=tag, actor=actor, at=at)
    assert body == head + canonical_json(payload) + tail


def test_text_is_written_as_utf8_and_only_quotes_backslashes_and_controls_are_escaped() -> None:
    encoded = canonical_json({"k": 'é北\u2028"\\\x01\x7f\t'})
    assert encoded == '{"k":"é北\u2028\\"\\\\\\u0001\x7f\\t"}'.encode()


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_payload_values_are_normalized_to_plain_json() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    normalized = normalize_payload(
        {
            "when": dt.datetime(2026, 11, 27, 20, 0, 0, 5, tzinfo=beijing),
            "day": dt.date(2026, 6, 4),
            "pair": ("a", 1),
            "color": Color.RED,
            "level": Level.HIGH,
            "flag": True,
        }
    )
    assert normalized == {
        "when": "2026-11-27T12:00:00.000005Z",
        "day": "2026-06-04",
        "pair": ["a", 1],
        "color": "red",
        "level": 3,
        "flag": True,
    }
    assert type(normalized["color"]) is str
    assert type(normalized["level"]) is int
    assert normalized["flag"] is True


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"x": 1.5}, "float"),
        ({"x": float("nan")}, "float"),
        ({"x": float("inf")}, "float"),
        ({"x": dt.datetime(2026, 1, 1)}, "naive datetime"),  # noqa: DTZ001 - the point of the test
        ({"x": {"b", "a"}}, "sort it into a list"),
        ({"x": b"bytes"}, "bytes is not JSON-compatible"),
        ({"x": {1: "one"}}, "key 1 is not a string"),
        ({"x": 2**53}, "outside"),
        ({"x": -(2**53)}, "outside"),
        ({"deep": [{"er": [0, 0.1]}]}, "at 'deep': at [0]: at 'er': at [1]: float"),
    ],
)
def test_values_without_one_agreed_json_form_are_refused(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(AuditEncodingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        normalize_payload(payload)


def test_lone_surrogates_are_refused_when_encoding() -> None:
    with pytest.raises(AuditEncodingError, match="not valid Unicode"):
        seal(
            seq=1,
            prev_hash=GENESIS_HASH,
            tag=AuditTag.CASE_CASE_APPEALED,
            actor="token:a",
            at=NOON,
            payload={"x": "\ud800"},
        )


def test_seal_refuses_a_tag_that_is_not_an_audit_tag() -> None:
    with pytest.raises(TypeError):
        seal(
            seq=1,
            prev_hash=GENESIS_HASH,
            tag="case:case:appealed",  # type: ignore[arg-type]
            actor="token:a",
            at=NOON,
            payload={},
        )


@given(st.datetimes(timezones=st.timezones()))
def test_timestamps_are_fixed_width_utc_and_round_trip(moment: dt.datetime) -> None:
    try:
        text = format_timestamp(moment)
    except OverflowError:  # the UTC equivalent of year 1 or 9999 is out of range
        return
    assert len(text) == 27
    assert text.endswith("Z")
    # The same instant, compared in UTC: PEP 495 makes == across zones False for local times
    # that fall in a DST gap or fold, even when they denote this very instant.
    assert parse_timestamp(text) == moment.astimezone(dt.UTC)


def test_timestamps_sort_as_text_in_time_order() -> None:
    early = format_timestamp(dt.datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC))
    late = format_timestamp(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert early == "0999-12-31T23:59:59.999999Z"
    assert early < late


@pytest.mark.parametrize(
    "text",
    ["2026-11-27T12:00:00Z", "2026-11-27T12:00:00.000000+00:00", "2026-11-27 12:00:00.000000Z"],
)
def test_other_timestamp_forms_are_not_audit_timestamps(text: str) -> None:
    with pytest.raises(ValueError, match="not an audit timestamp"):
        parse_timestamp(text)


@pytest.mark.parametrize("actor", ["", "x" * (MAX_ACTOR_LENGTH + 1), "token:a\nb", "token:\x00"])
def test_empty_overlong_or_unprintable_actors_are_refused(actor: str) -> None:
    with pytest.raises(AuditEncodingError, match="actor"):
        validate_actor(actor)


@pytest.mark.parametrize("actor", ["system", "token:alice", "participant:p-1", "账户:42"])
def test_printable_actors_are_accepted(actor: str) -> None:
    assert validate_actor(actor) == actor
