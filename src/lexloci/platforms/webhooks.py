"""Webhook delivery of removal orders, signed per the Standard Webhooks specification.

**Signing.** Every attempt is a ``POST`` of the order's fixed JSON body with the headers
``webhook-id`` (the order id, which is its idempotency key: the same on every attempt),
``webhook-timestamp`` (seconds since the epoch, at this attempt) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the platform's ``whsec_`` secret),
made by the ``standardwebhooks`` library. A receiver verifies with the same library and
refuses timestamps more than five minutes off; it acts on a ``webhook-id`` once and answers a
repeat 2xx without acting again (docs/integration.md).

**Batches.** A platform registered with ``batch_size`` above 1 gets its orders as batch
messages: one signed request of ``type`` ``participant.removal_ordered.batch`` whose
``data.orders`` are up to ``batch_size`` single-order messages, byte for byte, each with its own
``idempotency_key`` (= order id); the ``webhook-id`` is ``bat_`` + a digest of the order ids
(``batch_message``). The answer counts for every order in the batch, as if each had been sent
alone — one failed request is one failed attempt of each. A worker batches what it claimed
together, so the first orders of a sweep leave as soon as their chunk commits. ``batch_size``
1 (the default) keeps one order per message, for receivers that know only that shape.

**What an answer means.** ``2xx`` except ``202``: acknowledged (the platform removed the
participant, or durably queued doing so). ``202 Accepted``: received; the platform will call
``POST /api/v1/platforms/{platform}/orders/{id}/ack`` — until then the order is re-sent every
``ack_timeout``. Anything else — another status, a connection error, no answer within
``timeout`` — is a failed attempt, retried with exponential backoff (``DeliveryPolicy``) until
``max_attempts``, then dead-lettered (``GET /api/v1/platforms/{platform}/dead-letters``).
Redirects are not followed (a 3xx is a failure): the registered URL is the one signed for.

**No double delivery across processes.** Every node runs a ``DeliveryWorker`` and more can be
started with ``lexloci platform deliver``. A worker sends only orders it claimed in the
database (``PlatformStore.claim``: atomic, with a lease of ``DeliveryPolicy.lease``) and
queues at most ``4 × concurrency`` requests (of up to ``batch_size`` orders) per platform, so
every claimed order is sent well within its lease; results are written only while the claim
is still the worker's. An order is thus sent by one worker at a time, and sent again only after
a failed attempt, an unacknowledged ``202``, or a worker that died holding the claim (after the
lease) — each time with the same idempotency key, so the receiver acts once.

**Handovers.** The orders a sweep makes on this node need no claim: the worker reserves room
in its lane for them (``reserve``, counted in the same bound), the sweep inserts them already
claimed by it with the same lease, and once their transaction committed hands them over
(``hand_over``) straight to the senders, bodies and all — so a fresh order is neither claimed
again under SQLite's write lock nor read back. A wake-up counts due orders on a read connection
first (``PlatformStore.due``) and claims only if there are some. Orders of roster events, of
other nodes, retries, and whatever found no room are claimed as before.

**Why a small HTTP/1.1 client of its own.** With single-order messages, 10,000 orders in a
couple of seconds: on this project's machines httpx's per-request overhead measured 5-10x the
cost of the exchange itself, and h11 alone (the protocol engine under httpx) still 1-2 ms per
request, most of it validating headers lexloci wrote itself. ``_Connection`` writes each
request whole and reads the answer's status, headers and body framing (Content-Length,
chunked, or to the end of the connection; at most 64 KiB), which is all a webhook needs; TLS
comes from the standard library for ``https://`` URLs. Anything it cannot read is a failed
attempt, never a success.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import secrets
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from anyio import to_thread
from standardwebhooks import Webhook

from lexloci.clock import Clock
from lexloci.platforms.model import DeliveryPolicy, OrderState, Platform, RemovalOrder
from lexloci.platforms.orders import BATCH_EVENT
from lexloci.platforms.ports import Handover, OrderUpdate, PlatformStore

__all__ = ["DeliveryWorker", "WebhookClient", "WebhookFailed", "batch_message", "signed_headers"]

log = logging.getLogger("lexloci.platforms")

#: Orders a lane queues per unit of concurrency (see "No double delivery" above).
_QUEUE_PER_SENDER: Final = 4
#: The most response body read from a receiver (the answer's status is all that counts).
_MAX_ANSWER: Final = 64 * 1024
#: How long results wait to be written together; the acknowledgement is recorded this late.
_FLUSH_S: Final = 0.02
_FLUSH_MAX: Final = 1000


class WebhookFailed(Exception):
    """A delivery attempt got no HTTP answer (connection, protocol or TLS error)."""


def signed_headers(
    signer: Webhook, order_id: str, body: str, at: dt.datetime
) -> list[tuple[str, str]]:
    """The Standard Webhooks headers of one attempt."""
    return [
        ("webhook-id", order_id),
        ("webhook-timestamp", str(int(at.timestamp()))),
        ("webhook-signature", signer.sign(order_id, at, body)),
    ]


def batch_message(orders: Sequence[RemovalOrder], at: dt.datetime) -> tuple[str, str]:
    """The ``webhook-id`` and body of a batch message carrying ``orders``.

    The body's ``data.orders`` are the orders' own messages, each exactly the bytes a
    single-order webhook would carry (``type``, ``timestamp``, ``data`` with its
    ``idempotency_key``). The id is derived from the order ids, so the same orders sent again
    together carry the same ``webhook-id``; orders retried in other company get another.
    """
    ids = "\x1f".join(sorted(order.id for order in orders))
    message_id = "bat_" + hashlib.sha256(ids.encode()).hexdigest()[:24]
    body = (
        '{"data":{"count":%d,"orders":[%s]},"timestamp":"%s","type":"%s"}'  # noqa: UP031
        % (len(orders), ",".join(order.body for order in orders), at.isoformat(), BATCH_EVENT)
    )
    return message_id, body


class _Answer(Exception):
    """The receiver's answer could not be read (malformed, too long, or cut short)."""


