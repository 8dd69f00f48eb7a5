"""Placement: which meeting node holds a session, and how a client finds it.

- Every ``lexloci serve --node NAME`` registers itself in the shared database (``nodes``) and
  heartbeats every few seconds, with the URL clients reach it at and whether it takes sessions.
- A new session goes to the live node (seen within ``NODE_TTL``) that wins rendezvous hashing
  (highest ``sha256(node:session)``): stable, spread evenly, and when a node joins or leaves only
  the sessions that hash to it move. Its name is stored with the session.
- A client asks any node for ``GET /api/v1/sessions/{id}`` (it names ``node`` and ``node_url``),
  then joins and opens its signalling socket on that node. A join sent to another node is
  answered 421 ``wrong_node`` with the right URL, never served from the wrong place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

__all__ = ["NODE_TTL", "choose_node"]

NODE_TTL = dt.timedelta(seconds=10)


def choose_node(session_id: str, candidates: Sequence[str]) -> str:
    """Rendezvous (highest-random-weight) hashing of a session over node names."""
    if not candidates:
        raise ValueError("no node to place the session on")
    return max(
        candidates,
        key=lambda node: hashlib.sha256(f"{node}:{session_id}".encode()).digest(),
    )
