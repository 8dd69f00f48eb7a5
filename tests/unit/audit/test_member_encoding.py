"""``canonical_members``: a flat object written member by member is exactly its canonical
text, and anything it does not take is left to ``canonical_text`` (None)."""

from __future__ import annotations

import datetime as dt
import enum

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lexloci.audit.encoding import canonical_members, canonical_text

# Every code point, surrogates and control characters included: the text is written as the
# canonical encoder writes it, whatever it holds.
_TEXT = st.text(st.characters(), max_size=12)
_PLAIN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    _TEXT,
    st.lists(_TEXT, max_size=4),
    st.lists(_TEXT, max_size=4).map(tuple),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), _TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(
    plain=st.dictionaries(_TEXT, _PLAIN, max_size=16),
    shared=st.dictionaries(_TEXT, _JSON, max_size=3),
)
@example(plain={"b": 1, "a": "x", "B": None, "é": True, "": []}, shared={})
@example(plain={"x": '\x00\x1f"\\\u2028\ud800'}, shared={"y": {"z": [1, "2"]}})
def test_is_the_canonical_text_of_the_whole(
    plain: dict[str, object], shared: dict[str, object]
) -> None:
    value = {**plain, **shared}
    pieces = {key: canonical_text(item) for key, item in shared.items()}
    assert canonical_members(value, pieces) == canonical_text(value)


@given(order=st.permutations(["phone", "case_ids", "territory", "context", "client_ip"]))
def test_any_insertion_order_gives_the_same_text(order: list[str]) -> None:
    value = {key: key.upper() for key in order}
    assert canonical_members(value, {}) == canonical_text(value)


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "member",
    [
        1.5,
        2**53,
        -(2**53),
        dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        dt.date(2026, 6, 1),
        Colour.RED,
        ["a", 1],
        ["a", Colour.RED],
        {"a": "b"},
        {"a"},
        b"bytes",
    ],
)
def test_leaves_to_canonical_text_what_is_not_a_plain_member(member: object) -> None:
    assert canonical_members({"a": "x", "member": member}, {}) is None


def test_a_piece_stands_for_its_member_whatever_the_member_is() -> None:
    when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    value = {"when": when, "id": "p1"}
    text = canonical_members(value, {"when": canonical_text(when)})
    assert text == canonical_text(value) == '{"id":"p1","when":"2026-06-01T00:00:00.000000Z"}'


def test_refuses_keys_that_are_not_exactly_strings() -> None:
    assert canonical_members({1: "x"}, {}) is None  # type: ignore[dict-item]
    assert canonical_members({Colour.RED: "x"}, {}) is None
