"""Government requests: intake, impact preview, decision, disclosure, appeal; restrictions."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response

from lexloci.api.deps import container_of, require
from lexloci.api.schemas import AppealIn, AttachmentIn, CaseIn, DecisionIn
from lexloci.auth import Role
from lexloci.cases.service import CaseIntake, DecisionInput
from lexloci.errors import InvalidInput, NotFound
from lexloci.policy.codec import restriction_to_dict

router = APIRouter(tags=["cases"])

_CASE_ROLES = (Role.INTAKE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR)


@router.post("/cases", status_code=201, summary="Take in a government request (intake)")
def create_case(request: Request, body: CaseIn) -> dict[str, Any]:
    caller = require(request, Role.INTAKE)
    case = container_of(request).cases.intake(
        CaseIntake(
            authority_name=body.authority.name,
            agency=body.authority.agency,
            country=body.authority.country,
            jurisdiction=body.authority.jurisdiction,
            request_type=body.request_type,
            legal_process=body.legal_process,
            legal_basis=body.legal_basis,
            targets=[(t.kind, t.ref) for t in body.targets],
            requested_actions=body.requested_actions,
            received_at=body.received_at,
            deadline=body.deadline,
            non_disclosure_until=body.non_disclosure_until,
            description=body.description,
        ),
        caller,
    )
    return case.to_dict()


@router.get("/cases", summary="Cases, newest first, with filters")
def list_cases(
    request: Request,
    status: str | None = None,
    country: str | None = None,
    request_type: str | None = None,
) -> dict[str, Any]:
    require(request, *_CASE_ROLES)
    found = container_of(request).store.cases(
        status, country.upper() if country else None, request_type
    )
    return {"cases": [c.to_dict() for c in found]}


@router.get("/cases/{case_id}", summary="One case: the request record and its outcome")
def get_case(request: Request, case_id: str) -> dict[str, Any]:
    require(request, *_CASE_ROLES)
    return container_of(request).cases.case(case_id).to_dict()


@router.post("/cases/{case_id}/attachments", status_code=201, summary="Attach a document")
def add_attachment(request: Request, case_id: str, body: AttachmentIn) -> dict[str, Any]:
    caller = require(request, Role.INTAKE, Role.REVIEWER)
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content_base64 is not valid base64") from None
    attachment = container_of(request).cases.add_attachment(
        case_id, body.filename, body.media_type, content, caller
    )
    return attachment.to_dict()


@router.get("/cases/{case_id}/attachments/{sha256}", summary="Download an attachment")
def get_attachment(request: Request, case_id: str, sha256: str) -> Response:
    require(request, *_CASE_ROLES)
    container = container_of(request)
    case = container.cases.case(case_id)
    if not any(a.sha256 == sha256 for a in case.attachments):
        raise NotFound(f"case {case_id} has no attachment {sha256}")
    found = container.store.attachment(sha256)
    if found is None:
        raise NotFound(f"attachment {sha256} is missing")
    media_type, content = found
    return Response(content, media_type=media_type)


@router.get("/cases/{case_id}/impact", summary="Who a proposed action would touch, in and outside")
def impact(request: Request, case_id: str) -> dict[str, Any]:
    caller = require(request, *_CASE_ROLES)
    return container_of(request).cases.impact(case_id, caller)


@router.post("/cases/{case_id}/decision", summary="Approve (all or part) or reject (approver)")
async def decide(request: Request, case_id: str, body: DecisionIn) -> dict[str, Any]:
    container = container_of(request)
    caller = await to_thread.run_sync(require, request, Role.APPROVER)
    result = await to_thread.run_sync(
        container.cases.decide,
        case_id,
        DecisionInput(
            decision=body.decision,
            approve=body.approve,
            rejection_reason=body.rejection_reason,
            valid_until=body.valid_until,
            unknown_location=body.unknown_location,
            note=body.note,
        ),
        caller,
    )
    # Committed: now every node (this one included) installs and sweeps the restrictions.
    await container.bus.announce(list(result.restrictions))
    return {
        **result.case.to_dict(),
        "restrictions": [restriction_to_dict(r) for r in result.restrictions],
        "suspensions": [s.to_dict() for s in result.suspensions],
    }


@router.get("/cases/{case_id}/disclosure", summary="The disclosure package (inside J only)")
def disclosure(request: Request, case_id: str) -> dict[str, Any]:
    caller = require(request, Role.APPROVER, Role.AUDITOR)
    return container_of(request).cases.disclosure(case_id, caller)


@router.post("/cases/{case_id}/appeal", summary="Uphold an appeal: lift and reinstate")
async def appeal(request: Request, case_id: str, body: AppealIn) -> dict[str, Any]:
    container = container_of(request)
    caller = await to_thread.run_sync(require, request, Role.APPROVER)
    case, restriction_ids, reinstated = await to_thread.run_sync(
        container.cases.appeal, case_id, body.reason, caller
    )
    lifted = [
        await to_thread.run_sync(container.meetings.lift, rid, caller.actor)
        for rid in restriction_ids
    ]
    await container.bus.announce(lifted)
    return {
        **case.to_dict(),
        "lifted": [r.id for r in lifted],
        "reinstated": [s.account_id for s in reinstated],
    }


@router.get("/restrictions", summary="Active and past restrictions and account suspensions")
def list_restrictions(request: Request, status: str | None = None) -> dict[str, Any]:
    require(request, Role.ADMIN, *_CASE_ROLES)
    container = container_of(request)
    now = container.clock.now()
    out = []
    for restriction, expired_at in container.store.restriction_rows():
        if restriction.lifted_at is not None:
            state = "lifted"
        elif restriction.valid_until <= now or expired_at is not None:
            state = "expired"
        elif restriction.valid_from > now:
            state = "pending"
        else:
            state = "active"
        out.append({**restriction_to_dict(restriction), "kind": "restriction", "status": state})
    for suspension in container.store.suspensions():
        state = "lifted" if suspension.lifted_at else "expired" if suspension.ended_at else "active"
        out.append({**suspension.to_dict(), "status": state})
    if status is not None:
        out = [r for r in out if r["status"] == status]
    return {"restrictions": out, "policy_version": container.policy.policy_version}


@router.post("/restrictions/{restriction_id}/lift", summary="Lift a restriction or suspension")
async def lift(request: Request, restriction_id: str) -> dict[str, Any]:
    container = container_of(request)
    caller = await to_thread.run_sync(require, request, Role.APPROVER, Role.ADMIN)
    if restriction_id.startswith("sus_"):
        suspension = await to_thread.run_sync(
            container.cases.lift_suspension, restriction_id, caller
        )
        return suspension.to_dict()
    try:
        lifted = await to_thread.run_sync(container.meetings.lift, restriction_id, caller.actor)
    except NotFound:
        raise NotFound(f"no restriction {restriction_id!r}", id=restriction_id) from None
    await container.bus.announce([lifted])
    return restriction_to_dict(lifted)
