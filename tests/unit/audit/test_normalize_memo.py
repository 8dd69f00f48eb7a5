"""normalize_payload's memo: values shared by a batch's payloads are normalized once, with
the same result and the same errors as without it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexloci.audit.encoding import (
    AuditEncodingError,
    NormalizeMemo,
    canonical_json,
    normalize_payload,
)

json_leaves = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text()
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    shared=st.dictionaries(st.text(), json_values, max_size=4),
    own=st.lists(st.dictionaries(st.text(), json_values, max_size=4), min_size=1, max_size=5),
)
def test_memo_gives_the_same_canonical_bytes(
    shared: dict[str, Any], own: list[dict[str, Any]]
) -> None:
    memo: NormalizeMemo = {}
    for extra in own:
        payload = {**extra, "evidence": shared, "when": dt.datetime(2026, 6, 4, tzinfo=dt.UTC)}
        with_memo = normalize_payload(payload, memo)
        without = normalize_payload(payload)
        assert canonical_json(with_memo) == canonical_json(without)


def test_a_shared_value_is_normalized_once_and_reused() -> None:
    evidence = {"territory": "CN", "when": dt.date(2026, 6, 4)}
    memo: NormalizeMemo = {}
    first = normalize_payload({"participant_id": "p1", "evidence": evidence}, memo)
    second = normalize_payload({"participant_id": "p2", "evidence": evidence}, memo)
    assert first["evidence"] is second["evidence"]
    assert first["evidence"] == {"territory": "CN", "when": "2026-06-04"}
    assert len(memo) == 1


def test_errors_inside_a_shared_value_name_its_path() -> None:
    with pytest.raises(AuditEncodingError, match="at 'evidence': at 'accuracy': float"):
        normalize_payload({"evidence": {"accuracy": 0.5}}, {})
