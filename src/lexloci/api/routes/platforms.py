"""Other platforms: stateless join decisions, roster events, removal orders (``/api/v1``).

Who may call what: a platform's own token (``lexloci platform add`` prints it) for its
decisions, events, orders and stream; ``admin`` and ``auditor`` tokens may also read a
platform's registration, participants and orders; ``admin`` registers platforms and
redelivers dead letters. A platform's token on another platform's paths is 403; a name no
platform is registered under is 404 ``not_found``.

This router's lifespan runs the node's webhook delivery worker (``lexloci.platforms.webhooks``)
for as long as the app runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from lexloci.api.deps import bearer_token, body_schema, container_of, json_body, principal
from lexloci.auth import Principal, Role
from lexloci.bootstrap import Container
from lexloci.errors import Forbidden, InvalidInput, Unauthenticated, Unavailable
from lexloci.geo import ClientAddress
from lexloci.meetings.notices import pick_language
from lexloci.platforms import (
    DeliveryPolicy,
    EventKind,
    JoinQuestion,
    Platform,
    RosterEvent,
)
from lexloci.platforms.service import event_digest
from lexloci.platforms.stream import order_events

__all__ = ["router"]

_REF = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces (lexloci.platforms.model.check_ref)
_READERS = (Role.ADMIN, Role.AUDITOR)


@asynccontextmanager
async def _delivery(app: FastAPI) -> AsyncIterator[None]:
    container: Container = app.state.container
    task = asyncio.create_task(container.delivery.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(tags=["platforms"], lifespan=_delivery)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Ref = Annotated[str, Field(min_length=1, max_length=200, pattern=_REF)]


class ForwardedIn(_Body):
    peer: str = Field(
        min_length=1, max_length=64, description="the address that connected to the platform"
    )
    headers: list[tuple[str, str]] = Field(
        default_factory=list,
        max_length=32,
        description="the raw Forwarded / X-Forwarded-For headers it sent, as [name, value] "
        "pairs in the order received",
    )


class _Where(_Body):
    meeting_ref: Ref
    participant_ref: Ref
    series_ref: Ref | None = Field(None, description="default: the meeting itself")
    account_ref: Ref | None = Field(None, description="the host account, if the platform has one")
    session_ref: Ref | None = Field(None, description="one occurrence; default: the meeting")
    client_ip: str | None = Field(
        None, max_length=64, description="the participant's address, as the platform resolved it"
    )
    forwarded: ForwardedIn | None = Field(
        None, description="instead of client_ip: the peer and forwarding headers, resolved here"
    )
    phone: str | None = Field(None, max_length=40, description="dial-in number (+852...)")
    language: str | None = Field(None, max_length=35, description="notice language: en, de, zh")


class JoinDecisionIn(_Where):
    pass


class EventIn(_Where):
    id: str = Field(min_length=1, max_length=100, pattern=_REF, description="unique per platform")
    type: Literal["participant.joined", "participant.left", "participant.address_changed"]
    decision_id: str | None = Field(
        None, max_length=60, description="the decision that admitted them, if you asked"
    )


class EventsIn(_Body):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class AckIn(_Body):
    ids: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=1000
    )


class PlatformIn(_Body):
    name: str = Field(min_length=1, max_length=40)
    webhook_url: str | None = Field(None, max_length=500)
    trusted_proxies: list[str] = Field(default_factory=list, max_length=64)
    max_attempts: int = Field(12, ge=1, le=100)
    retry_base_s: float = Field(1.0, gt=0, le=86400)
    retry_max_s: float = Field(600.0, gt=0, le=86400)
    timeout_s: float = Field(10.0, gt=0, le=30)
    ack_timeout_s: float = Field(60.0, gt=0, le=86400)
    concurrency: int = Field(16, ge=1, le=256)
    batch_size: int = Field(1, ge=1, le=1000)


def _ready(container: Container) -> None:
    if not container.bus.ready:
        # A node that has not applied every restriction change must not answer (I1).
        raise Unavailable("this node is still applying restriction changes; retry shortly")


def _caller(request: Request) -> Principal:
    caller = principal(request)
    if caller is None:
        raise Unauthenticated("this endpoint needs a bearer token")
    return caller


def _own_platform(request: Request) -> tuple[Container, Platform]:
    """The calling platform, from its token (for the decision endpoint)."""
    caller = _caller(request)
    if caller.platform is None:
        raise Forbidden("this needs a platform token (lexloci platform add)")
    container = container_of(request)
    return container, container.platforms.platform(caller.platform)


def _platform(request: Request, name: str, *, readers: bool = False) -> tuple[Container, Platform]:
    """``name``'s registration (404 if none), for that platform's own token — or, when
    ``readers``, an admin or auditor token."""
    caller = _caller(request)
    container = container_of(request)
    platform = container.platforms.platform(name)
    if caller.platform == name or (readers and caller.has(*_READERS)):
        return container, platform
    raise Forbidden(f"this token may not act for platform {name!r}", platform=name)


def _question(
    container: Container, platform: Platform, body: _Where, request: Request
) -> tuple[ClientAddress, str]:
    forwarded = body.forwarded
    client = container.platforms.client_address(
        platform,
        client_ip=body.client_ip,
        peer=forwarded.peer if forwarded else None,
        headers=list(forwarded.headers) if forwarded else [],
        phone=body.phone,
    )
    language = pick_language(body.language, request.headers.get("accept-language"))
    return client, language


# -- registration -------------------------------------------------------------------------


@router.post("/platforms", status_code=201, summary="Register a platform (admin)")
def register(request: Request, body: PlatformIn) -> dict[str, Any]:
    caller = _caller(request)
    if not caller.has(Role.ADMIN):
        raise Forbidden("registering a platform needs the admin role", roles=["admin"])
    container = container_of(request)
    delivery = DeliveryPolicy(
        max_attempts=body.max_attempts,
        retry_base=dt.timedelta(seconds=body.retry_base_s),
        retry_max=dt.timedelta(seconds=body.retry_max_s),
        timeout=dt.timedelta(seconds=body.timeout_s),
        ack_timeout=dt.timedelta(seconds=body.ack_timeout_s),
        concurrency=body.concurrency,
        batch_size=body.batch_size,
    )
    platform = container.platforms.register(
        body.name, body.webhook_url, trusted_proxies=body.trusted_proxies, delivery=delivery
    )
    token_id, token = container.tokens.create(
        body.name, container.clock.now(), platform=platform.name, actor=caller.actor
    )
    return {
        **platform.to_dict(),
        "signing_secret": platform.secret,
        "token": token,
        "token_id": token_id,
    }


@router.get("/platforms", summary="Registered platforms (admin, auditor)")
def list_platforms(request: Request) -> dict[str, Any]:
    caller = _caller(request)
    if not caller.has(*_READERS):
        raise Forbidden("listing platforms needs the admin or auditor role")
    return {"platforms": [p.to_dict() for p in container_of(request).platforms.platforms()]}


@router.get("/platforms/{platform}", summary="A platform's registration (never its secret)")
def get_platform(request: Request, platform: str) -> dict[str, Any]:
    _, found = _platform(request, platform, readers=True)
    return found.to_dict()


# -- the stateless join decision ----------------------------------------------------------


def _cached_platform(request: Request) -> tuple[Container, Platform] | None:
    """``_own_platform`` from this process's caches alone, or None when that needs the
    database: the decision endpoint answers on the event loop, as the join gate does."""
    token = bearer_token(request)
    container = container_of(request)
    caller = container.tokens.cached(token) if token is not None else None
    if caller is None or caller.platform is None:
        return None
    platform = container.platforms.cached_platform(caller.platform)
    return None if platform is None else (container, platform)


@router.post(
    "/decisions/join",
    summary="May this participant join this meeting of the calling platform? (platform token)",
    description="Always 200 with `effect` allow or deny (a deny is an answer, not an error), "
    "the notice texts, restriction ids, `decision_id`, policy version and evidence. Audited as "
    "a join to a lexloci session.",
    openapi_extra=body_schema(JoinDecisionIn),
)
async def decide_join(request: Request) -> JSONResponse:
    body = await json_body(request, JoinDecisionIn)
    found = _cached_platform(request)
    if found is None:  # a token or platform not seen lately: its lookup reads the database
        found = await to_thread.run_sync(_own_platform, request)
    container, platform = found
    _ready(container)
    client, language = _question(container, platform, body, request)
    # The gate runs on the loop (microseconds); only the durable audit write is waited for,
    # in the meeting store's group commit, exactly as for a join.
    decision, record = container.platforms.prepare_decision(
        platform,
        JoinQuestion(
            meeting_ref=body.meeting_ref,
            participant_ref=body.participant_ref,
            client=client,
            phone=body.phone,
            series_ref=body.series_ref,
            account_ref=body.account_ref,
            session_ref=body.session_ref,
            language=language,
        ),
    )
    await container.meetings.store.record_gate_async(record)
    return JSONResponse(decision.to_dict())  # as a response: FastAPI's encoder is not needed


# -- roster events ------------------------------------------------------------------------


@router.post(
    "/platforms/{platform}/events",
    summary="Participants joined, left or moved (idempotent by event id)",
)
def post_events(request: Request, platform: str, body: EventsIn) -> dict[str, Any]:
    container, found = _platform(request, platform)
    _ready(container)
    events = []
    for index, item in enumerate(body.events):
        kind = EventKind(item.type)
        client = None
        language = pick_language(item.language, None)
        if kind is not EventKind.LEFT:
            try:
                client, language = _question(container, found, item, request)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"events[{index}] ({item.id}): {exc.message}", index=index
                ) from None
        events.append(
            RosterEvent(
                id=item.id,
                kind=kind,
                participant_ref=item.participant_ref,
                meeting_ref=item.meeting_ref,
                series_ref=item.series_ref,
                account_ref=item.account_ref,
                session_ref=item.session_ref,
                client=client,
                phone=item.phone,
                language=language,
                decision_id=item.decision_id,
                digest=event_digest(item.model_dump(mode="json", exclude_none=True)),
            )
        )
    results = container.platforms.apply_events(found, events)
    return {"platform": found.name, "results": [r.to_dict() for r in results]}


@router.get(
    "/platforms/{platform}/participants", summary="The platform's roster as lexloci knows it"
)
def participants(
    request: Request,
    platform: str,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    container, found = _platform(request, platform, readers=True)
    people = container.platforms.participants(found, state, limit)
    return {"platform": found.name, "participants": [p.to_dict() for p in people]}


# -- removal orders -----------------------------------------------------------------------


@router.get(
    "/platforms/{platform}/orders/stream",
    summary="Removal orders as server-sent events (the pull alternative to webhooks)",
    response_class=StreamingResponse,
)
async def stream(
    request: Request,
    platform: str,
    resend_after: Annotated[float | None, Query(ge=0.05, le=86400)] = None,
) -> StreamingResponse:
    container, found = await to_thread.run_sync(_platform, request, platform)
    return StreamingResponse(
        order_events(container.platforms, found, resend_after=resend_after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/platforms/{platform}/orders/ack", summary="Acknowledge several orders")
def ack_many(request: Request, platform: str, body: AckIn) -> dict[str, Any]:
    container, found = _platform(request, platform)
    orders = container.platforms.acknowledge(found, body.ids, via="api")
    return {"orders": [o.to_dict() for o in orders]}


@router.get(
    "/platforms/{platform}/orders",
    summary="Removal orders, by state: pending, delivered, acknowledged, dead, unacknowledged",
)
def list_orders(
    request: Request,
    platform: str,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    container, found = _platform(request, platform, readers=True)
    orders = container.platforms.orders(found, state, limit)
    return {"platform": found.name, "orders": [o.to_dict() for o in orders]}


@router.get("/platforms/{platform}/dead-letters", summary="Orders whose delivery gave up")
def dead_letters(request: Request, platform: str) -> dict[str, Any]:
    container, found = _platform(request, platform, readers=True)
    orders = container.platforms.orders(found, "dead")
    return {"platform": found.name, "orders": [o.to_dict() for o in orders]}


@router.get("/platforms/{platform}/orders/{order_id}", summary="One removal order")
def get_order(request: Request, platform: str, order_id: str) -> dict[str, Any]:
    container, found = _platform(request, platform, readers=True)
    return container.platforms.order(found, order_id).to_dict()


@router.post("/platforms/{platform}/orders/{order_id}/ack", summary="Acknowledge an order")
def ack(request: Request, platform: str, order_id: str) -> dict[str, Any]:
    container, found = _platform(request, platform)
    (order,) = container.platforms.acknowledge(found, [order_id], via="api")
    return order.to_dict()


@router.post(
    "/platforms/{platform}/orders/{order_id}/redeliver",
    summary="Send a dead-lettered order again (the platform or an admin)",
)
def redeliver(request: Request, platform: str, order_id: str) -> dict[str, Any]:
    caller = _caller(request)
    container = container_of(request)
    found = container.platforms.platform(platform)
    if caller.platform != platform and not caller.has(Role.ADMIN):
        raise Forbidden(f"this token may not act for platform {platform!r}", platform=platform)
    return container.platforms.redeliver(found, order_id).to_dict()
