"""A WebRTC participant for the Janus tests and bench: one process per peer, driven over pipes.

Run it inside the test's network namespace (``ip netns exec NS python peer.py --address A``).
It talks to Janus's HTTP API like a browser running ``janus.js`` would, with PyPI ``aiortc``
for the media, and publishes synthetic audio (a 440 Hz tone) and video (160×120, a moving bar).

Why a process per peer: each peer encodes and decodes media in Python; in one process the GIL
would make one peer's frames late because of another's, and a removal's timing would measure
the test harness instead of Janus.

Why ``--address``: every peer runs in the same namespace as Janus (whose HTTP and admin APIs
are on that namespace's loopback), so each one offers only its own address as an ICE host
candidate — the address a client on its own host would have. That is what Janus's ICE
selected pair, and so the media-path evidence lexloci receives, reports for it.

Protocol: one JSON object per line on standard input, one JSON answer per line on standard
output (``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``), in order:

- ``{"op": "publish", "janus": URL, "token": T, "room": R, "display": NAME}`` — a Janus session
  with a VideoRoom publisher handle; answers once the connection is up and Janus confirmed it
  (``webrtcup``), with ``feed`` (the publisher id) and ``session``;
- ``{"op": "subscribe", "feeds": [F, ...]}`` — a *second* Janus session (as a second browser
  tab would open) with one subscriber handle and connection per listed feed; answers when they
  are up;
- ``{"op": "status"}`` — frames received per feed and kind, when the last one arrived, and each
  connection's state and the monotonic time it closed (``time.monotonic`` is one clock for
  every process of the machine, so the driver compares it with its own);
- ``{"op": "try_join", "token": T, "room": R}`` — a fresh session that tries to join the room
  as a publisher with token T; answers with what Janus said (for "kick is not a ban");
- ``{"op": "reset"}`` — close every connection and session, ready to publish again;
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import math
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
import httpx
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT, FPS = 160, 120, 15
AUDIO_RATE, AUDIO_PTIME = 48000, 0.02
VIDEOROOM = "janus.plugin.videoroom"


class JanusError(Exception):
    pass


class ToneTrack(MediaStreamTrack):
    """Synthetic audio: a 440 Hz tone, 20 ms frames at 48 kHz."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        period = [
            int(8000 * math.sin(2 * math.pi * 440 * i / AUDIO_RATE)) for i in range(AUDIO_RATE)
        ]
        self._second = b"".join(v.to_bytes(2, "little", signed=True) for v in period)
        self._samples = samples
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._sent / AUDIO_RATE - time.monotonic()))
        offset = (self._sent % AUDIO_RATE) * 2
        chunk = (self._second + self._second)[offset : offset + self._samples * 2]
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(chunk)
        frame.pts = self._sent
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sent += self._samples
        return frame


