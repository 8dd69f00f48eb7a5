"""``JanusMediaPlane``: the Janus SFU (VideoRoom plugin) as lexloci's media plane.

lexloci talks to Janus only through its admin API (``httpx``; requests to the VideoRoom plugin
go through the admin request ``message_plugin``, so lexloci holds no Janus session of its own).
Clients talk to Janus's public HTTP API with the credential ``admit`` returned to them.

One lexloci session is one VideoRoom room. Its number and its ``secret`` (needed to kick and to
edit the room) are derived from the session id with a key derived from the admin secret, and a
participant's Janus token is ``lx1.<session id>.<participant id>.<MAC>`` with a MAC under the
same key — so a restarted lexloci can still find, kick and revoke everything it issued, and a
token named in a Janus event can be attributed to its participant without a table.

Invariants:

- **Admission.** A Janus token is issued (admin ``add_token``, restricted to the VideoRoom
  plugin) and added to the room's ``allowed`` list only by ``admit``, which ``LiveMeetings``
  calls only for a participant the join gate admitted. The room is created with
  ``require_pvtid`` so that subscribing needs the private id of one's own publisher handle in
  the room: VideoRoom 1.1.2 checks ``allowed`` for publisher joins only, and this makes the same
  list gate listening too.
- **Removal** (``remove``) runs in this order, so nothing new can start while the old is cut:
  (1) ``remove_token`` and removal from ``allowed`` — Janus then refuses every request made with
  the token, including creating a new session; (2) every handle attached with the token is
  found — first those the event handler already attributed to it, which are cut at once
  (steps 3-4), then by a scan of every Janus session (``list_sessions``, ``list_handles``,
  ``handle_info``) for anything the events did not show; (3) its publisher is kicked
  (VideoRoom ``kick``: the others are told ``kicked``); (4) every Janus session holding such a
  handle is destroyed (admin ``destroy_session``: this is what closes the subscriber
  connections, which a kick leaves running); (5) ``listparticipants`` confirms that none of its
  feeds is left. Each step is idempotent; an unconfirmed removal is retried, first in the
  foreground, then in the background, and logged — the control plane has already recorded it.
- **No re-admission.** A participant removed once is never admitted again by this plane
  (``admit`` after ``remove`` raises ``Conflict``), so a removal that races a join cannot leave
  a valid token behind.
- **Media-path evidence.** ``ingest`` turns an authenticated event batch into ``MediaPath``
  facts: the remote address of a handle's ICE selected pair, attributed to a participant only
  through a token whose MAC verifies. A relayed candidate (TURN) is never evidence: its address
  is the relay's, not the participant's.
- **Secrets** (admin secret, room admin key, event secret, room secrets, tokens) never appear in
  a log line, an exception message or ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from lexloci.errors import ConfigurationError, Conflict, Unavailable
from lexloci.media.janus_events import (
    HandleAttached,
    HandleGone,
    SelectedPair,
    SessionGone,
    parse_batch,
)

__all__ = [
    "EVENT_USER",
    "VIDEOROOM",
    "JanusAdmin",
    "JanusError",
    "JanusKeys",
    "JanusMediaPlane",
    "MediaPath",
]

log = logging.getLogger("lexloci.media.janus")

T = TypeVar("T")

VIDEOROOM = "janus.plugin.videoroom"
#: The user name the event handler authenticates with (its ``backend_user``).
EVENT_USER = "janus"
#: Most publishers a room accepts (VideoRoom's default of 3 is far too few for a meeting).
MAX_PUBLISHERS = 100
MIN_SECRET_LENGTH = 16

# Janus error codes lexloci treats as "already done" (janus/apierror.h, plugins/janus_videoroom.c).
NO_SUCH_SESSION = 458
TOKEN_NOT_REMOVED = 490  # "Error removing token": the token is not (or no longer) stored
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428

# Admin requests in flight during a scan: Janus's admin API answers them one at a time, so more
# only queue there (200 sessions, no events: 1.1 s with 4 in flight, 2.7 s with 32).
_SCAN_PARALLELISM = 4
_INDEX_LIMIT = 100_000  # handles remembered from events; the oldest are forgotten first
_FOREGROUND_RETRY_S = 3.0
_BACKGROUND_RETRY_EVERY_S = 5.0
_BACKGROUND_RETRY_FOR_S = 600.0
_CONFIRM_FOR_S = 1.0
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_ORIGIN = re.compile(r"[a-z]+://[A-Za-z0-9.\-\[\]:]+")


class JanusError(Exception):
    """Janus refused or could not be reached. ``code`` is Janus's error code, if it gave one.

    The message names the request and Janus's reason, never a request body (which holds
    secrets)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class MediaPath:
    """Where one participant's media enters Janus: the remote side of an ICE selected pair."""

    session_id: str
    participant_id: str
    address: str
    candidate_type: str


