"""The FastAPI application: routes under ``/api/v1``, one error shape, no global state.

``create_app(container)`` takes everything from the composition root, so tests build an app on
their own settings (a database in a temp folder, a fixed clock) with no monkeypatching.
"""

from __future__ import annotations

from fastapi import FastAPI

from lexloci import __version__
from lexloci.api.errors import install_error_handlers
from lexloci.api.routes import geo, health
from lexloci.bootstrap import Container

__all__ = ["create_app"]


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
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
    app.include_router(health.router)
    app.include_router(geo.router, prefix="/api/v1")
    return app
