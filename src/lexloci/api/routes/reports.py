"""``/api/v1/reports``: the transparency report and per-request public notices.

Both need the ``auditor`` or ``admin`` role. Each call computes from the audit log at the
checkpoint taken when it starts and then appends its own audit entry
(``report:transparency:generated`` / ``report:notice:exported``), so it is a GET that writes to
the log, like every privileged request does. The report's digest and checkpoint are also in
response headers, so a client can cite them whatever format it asked for.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from lexloci.api.deps import container_of, require
from lexloci.auth import Role
from lexloci.bootstrap import Container
from lexloci.transparency import MEDIA_TYPES, Banding, ReportService, resolve_period
from lexloci.transparency.model import MAX_BAND_THRESHOLD

router = APIRouter(tags=["reports"])


def _service(container: Container) -> ReportService[Any]:
    return ReportService(container.audit_log, container.engine.begin, container.clock)


@router.get(
    "/reports/transparency",
    summary="The transparency report for a period, as JSON, CSV or HTML (auditor, admin)",
    response_class=Response,
    responses={
        200: {
            "description": "The report; headers X-Lexloci-Report-Digest and "
            "X-Lexloci-Checkpoint (origin size root_hash) cite what it was computed from.",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        }
    },
)
def transparency(
    request: Request,
    period: Annotated[
        str | None,
        Query(description="YYYY-H1, YYYY-H2, YYYY-Qn or YYYY; default: the current half-year"),
    ] = None,
    first_day: Annotated[
        str | None,
        Query(alias="from", description="first day of a custom period, YYYY-MM-DD (included)"),
    ] = None,
    last_day: Annotated[
        str | None,
        Query(alias="to", description="last day of a custom period, YYYY-MM-DD (included)"),
    ] = None,
    fmt: Annotated[Literal["json", "csv", "html"], Query(alias="format")] = "json",
    band: Annotated[
        int | None,
        Query(
            ge=2,
            le=MAX_BAND_THRESHOLD,
            description="show counts from 1 to band-1 as the string '1-(band-1)'",
        ),
    ] = None,
) -> Response:
    caller = require(request, Role.AUDITOR, Role.ADMIN)
    container = container_of(request)
    wanted = resolve_period(period, first_day, last_day, container.clock.now())
    generated = _service(container).transparency(
        wanted,
        actor=caller.actor,
        fmt=fmt,
        banding=Banding(band) if band is not None else None,
    )
    cp = generated.report.checkpoint
    return Response(
        generated.content,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "X-Lexloci-Report-Digest": generated.digest,
            "X-Lexloci-Checkpoint": f"{cp.origin} {cp.size} {cp.root_hash}",
        },
    )


@router.get(
    "/reports/notices/{case_id}",
    summary="The public notice of one request, redacted (auditor, admin)",
)
def notice(request: Request, case_id: str) -> dict[str, Any]:
    caller = require(request, Role.AUDITOR, Role.ADMIN)
    return _service(container_of(request)).notice(case_id, actor=caller.actor).document