@dataclass(frozen=True, slots=True)
class _HandleInfo:
    session_id: int
    handle_id: int
    token: str | None
    room: int | None
    feed: int | None  # the publisher id, for a publisher handle


class JanusKeys:
    """Room numbers, room secrets and participant tokens, derived from one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"the Janus admin secret must be at least {MIN_SECRET_LENGTH} characters"
            )
        # A key of its own, so nothing derived here ever equals the admin secret itself.
        self._key = hmac.new(secret.encode(), b"lexloci janus keys v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "JanusKeys(<secret>)"

    def _mac(self, label: str, *parts: str) -> bytes:
        for part in parts:
            if not _ID.fullmatch(part):
                raise ValueError("an id for Janus must be 1-100 of [A-Za-z0-9_-]")
        message = "\x00".join((label, *parts)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def room_id(self, session_id: str) -> int:
        # 48 bits: unique enough for live rooms and exact in JavaScript numbers (< 2**53).
        return int.from_bytes(self._mac("room-id", session_id)[:6], "big") or 1

    def room_secret(self, session_id: str) -> str:
        return self._mac("room-secret", session_id)[:16].hex()

    def token(self, session_id: str, participant_id: str) -> str:
        mac = base64.urlsafe_b64encode(self._mac("token", session_id, participant_id)[:18])
        return f"lx1.{session_id}.{participant_id}.{mac.decode()}"

    def owner(self, token: str) -> tuple[str, str] | None:
        """(session id, participant id) of a token this key issued, else None."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "lx1":
            return None
        try:
            expected = self.token(parts[1], parts[2])
        except ValueError:
            return None
        if not hmac.compare_digest(expected.encode(), token.encode()):
            return None
        return parts[1], parts[2]


