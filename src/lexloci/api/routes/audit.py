"""``/api/v1/audit``: page through the hash-chained log, and its checkpoint."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from lexloci.api.deps import container_of, require
from lexloci.audit.log import MAX_PAGE_LIMIT
from lexloci.auth import Role

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Audit entries in order, a page at a time (auditor, admin)")
def audit_page(
    request: Request,
    after_seq: Annotated[int, Query(ge=0, description="return entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = 100,
    tag: Annotated[list[str] | None, Query(max_length=50, description="only these tags")] = None,
) -> dict[str, Any]:
    require(request, Role.AUDITOR, Role.ADMIN)
    page = container_of(request).audit_log.page(after_seq=after_seq, limit=limit, tags=tag)
    return {
        "entries": [e.to_dict() for e in page.entries],
        "next_after_seq": page.next_after_seq,
    }


@router.get("/audit/checkpoint", summary="The log's size and root hash (any staff role)")
def checkpoint(request: Request) -> dict[str, Any]:
    require(request, Role.AUDITOR, Role.ADMIN, Role.APPROVER, Role.REVIEWER, Role.INTAKE)
    return container_of(request).audit_log.checkpoint().to_dict()
