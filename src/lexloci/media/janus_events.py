"""What lexloci reads from Janus's event handler (``sampleevh``): a pure parser, no I/O.

Janus posts batches (a JSON array when ``grouping = true``, else one object) of events, each
``{"type": T, "subtype": S, "session_id": ..., "handle_id": ..., "event": {...}}``. lexloci keeps
only four facts and ignores every other event type, field and shape (an unexpected event is
never an error: Janus versions add events, and a batch must not fail because of one of them):

====================  =====================================================================
event                 fact
====================  =====================================================================
type 2 ``attached``   ``HandleAttached``: handle H of session S was attached with token T
type 2 ``detached``   ``HandleGone``: handle H no longer exists
type 1 ``destroyed``  ``SessionGone``: session S and all its handles no longer exist
type 16 subtype 4     ``SelectedPair``: the ICE pair handle H's media now flows over, with the
                      remote (the participant's side) address, port and candidate type
====================  =====================================================================

Invariants:

- a fact is produced only from a well-formed event: integer ids, a string token, and for a
  selected pair a remote address that parses as an IP address (a hostname — an unresolved
  mDNS ``.local`` candidate — is not an address and yields nothing);
- the parser trusts nothing about *who* sent the batch: authenticating the event handler is
  the HTTP route's job, and the route parses only batches that authenticated.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HandleAttached",
    "HandleGone",
    "JanusFact",
    "SelectedPair",
    "SessionGone",
    "parse_batch",
]

# Janus event types (janus/events/eventhandler.h) and the WebRTC subtype of a selected pair.
_TYPE_SESSION = 1
_TYPE_HANDLE = 2
_TYPE_WEBRTC = 16
_SUBTYPE_SELECTED_PAIR = 4


@dataclass(frozen=True, slots=True)
class HandleAttached:
    session_id: int
    handle_id: int
    token: str


@dataclass(frozen=True, slots=True)
class HandleGone:
    session_id: int
    handle_id: int


@dataclass(frozen=True, slots=True)
class SessionGone:
    session_id: int


@dataclass(frozen=True, slots=True)
class SelectedPair:
    session_id: int
    handle_id: int
    address: str  # normalized IP address of the remote (participant's) candidate
    port: int | None
    candidate_type: str  # host, srflx, prflx or relay


JanusFact = HandleAttached | HandleGone | SessionGone | SelectedPair


def _int(value: Any) -> int | None:
    # Janus ids are unsigned 64-bit integers; a bool is an int in Python but never an id.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _fact(item: Any) -> JanusFact | None:
    if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
        return None
    session_id = _int(item.get("session_id"))
    if session_id is None:
        return None
    body = item["event"]
    if item.get("type") == _TYPE_SESSION:
        return SessionGone(session_id) if body.get("name") == "destroyed" else None
    handle_id = _int(item.get("handle_id"))
    return None if handle_id is None else _handle_level(item, session_id, handle_id, body)


def _handle_level(
    item: dict[str, Any], session_id: int, handle_id: int, body: dict[str, Any]
) -> JanusFact | None:
    if item.get("type") == _TYPE_HANDLE:
        return _handle_fact(session_id, handle_id, body)
    if item.get("type") == _TYPE_WEBRTC and item.get("subtype") == _SUBTYPE_SELECTED_PAIR:
        return _selected_pair(session_id, handle_id, body)
    return None


def _handle_fact(session_id: int, handle_id: int, body: dict[str, Any]) -> JanusFact | None:
    if body.get("name") == "attached" and isinstance(body.get("token"), str):
        return HandleAttached(session_id, handle_id, body["token"])
    if body.get("name") == "detached":
        return HandleGone(session_id, handle_id)
    return None


def _selected_pair(session_id: int, handle_id: int, body: dict[str, Any]) -> SelectedPair | None:
    candidates = body.get("candidates")
    remote = candidates.get("remote") if isinstance(candidates, dict) else None
    if not isinstance(remote, dict) or not isinstance(remote.get("address"), str):
        return None
    try:
        address = ipaddress.ip_address(remote["address"])
    except ValueError:
        return None
    port = _int(remote.get("port"))
    candidate_type = remote.get("type")
    return SelectedPair(
        session_id,
        handle_id,
        str(address),
        port,
        candidate_type if isinstance(candidate_type, str) else "unknown",
    )


def parse_batch(payload: Any) -> list[JanusFact]:
    """The facts of one posted batch, in the order Janus emitted them."""
    items = payload if isinstance(payload, list) else [payload]
    return [fact for fact in map(_fact, items) if fact is not None]