class JanusAdmin:
    """The admin API over HTTP: one request, one answer, errors as ``JanusError``."""

    def __init__(
        self,
        admin_url: str,
        admin_secret: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = admin_url.rstrip("/")
        self._secret = admin_secret
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"JanusAdmin({self.url!r})"

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, inside the event loop that will use it; kept open because a
        # new TLS-capable client costs ~50 ms, longer than a whole removal.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                transport=self._transport,
                limits=httpx.Limits(
                    max_connections=_SCAN_PARALLELISM, max_keepalive_connections=_SCAN_PARALLELISM
                ),
            )
        return self._client

    async def call(self, verb: str, path: str = "", /, **fields: Any) -> dict[str, Any]:
        """POST ``{"janus": verb, **fields}`` to the admin API at ``path``."""
        body = {
            **fields,
            "janus": verb,
            "transaction": secrets.token_hex(8),
            "admin_secret": self._secret,
        }
        try:
            response = await self._http().post(self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise JanusError(None, f"{verb}: Janus unreachable ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            raise JanusError(
                None, f"{verb}: answer is not JSON (HTTP {response.status_code})"
            ) from None
        if not isinstance(answer, dict):
            raise JanusError(None, f"{verb}: unexpected answer")
        if answer.get("janus") != "success":
            error = answer.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            reason = error.get("reason") if isinstance(error, dict) else None
            raise JanusError(code if isinstance(code, int) else None, f"{verb}: {reason}")
        return answer

    async def videoroom(self, request: dict[str, Any]) -> dict[str, Any]:
        """A synchronous VideoRoom request (create, allowed, kick, listparticipants, destroy)."""
        answer = await self.call("message_plugin", plugin=VIDEOROOM, request=request)
        response = answer.get("response")
        if not isinstance(response, dict):
            raise JanusError(None, f"videoroom {request.get('request')}: no response")
        if "error_code" in response:
            code = response["error_code"]
            raise JanusError(
                code if isinstance(code, int) else None,
                f"videoroom {request.get('request')}: {response.get('error')}",
            )
        return response

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _unless(codes: set[int], call: Awaitable[T]) -> T | None:
    """``call``, where Janus saying one of ``codes`` means "already so"."""
    try:
        return await call
    except JanusError as exc:
        if exc.code in codes:
            return None
        raise


class _HandleIndex:
    """Which token each Janus handle was attached with, as the event handler reported it.

    It only ever speeds things up: a removal acts on what it says at once, and then still
    scans Janus for anything it missed (events can be late, or lost after Janus's
    retransmissions). Bounded: the oldest handles are forgotten first."""

    def __init__(self, limit: int = _INDEX_LIMIT) -> None:
        self._limit = limit
        self._handles: OrderedDict[int, tuple[int, str, int]] = OrderedDict()
        self._by_token: dict[str, set[int]] = {}
        self.generation = 0

    def __len__(self) -> int:
        return len(self._handles)

    def remember(self, handle_id: int, session_id: int, token: str) -> None:
        self.forget(handle_id)
        self.generation += 1
        self._handles[handle_id] = (session_id, token, self.generation)
        self._by_token.setdefault(token, set()).add(handle_id)
        while len(self._handles) > self._limit:
            self.forget(next(iter(self._handles)))

    def forget(self, handle_id: int) -> None:
        known = self._handles.pop(handle_id, None)
        if known is not None:
            handles = self._by_token[known[1]]
            handles.discard(handle_id)
            if not handles:
                del self._by_token[known[1]]

    def forget_session(self, session_id: int) -> None:
        for handle_id in [h for h, k in self._handles.items() if k[0] == session_id]:
            self.forget(handle_id)

    def forget_stale(self, live_sessions: set[int], before: int) -> None:
        """Forget handles of sessions a scan no longer saw, except those learned meanwhile."""
        for handle_id in [
            h for h, k in self._handles.items() if k[0] not in live_sessions and k[2] <= before
        ]:
            self.forget(handle_id)

    def token_of(self, handle_id: int) -> str | None:
        known = self._handles.get(handle_id)
        return known[1] if known is not None else None

    def handles_of(self, token: str) -> list[tuple[int, int]]:
        """(session id, handle id) of every handle known to be attached with ``token``."""
        return [(self._handles[h][0], h) for h in sorted(self._by_token.get(token, ()))]


class JanusMediaPlane:
    """The Janus VideoRoom media plane (see the module docstring for its invariants)."""

    name = "janus"

    def __init__(
        self,
        *,
        url: str,
        admin_url: str,
        admin_secret: str,
        room_admin_key: str,
        event_secret: str | None = None,
        timeout: float = 5.0,
        retry_for: float = _FOREGROUND_RETRY_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not room_admin_key:
            raise ConfigurationError("the Janus VideoRoom admin key is required")
        if event_secret is not None and len(event_secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"the Janus event secret must be at least {MIN_SECRET_LENGTH} characters"
            )
        self.url = url
        self.keys = JanusKeys(admin_secret)
        self.admin = JanusAdmin(admin_url, admin_secret, timeout=timeout, transport=transport)
        self._room_admin_key = room_admin_key
        self._event_secret = event_secret
        self._locks: dict[str, asyncio.Lock] = {}
        self._members: dict[str, set[str]] = {}  # session -> participants admitted here
        self._revoked: dict[str, set[str]] = {}  # session -> participants removed here
        self._index = _HandleIndex()
        self._reported: dict[str, str] = {}  # participant -> last media address reported
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_for = retry_for

    def __repr__(self) -> str:
        return f"JanusMediaPlane(url={self.url!r}, admin={self.admin.url!r})"

    @property
    def client_origins(self) -> tuple[str, ...]:
        """The origin of Janus's public API, unless it is a path on lexloci's own origin."""
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https", "ws", "wss"} or not parts.hostname:
            return ()
        # Host and port only: no user info reaches a response header, nor a CSP delimiter.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        return (origin,) if _ORIGIN.fullmatch(origin) else ()

    # -- rooms -------------------------------------------------------------------------------

    async def _create_room(self, session_id: str) -> None:
        request = {
            "request": "create",
            "room": self.keys.room_id(session_id),
            "admin_key": self._room_admin_key,
            "secret": self.keys.room_secret(session_id),
            "description": "lexloci session",
            "is_private": True,  # not listed to other clients
            "allowed": [],  # a token list: only admitted participants may join
            "require_pvtid": True,  # see the module docstring: gates subscriptions too
            "publishers": MAX_PUBLISHERS,
            "permanent": False,
        }
        await _unless({ROOM_EXISTS}, self.admin.videoroom(request))

    async def start_session(self, session_id: str) -> None:
        try:
            await self._create_room(session_id)
        except JanusError as exc:
            # The session is recorded already; admit creates the room when Janus is back.
            log.warning("no Janus room for session %s yet: %s", session_id, exc)

    async def _allow(self, session_id: str, token: str) -> None:
        request = {
            "request": "allowed",
            "room": self.keys.room_id(session_id),
            "secret": self.keys.room_secret(session_id),
            "action": "add",
            "allowed": [token],
        }
        try:
            await self.admin.videoroom(request)
        except JanusError as exc:
            if exc.code != NO_SUCH_ROOM:  # Janus restarted, or was down at start_session
                raise
            await self._create_room(session_id)
            await self.admin.videoroom(request)

    # -- admission ---------------------------------------------------------------------------

    def _lock(self, participant_id: str) -> asyncio.Lock:
        return self._locks.setdefault(participant_id, asyncio.Lock())

    async def admit(self, session_id: str, participant_id: str) -> dict[str, Any]:
        async with self._lock(participant_id):
            if participant_id in self._revoked.get(session_id, ()):
                raise Conflict(
                    f"participant {participant_id} was removed from the session",
                    reason="removed",
                )
            token = self.keys.token(session_id, participant_id)
            try:
                await self.admin.call("add_token", token=token, plugins=[VIDEOROOM])
                await self._allow(session_id, token)
            except JanusError as exc:
                log.warning("Janus did not admit %s to %s: %s", participant_id, session_id, exc)
                # Leave no credential behind that lexloci never handed out.
                await self._quietly(
                    _unless({TOKEN_NOT_REMOVED}, self.admin.call("remove_token", token=token))
                )
                raise Unavailable(
                    "the media server (Janus) did not answer; join again",
                    reason="media_unavailable",
                ) from None
            self._members.setdefault(session_id, set()).add(participant_id)
        return {
            "kind": "janus",
            "url": self.url,
            "plugin": VIDEOROOM,
            "room": self.keys.room_id(session_id),
            "token": token,
            # Join as a publisher first, then subscribe with that handle's private_id.
            "require_private_id": True,
        }

    # -- removal -----------------------------------------------------------------------------

    async def remove(self, session_id: str, participant_id: str) -> None:
        async with self._lock(participant_id):
            self._revoked.setdefault(session_id, set()).add(participant_id)
            members = self._members.get(session_id)
            if members is not None:
                members.discard(participant_id)
            self._reported.pop(participant_id, None)
            try:
                await self._cut_with_retries(session_id, participant_id)
            except JanusError as exc:
                log.error(
                    "Janus removal of %s from %s not confirmed (%s); retrying in the background",
                    participant_id,
                    session_id,
                    exc,
                )
                self._spawn(self._keep_cutting(session_id, participant_id))
        self._locks.pop(participant_id, None)

    async def _cut_with_retries(self, session_id: str, participant_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        pause = 0.05
        while True:
            try:
                await self._cut(session_id, participant_id)
                return
            except JanusError:
                if loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause *= 2

    async def _keep_cutting(self, session_id: str, participant_id: str) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _BACKGROUND_RETRY_FOR_S
        while loop.time() < give_up:
            await asyncio.sleep(_BACKGROUND_RETRY_EVERY_S)
            try:
                await self._cut(session_id, participant_id)
            except JanusError as exc:
                log.warning("Janus removal of %s still failing: %s", participant_id, exc)
                continue
            log.info("Janus removal of %s from %s confirmed", participant_id, session_id)
            return
        log.error("gave up removing %s from Janus room of %s", participant_id, session_id)

    async def _cut(self, session_id: str, participant_id: str) -> None:
        """One complete, idempotent removal (steps 1-5 of the module docstring).

        Steps 2-4 run twice: first on the handles the event handler already attributed to the
        token (a few requests, however many sessions Janus holds), then on a scan of every
        session, which finds whatever the events did not show."""
        token = self.keys.token(session_id, participant_id)
        room = self.keys.room_id(session_id)
        secret = self.keys.room_secret(session_id)
        await asyncio.gather(
            _unless({TOKEN_NOT_REMOVED}, self.admin.call("remove_token", token=token)),
            _unless(
                {NO_SUCH_ROOM},
                self.admin.videoroom(
                    {
                        "request": "allowed",
                        "room": room,
                        "secret": secret,
                        "action": "remove",
                        "allowed": [token],
                    }
                ),
            ),
        )
        known = await asyncio.gather(
            *(self._handle_info(s, h) for s, h in self._index.handles_of(token))
        )
        fast = [h for h in known if h is not None and h.token == token]
        feeds = await self._kick_and_destroy(room, secret, fast)
        feeds |= await self._kick_and_destroy(room, secret, await self._handles_with(token))
        await self._confirm_gone(room, feeds)

    async def _kick_and_destroy(
        self, room: int, secret: str, handles: list[_HandleInfo]
    ) -> set[int]:
        """Kick the publishers among ``handles`` (steps 3), then destroy their sessions (4)."""
        feeds = {h.feed for h in handles if h.room == room and h.feed is not None}
        await asyncio.gather(
            *(
                _unless(
                    {NO_SUCH_FEED, NO_SUCH_ROOM},
                    self.admin.videoroom(
                        {"request": "kick", "room": room, "secret": secret, "id": feed}
                    ),
                )
                for feed in feeds
            )
        )
        await asyncio.gather(
            *(
                _unless({NO_SUCH_SESSION}, self.admin.call("destroy_session", f"/{sid}"))
                for sid in {h.session_id for h in handles}
            )
        )
        for sid in {h.session_id for h in handles}:
            self._index.forget_session(sid)
        return feeds

    async def _confirm_gone(self, room: int, feeds: set[int]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CONFIRM_FOR_S
        pause = 0.01
        while True:
            answer = await _unless(
                {NO_SUCH_ROOM}, self.admin.videoroom({"request": "listparticipants", "room": room})
            )
            listed = answer.get("participants", []) if answer else []
            present = {p.get("id") for p in listed if isinstance(p, dict)}
            left = feeds & present
            if not left:
                return
            if loop.time() + pause > deadline:
                raise JanusError(None, f"{len(left)} feed(s) still in the room after removal")
            await asyncio.sleep(pause)
            pause *= 2

    async def _handles_with(self, token: str) -> list[_HandleInfo]:
        """Every handle Janus holds that was attached with ``token`` (step 2)."""
        started = self._index.generation
        listed = (await self.admin.call("list_sessions")).get("sessions", [])
        sessions = [s for s in listed if isinstance(s, int)]
        gate = asyncio.Semaphore(_SCAN_PARALLELISM)

        async def limited(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
            async with gate:
                return await call()

        async def handles_of(session_id: int) -> list[tuple[int, int]]:
            answer = await _unless(
                {NO_SUCH_SESSION}, self.admin.call("list_handles", f"/{session_id}")
            )
            found = answer.get("handles", []) if answer else []
            return [(session_id, h) for h in found if isinstance(h, int)]

        pairs = [
            pair
            for found in await asyncio.gather(*(limited(partial(handles_of, s)) for s in sessions))
            for pair in found
        ]
        self._index.forget_stale(set(sessions), started)
        # A handle's token is fixed when it is attached: one the events already attributed to
        # another token need not be asked about.
        unknown = [(s, h) for s, h in pairs if self._index.token_of(h) in (None, token)]
        infos = await asyncio.gather(
            *(limited(partial(self._handle_info, s, h)) for s, h in unknown)
        )
        return [info for info in infos if info is not None and info.token == token]

    async def _handle_info(self, session_id: int, handle_id: int) -> _HandleInfo | None:
        try:
            answer = await self.admin.call("handle_info", f"/{session_id}/{handle_id}")
        except JanusError as exc:
            if exc.code is not None:  # the handle or session went away meanwhile
                return None
            raise
        info = answer.get("info")
        if not isinstance(info, dict):
            return None
        token = info.get("token")
        specific = info.get("plugin_specific")
        room = feed = None
        if isinstance(specific, dict) and specific.get("type") == "publisher":
            room = specific.get("room") if isinstance(specific.get("room"), int) else None
            feed = specific.get("id") if isinstance(specific.get("id"), int) else None
        return _HandleInfo(
            session_id, handle_id, token if isinstance(token, str) else None, room, feed
        )

    # -- end of a session --------------------------------------------------------------------

    async def end_session(self, session_id: str) -> None:
        members = sorted(self._members.get(session_id, ()))
        await asyncio.gather(*(self.remove(session_id, pid) for pid in members))
        try:
            await _unless(
                {NO_SUCH_ROOM},
                self.admin.videoroom(
                    {
                        "request": "destroy",
                        "room": self.keys.room_id(session_id),
                        "secret": self.keys.room_secret(session_id),
                    }
                ),
            )
        except JanusError as exc:
            log.error("Janus room of ended session %s not destroyed: %s", session_id, exc)
        self._members.pop(session_id, None)
        self._revoked.pop(session_id, None)

    # -- events ------------------------------------------------------------------------------

    def events_authenticated(self, authorization: str | None) -> bool:
        """Whether an event batch carries the event handler's credentials (HTTP Basic)."""
        if self._event_secret is None or authorization is None:
            return False
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            return False
        user, colon, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), EVENT_USER.encode())
        password_ok = hmac.compare_digest(password.encode(), self._event_secret.encode())
        return bool(colon) and user_ok and password_ok

    async def ingest(self, payload: Any) -> list[MediaPath]:
        """Learn from one authenticated event batch; return the new media paths in it."""
        paths: list[MediaPath] = []
        for fact in parse_batch(payload):
            if isinstance(fact, HandleAttached):
                self._index.remember(fact.handle_id, fact.session_id, fact.token)
            elif isinstance(fact, HandleGone):
                self._index.forget(fact.handle_id)
            elif isinstance(fact, SessionGone):
                self._index.forget_session(fact.session_id)
            elif isinstance(fact, SelectedPair):
                path = await self._media_path(fact)
                if path is not None:
                    paths.append(path)
        return paths

    async def _media_path(self, pair: SelectedPair) -> MediaPath | None:
        if pair.candidate_type == "relay":
            return None  # a TURN relay's address says where the relay is, not the person
        token = self._index.token_of(pair.handle_id)
        if token is None:  # the attach event was lost or is late: ask Janus
            try:
                info = await self._handle_info(pair.session_id, pair.handle_id)
            except JanusError as exc:
                log.warning("cannot attribute a media path (handle_info: %s)", exc)
                return None
            token = info.token if info is not None else None
            if token is not None:
                self._index.remember(pair.handle_id, pair.session_id, token)
        owner = self.keys.owner(token) if token is not None else None
        if owner is None:
            return None  # not a participant lexloci admitted
        session_id, participant_id = owner
        if participant_id in self._revoked.get(session_id, ()):
            return None
        if self._reported.get(participant_id) == pair.address:
            return None
        self._reported[participant_id] = pair.address
        return MediaPath(session_id, participant_id, pair.address, pair.candidate_type)

    # -- lifecycle ---------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        try:
            await call
        except JanusError as exc:
            log.warning("Janus clean-up failed: %s", exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.admin.close()
