"""``canonical_spliced``: shared parts encoded once give exactly the canonical encoding."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from lexloci.audit.encoding import (
    canonical_json,
    canonical_spliced,
    canonical_text,
    normalize_payload,
    slot,
)

_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), max_size=12)
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), _TEXT)
_JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(
    small=st.dictionaries(_TEXT.filter(lambda k: k not in {"a", "b"}), _JSON, max_size=6),
    first=_JSON,
    second=_JSON,
)
def test_spliced_text_is_the_canonical_encoding_of_the_whole(
    small: dict[str, object], first: object, second: object
) -> None:
    pieces = {"a": canonical_text(first), "b": canonical_text(second)}
    spliced = canonical_spliced({**small, "a": slot("a"), "b": slot("b")}, pieces)
    whole = canonical_json(normalize_payload({**small, "a": first, "b": second}))
    assert spliced is not None
    assert spliced.encode() == whole


def test_shared_parts_are_normalized_like_any_payload() -> None:
    at = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
    piece = canonical_text({"when": at, "codes": ("CN", "HK")})
    assert piece == '{"codes":["CN","HK"],"when":"2026-06-01T08:00:00.000000Z"}'


def test_a_value_that_contains_a_slot_token_is_not_spliced() -> None:
    assert canonical_spliced({"x": slot("a"), "y": slot("a")}, {"a": "1"}) is None
    assert canonical_spliced({"x": 1}, {"a": "1"}) is None
