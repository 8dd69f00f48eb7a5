"""Request-scoped helpers shared by routes: the container, the caller's address, who is calling.

Authentication: ``Authorization: Bearer <token>``. A staff token (a role) or a host token (an
account) is checked against the token store; a participant's signalling token (from a join) is
accepted only where a route says so. Every use of a staff token is appended to the audit log
("privileged token use", issue 5) with the method and path — never the token itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from lexloci.audit.tags import AuditTag
from lexloci.auth import Principal, Role
from lexloci.bootstrap import Container
from lexloci.errors import Forbidden, Unauthenticated
from lexloci.geo import ClientAddress, resolve_client_address

__all__ = [
    "bearer_token",
    "body_schema",
    "client_address",
    "container_of",
    "header",
    "json_body",
    "principal",
    "read_body",
    "require",
]


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


#: The headers ``resolve_client_address`` reads (it ignores every other one).
_FORWARDING_HEADERS = frozenset({b"forwarded", b"x-forwarded-for"})


def client_address(request: Request, container: Container | None = None) -> ClientAddress:
    """The caller's address: the TCP peer, or the forwarding chain if the peer is trusted
    (by ``container``'s trusted proxies: the request's container unless one is given)."""
    if container is None:
        container = container_of(request)
    # Straight from the ASGI scope, decoding only the forwarding headers: on the join path,
    # building the request's client and header objects cost more than the resolution.
    scope = request.scope
    client = scope.get("client")
    peer = client[0] if client else None
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope["headers"]
        if k.lower() in _FORWARDING_HEADERS
    ]
    return resolve_client_address(peer, headers, container.trusted_proxies)


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header ``name`` (lowercase), as ``request.headers.get`` gives it,
    read from the ASGI scope without building the request's header object (the join path)."""
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise Unauthenticated("use the header 'Authorization: Bearer <token>'")
    return token.strip()


def principal(request: Request) -> Principal | None:
    """The authenticated caller, None without a token; a wrong token is 401, not anonymous."""
    token = bearer_token(request)
    if token is None:
        return None
    container = container_of(request)
    found = container.tokens.authenticate(token)
    if found is None:
        raise Unauthenticated("unknown or revoked token")
    if found.role is not None:
        with container.engine.begin() as conn:
            container.audit_log.append(
                conn,
                AuditTag.AUTH_TOKEN_USED,
                found.actor,
                {"token_id": found.token_id, "method": request.method, "path": request.url.path},
            )
    return found


def require(request: Request, *roles: Role, account_id: str | None = None) -> Principal:
    """A caller with one of ``roles`` — or, when ``account_id`` is given, that account's host."""
    caller = principal(request)
    if caller is None:
        raise Unauthenticated("this endpoint needs a bearer token")
    if caller.has(*roles):
        return caller
    if account_id is not None and caller.account_id == account_id:
        return caller
    wanted = ", ".join(r.value for r in roles) or "none"
    suffix = " or the meeting's host" if account_id is not None else ""
    raise Forbidden(f"this needs one of the roles {wanted}{suffix}", roles=[r.value for r in roles])


ModelT = TypeVar("ModelT", bound=BaseModel)


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request body validated as ``model`` straight from its bytes (pydantic's JSON parser).

    For the two hot paths (the join gate and stateless decisions) instead of a body parameter:
    FastAPI's parameter machinery costs as much as the decision itself. Errors are the same
    422 ``invalid_input`` as everywhere (locations under ``body``); ``body_schema`` keeps the
    OpenAPI document the same."""
    try:
        return model.model_validate_json(await read_body(request))
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def read_body(request: Request) -> bytes:
    """The whole body of a request nothing has read yet: the bytes ``await request.body()``
    gives, and the same ``ClientDisconnect`` if the client goes away first, read straight from
    ``receive`` (``Request.body`` runs and closes an async generator per request, on the
    join's path). The body is not kept on the request: read it once."""
    chunks: list[bytes] = []
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body read with ``json_body``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