@dataclass
class _Connection:
    """One keep-alive HTTP/1.1 connection: a request written whole, the answer read with its
    framing (Content-Length, chunked, or until the connection closes) so the connection can
    carry the next request."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    agent: str
    reusable: bool = True

    def close(self) -> None:
        self.reusable = False
        self.writer.close()

    async def post(
        self, host: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> int:
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"User-Agent: {self.agent}",
            *(f"{name}: {value}" for name, value in headers),
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _Answer("the answer's headers are too long") from None
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise _Answer(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        status = int(code)
        fields: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise _Answer(f"malformed header line {line[:80]!r}")
            fields[name.strip().lower()] = value.strip()
        if version == "HTTP/1.0" or "close" in fields.get("connection", "").lower():
            self.reusable = False
        if 100 <= status < 200:  # no Expect: 100-continue was sent, so none is awaited
            raise _Answer(f"unexpected interim answer {status}")
        await self._skip_body(status, fields)
        return status

    async def _skip_body(self, status: int, fields: dict[str, str]) -> None:
        """Read (and drop) the answer's body: only its status counts."""
        if status in (204, 304):
            return
        if "chunked" in fields.get("transfer-encoding", "").lower():
            total = 0
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _Answer("malformed chunk size") from None
                total += size
                if total > _MAX_ANSWER:
                    raise _Answer(f"the answer's body is longer than {_MAX_ANSWER} bytes")
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailer fields
                    return
                await self.reader.readexactly(size + 2)
        length = fields.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > _MAX_ANSWER:
                raise _Answer(f"unusable Content-Length {length[:20]!r}")
            await self.reader.readexactly(int(length))
            return
        # Neither framing: the body ends when the receiver closes the connection.
        self.reusable = False
        data = await self.reader.read(_MAX_ANSWER + 1)
        while data and len(data) <= _MAX_ANSWER:
            more = await self.reader.read(_MAX_ANSWER + 1 - len(data))
            if not more:
                break
            data += more


