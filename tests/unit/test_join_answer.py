"""The join's answer, written into a template with its location's text kept, is byte for byte
the ``JSONResponse`` of the answer object (``_answer``), whatever its members are."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st

from lexloci.api.routes.meetings import _admitted, _answer
from lexloci.geo import Location
from lexloci.meetings.model import Participant, ParticipantState
from lexloci.meetings.service import JoinResult
from lexloci.policy import Decision, Effect, Enforcement, SessionContext

LOCATION: dict[str, Any] = {
    "territory": "TW",
    "sources": [{"source": "iptocc", "version": "2026-11", "answer": "TW"}],
    "flags": [],
    "note": "臺灣 — ünïcode stays unescaped",
}
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def result(
    participant_id: Any = "par_1",
    token: Any = "llt_t",
    territory: Any = "TW",
    decision_id: Any = "d-1",
    version: Any = 3,
    location: dict[str, Any] = LOCATION,
) -> JoinResult:
    context = SessionContext("ses_1", "mtg_1", "mtg_1", "acc_1")
    decision = Decision(
        Effect.ALLOW,
        (),
        (),
        context,
        Location(territory),
        Enforcement.BLOCK_JOIN,
        version,
        decision_id,
        NOW,
    )
    participant = Participant(
        participant_id,
        "ses_1",
        "guest",
        ParticipantState.JOINED,
        NOW,
        territory,
        location,
    )
    return JoinResult(participant, decision, token, None)


def expected(joined: JoinResult, session_id: str, media: Any) -> JSONResponse:
    return JSONResponse(_answer(joined, session_id, media), status_code=201)


def test_is_the_json_response_of_the_answer() -> None:
    for _ in range(2):  # the location's text is made, then kept
        joined = result()
        ours = _admitted(joined, "ses_1", {"kind": "mesh"})
        theirs = expected(joined, "ses_1", {"kind": "mesh"})
        assert ours.body == theirs.body
        assert ours.status_code == 201
        assert ours.headers.items() == theirs.headers.items()


def test_a_new_snapshot_of_a_territory_replaces_the_kept_text() -> None:
    _admitted(result(), "ses_1", None)
    other = {**LOCATION, "flags": ["vpn"]}
    joined = result(location=other)
    assert _admitted(joined, "ses_1", None).body == expected(joined, "ses_1", None).body


class Tagged(str):
    def __str__(self) -> str:
        return "tagged"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.builds(Tagged, st.text())
_MEDIA = st.none() | st.dictionaries(_KEYS, _JSON, max_size=4)
_STRINGS = st.text() | st.builds(Tagged, st.text())


@given(
    participant_id=_STRINGS | st.integers(),
    session_id=_STRINGS,
    token=_STRINGS | st.none(),
    territory=st.none() | _STRINGS,
    decision_id=_STRINGS,
    version=st.integers() | st.booleans() | st.floats(allow_nan=False),
    media=_MEDIA,
)
def test_any_answer_is_the_json_response_of_it_or_fails_as_it(
    participant_id: Any,
    session_id: str,
    token: Any,
    territory: Any,
    decision_id: Any,
    version: Any,
    media: Any,
) -> None:
    joined = result(participant_id, token, territory, decision_id, version)
    try:
        theirs = expected(joined, session_id, media).body
    except ValueError as exc:  # a NaN or an infinity among the media's members
        with pytest.raises(type(exc)):
            _admitted(joined, session_id, media)
        return
    assert _admitted(joined, session_id, media).body == theirs


def test_a_float_that_json_refuses_is_refused_the_same() -> None:
    with pytest.raises(ValueError, match="Out of range float values"):
        _admitted(result(), "ses_1", {"kind": "mesh", "rate": math.inf})
