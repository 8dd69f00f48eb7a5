"""The signalling hub: one WebSocket per roster member, relaying only between roster members.

Invariant I3 (no hidden join path): a connection is registered only for a participant whose
state is ``joined`` — the caller checks that against the live roster before ``attach`` — and a
message is relayed only when both ends are registered members of the same session. When a
participant leaves the roster (removed, left, session ended), ``detach`` closes their connection
first, so the set of connected clients never holds anyone the roster does not.

The hub is transport-neutral: anything with ``send_json`` and ``close`` (a Starlette WebSocket)
is a ``Connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["CLOSE_REMOVED", "CLOSE_SESSION_ENDED", "Connection", "SignallingHub"]

log = logging.getLogger("lexloci.signalling")

#: WebSocket close codes (4000-4999 are for applications).
CLOSE_REMOVED = 4403
CLOSE_SESSION_ENDED = 4410
CLOSE_REPLACED = 4409
_CLOSE_REASONS = {CLOSE_REMOVED: "removed", CLOSE_SESSION_ENDED: "session_ended"}


class Connection(Protocol):
    async def send_json(self, data: Any) -> None: ...

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class SignallingHub:
    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, Connection]] = {}
        self._unwelcomed: set[Connection] = set()  # attached, not yet sent their welcome

    def connected(self, session_id: str) -> set[str]:
        return set(self._sessions.get(session_id, {}))

    def is_connected(self, session_id: str, participant_id: str) -> bool:
        return participant_id in self._sessions.get(session_id, {})

    async def attach(
        self, session_id: str, participant_id: str, conn: Connection, *, welcomed: bool = True
    ) -> None:
        """Register a roster member's connection; a second connection replaces the first.

        With ``welcomed=False`` the member gets no broadcasts until ``welcomed`` is called
        (relayed signals and its removal still reach it)."""
        members = self._sessions.setdefault(session_id, {})
        old = members.get(participant_id)
        members[participant_id] = conn
        if not welcomed:
            self._unwelcomed.add(conn)
        if old is not None and old is not conn:
            self._unwelcomed.discard(old)
            await _close_quietly(old, CLOSE_REPLACED, "replaced by a newer connection")

    def welcomed(self, session_id: str, participant_id: str) -> None:
        conn = self._sessions.get(session_id, {}).get(participant_id)
        if conn is not None:
            self._unwelcomed.discard(conn)

    def forget(self, session_id: str, participant_id: str, conn: Connection) -> None:
        """Drop a connection that closed by itself (only if it is still the registered one)."""
        members = self._sessions.get(session_id)
        self._unwelcomed.discard(conn)
        if members is not None and members.get(participant_id) is conn:
            del members[participant_id]
            if not members:
                del self._sessions[session_id]

    async def detach(
        self,
        session_id: str,
        participant_id: str,
        message: dict[str, Any] | str | None,
        code: int,
    ) -> None:
        """Remove a member: tell them why (if given; a ``str`` is sent as already-encoded
        JSON, which lets a sweep encode one notice for many members), then close their
        connection."""
        members = self._sessions.get(session_id)
        conn = members.pop(participant_id, None) if members is not None else None
        if members is not None and not members:
            self._sessions.pop(session_id, None)
        if conn is None:
            return
        self._unwelcomed.discard(conn)
        reason = None
        if isinstance(message, str):
            with contextlib.suppress(Exception):
                await conn.send_text(message)
            reason = _CLOSE_REASONS.get(code)
        elif message is not None:
            with contextlib.suppress(Exception):
                await conn.send_json(message)
            reason = str(message.get("type", ""))
        await _close_quietly(conn, code, reason)

    async def detach_many(
        self, items: Iterable[tuple[str, str, dict[str, Any] | str | None]], code: int
    ) -> None:
        await asyncio.gather(*(self.detach(s, p, m, code) for s, p, m in items))

    async def relay(self, session_id: str, sender: str, target: str, data: Any) -> bool:
        """Pass a signalling message between two members of one session; False if not allowed."""
        members = self._sessions.get(session_id, {})
        if sender not in members or target not in members or sender == target:
            return False
        try:
            await members[target].send_json({"type": "signal", "from": sender, "data": data})
        except Exception:  # a broken peer socket must not disturb the sender
            log.debug("relay to %s failed", target, exc_info=True)
            return False
        return True

    async def broadcast(
        self, session_id: str, message: dict[str, Any], exclude: str | None = None
    ) -> None:
        """Send one message to every member; it is encoded once, not once per member."""
        members = list(self._sessions.get(session_id, {}).items())
        if not members:
            return
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        unwelcomed = self._unwelcomed
        await asyncio.gather(
            *(
                _send_text_quietly(conn, text)
                for pid, conn in members
                if pid != exclude and conn not in unwelcomed
            )
        )


async def _send_text_quietly(conn: Connection, text: str) -> None:
    with contextlib.suppress(Exception):
        await conn.send_text(text)


async def _close_quietly(conn: Connection, code: int, reason: str | None) -> None:
    with contextlib.suppress(Exception):
        await conn.close(code=code, reason=reason)
