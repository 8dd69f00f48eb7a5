"""The pull alternative to webhooks: a platform's removal orders as server-sent events.

``order_events(service, platform)`` yields the bytes of a ``text/event-stream``:

- every order of the platform not yet acknowledged (pending, delivered or dead-lettered), oldest
  first, as soon as the stream opens, then each new one as it is made on this node (at once) or
  on another node (within ``poll`` seconds);
- each as ``id: <order id>`` / ``event: participant.removal_ordered`` / ``data: <the same JSON
  body a webhook carries>``; the id is the order's idempotency key, as in ``webhook-id``;
- an order still unacknowledged ``resend_after`` after it was sent on this stream is sent again
  (the consumer acts once per id); acknowledging is ``POST …/orders/{id}/ack`` or
  ``POST …/orders/ack``, after which the order is never sent again;
- a comment line every ``keepalive`` seconds of silence, so proxies keep the stream open.

The stream reads orders and never changes their delivery state: a platform may use webhooks,
the stream, or both, and an acknowledgement through either ends both. It is not signed: the
consumer authenticated the connection with its platform token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from anyio import to_thread

from lexloci.platforms.model import Platform
from lexloci.platforms.orders import ORDER_EVENT
from lexloci.platforms.service import PlatformService

__all__ = ["order_events"]

_FETCH = 500


async def order_events(
    service: PlatformService,
    platform: Platform,
    *,
    resend_after: float | None = None,
    poll: float = 1.0,
    keepalive: float = 15.0,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:
        loop.call_soon_threadsafe(wake.set)

    resend = (
        resend_after if resend_after is not None else platform.delivery.ack_timeout.total_seconds()
    )
    sent: dict[str, float] = {}
    service.add_listener(listener)
    try:
        yield b"retry: 2000\n\n"
        quiet_since = time.monotonic()
        while True:
            wake.clear()  # before reading, so an order committed meanwhile wakes the next round
            ids = await to_thread.run_sync(service.store.unacknowledged_ids, platform.name)
            now = time.monotonic()
            open_ids = set(ids)
            for gone in [i for i in sent if i not in open_ids]:
                del sent[gone]  # acknowledged: forget it
            due = [i for i in ids if i not in sent or now - sent[i] >= resend]
            for start in range(0, len(due), _FETCH):
                orders = await to_thread.run_sync(
                    service.store.orders_by_id, due[start : start + _FETCH]
                )
                chunk = b"".join(
                    f"id: {o.id}\nevent: {ORDER_EVENT}\ndata: {o.body}\n\n".encode() for o in orders
                )
                for order in orders:
                    sent[order.id] = now
                if chunk:
                    yield chunk
                    quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= keepalive:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(poll, keepalive, resend))
    finally:
        service.remove_listener(listener)
