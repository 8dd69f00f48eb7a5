"""The join path reads its request without Starlette's conveniences, with the same results:
``read_body`` is ``Request.body``, ``header`` is ``request.headers.get``, and
``pick_language``'s shortcut for a join that asks for nothing is its full answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from lexloci.api.deps import header, read_body
from lexloci.meetings.notices import LANGUAGES, pick_language


def request_of(
    messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None
) -> Request:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    return Request(scope, receive)


def body_messages(chunks: list[bytes]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    messages.append({"type": "http.request", "more_body": False})  # no "body" key at all
    return messages


@given(chunks=st.lists(st.binary(max_size=20), max_size=5))
def test_reads_the_body_request_body_reads(chunks: list[bytes]) -> None:
    mine = asyncio.run(read_body(request_of(body_messages(chunks))))
    starlettes = asyncio.run(request_of(body_messages(chunks)).body())
    assert mine == starlettes == b"".join(chunks)


def test_a_single_message_body_is_read_at_once() -> None:
    messages = [{"type": "http.request", "body": b'{"a":1}', "more_body": False}]
    assert asyncio.run(read_body(request_of(messages))) == b'{"a":1}'


def test_a_client_gone_before_the_end_is_the_same_disconnect() -> None:
    messages = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(request_of(messages)))
    with pytest.raises(ClientDisconnect):
        asyncio.run(request_of(messages).body())


_NAMES = st.sampled_from([b"accept-language", b"host", b"x-forwarded-for", b"Accept-Language"])
_VALUES = st.binary(max_size=12)


@given(headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6))
def test_a_header_is_what_request_headers_get_gives(headers: list[tuple[bytes, bytes]]) -> None:
    request = request_of([], headers)
    for name in ("accept-language", "host", "x-forwarded-for", "accept"):
        assert header(request, name.encode()) == request.headers.get(name)


def reference_pick_language(requested: str | None, accept_language: str | None = None) -> str:
    """``pick_language`` without its shortcut (as it was)."""
    from lexloci.meetings.notices import _accept_languages

    for candidate in [requested or "", *_accept_languages(accept_language or "")]:
        base = candidate.strip().lower().split("-", 1)[0].split("_", 1)[0]
        if base in LANGUAGES:
            return base
    return "en"


_LANGUAGE_TEXT = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=30),
    st.lists(st.sampled_from(["de", "zh-CN", "en-GB;q=0.5", "fr", " ", "", "q=0", "de;q=x"])).map(
        ",".join
    ),
)


@given(requested=_LANGUAGE_TEXT, accept_language=_LANGUAGE_TEXT)
def test_pick_language_answers_as_without_its_shortcut(
    requested: str | None, accept_language: str | None
) -> None:
    assert pick_language(requested, accept_language) == reference_pick_language(
        requested, accept_language
    )
