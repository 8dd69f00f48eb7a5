"""Accounts, meetings, sessions, the join gate, rosters and host controls (``/api/v1``)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Request, Response

from lexloci.api.deps import (
    bearer_token,
    body_schema,
    client_address,
    container_of,
    header,
    json_body,
    principal,
    require,
)
from lexloci.api.schemas import AccountIn, JoinIn, MeetingIn, RemoveIn
from lexloci.auth import Role
from lexloci.errors import Forbidden, GeoRestricted, Unauthenticated, Unavailable
from lexloci.meetings.notices import pick_language
from lexloci.meetings.service import JoinRequest, JoinResult

router = APIRouter(tags=["meetings"])

_STAFF = (Role.ADMIN, Role.REVIEWER, Role.APPROVER, Role.AUDITOR, Role.INTAKE)


@router.post("/accounts", status_code=201, summary="Create a host account (admin)")
def create_account(request: Request, body: AccountIn) -> dict[str, Any]:
    caller = require(request, Role.ADMIN)
    container = container_of(request)
    account = container.meetings.create_account(body.name, body.home_country, caller.actor)
    token_id, token = container.tokens.create(
        body.name, container.clock.now(), account_id=account.id, actor=caller.actor
    )
    return {**account.to_dict(), "host_token": token, "host_token_id": token_id}


@router.get("/accounts/{account_id}", summary="A host account")
def get_account(request: Request, account_id: str) -> dict[str, Any]:
    require(request, *_STAFF, account_id=account_id)
    return container_of(request).meetings.account(account_id).to_dict()


@router.post("/meetings", status_code=201, summary="Create a meeting (its host or an admin)")
def create_meeting(request: Request, body: MeetingIn) -> dict[str, Any]:
    caller = require(request, Role.ADMIN, account_id=body.host_account_id)
    meeting = container_of(request).meetings.create_meeting(
        body.topic, body.host_account_id, caller.actor, body.recurrence, body.series_of
    )
    return meeting.to_dict()


@router.get("/meetings/{meeting_id}", summary="A meeting and its sessions")
def get_meeting(request: Request, meeting_id: str) -> dict[str, Any]:
    service = container_of(request).meetings
    meeting = service.meeting(meeting_id)
    require(request, *_STAFF, account_id=meeting.host_account_id)
    sessions = service.store.sessions(meeting_id)
    return {**meeting.to_dict(), "sessions": [s.to_dict() for s in sessions]}


@router.post(
    "/meetings/{meeting_id}/sessions", status_code=201, summary="Start a live session of a meeting"
)
async def start_session(request: Request, meeting_id: str) -> dict[str, Any]:
    container = container_of(request)
    meeting = await to_thread.run_sync(container.meetings.meeting, meeting_id)
    caller = await to_thread.run_sync(
        lambda: require(request, Role.ADMIN, account_id=meeting.host_account_id)
    )
    session = await container.live.start_session(meeting_id, caller.actor)
    return {**session.to_dict(), "join_url": f"/meet/{session.id}"}


@router.get("/sessions/{session_id}", summary="A session: state, lock, live count, host notices")
def get_session(request: Request, session_id: str) -> dict[str, Any]:
    container = container_of(request)
    session = container.meetings.session(session_id)
    return {
        **session.to_dict(),
        "node_url": container.meetings.node_url(session.node) or container.node_url,
        "live_participants": len(container.meetings.live_ids(session_id)),
        "host_notices": list(container.live.host_notices.get(session_id, ())),
    }


@router.post(
    "/sessions/{session_id}/join",
    status_code=201,
    summary="Join a session through the geographic gate",
    responses={403: {"description": "geo_restricted: refused, with the notice"}},
    openapi_extra=body_schema(JoinIn),
)
async def join(request: Request, session_id: str) -> Response:
    body = await json_body(request, JoinIn)
    container = container_of(request)
    if not container.bus.ready:
        # A node that has not applied every restriction change must not admit anyone (I1).
        raise Unavailable("this node is still applying restriction changes; retry shortly")
    language = pick_language(body.language, header(request, b"accept-language"))
    result, media = await container.live.join(
        JoinRequest(
            session_id=session_id,
            display_name=body.display_name,
            client=client_address(request, container),
            phone=body.phone,
            user_id=body.user_id,
            language=language,
        )
    )
    decision = result.decision
    if result.token is None:
        notice = result.notice
        raise GeoRestricted(
            notice.text if notice else "refused",
            participant_id=result.participant.id,
            territory=decision.location.territory,
            case_refs=list(notice.case_refs) if notice else [],
            restriction_ids=list(decision.restriction_ids),
            decision_id=decision.decision_id,
            policy_version=decision.policy_version,
            notice=notice.to_dict() if notice else None,
        )
    return _admitted(result, session_id, media)


# The join's answer is JSONResponse's encoding (compact, not ASCII-escaped, keys in order) of
# a small object (``_answer``) and the participant's location, which is most of it and which a
# territory's joins share (Locator.snapshot, never changed): its text is kept per territory,
# for as long as the snapshot is that same object. The rest is written into one template: an
# object's text is its members' texts in order, and the encoder costs more per call (~1.5 us,
# making its C encoder object each time) than the few members do.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_text = encode_basestring  # how _encode writes a string (ensure_ascii=False), subclasses too
_location_texts: dict[str | None, tuple[dict[str, Any], str]] = {}


def _answer(result: JoinResult, session_id: str, media: dict[str, Any] | None) -> dict[str, Any]:
    """The admitted join's answer (the 201 body)."""
    return {
        "participant_id": result.participant.id,
        "session_id": session_id,
        "token": result.token,
        "territory": result.participant.territory,
        "decision_id": result.decision.decision_id,
        "policy_version": result.decision.policy_version,
        "signalling_url": f"/api/v1/sessions/{session_id}/signal",
        "media": media,
        "location": result.participant.location,
    }


