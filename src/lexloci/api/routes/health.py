"""Liveness: the process answers and says which geolocation data it runs on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from lexloci import __version__
from lexloci.api.deps import container_of
from lexloci.collector import CollectorWatch
from lexloci.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz(request: Request) -> dict[str, Any]:
    container = container_of(request)
    collector: CollectorWatch | None = getattr(request.app.state, "collector", None)
    return {
        "status": "ok",
        "version": __version__,
        "node": container.settings.node,
        "geo": container.locator.describe(),
        "collector": collector.report() if collector is not None else None,
    }


@router.get(
    "/readyz",
    summary="Readiness: may this node admit participants?",
    responses={503: {"description": "node_not_ready: still replaying restriction changes"}},
)
def readyz(request: Request) -> dict[str, Any]:
    """Ready once every restriction change was applied (a fleet node replays its stream first);
    ``degraded`` when the bus is unreachable — the node then keeps enforcing what it has."""
    container = container_of(request)
    bus = container.bus.status()
    if not container.bus.ready:
        raise Unavailable("this node is still applying restriction changes", bus=bus)
    status = "ready" if bus.get("connected", True) else "degraded"
    return {
        "status": status,
        "node": container.settings.node,
        "policy_version": container.policy.policy_version,
        "live_participants": container.meetings.live_count(),
        "bus": bus,
    }
