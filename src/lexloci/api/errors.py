"""One error shape for every HTTP error: ``{"error": {"code": ..., "message": ..., ...}}``.

LexlociError subclasses map to a status by class; FastAPI's request validation errors become 422
``invalid_input`` with the offending fields; Starlette's HTTP errors (404 for unknown paths, 405)
keep their status; anything unexpected is logged and answered 500 ``internal_error`` without a
traceback or internal detail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lexloci.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    LexlociError,
    Misdirected,
    NotFound,
    Unauthenticated,
    Unavailable,
)

__all__ = ["error_response", "install_error_handlers", "status_for"]

log = logging.getLogger("lexloci.api")

_STATUS: list[tuple[type[LexlociError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Misdirected, 421),
    (Unavailable, 503),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (ConfigurationError, 500),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def status_for(exc: LexlociError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return getattr(exc, "status", 400)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **details: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}},
        status_code=status,
        headers=headers,
    )


def _validation_fields(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        fields.append({"location": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    return fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LexlociError)
    async def _lexloci(_: Request, exc: LexlociError) -> JSONResponse:
        body = exc.as_dict()
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse({"error": body}, status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _validation_fields(exc)
        summary = "; ".join(f"{f['location']}: {f['message']}" for f in fields) or "invalid"
        return error_response(422, "invalid_input", f"invalid request: {summary}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; the server log has details")
