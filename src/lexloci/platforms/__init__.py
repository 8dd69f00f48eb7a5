"""Platform integration: lexloci beside another meeting platform (LiveKit, Jitsi, Janus, BBB…).

A platform registers (``lexloci platform add``), then

1. asks ``POST /api/v1/decisions/join`` before it admits anyone — the meeting service's own
   join gate decides, for the platform's namespaced meeting, and the decision is audited like
   a join to a lexloci session (``service``);
2. reports who joined, left or moved (``POST /api/v1/platforms/{platform}/events``), so
   lexloci knows its live roster (``service``);
3. receives a removal order for each of its live participants a restriction removes, as a
   signed Standard Webhooks POST (``webhooks``) or over server-sent events (``stream``), and
   acknowledges it.

Module map: ``model`` (registrations, namespaced references, presences, events, orders),
``ports`` (what storage provides), ``orders`` (an order and its audit entry from a removal),
``service`` (decisions, roster events, sweeps, acknowledgements), ``webhooks`` (signing and
delivery workers), ``stream`` (server-sent events). The client side for integrators is
``lexloci.integrations``; the guide is docs/integration.md.
"""

from lexloci.platforms.model import (
    DeliveryPolicy,
    EventKind,
    EventOutcome,
    EventResult,
    OrderState,
    Platform,
    PlatformParticipant,
    PresenceState,
    RemovalOrder,
    RosterEvent,
    platform_context,
)
from lexloci.platforms.service import JoinQuestion, PlatformDecision, PlatformService
from lexloci.platforms.webhooks import DeliveryWorker

__all__ = [
    "DeliveryPolicy",
    "DeliveryWorker",
    "EventKind",
    "EventOutcome",
    "EventResult",
    "JoinQuestion",
    "OrderState",
    "Platform",
    "PlatformDecision",
    "PlatformParticipant",
    "PlatformService",
    "PresenceState",
    "RemovalOrder",
    "RosterEvent",
    "platform_context",
]
