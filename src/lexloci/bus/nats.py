"""``NatsBus``: restriction changes through a NATS JetStream stream, for a fleet of nodes.

Layout (docs/operations.md has the reasoning and the numbers):

- one stream ``<STREAM>`` with subjects ``<stream>.restriction.<restriction id>``; each message is
  one restriction *version* as JSON (``lexloci.policy.codec``), with ``Nats-Msg-Id`` set to
  ``<id>:<version>`` so JetStream drops duplicate publishes;
- per-subject history of one message (``max_msgs_per_subject=1``) is enough, because a later
  version of a restriction replaces everything before it — the stream stays as small as the set
  of restrictions, however long the fleet runs;
- one durable pull consumer per node (``node-<name>``): a restarted node continues where it
  acknowledged, and replays what it missed before it becomes ready;
- the outbox: the approving process commits the restriction to the database first; rows whose
  ``published_version`` is behind their version are (re)published until JetStream acknowledges
  them, so a bus outage delays a change but never loses it.

Every node also loads all restrictions from the database at start, so even a node whose consumer
was deleted enforces everything committed; the stream is how *running* nodes learn of changes
within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from lexloci.bus import ApplyChange
from lexloci.policy import Restriction
from lexloci.policy.codec import restriction_from_dict, restriction_to_dict

__all__ = ["NatsBus"]

log = logging.getLogger("lexloci.bus")

_RETRY_S = 1.0
_FETCH_TIMEOUT_S = 1.0


class NatsBus:
    def __init__(
        self,
        url: str,
        stream: str,
        node: str,
        pending: Callable[[], list[Restriction]],
        mark_published: Callable[[str, int], None],
    ) -> None:
        """``pending`` lists restrictions not yet published at their current version (the
        outbox); ``mark_published(id, version)`` records a publish JetStream acknowledged."""
        self.url = url
        self.stream = stream
        self.subject_prefix = stream.lower()
        self.node = node
        self._pending = pending
        self._mark_published = mark_published
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._apply: ApplyChange | None = None
        self._ready = asyncio.Event()
        self._connected = False
        self._applied = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._kick = asyncio.Event()
        self._last_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def status(self) -> dict[str, Any]:
        return {
            "kind": "nats",
            "stream": self.stream,
            "consumer": f"node-{self.node}",
            "ready": self.ready,
            "connected": self._connected,
            "applied": self._applied,
            "last_error": self._last_error,
        }

    async def start(self, apply: ApplyChange) -> None:
        self._apply = apply
        self._tasks = [
            asyncio.create_task(self._consume(), name="lexloci-bus-consume"),
            asyncio.create_task(self._publish_forever(), name="lexloci-bus-publish"),
        ]

    async def announce(self, restrictions: list[Restriction]) -> None:
        # The rows are committed; the publisher picks them up from the outbox.
        self._kick.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # -- connection ------------------------------------------------------------------------

    async def _connection(self) -> JetStreamContext:
        while self._js is None:
            try:
                self._nc = await nats.connect(
                    self.url,
                    name=f"lexloci-{self.node}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    allow_reconnect=True,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                    error_cb=self._on_error,
                )
            except (NoServersError, OSError, TimeoutError) as exc:
                self._last_error = f"cannot connect to {self.url}: {exc.__class__.__name__}"
                log.warning("bus: %s; retrying", self._last_error)
                await asyncio.sleep(_RETRY_S)
                continue
            self._connected = True
            js = self._nc.jetstream()
            await self._ensure_stream(js)
            self._js = js
        return self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.subject_prefix}.restriction.>"],
            max_msgs_per_subject=1,
            duplicate_window=120.0,
        )
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            with contextlib.suppress(Exception):  # another node may create it at the same time
                await js.add_stream(config)

    async def _on_disconnect(self) -> None:
        self._connected = False
        log.warning("bus: disconnected from %s; enforcing what this node has", self.url)

    async def _on_reconnect(self) -> None:
        self._connected = True
        self._kick.set()
        log.info("bus: reconnected to %s", self.url)

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = f"{exc.__class__.__name__}: {exc}"

    # -- consuming -------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._apply is not None
        while True:
            try:
                js = await self._connection()
                await self._consume_from(js)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any bus failure
                self._last_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("bus: consumer stopped (%s); retrying", self._last_error)
                await asyncio.sleep(_RETRY_S)

    async def _consume_from(self, js: JetStreamContext) -> None:
        assert self._apply is not None
        durable = f"node-{self.node}"
        subscription = await js.pull_subscribe(
            f"{self.subject_prefix}.restriction.>",
            durable=durable,
            stream=self.stream,
            config=ConsumerConfig(
                durable_name=durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
            ),
        )
        head = (await js.stream_info(self.stream)).state.last_seq
        if head == 0:
            self._ready.set()
        while True:
            try:
                messages = await subscription.fetch(100, timeout=_FETCH_TIMEOUT_S)
            except (NatsTimeout, TimeoutError):  # nats-py raises either for "nothing pending"
                # Nothing pending: everything up to the head at start has been applied.
                self._ready.set()
                continue
            for message in messages:
                restriction = restriction_from_dict(json.loads(message.data))
                await self._apply(restriction)
                await message.ack()
                self._applied += 1
                if message.metadata.sequence.stream >= head:
                    self._ready.set()

    # -- publishing (the outbox) -----------------------------------------------------------

    async def _publish_forever(self) -> None:
        while True:
            try:
                js = await self._connection()
                await self._publish_pending(js)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the outbox keeps the change; retry later
                self._last_error = f"publish: {exc.__class__.__name__}: {exc}"
                log.warning("bus: %s; the change stays in the outbox", self._last_error)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), _RETRY_S)

    async def _publish_pending(self, js: JetStreamContext) -> None:
        pending = await asyncio.to_thread(self._pending)
        for restriction in pending:
            body = json.dumps(restriction_to_dict(restriction), sort_keys=True).encode()
            await js.publish(
                f"{self.subject_prefix}.restriction.{restriction.id}",
                body,
                headers={"Nats-Msg-Id": f"{restriction.id}:{restriction.version}"},
                timeout=2,
            )
            await asyncio.to_thread(self._mark_published, restriction.id, restriction.version)
