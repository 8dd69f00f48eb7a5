"""The join's answer, its location spliced in as kept text, is byte for byte the
``JSONResponse`` it replaces."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from lexloci.api.routes.meetings import _LOCATION_SLOT, _admitted

LOCATION: dict[str, Any] = {
    "territory": "TW",
    "sources": [{"source": "iptocc", "version": "2026-11", "answer": "TW"}],
    "flags": [],
    "note": "臺灣 — ünïcode stays unescaped",
}


def answer(**extra: Any) -> dict[str, Any]:
    return {"participant_id": "par_1", "token": "t", "media": {"kind": "mesh"}, **extra}


def test_is_the_json_response_it_replaces() -> None:
    for _ in range(2):  # the location's text is made, then kept
        spliced = _admitted(answer(location=_LOCATION_SLOT), "TW", LOCATION)
        expected = JSONResponse(answer(location=LOCATION), status_code=201)
        assert spliced.body == expected.body
        assert spliced.status_code == 201
        assert spliced.headers.items() == expected.headers.items()


def test_a_value_that_contains_the_slot_gets_the_whole_encoding() -> None:
    tricky = answer(location=_LOCATION_SLOT, participant_id=_LOCATION_SLOT)
    spliced = _admitted(tricky, "TW", LOCATION)
    expected = JSONResponse({**tricky, "location": LOCATION}, status_code=201)
    assert spliced.body == expected.body


def test_a_new_snapshot_of_a_territory_replaces_the_kept_text() -> None:
    _admitted(answer(location=_LOCATION_SLOT), "TW", LOCATION)
    other = {**LOCATION, "flags": ["vpn"]}
    spliced = _admitted(answer(location=_LOCATION_SLOT), "TW", other)
    assert spliced.body == JSONResponse(answer(location=other), status_code=201).body