class WebhookClient:
    """POSTs over pooled HTTP/1.1 keep-alive connections, one pool per origin."""

    def __init__(self, agent: str = "lexloci-webhooks") -> None:
        self.agent = agent  # the User-Agent: names the worker, for receivers' logs
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._tls = ssl.create_default_context()

    async def post(
        self, url: str, headers: Sequence[tuple[str, str]], body: bytes, timeout: float
    ) -> int:
        """The answer's status; ``WebhookFailed`` or ``TimeoutError`` without one."""
        parts = urlsplit(url)
        https = parts.scheme == "https"
        hostname = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        origin = (parts.scheme, hostname, port)
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        async with asyncio.timeout(timeout):
            while True:
                idle = self._idle.get(origin)
                reused = bool(idle)
                if idle:
                    conn = idle.pop()
                else:
                    conn = await self._open(hostname, port, https)
                try:
                    status = await conn.post(host, target, headers, body)
                except (OSError, asyncio.IncompleteReadError, _Answer) as exc:
                    conn.close()
                    if reused and not isinstance(exc, _Answer):
                        continue  # the receiver had closed this idle connection: a fresh one
                    raise WebhookFailed(_describe(exc)) from None
                except BaseException:
                    conn.close()  # a timeout or cancellation mid-request: never reuse it
                    raise
                if conn.reusable:
                    self._idle.setdefault(origin, []).append(conn)
                else:
                    conn.close()
                return status

    async def _open(self, host: str, port: int, https: bool) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=self._tls if https else None,
                server_hostname=host if https else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise WebhookFailed(_describe(exc)) from None
        return _Connection(reader, writer, self.agent)

    def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:300]


@dataclass
class _Lane:
    """One platform's queue and senders inside a worker."""

    platform: Platform
    signer: Webhook
    queue: asyncio.Queue[list[RemovalOrder]] = field(default_factory=asyncio.Queue)
    in_flight: int = 0
    senders: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        """Orders the lane may hold: ``_QUEUE_PER_SENDER`` requests per sender."""
        policy = self.platform.delivery
        return policy.concurrency * _QUEUE_PER_SENDER * policy.batch_size

    def enqueue(self, orders: Sequence[RemovalOrder]) -> None:
        """Queue orders for the senders, ``batch_size`` to a request."""
        size = self.platform.delivery.batch_size
        for start in range(0, len(orders), size):
            self.queue.put_nowait(list(orders[start : start + size]))


