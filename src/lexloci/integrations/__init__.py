"""For platforms that integrate with lexloci: a small client (``lexloci.integrations.client``).

It stands alone — it imports httpx and standardwebhooks, never the rest of lexloci (an
import-linter contract keeps it so) — so an integrator's token server can vendor this package
or depend on lexloci just for it. The guide is docs/integration.md.
"""

from lexloci.integrations.client import (
    BATCH_TYPE,
    Delivery,
    InvalidWebhook,
    JoinDecision,
    LexlociClient,
    LexlociRequestError,
    ReceivedOrder,
    RemovalOrder,
    WebhookVerifier,
)

__all__ = [
    "BATCH_TYPE",
    "Delivery",
    "InvalidWebhook",
    "JoinDecision",
    "LexlociClient",
    "LexlociRequestError",
    "ReceivedOrder",
    "RemovalOrder",
    "WebhookVerifier",
]
