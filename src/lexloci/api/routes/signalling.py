"""``WS /api/v1/sessions/{sid}/signal``: the signalling channel of one roster member.

Protocol (JSON text frames):

- client → server first: ``{"type": "hello", "token": "<token from the join>"}`` within
  ``HELLO_TIMEOUT`` seconds. A wrong token, a participant not (or no longer) in the roster, or
  anything else first closes the socket with code 4401. The token never appears in a URL, so it
  never reaches an access log.
- server → client: ``welcome`` (own id, roster), ``roster`` (whenever it changes), ``signal``
  (``from``, ``data``), ``host_notice``, ``removed`` (with the notice; the socket then closes with
  4403), ``session_ended`` (4410), ``error`` (``code``, ``message``) and ``pong``.
- client → server after hello: ``{"type": "signal", "to": "<participant id>", "data": {...}}``
  (relayed only between connected roster members of this session), ``{"type": "leave"}``,
  ``{"type": "ping"}``.

Malformed messages get an ``error`` reply and never disturb other members; after
``MAX_ERRORS`` of them the socket is closed (4400). Closing the socket leaves the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from lexloci.api.deps import container_of
from lexloci.errors import LexlociError

router = APIRouter()
log = logging.getLogger("lexloci.signalling")

HELLO_TIMEOUT = 10.0
MAX_MESSAGE = 64 * 1024
MAX_ERRORS = 20
CLOSE_BAD_HELLO = 4401
CLOSE_PROTOCOL = 4400


async def _error(ws: WebSocket, code: str, message: str, **details: Any) -> None:
    await ws.send_json({"type": "error", "code": code, "message": message, **details})


def _parse(raw: str) -> dict[str, Any] | None:
    if len(raw) > MAX_MESSAGE:
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


async def _hello(ws: WebSocket, session_id: str) -> str | None:
    """Wait for the hello; the participant id it authenticates, or None (socket closed)."""
    service = container_of(ws).meetings  # type: ignore[arg-type]  # a WebSocket is an HTTPConnection
    try:
        raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT)
    except WebSocketDisconnect:
        return None
    except (TimeoutError, KeyError):  # KeyError: a binary frame has no text
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await ws.close(CLOSE_BAD_HELLO, "expected hello")
        return None
    hello = _parse(raw)
    token = hello.get("token") if hello and hello.get("type") == "hello" else None
    participant_id = (
        service.participant_for_token(session_id, token) if isinstance(token, str) else None
    )
    if participant_id is None:
        await _error(ws, "unauthenticated", "hello with the token from your join, please")
        await ws.close(CLOSE_BAD_HELLO, "bad hello")
    return participant_id


async def _serve_member(ws: WebSocket, session_id: str, participant_id: str) -> None:
    """Relay this member's messages until they leave, disconnect, or misbehave too often."""
    hub = container_of(ws).hub  # type: ignore[arg-type]
    errors = 0
    while errors < MAX_ERRORS:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            return
        text = frame.get("text")
        message = _parse(text) if isinstance(text, str) else None
        kind = message.get("type") if message else None
        if kind == "signal" and message is not None:
            target, data = message.get("to"), message.get("data")
            if not isinstance(target, str) or not isinstance(data, dict):
                errors += 1
                await _error(
                    ws, "invalid_message", "signal needs 'to' (an id) and 'data' (an object)"
                )
            elif not await hub.relay(session_id, participant_id, target, data):
                await _error(ws, "not_in_roster", f"{target} is not a connected member", to=target)
        elif kind == "ping":
            await ws.send_json({"type": "pong"})
        elif kind == "leave":
            return
        else:
            errors += 1
            await _error(ws, "invalid_message", "expected a JSON object: signal, ping or leave")
    await ws.close(CLOSE_PROTOCOL, "too many malformed messages")


@router.websocket("/api/v1/sessions/{session_id}/signal")
async def signal(ws: WebSocket, session_id: str) -> None:
    container = container_of(ws)  # type: ignore[arg-type]  # a WebSocket is an HTTPConnection
    await ws.accept()
    participant_id = await _hello(ws, session_id)
    if participant_id is None:
        return
    hub = container.hub
    # Attached at once (a removal from now on closes this socket), but left out of roster
    # broadcasts until the welcome is sent, so the welcome is always the first roster the
    # member sees; the broadcast scheduled after it covers any change made in between.
    await hub.attach(session_id, participant_id, ws, welcomed=False)
    try:
        roster = await to_thread.run_sync(container.live.roster_message, session_id)
        await ws.send_json({**roster, "type": "welcome", "participant_id": participant_id})
        hub.welcomed(session_id, participant_id)
        container.live.roster_changed(session_id)
        await _serve_member(ws, session_id, participant_id)
    except WebSocketDisconnect:
        pass
    except RuntimeError:  # closed meanwhile by the server (removed before the welcome went out)
        log.debug("participant %s was detached before the welcome", participant_id)
    finally:
        # Never leave a registered connection behind, whatever ended the member's loop (I3).
        hub.forget(session_id, participant_id, ws)
    if participant_id in container.meetings.live_ids(session_id):
        try:
            await container.live.leave(session_id, participant_id)
        except LexlociError:
            log.debug("participant %s was already gone", participant_id)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await ws.close(1000, "left")