class DeliveryWorker:
    """Claims due orders, sends them, and records what happened (see the module docstring)."""

    def __init__(
        self,
        store: PlatformStore,
        clock: Clock,
        *,
        name: str,
        poll: float = 1.0,
        client: WebhookClient | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.worker = f"{name}:{os.getpid()}:{secrets.token_hex(4)}"
        self.poll = poll
        self.client = client or WebhookClient(f"lexloci-webhooks ({self.worker})")
        self._lanes: dict[str, _Lane] = {}
        self._results: list[OrderUpdate] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._jitter = secrets.SystemRandom()
        self._platforms_read: tuple[float, list[Platform]] | None = None
        # Guards every lane's ``in_flight``: sweeps reserve room from their own threads.
        self._room = threading.Lock()
        self._reserved: dict[Handover, _Lane] = {}  # handovers not yet handed over

    # -- handovers (lexloci.platforms.ports.OrderCourier) --------------------------------------

    def serves(self, platform: str) -> bool:
        """Whether this worker runs and has senders for ``platform`` (it then takes handovers)."""
        loop = self._loop
        return loop is not None and not loop.is_closed() and platform in self._lanes

    def reserve(self, platform: str, count: int) -> Handover | None:
        """Room for up to ``count`` orders a sweep on this node is about to write (callable
        from any thread); None while this worker is not running or has no lane for them."""
        lane = self._lanes.get(platform)
        if lane is None or count <= 0 or not self.serves(platform):
            return None
        granted = self._take_room(lane, count)
        if not granted:
            return None
        until = self.clock.now() + lane.platform.delivery.lease
        handover = Handover(platform, self.worker, until, granted)
        self._reserved[handover] = lane  # the room is given back to this lane, even if replaced
        return handover

    def hand_over(self, handover: Handover, orders: Sequence[RemovalOrder]) -> None:
        """Queue committed orders inserted under ``handover`` (callable from any thread)."""
        loop = self._loop
        # Stopped: the orders wait for their lease to end, then any worker claims them.
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed just now: the same
                loop.call_soon_threadsafe(self._accept, handover, list(orders))

    def _accept(self, handover: Handover, orders: list[RemovalOrder]) -> None:
        lane = self._reserved.pop(handover, None)
        if lane is None:  # not this worker's reservation: nothing to send or give back
            return
        self._give_room(lane, handover.room - len(orders))
        current = self._lanes.get(handover.platform, lane)
        if current is not lane:  # the registration changed since: the new lane sends them
            with self._room:
                lane.in_flight -= len(orders)
                current.in_flight += len(orders)
            lane = current
        lane.enqueue(orders)

    def _take_room(self, lane: _Lane, wanted: int) -> int:
        with self._room:
            granted = max(0, min(wanted, lane.capacity - lane.in_flight))
            lane.in_flight += granted
        return granted

    def _give_room(self, lane: _Lane, count: int) -> None:
        if count:
            with self._room:
                lane.in_flight -= count

    # -- delivery ------------------------------------------------------------------------------

    def wake(self) -> None:
        """New orders were committed (callable from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Deliver until cancelled."""
        self._loop = asyncio.get_running_loop()
        flusher = asyncio.create_task(self._flush_forever())
        try:
            while True:
                self._wake.clear()
                more = False
                try:
                    more = await self._claim_round()
                except Exception:
                    log.exception("claiming removal orders failed; trying again")
                if not more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll)
        finally:
            # Wait for every task to stop, so no thread still holds a database connection
            # when the caller disposes of the engine; then record what was sent.
            tasks = [flusher, *(t for lane in self._lanes.values() for t in lane.senders)]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._flush()
            self.client.close()

    async def _claim_round(self) -> bool:
        """Claim for every platform with room in its lane; True if some lane may get more."""
        more = False
        now = self.clock.now()
        if self._platforms_read is None or time.monotonic() - self._platforms_read[0] >= self.poll:
            # Registrations change rarely: read them once per poll, not on every wake-up.
            self._platforms_read = (
                time.monotonic(),
                await to_thread.run_sync(self.store.platforms),
            )
        for platform in self._platforms_read[1]:
            if platform.webhook_url is None:
                continue
            lane = self._lane(platform)
            # Look first (no write lock): most wake-ups during a sweep find nothing due, its
            # orders were handed over; and room taken here is room a handover cannot get.
            due = await to_thread.run_sync(self.store.due, platform.name, now, lane.capacity)
            room = self._take_room(lane, due)
            if room <= 0:
                continue
            claimed: list[RemovalOrder] = []
            try:
                claimed = await to_thread.run_sync(
                    self.store.claim, platform.name, self.worker, now, room, platform.delivery.lease
                )
            finally:
                self._give_room(lane, room - len(claimed))
            lane.enqueue(claimed)
            more = more or len(claimed) == room
        return more

    def _lane(self, platform: Platform) -> _Lane:
        lane = self._lanes.get(platform.name)
        if lane is None or lane.platform != platform:
            if lane is not None:  # the registration changed: new settings from now on
                for task in lane.senders:
                    task.cancel()
            lane = _Lane(platform, Webhook(platform.secret))
            lane.senders = [
                asyncio.create_task(self._send_forever(lane))
                for _ in range(platform.delivery.concurrency)
            ]
            self._lanes[platform.name] = lane
        return lane

    async def _send_forever(self, lane: _Lane) -> None:
        while True:
            orders = await lane.queue.get()
            try:
                updates = await self._attempt(lane, orders)
            except Exception:  # a bug must not kill the sender: the claims' leases will expire
                log.exception("delivering orders %s… failed unexpectedly", orders[0].id)
                updates = []
            self._give_room(lane, len(orders))
            if updates:
                self._results += updates
                if len(self._results) >= _FLUSH_MAX:
                    self._flushed.set()
            if lane.in_flight <= lane.capacity // 2:
                self._wake.set()

    async def _attempt(self, lane: _Lane, claimed: list[RemovalOrder]) -> list[OrderUpdate]:
        platform = lane.platform
        policy = platform.delivery
        now = self.clock.now()
        updates: list[OrderUpdate] = []
        orders: list[RemovalOrder] = []
        for order in claimed:
            if order.state is OrderState.DELIVERED and order.attempts >= policy.max_attempts:
                updates.append(OrderUpdate(
                    order.id, OrderState.DEAD, order.attempts, now, None, dead_at=now,
                    last_error=f"not acknowledged after {order.attempts} deliveries",
                ))  # fmt: skip
            else:
                orders.append(order)
        if not orders:
            return updates
        url = platform.webhook_url
        assert url is not None  # only platforms with a webhook get lanes
        if policy.batch_size > 1:
            message_id, body = batch_message(orders, now)
        else:
            (single,) = orders
            message_id, body = single.id, single.body
        headers = signed_headers(lane.signer, message_id, body, now)
        error: str | None = None
        status: int | None = None
        try:
            status = await self.client.post(
                url, headers, body.encode(), policy.timeout.total_seconds()
            )
        except TimeoutError:
            error = f"no answer within {policy.timeout.total_seconds():g} s"
        except WebhookFailed as exc:
            error = str(exc)
        done = self.clock.now()
        for order in orders:
            updates.append(self._outcome(policy, order, status, error, now, done))
        return updates

    def _outcome(
        self,
        policy: DeliveryPolicy,
        order: RemovalOrder,
        status: int | None,
        error: str | None,
        now: dt.datetime,
        done: dt.datetime,
    ) -> OrderUpdate:
        """What one attempt's answer means for one order it carried."""
        attempts = order.attempts + 1
        if status is not None and 200 <= status < 300 and status != 202:
            return OrderUpdate(
                order.id, OrderState.ACKNOWLEDGED, attempts, done, now, delivered_at=done,
                acked_at=done, acked_via="webhook",
            )  # fmt: skip
        if status == 202:
            return OrderUpdate(
                order.id, OrderState.DELIVERED, attempts, done + policy.ack_timeout, now,
                delivered_at=done,
            )  # fmt: skip
        if error is None:
            error = f"HTTP {status}"
        if attempts >= policy.max_attempts:
            return OrderUpdate(
                order.id, OrderState.DEAD, attempts, done, now, dead_at=done, last_error=error
            )
        wait = policy.backoff(attempts, self._jitter.random())
        state = OrderState.DELIVERED if order.state is OrderState.DELIVERED else OrderState.PENDING
        return OrderUpdate(order.id, state, attempts, done + wait, now, last_error=error)

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), _FLUSH_S)
            self._flushed.clear()
            try:
                await self._flush()
            except Exception:
                # Kept for the next flush; if writing keeps failing, the claims' leases end
                # and the orders are sent again (same webhook-id): late, never lost.
                log.exception("recording delivery results failed; trying again")
                await asyncio.sleep(self.poll)

    async def _flush(self) -> None:
        if not self._results:
            return
        batch, self._results = self._results, []
        try:
            await to_thread.run_sync(self.store.record, self.worker, batch)
        except BaseException:
            self._results = batch + self._results
            raise
