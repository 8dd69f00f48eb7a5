"""The FastAPI application: routes under ``/api/v1``, one error shape, no global state.

``create_app(container)`` takes everything from the composition root, so tests build an app on
their own settings (a database in a temp folder, a fixed clock) with no monkeypatching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from lexloci import __version__
from lexloci.api.direct import DirectRoute, DirectRoutes
from lexloci.api.errors import install_error_handlers
from lexloci.api.limits import BodyLimit
from lexloci.api.routes import (
    admin,
    audit,
    cases,
    console_api,
    geo,
    health,
    media,
    meetings,
    pages,
    platforms,
    reports,
    signalling,
)
from lexloci.bootstrap import Container
from lexloci.collector import CollectorWatch

__all__ = ["DIRECT_ROUTES", "MAX_BODY", "create_app"]

log = logging.getLogger("lexloci.api")

#: Seconds between a node's registry heartbeats (placement treats 10 s of silence as gone).
HEARTBEAT_S = 2.0

#: The largest request body accepted (JSON bodies are small; attachments have their own limit).
MAX_BODY = 1024 * 1024
#: Case attachments travel base64-encoded: 10 MiB of file is about 13.4 MiB of JSON.
MAX_ATTACHMENT_BODY = 14 * 1024 * 1024


#: The hot paths served without FastAPI's per-request routing and parameter solving (see
#: ``lexloci.api.direct``); each is still declared, and documented, on its router.
DIRECT_ROUTES: tuple[DirectRoute, ...] = (
    DirectRoute("POST", "/api/v1/sessions/{session_id}/join", meetings.join),
    DirectRoute("POST", "/api/v1/decisions/join", platforms.decide_join),
)


async def _expire_forever(container: Container) -> None:
    """Record restrictions and suspensions whose period ended (I8), every few seconds."""
    while True:
        await asyncio.sleep(container.settings.expiry_interval)
        try:
            await to_thread.run_sync(container.meetings.expire)
            await to_thread.run_sync(container.cases.expire_suspensions)
        except Exception:
            log.exception("expiry check failed; trying again at the next interval")


async def _heartbeat_forever(container: Container) -> None:
    """Keep this node in the fleet's registry (placement picks among live nodes)."""
    settings = container.settings
    while True:
        try:
            await to_thread.run_sync(
                container.store.heartbeat,
                settings.node,
                container.node_url,
                settings.accepts_sessions,
                container.clock.now(),
            )
        except Exception:
            log.exception("heartbeat failed; trying again")
        await asyncio.sleep(HEARTBEAT_S)


def create_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await container.bus.start(container.live.apply_change)
        container.store.start_gate_writer()  # ready by the first join
        # Everything built at start-up lives as long as the process; see lexloci.collector.
        app.state.collector = CollectorWatch.install()
        tasks = [
            asyncio.create_task(_expire_forever(container)),
            asyncio.create_task(_heartbeat_forever(container)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await container.bus.close()
            await container.media.close()
            # After the last answer: what the writer process was sent is written, then it ends.
            container.store.close_gate_writer()

    app = FastAPI(
        lifespan=lifespan,
        title="lexloci",
        version=__version__,
        summary="Jurisdiction-scoped enforcement for real-time meetings",
        description=(
            "Block and remove only the participants located where a government demand's law "
            'applies. Every error has the shape {"error": {"code", "message", ...}}.'
        ),
    )
    app.state.container = container
    install_error_handlers(app)
    # Added first, so it runs inside BodyLimit (the last added middleware is the outermost).
    app.add_middleware(DirectRoutes, routes=DIRECT_ROUTES, handlers=app.exception_handlers)
    app.add_middleware(BodyLimit, limit=MAX_BODY, larger={"/attachments": MAX_ATTACHMENT_BODY})
    app.include_router(health.router)
    app.include_router(geo.router, prefix="/api/v1")
    app.include_router(meetings.router, prefix="/api/v1")
    app.include_router(cases.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(media.router, prefix="/api/v1")
    app.include_router(reports.router, prefix="/api/v1")
    app.include_router(platforms.router, prefix="/api/v1")
    app.include_router(console_api.router, prefix="/api/v1")
    app.include_router(signalling.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    return app