class BarTrack(MediaStreamTrack):
    """Synthetic video: 160×120 at 15 fps, a bright bar moving over a grey field."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._count / FPS - time.monotonic()))
        frame = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        luma, cb, cr = frame.planes
        bar = (self._count * 4) % WIDTH
        row = bytearray(b"\x60" * luma.line_size)
        row[bar : bar + 16] = b"\xe0" * len(row[bar : bar + 16])
        luma.update(bytes(row) * luma.height)
        cb.update(b"\x80" * (cb.line_size * cb.height))
        cr.update(b"\x80" * (cr.line_size * cr.height))
        frame.pts = self._count * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


class JanusSession:
    """One Janus session over the HTTP transport: requests, and a long poll for its events."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.token = token
        self.id = 0
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.poller: asyncio.Task[None] | None = None
        self.gone = False

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8), "token": self.token}
        response = await self.http.post(self.url + path, json=body)
        answer: dict[str, Any] = response.json()
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise JanusError(f"{error.get('code')}: {error.get('reason')}")
        return answer

    async def create(self) -> None:
        answer = await self.post("", {"janus": "create"})
        self.id = answer["data"]["id"]
        self.poller = asyncio.create_task(self._poll())

    async def attach(self) -> int:
        answer = await self.post(f"/{self.id}", {"janus": "attach", "plugin": VIDEOROOM})
        return int(answer["data"]["id"])

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a plugin message; wait for its (possibly asynchronous) event."""
        transaction = secrets.token_hex(8)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[transaction] = waiter
        request: dict[str, Any] = {
            "janus": "message",
            "body": body,
            "transaction": transaction,
            "token": self.token,
        }
        if jsep is not None:
            request["jsep"] = jsep
        response = await self.http.post(f"{self.url}/{self.id}/{handle}", json=request)
        answer = response.json()
        if answer.get("janus") == "error":
            self.waiters.pop(transaction, None)
            error = answer.get("error", {})
            raise JanusError(f"{error.get('code')}: {error.get('reason')}")
        if answer.get("janus") == "success":  # a synchronous plugin answer
            self.waiters.pop(transaction, None)
            return answer
        event = await asyncio.wait_for(waiter, 20)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{data.get('error_code')}: {data['error']}")
        return event

    async def _poll(self) -> None:
        """The long poll: Janus's events for this session, and its keep-alive."""
        while not self.gone:
            try:
                response = await self.http.get(
                    f"{self.url}/{self.id}",
                    params={"maxev": "10", "token": self.token, "rid": str(time.time_ns())},
                    timeout=40,
                )
                batch = response.json()
            except (httpx.HTTPError, ValueError):
                await asyncio.sleep(0.2)
                continue
            for event in batch if isinstance(batch, list) else [batch]:
                if event.get("janus") == "error":  # the session is gone (destroyed)
                    self.gone = True
                    break
                self.events.append(event)
                waiter = self.waiters.pop(event.get("transaction", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)

    def saw(self, kind: str, handle: int) -> bool:
        return any(e.get("janus") == kind and e.get("sender") == handle for e in self.events)

    async def stop(self) -> None:
        self.gone = True
        if self.poller is not None:
            self.poller.cancel()


@dataclass
class Connection:
    """One RTCPeerConnection and what it saw."""

    pc: RTCPeerConnection
    closed_at: float | None = None
    state_log: list[tuple[float, str]] = field(default_factory=list)

    def watch(self) -> None:
        @self.pc.on("connectionstatechange")
        def _changed() -> None:
            now = time.monotonic()
            self.state_log.append((now, self.pc.connectionState))
            if self.pc.connectionState in {"closed", "failed"} and self.closed_at is None:
                self.closed_at = now

    def status(self) -> dict[str, Any]:
        return {"state": self.pc.connectionState, "closed_at": self.closed_at}


@dataclass
class Received:
    frames: int = 0
    last_at: float | None = None


class Peer:
    def __init__(self, address: str) -> None:
        self.address = address
        self.http = httpx.AsyncClient(timeout=10)
        self.janus_url = ""
        self.publisher: Connection | None = None
        self.subscribers: list[Connection] = []
        self.sessions: list[JanusSession] = []
        self.feed: int | None = None
        self.private_id: int | None = None
        self.token = ""
        self.room = 0
        self.received: dict[str, Received] = {}
        self.consumers: list[asyncio.Task[None]] = []

    def new_pc(self) -> Connection:
        # No ICE servers: nothing may reach for a public STUN server.
        connection = Connection(RTCPeerConnection(RTCConfiguration(iceServers=[])))
        connection.watch()
        return connection

    async def _wait_up(self, connection: Connection, session: JanusSession, handle: int) -> None:
        """Until the connection is up on both sides (Janus says ``webrtcup`` for the handle)."""
        deadline = time.monotonic() + 20
        while not (
            connection.pc.connectionState == "connected" and session.saw("webrtcup", handle)
        ):
            if connection.closed_at is not None or time.monotonic() > deadline:
                raise JanusError(f"connection not up: {connection.pc.connectionState}")
            await asyncio.sleep(0.02)

    async def publish(self, janus: str, token: str, room: int, display: str) -> dict[str, Any]:
        self.janus_url, self.token, self.room = janus, token, room
        session = JanusSession(self.http, janus, token)
        await session.create()
        self.sessions.append(session)
        handle = await session.attach()
        joined = await session.message(
            handle,
            {
                "request": "join",
                "ptype": "publisher",
                "room": room,
                "token": token,
                "display": display,
            },
        )
        data = joined["plugindata"]["data"]
        self.feed, self.private_id = int(data["id"]), int(data["private_id"])
        self.publisher = self.new_pc()
        pc = self.publisher.pc
        pc.addTrack(ToneTrack())
        pc.addTrack(BarTrack())
        await pc.setLocalDescription(await pc.createOffer())
        answer = await session.message(
            handle,
            {"request": "publish", "audio": True, "video": True},
            {"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False},
        )
        jsep = answer["jsep"]
        await pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))
        await self._wait_up(self.publisher, session, handle)
        return {"feed": self.feed, "session": session.id}

    async def subscribe(self, feeds: list[int]) -> dict[str, Any]:
        """One more Janus session, with one subscriber handle and connection per feed.

        One connection per feed, as janus.js does by default: aiortc 1.16 routes RTP by SSRC
        and payload type only, and mixes up two video streams bundled in one connection."""
        session = JanusSession(self.http, self.janus_url, self.token)
        await session.create()
        self.sessions.append(session)
        for feed in feeds:
            await self._subscribe_one(session, feed)
        return {"session": session.id}

    async def _subscribe_one(self, session: JanusSession, feed: int) -> None:
        handle = await session.attach()
        attached = await session.message(
            handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "token": self.token,
                "private_id": self.private_id,
                "streams": [{"feed": feed}],
            },
        )
        connection = self.new_pc()
        self.subscribers.append(connection)
        pc = connection.pc

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            key = f"{feed}:{track.kind}"
            self.consumers.append(asyncio.create_task(self._consume(key, track)))

        offer = attached["jsep"]
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        await session.message(
            handle,
            {"request": "start"},
            {"type": "answer", "sdp": pc.localDescription.sdp, "trickle": False},
        )
        await self._wait_up(connection, session, handle)

    async def _consume(self, key: str, track: MediaStreamTrack) -> None:
        received = self.received.setdefault(key, Received())
        try:
            while True:
                await track.recv()
                received.frames += 1
                received.last_at = time.monotonic()
        except MediaStreamError:
            return

    async def try_join(self, token: str, room: int) -> dict[str, Any]:
        session = JanusSession(self.http, self.janus_url, token)
        try:
            await session.create()
            handle = await session.attach()
            await session.message(
                handle, {"request": "join", "ptype": "publisher", "room": room, "token": token}
            )
        except JanusError as exc:
            return {"joined": False, "error": str(exc)}
        finally:
            await session.stop()
        return {"joined": True}

    def status(self) -> dict[str, Any]:
        return {
            "now": time.monotonic(),
            "received": {
                k: {"frames": r.frames, "last_at": r.last_at} for k, r in self.received.items()
            },
            "publisher": self.publisher.status() if self.publisher else None,
            "subscribers": [c.status() for c in self.subscribers],
            "kicked": sorted(
                {
                    data["kicked"]
                    for s in self.sessions
                    for e in s.events
                    if isinstance(data := e.get("plugindata", {}).get("data", {}), dict)
                    and isinstance(data.get("kicked"), int)
                }
            ),
        }

    async def reset(self) -> dict[str, Any]:
        """Close everything, ready to publish again (the bench reuses its peers)."""
        await self._close_media()
        self.publisher, self.subscribers = None, []
        self.sessions, self.received, self.consumers = [], {}, []
        self.feed = self.private_id = None
        return {}

    async def _close_media(self) -> None:
        for task in self.consumers:
            task.cancel()
        for connection in [self.publisher, *self.subscribers]:
            if connection is not None:
                await connection.pc.close()
        for session in self.sessions:
            await session.stop()

    async def close(self) -> None:
        await self._close_media()
        await self.http.aclose()


async def serve(peer: Peer) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        op = command.pop("op")
        try:
            if op == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            if op == "publish":
                answer = await peer.publish(**command)
            elif op == "subscribe":
                answer = await peer.subscribe(**command)
            elif op == "status":
                answer = peer.status()
            elif op == "try_join":
                answer = await peer.try_join(**command)
            elif op == "reset":
                answer = await peer.reset()
            else:
                raise JanusError(f"unknown op {op!r}")
            reply = {"ok": True, **answer}
        except (JanusError, httpx.HTTPError, TimeoutError, KeyError) as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    await peer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="the only ICE host address to offer")
    args = parser.parse_args()
    # The peer stands for a client on its own host: it offers its own address and no other.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.address]
    asyncio.run(serve(Peer(args.address)))


if __name__ == "__main__":
    main()
