"""The restriction bus: how a restriction change reaches every meeting node.

Port: ``RestrictionBus``.

- ``start(apply)`` begins delivering changes to ``apply`` (``LiveMeetings.apply_change``: install
  in the policy engine, sweep this node's live sessions). A bus that keeps history replays
  everything this node has not yet applied *before* ``ready`` becomes true; the node refuses
  joins until then.
- ``announce()`` is called after a change was committed to the database. Delivery is
  at-least-once; applying is idempotent by restriction id and version, so a change is never
  lost and never applied twice in effect.
- ``status()`` says whether the node is ready and whether it is connected; a node that loses
  its bus keeps enforcing what it has and reports itself ``degraded``.

Adapters: ``InProcessBus`` (one node: the change is applied at once in this process) and
``lexloci.bus.nats.NatsBus`` (a fleet: NATS JetStream, with the restrictions table as the
outbox, see docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from lexloci.policy import Restriction

__all__ = ["ApplyChange", "InProcessBus", "RestrictionBus"]

ApplyChange = Callable[[Restriction], Awaitable[Any]]


class RestrictionBus(Protocol):
    @property
    def ready(self) -> bool: ...

    async def start(self, apply: ApplyChange) -> None: ...

    async def announce(self, restrictions: list[Restriction]) -> None: ...

    def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class InProcessBus:
    """A single node: a committed change is applied here and now."""

    def __init__(self) -> None:
        self._apply: ApplyChange | None = None

    @property
    def ready(self) -> bool:
        return True

    async def start(self, apply: ApplyChange) -> None:
        self._apply = apply

    async def announce(self, restrictions: list[Restriction]) -> None:
        if self._apply is None:
            raise RuntimeError("the bus was not started")
        for restriction in restrictions:
            await self._apply(restriction)

    def status(self) -> dict[str, Any]:
        return {"kind": "in-process", "ready": True, "connected": True}

    async def close(self) -> None:
        self._apply = None
