"""Liveness: the process answers and says which geolocation data it runs on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from lexloci import __version__
from lexloci.api.deps import container_of

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz(request: Request) -> dict[str, Any]:
    container = container_of(request)
    return {"status": "ok", "version": __version__, "geo": container.locator.describe()}
