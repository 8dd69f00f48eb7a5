"""``LiveMeetings``: the asynchronous side of the meeting service — connections and notices.

The service decides and records; this class makes the recorded effects happen on the
connections of this node, always *after* the service has committed them (I4):

- a removal closes the participant's signalling connection after sending the removal notice,
  then every remaining member of the session gets the new roster and the host notice;
- a host removal and the end of a session do the same with their own messages;
- the roster sent to members is the session's ``joined`` participants — the same list the
  roster endpoint returns (I3).

Blocking work (database writes) runs in a worker thread so the event loop keeps relaying media
negotiation for everyone else while an enforcement step is written.

``change_hooks`` are awaited, in order, after every restriction version this node activates or
applies — after this node's own sweep — with that version (``lexloci.platforms`` orders the
removal of other platforms' participants there). A hook must be idempotent: a version may reach
it more than once, and reaches it on every node.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread

from lexloci import collector
from lexloci.media import MediaPlane, MeshMediaPlane
from lexloci.meetings.model import MeetingSession
from lexloci.meetings.service import (
    HostNotice,
    JoinRequest,
    JoinResult,
    MeetingService,
    RemovalOutcome,
)
from lexloci.meetings.signalling import CLOSE_REMOVED, CLOSE_SESSION_ENDED, SignallingHub
from lexloci.policy import Restriction

__all__ = ["ChangeHook", "LiveMeetings"]

ChangeHook = Callable[[Restriction], Awaitable[Any]]

_NOTICES_KEPT = 50

#: How long a roster change waits for others in the same session before the roster is sent.
ROSTER_COALESCE_S = 0.05


class LiveMeetings:
    def __init__(
        self, service: MeetingService, hub: SignallingHub, media: MediaPlane | None = None
    ) -> None:
        self.service = service
        self.hub = hub
        self.media: MediaPlane = media or MeshMediaPlane()
        self._roster_pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._roster_dirty: set[str] = set()
        self.host_notices: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=_NOTICES_KEPT)
        )
        self.change_hooks: list[ChangeHook] = []

    def roster_message(self, session_id: str) -> dict[str, Any]:
        members = self.service.live_roster(session_id)
        if members is None:  # not this node's session: read what is stored
            members = [p.to_dict() for p in self.service.roster(session_id)]
        return {"type": "roster", "session_id": session_id, "participants": members}

    def roster_changed(self, session_id: str) -> None:
        """Schedule a (coalesced) roster broadcast without waiting for it."""
        task = asyncio.create_task(self.publish_roster(session_id))
        self._tasks.add(task)  # keep a reference until it is done, so it is not collected
        task.add_done_callback(self._tasks.discard)

    async def publish_roster(self, session_id: str) -> None:
        """Send the session's roster to its members, coalescing bursts.

        A burst of joins or removals in one session would otherwise send every member one
        full roster per change (quadratic in the session's size). Changes that arrive while a
        roster is pending or being sent are folded into one more roster sent right after, so
        every member always ends up with the roster as it is now (I3), just fewer times.
        """
        if session_id in self._roster_pending:
            self._roster_dirty.add(session_id)
            return
        self._roster_pending.add(session_id)
        try:
            await asyncio.sleep(ROSTER_COALESCE_S)
            while True:
                self._roster_dirty.discard(session_id)
                message = await to_thread.run_sync(self.roster_message, session_id)
                await self.hub.broadcast(session_id, message)
                if session_id not in self._roster_dirty:
                    break
        finally:
            self._roster_pending.discard(session_id)

    async def start_session(self, meeting_id: str, actor: str) -> MeetingSession:
        session = await to_thread.run_sync(self.service.start_session, meeting_id, actor)
        await self.media.start_session(session.id)
        return session

    async def join(self, request: JoinRequest) -> tuple[JoinResult, dict[str, Any] | None]:
        """The join gate, then (only for an admitted participant) the media credential."""
        session = self.service.cached_session(request.session_id)
        if session is None:  # first join of a session here: its lookup reads the database
            await to_thread.run_sync(self.service.session, request.session_id)
        # The gate runs on the loop (microseconds); only the durable write is waited for.
        prepared = self.service.prepare_join(request)
        await self.service.store.record_gate_async(prepared.record)
        result = self.service.finish_join(prepared)
        if result.token is None:
            return result, None
        media = await self.media.admit(request.session_id, result.participant.id)
        return result, media

    async def activate(self, restriction: Restriction, actor: str) -> RemovalOutcome:
        with collector.paused():  # an enforcement burst: no collector pause inside it
            outcome = await to_thread.run_sync(self.service.activate, restriction, actor)
            await self.apply_outcome(outcome)
            for hook in self.change_hooks:
                await hook(restriction)
        return outcome

    async def apply_change(self, restriction: Restriction) -> RemovalOutcome:
        with collector.paused():  # an enforcement burst: no collector pause inside it
            outcome = await to_thread.run_sync(self.service.apply_change, restriction)
            await self.apply_outcome(outcome)
            for hook in self.change_hooks:
                await hook(restriction)
        return outcome

    async def apply_outcome(self, outcome: RemovalOutcome) -> None:
        """Close the removed participants' connections, then tell the rest of each session."""
        if not outcome.removed:
            return
        await asyncio.gather(
            *(self.media.remove(r.session_id, r.participant_id) for r in outcome.removed)
        )
        # A sweep's removals share their notices (one per territory, case and language):
        # each is encoded once, not once per removed participant.
        encoded: dict[int, str] = {}
        for r in outcome.removed:
            if id(r.notice) not in encoded:
                encoded[id(r.notice)] = json.dumps(
                    {"type": "removed", "notice": r.notice.to_dict()},
                    separators=(",", ":"),
                    ensure_ascii=False,
                )
        await self.hub.detach_many(
            ((r.session_id, r.participant_id, encoded[id(r.notice)]) for r in outcome.removed),
            CLOSE_REMOVED,
        )
        await asyncio.gather(
            *(self._tell_host(n) for n in outcome.host_notices),
        )
        # The rosters follow (coalesced), without holding up the answer to whoever enforced.
        for sid in outcome.sessions:
            self.roster_changed(sid)

    async def _tell_host(self, notice: HostNotice) -> None:
        body = {"type": "host_notice", **notice.to_dict()}
        self.host_notices[notice.session_id].append(body)
        await self.hub.broadcast(notice.session_id, body)

    async def remove_by_host(
        self, session_id: str, participant_id: str, reason: str, actor: str
    ) -> None:
        removed = await to_thread.run_sync(
            self.service.remove_by_host, session_id, participant_id, reason, actor
        )
        message = {
            "type": "removed",
            "notice": {"kind": "removed_by_host", **(removed.reason or {})},
        }
        await self.media.remove(session_id, participant_id)  # an SFU must cut the media too
        await self.hub.detach(session_id, participant_id, message, CLOSE_REMOVED)
        await self.publish_roster(session_id)

    async def leave(self, session_id: str, participant_id: str) -> None:
        await to_thread.run_sync(self.service.leave, session_id, participant_id)
        await self.media.remove(session_id, participant_id)
        await self.hub.detach(session_id, participant_id, None, 1000)
        await self.publish_roster(session_id)

    async def end_session(self, session_id: str, actor: str) -> None:
        _, members = await to_thread.run_sync(self.service.end_session, session_id, actor)
        await self.hub.detach_many(
            ((session_id, pid, {"type": "session_ended"}) for pid in members),
            CLOSE_SESSION_ENDED,
        )
        await self.media.end_session(session_id)
