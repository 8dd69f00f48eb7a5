"""Read-only API additions the admin console needs (``/api/v1``), usable by any other client.

- ``GET /whoami``: the caller's name, role and what that role may do (``capabilities``).
- ``GET /sessions``: sessions with participant counts by territory and state.
- ``GET /cases/{case_id}/timeline``: the audit entries about one case, in log order.
- ``POST /audit/verify``: recompute the audit log's hash chain, optionally against a checkpoint.
- ``WS /watch/sessions``: the session counts (and one session's roster) pushed when they change.

Invariants:

- Nothing here is a back door: every endpoint checks its roles with ``require``, exactly like
  the routes it sits next to, so each use of a staff token is audited the same way. The roles
  each endpoint needs come from ``CAPABILITIES``, the same table ``whoami`` reports and the
  console uses to decide what to offer (a test pins every entry against the real API).
- Nothing here changes state, except the audit entry every privileged request appends.
- The watch socket reads the shared database, not this node's in-memory state, so it shows
  sessions held by every node of a fleet. It authenticates with a ``hello`` message rather than
  a header (browsers cannot set headers on a WebSocket) and never with a token in the URL, and
  it ends when the server shuts down (uvicorn closes WebSockets, where it would wait forever
  for an open server-sent-events response).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Annotated, Any, Final

from anyio import to_thread
from fastapi import APIRouter, Body, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from lexloci.api.deps import container_of, require
from lexloci.audit.model import Checkpoint
from lexloci.audit.tags import AuditTag
from lexloci.auth import Principal, Role
from lexloci.bootstrap import Container
from lexloci.errors import Forbidden, InvalidInput, LexlociError, NotFound, Unauthenticated
from lexloci.meetings.model import MeetingSession, Participant, ParticipantState

__all__ = [
    "CAPABILITIES",
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_FOUND",
    "CLOSE_UNAUTHENTICATED",
    "HELLO_TIMEOUT",
    "RECHECK_TOKEN_EVERY",
    "WATCH_INTERVAL",
    "router",
    "session_summaries",
]

router = APIRouter(tags=["console"])

_CASE_ROLES: Final = frozenset({Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR})
_STAFF: Final = frozenset(Role)

#: What each role may do through the API, by the console's name for it. The API routes decide
#: (with ``require``); this table mirrors them so that a page offers only what will succeed.
CAPABILITIES: Final[Mapping[str, frozenset[Role]]] = {
    "cases.read": _CASE_ROLES,  # GET /cases, /cases/{id}, /impact, /timeline
    "cases.intake": frozenset({Role.INTAKE}),  # POST /cases
    "cases.attach": frozenset({Role.INTAKE, Role.REVIEWER}),  # POST /cases/{id}/attachments
    "cases.decide": frozenset({Role.APPROVER}),  # POST /cases/{id}/decision (two-person rule)
    "sessions.read": _STAFF,  # GET /sessions, rosters with evidence, WS /watch/sessions
    "restrictions.read": _CASE_ROLES | {Role.ADMIN},  # GET /restrictions
    "restrictions.lift": frozenset({Role.APPROVER, Role.ADMIN}),  # POST /restrictions/{id}/lift
    "reports.generate": frozenset({Role.AUDITOR, Role.ADMIN}),  # GET /reports/transparency
    "audit.read": frozenset({Role.AUDITOR, Role.ADMIN}),  # GET /audit
    "audit.checkpoint": _STAFF,  # GET /audit/checkpoint
    "audit.verify": frozenset({Role.AUDITOR, Role.ADMIN}),  # POST /audit/verify
}

#: Entries that belong on a case's timeline: every case entry, and the changes of the
#: restrictions it created. Per-participant entries (joins, removals) are left out: a sweep can
#: write thousands, and the roster and the transparency report already count them.
_TIMELINE_TAGS: Final = frozenset(
    {tag.value for tag in AuditTag if tag.source == "case"}
    | {
        AuditTag.POLICY_RESTRICTION_ACTIVATED.value,
        AuditTag.POLICY_RESTRICTION_LIFTED.value,
        AuditTag.POLICY_RESTRICTION_EXPIRED.value,
        AuditTag.REPORT_NOTICE_EXPORTED.value,
    }
)
_MAX_TIMELINE: Final = 1000

#: Seconds between two looks at the database by a watch socket.
WATCH_INTERVAL: Final = 1.0
#: Seconds within which a watch socket must send its hello.
HELLO_TIMEOUT: Final = 10.0
#: Seconds between two checks that a watching token was not revoked (not audited: it is the
#: same use of the token that the hello recorded).
RECHECK_TOKEN_EVERY: Final = 30.0
_MAX_HELLO: Final = 4096
CLOSE_UNAUTHENTICATED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
_CLOSE_CODES: Final = (
    (Unauthenticated, CLOSE_UNAUTHENTICATED),
    (Forbidden, CLOSE_FORBIDDEN),
    (NotFound, CLOSE_NOT_FOUND),
)


def _roles(capability: str) -> tuple[Role, ...]:
    return tuple(sorted(CAPABILITIES[capability]))


def _capabilities_of(caller: Principal) -> list[str]:
    return sorted(name for name, roles in CAPABILITIES.items() if caller.has(*roles))


@router.get("/whoami", summary="The caller: name, role and what the role may do (staff)")
def whoami(request: Request) -> dict[str, Any]:
    caller = require(request, *sorted(_STAFF))
    return {
        "name": caller.name,
        "role": caller.role.value if caller.role else None,
        "actor": caller.actor,
        "token_id": caller.token_id,
        "capabilities": _capabilities_of(caller),
    }


# -- sessions -----------------------------------------------------------------------------------


def _count(people: list[Participant]) -> dict[str, Any]:
    joined = [p for p in people if p.state is ParticipantState.JOINED]
    removed = [p for p in people if p.state is ParticipantState.REMOVED]
    return {
        "joined": len(joined),
        "by_territory": dict(sorted(Counter(p.territory or "unknown" for p in joined).items())),
        "by_state": {s.value: sum(1 for p in people if p.state is s) for s in ParticipantState},
        "removed_by_territory": dict(
            sorted(Counter(p.territory or "unknown" for p in removed).items())
        ),
    }


def session_summaries(container: Container, sessions: list[MeetingSession]) -> list[dict[str, Any]]:
    """Each session with its meeting's topic and host, and its participants counted by
    territory (``joined`` only: who is in the meeting now) and by state (everyone)."""
    store = container.store
    people: dict[str, list[Participant]] = defaultdict(list)
    for person in store.participants_of([s.id for s in sessions]):
        people[person.session_id].append(person)
    topics: dict[str, tuple[str | None, str | None]] = {}
    out = []
    for session in sessions:
        if session.meeting_id not in topics:
            meeting = store.meeting(session.meeting_id)
            topics[session.meeting_id] = (
                (meeting.topic, meeting.host_account_id) if meeting else (None, None)
            )
        topic, host = topics[session.meeting_id]
        out.append(
            {
                **session.to_dict(),
                "topic": topic,
                "host_account_id": host,
                "participants": _count(people[session.id]),
            }
        )
    return out


def _newest_sessions(container: Container, live_only: bool, limit: int) -> list[MeetingSession]:
    found = container.store.sessions(live_only=live_only)
    found.sort(key=lambda s: (s.started_at, s.id), reverse=True)
    return found[:limit]


@router.get("/sessions", summary="Sessions, newest first, with participant counts (staff)")
def list_sessions(
    request: Request,
    live: Annotated[bool, Query(description="only sessions that are live now")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    require(request, *_roles("sessions.read"))
    container = container_of(request)
    return {"sessions": session_summaries(container, _newest_sessions(container, live, limit))}


# -- case timeline ------------------------------------------------------------------------------


@router.get("/cases/{case_id}/timeline", summary="The audit entries about one case (case roles)")
def case_timeline(request: Request, case_id: str) -> dict[str, Any]:
    """Entries whose payload names the case (``case_id``), oldest first, at most 1000.

    A caller who may read the case may read its history: these entries say nothing the case
    record, its restrictions and its decision do not, apart from who did what, when.
    """
    require(request, *_roles("cases.read"))
    container = container_of(request)
    container.cases.case(case_id)  # 404 for an unknown case, not an empty history
    entries = []
    for entry in container.audit_log.iter_entries(tags=_TIMELINE_TAGS):
        if entry.payload.get("case_id") == case_id:
            entries.append(entry.to_dict())
            if len(entries) == _MAX_TIMELINE:
                break
    return {
        "case_id": case_id,
        "entries": entries,
        "truncated": len(entries) == _MAX_TIMELINE,
    }


# -- audit verification -------------------------------------------------------------------------


class CheckpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0)
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: CheckpointIn | None = Field(
        None, description="also check that the log still has this size and root hash there"
    )


@router.post("/audit/verify", summary="Recompute the audit log's hash chain (auditor, admin)")
def verify_audit_log(
    request: Request, body: Annotated[VerifyIn | None, Body()] = None
) -> dict[str, Any]:
    """Every entry from the first to the current head, as ``lexloci audit verify`` does.

    ``status`` is ``intact`` or ``broken``; ``verified`` is the intact prefix (all of the log
    when intact); ``breakage`` names the first broken entry. With a ``checkpoint`` (one a report
    cited, say), a log that no longer has that root at that size is ``broken``.
    """
    require(request, *_roles("audit.verify"))
    log = container_of(request).audit_log
    given: Checkpoint | None = None
    if body is not None and body.checkpoint is not None:
        if body.checkpoint.origin != log.origin:
            raise InvalidInput(
                f"the checkpoint is of the log {body.checkpoint.origin!r}; this is {log.origin!r}"
            )
        given = Checkpoint(body.checkpoint.origin, body.checkpoint.size, body.checkpoint.root_hash)
    head = log.checkpoint()
    # One worker: a web request should not start a process per core on the server; the CLI
    # (`lexloci audit verify`) is the tool for very large logs and uses every core. A given
    # checkpoint beyond the head is reported as a truncated log.
    result = log.verify(until_seq=head.size, checkpoints=(given,) if given else (), workers=1)
    breakage = result.breakage
    return {
        "status": result.status.value,
        "head": head.to_dict(),
        "verified": result.checkpoint(log.origin).to_dict(),
        "breakage": (
            {"seq": breakage.seq, "problem": breakage.problem.value, "detail": breakage.detail}
            if breakage
            else None
        ),
        "compared_with": given.to_dict() if given else None,
    }


# -- watching sessions --------------------------------------------------------------------------


def _as_request(ws: WebSocket, token: str) -> Request:
    """The hello's token as an HTTP request's bearer header, so ``require`` authenticates and
    audits it exactly as it does every other use of a token."""
    headers = [(k, v) for k, v in ws.scope["headers"] if k.lower() != b"authorization"]
    headers.append((b"authorization", b"Bearer " + token.encode("latin-1")))
    return Request({**ws.scope, "type": "http", "method": "GET", "headers": headers})


def _snapshot(container: Container, session_id: str | None) -> dict[str, dict[str, Any]]:
    live = _newest_sessions(container, live_only=True, limit=1000)
    out: dict[str, dict[str, Any]] = {
        "sessions": {"type": "sessions", "sessions": session_summaries(container, live)}
    }
    if session_id is not None:
        session = container.meetings.session(session_id)
        everyone = container.store.participants(session_id)
        (summary,) = session_summaries(container, [session])
        out["roster"] = {
            "type": "roster",
            "session": summary,
            "participants": [p.to_dict(evidence=True) for p in everyone],
        }
    return out


async def _close(ws: WebSocket, code: int, error: LexlociError) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await ws.send_json({"type": "error", **error.as_dict()})
        await ws.close(code, error.code)


def _parse_hello(raw: str) -> tuple[str, str | None]:
    """The token and the optional session id of a hello message."""
    try:
        hello = json.loads(raw) if len(raw) <= _MAX_HELLO else None
    except ValueError:
        hello = None
    if not isinstance(hello, dict):
        hello = {}
    token, session_id = hello.get("token"), hello.get("session_id")
    if hello.get("type") != "hello" or not isinstance(token, str) or not token.isascii():
        raise Unauthenticated('send {"type": "hello", "token": "<staff token>"} first')
    if session_id is not None and not isinstance(session_id, str):
        raise NotFound("session_id is a session id string")
    return token, session_id


async def _hello(ws: WebSocket) -> tuple[str, str | None] | None:
    """Wait for ``{"type": "hello", "token": ..., "session_id": ...}`` and check the token's
    role; the token and session id, or None when the socket was closed instead."""
    try:
        raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT)
    except WebSocketDisconnect:
        return None
    except (TimeoutError, KeyError):  # KeyError: a binary frame has no text
        raw = ""
    try:
        token, session_id = _parse_hello(raw)
        request = _as_request(ws, token)
        await to_thread.run_sync(lambda: require(request, *_roles("sessions.read")))
    except LexlociError as exc:
        code = next(
            (code for cls, code in _CLOSE_CODES if isinstance(exc, cls)), CLOSE_UNAUTHENTICATED
        )
        await _close(ws, code, exc)
        return None
    return token, session_id


@router.websocket("/watch/sessions")
async def watch_sessions(ws: WebSocket) -> None:
    """Live session counts, and optionally one session's roster with evidence (staff).

    Protocol (JSON text frames): the client first sends ``{"type": "hello", "token": "<staff
    token>", "session_id": "<optional>"}``; the server then sends ``sessions`` (the shape of
    ``GET /sessions?live=true``) and, with a session id, ``roster`` (the session's summary and
    every participant with evidence, as ``GET /sessions/{id}/participants`` gives staff) — at
    once and again whenever one changes. Errors are ``{"type": "error", "code", "message"}``
    followed by a close: 4401 (no or bad token), 4403 (not a staff role), 4404 (no such
    session). A revoked token is noticed within ``RECHECK_TOKEN_EVERY`` seconds (4401).
    """
    await ws.accept()
    hello = await _hello(ws)
    if hello is None:
        return
    token, session_id = hello
    container = container_of(ws)  # type: ignore[arg-type]  # a WebSocket is an HTTPConnection
    gone = asyncio.Event()

    async def drain() -> None:
        # The client sends nothing after its hello; reading is how a disconnect is noticed.
        try:
            while True:
                await ws.receive_text()
        except (WebSocketDisconnect, KeyError, RuntimeError):
            gone.set()

    reader = asyncio.create_task(drain())
    sent: dict[str, dict[str, Any]] = {}
    recheck_at = time.monotonic() + RECHECK_TOKEN_EVERY
    try:
        while not gone.is_set():
            try:
                snapshot = await to_thread.run_sync(_snapshot, container, session_id)
            except NotFound as exc:
                await _close(ws, CLOSE_NOT_FOUND, exc)
                return
            for kind, message in snapshot.items():
                if sent.get(kind) != message:
                    await ws.send_json(message)
                    sent[kind] = message
            if time.monotonic() >= recheck_at:
                recheck_at = time.monotonic() + RECHECK_TOKEN_EVERY
                still = await to_thread.run_sync(container.tokens.authenticate, token)
                if still is None:
                    await _close(ws, CLOSE_UNAUTHENTICATED, Unauthenticated("token revoked"))
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone.wait(), WATCH_INTERVAL)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away between two looks
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
