"""The signalling hub's ordering promise: a member's welcome is the first roster it sees."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lexloci.meetings.signalling import CLOSE_REMOVED, SignallingHub


class RecordingSocket:
    """A transport that keeps what was sent to it (the hub needs only these three calls)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: int | None = None

    async def send_json(self, data: Any) -> None:
        self.sent.append(data)

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code


def test_an_unwelcomed_member_gets_no_broadcast_but_is_still_removable() -> None:
    async def scenario() -> tuple[RecordingSocket, RecordingSocket, RecordingSocket]:
        hub = SignallingHub()
        old, new, gone = RecordingSocket(), RecordingSocket(), RecordingSocket()
        await hub.attach("s1", "p-old", old)
        await hub.attach("s1", "p-new", new, welcomed=False)
        await hub.attach("s1", "p-gone", gone, welcomed=False)
        await hub.broadcast("s1", {"type": "roster", "n": 1})  # while p-new awaits its welcome
        await new.send_json({"type": "welcome"})
        hub.welcomed("s1", "p-new")
        await hub.broadcast("s1", {"type": "roster", "n": 2})
        await hub.detach("s1", "p-gone", {"type": "removed"}, CLOSE_REMOVED)
        return old, new, gone

    old, new, gone = asyncio.run(scenario())
    assert [m.get("n") for m in old.sent] == [1, 2]
    assert [m["type"] for m in new.sent] == ["welcome", "roster"]
    assert new.sent[1]["n"] == 2
    assert gone.sent == [{"type": "removed"}]
    assert gone.closed == CLOSE_REMOVED
