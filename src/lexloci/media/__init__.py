"""Media planes: who carries a session's audio and video, and how a removal cuts it.

Port: ``MediaPlane``. The meeting service admits and removes participants in the control plane;
``LiveMeetings`` then asks the media plane to do the same to the media, always *after* the
removal was recorded (I4):

- ``start_session(session_id)`` prepares the session's room (if the plane has rooms);
- ``admit(session_id, participant_id)`` returns what the client needs to send and receive media
  (for the mesh: nothing but the signalling channel; for an SFU: its address, room and a
  per-participant credential). A participant the join gate refused never reaches ``admit``;
- ``remove(session_id, participant_id)`` cuts every media connection of that participant and
  revokes its credential, so a rejoin with the old credential fails ("kick is not a ban");
- ``end_session(session_id)`` tears the room down (hosts and admins only; never enforcement);
- ``client_origins`` are the origins, other than lexloci's own, that the meeting page must
  reach for media (its Content-Security-Policy allows those and no other).

Adapters: ``MeshMediaPlane`` (the embedded default: browsers exchange media directly, relayed
signalling goes only between roster members, and closing a removed member's signalling socket
tells every peer to drop it) and ``lexloci.media.janus.JanusMediaPlane`` (the Janus SFU).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["MediaPlane", "MeshMediaPlane"]


class MediaPlane(Protocol):
    name: str

    @property
    def client_origins(self) -> tuple[str, ...]: ...

    async def start_session(self, session_id: str) -> None: ...

    async def admit(self, session_id: str, participant_id: str) -> dict[str, Any]: ...

    async def remove(self, session_id: str, participant_id: str) -> None: ...

    async def end_session(self, session_id: str) -> None: ...

    async def close(self) -> None: ...


class MeshMediaPlane:
    """Peer-to-peer media between roster members; the signalling hub is the only gate."""

    name = "mesh"
    client_origins: tuple[str, ...] = ()  # browsers reach each other, and lexloci for signalling

    async def start_session(self, session_id: str) -> None:
        return None

    async def admit(self, session_id: str, participant_id: str) -> dict[str, Any]:
        return {"kind": "mesh"}

    async def remove(self, session_id: str, participant_id: str) -> None:
        return None  # the hub closes the member's socket; peers drop its connections

    async def end_session(self, session_id: str) -> None:
        return None

    async def close(self) -> None:
        return None