def _admitted(result: JoinResult, session_id: str, media: dict[str, Any] | None) -> Response:
    """201 with ``_answer(result, session_id, media)``, byte for byte as ``JSONResponse``.

    Written into a template when each member is what the join gives (strings, the territory
    or None, an ``int`` version, a media object or None); otherwise encoded whole."""
    participant, decision, token = result.participant, result.decision, result.token
    territory, location = participant.territory, participant.location
    participant_id, decision_id = participant.id, decision.decision_id
    version = decision.policy_version
    if (
        isinstance(participant_id, str)
        and isinstance(session_id, str)
        and isinstance(token, str)
        and (territory is None or isinstance(territory, str))
        and isinstance(decision_id, str)
        and type(version) is int
        and (media is None or type(media) is dict)
    ):
        held = _location_texts.get(territory)
        if held is None or held[0] is not location:
            held = _location_texts[territory] = (location, _encode(location))
        text = (
            f'{{"participant_id":{_text(participant_id)},'
            f'"session_id":{_text(session_id)},'
            f'"token":{_text(token)},'
            f'"territory":{"null" if territory is None else _text(territory)},'
            f'"decision_id":{_text(decision_id)},'
            f'"policy_version":{version},'
            f'"signalling_url":{_text(f"/api/v1/sessions/{session_id}/signal")},'
            f'"media":{"null" if media is None else _members_text(media)},'
            f'"location":{held[1]}}}'
        )
    else:
        text = _encode(_answer(result, session_id, media))
    return Response(text.encode("utf-8"), status_code=201, media_type="application/json")


def _members_text(value: dict[Any, Any]) -> str:
    """``_encode(value)``, written member by member: strings, None, booleans and integers here
    (exactly these types), every other member by ``_encode`` (the same text, or the same
    error); the whole object by ``_encode`` if a key is not a ``str`` (it converts such keys)."""
    parts: list[str] = []
    for key, item in value.items():
        if not isinstance(key, str):
            return _encode(value)
        kind = type(item)
        if kind is str:
            member = _text(item)
        elif item is None:
            member = "null"
        elif kind is bool:
            member = "true" if item else "false"
        elif kind is int:
            member = int.__repr__(item)
        else:
            member = _encode(item)
        parts.append(f"{_text(key)}:{member}")
    return "{" + ",".join(parts) + "}"


@router.get("/sessions/{session_id}/participants", summary="The roster: everyone, with state")
def roster(request: Request, session_id: str, state: str | None = None) -> dict[str, Any]:
    """Everyone who joined or tried to, with territory and state. Participants of the session
    (with their signalling token), its host and staff may read it; staff also see evidence."""
    container = container_of(request)
    service = container.meetings
    session = service.session(session_id)
    meeting = service.meeting(session.meeting_id)
    token = bearer_token(request)
    staff = False
    if token is not None and service.participant_for_token(session_id, token) is not None:
        pass
    else:
        caller = principal(request)
        if caller is None:
            raise Unauthenticated("the roster needs a participant, host or staff token")
        if not (caller.has(*_STAFF) or caller.account_id == meeting.host_account_id):
            raise Forbidden("only this session's participants, its host and staff see the roster")
        staff = caller.has(*_STAFF)
    everyone = service.store.participants(session_id)
    if state is not None:
        everyone = [p for p in everyone if p.state.value == state]
    return {
        "session_id": session_id,
        "participants": [p.to_dict(evidence=staff) for p in everyone],
    }


@router.delete(
    "/sessions/{session_id}/participants/{participant_id}",
    status_code=204,
    summary="The host removes one participant",
)
async def remove_participant(
    request: Request,
    session_id: str,
    participant_id: str,
    body: Annotated[RemoveIn | None, Body()] = None,
) -> Response:
    container = container_of(request)
    caller = await to_thread.run_sync(_host_of_session, request, session_id)
    reason = body.reason if body else "removed by the host"
    await container.live.remove_by_host(session_id, participant_id, reason, caller)
    return Response(status_code=204)


def _host_of_session(request: Request, session_id: str) -> str:
    service = container_of(request).meetings
    meeting = service.meeting(service.session(session_id).meeting_id)
    return require(request, Role.ADMIN, account_id=meeting.host_account_id).actor


@router.post("/sessions/{session_id}/lock", summary="Lock: nobody new may join")
def lock(request: Request, session_id: str) -> dict[str, Any]:
    actor = _host_of_session(request, session_id)
    return container_of(request).meetings.set_locked(session_id, True, actor).to_dict()


@router.post("/sessions/{session_id}/unlock", summary="Unlock the session")
def unlock(request: Request, session_id: str) -> dict[str, Any]:
    actor = _host_of_session(request, session_id)
    return container_of(request).meetings.set_locked(session_id, False, actor).to_dict()


@router.post("/sessions/{session_id}/end", summary="End the session (host or admin only)")
async def end(request: Request, session_id: str) -> dict[str, Any]:
    container = container_of(request)
    actor = await to_thread.run_sync(_host_of_session, request, session_id)
    await container.live.end_session(session_id, actor)
    return container.meetings.session(session_id).to_dict()
