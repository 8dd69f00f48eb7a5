"""The integrator's client: ask before admitting, report the roster, receive removal orders.

Three pieces, each usable alone:

- ``LexlociClient`` calls the HTTP API with the platform's token: ``decide_join`` (before
  minting a join token), ``joined`` / ``left`` / ``address_changed`` (roster events; each needs
  a unique event id, and re-sending one is harmless), ``orders`` and ``ack``, and
  ``stream_orders`` (the server-sent-events pull alternative to webhooks). An HTTP error is a
  ``LexlociRequestError`` carrying lexloci's ``{"error": {"code", "message"}}``.
- ``WebhookVerifier`` checks a webhook's Standard Webhooks signature with the
  ``standardwebhooks`` library — which also refuses a ``webhook-timestamp`` more than five
  minutes from now, so a captured request cannot be replayed later — and remembers, for ten
  minutes, the ``webhook-id``s acted on: a repeat within the window (lexloci retrying after a
  lost answer, or a replay) is reported as ``Delivery.REPEAT`` so the receiver answers 2xx
  without acting twice. Anything that fails verification raises ``InvalidWebhook``: answer 400.
  ``verify_all`` also reads batch messages (a platform registered with ``batch_size`` > 1):
  one ``ReceivedOrder`` per order inside, each keyed by the order's own idempotency key.
- ``RemovalOrder`` is the order's ``data`` with names.

Invariant: nothing here imports the rest of lexloci (see ``lexloci.integrations``).
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

#: The ``type`` of a batch webhook (``data.orders``: single-order messages).
BATCH_TYPE = "participant.removal_ordered.batch"

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

#: How long acted-on webhook ids are remembered: twice the library's timestamp tolerance, so
#: any request old enough to be forgotten is refused for its timestamp instead.
REPLAY_WINDOW_S = 600.0


class LexlociRequestError(Exception):
    """lexloci answered with an error (its single error shape)."""

    def __init__(self, status: int, code: str, message: str, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = dict(body)


class InvalidWebhook(Exception):
    """A webhook request that must not be acted on: answer 400."""


@dataclass(frozen=True, slots=True)
class JoinDecision:
    effect: str  # "allow" or "deny"
    decision_id: str
    policy_version: int
    territory: str | None
    restriction_ids: tuple[str, ...]
    case_refs: tuple[str, ...]
    notice: dict[str, Any] | None
    raw: dict[str, Any]

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"

    def notice_text(self, language: str = "en") -> str | None:
        """The refusal notice to show the participant (en, de or zh), None when allowed."""
        if self.notice is None:
            return None
        texts: dict[str, str] = self.notice.get("texts") or {}
        return texts.get(language) or self.notice.get("text")

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> JoinDecision:
        return cls(
            effect=body["effect"],
            decision_id=body["decision_id"],
            policy_version=body["policy_version"],
            territory=body.get("territory"),
            restriction_ids=tuple(body.get("restriction_ids") or ()),
            case_refs=tuple(body.get("case_refs") or ()),
            notice=body.get("notice"),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class RemovalOrder:
    """Remove ``participant_ref`` from ``session_ref`` and mint them no new token there."""

    order_id: str
    idempotency_key: str
    participant_ref: str
    meeting_ref: str
    session_ref: str
    territory: str | None
    restriction_id: str
    case_ref: str | None
    notice_texts: dict[str, str]
    host_notice: str
    raw: dict[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RemovalOrder:
        """From a webhook's or server-sent event's JSON body (``type``, ``timestamp``, ``data``)."""
        data = body["data"]
        return cls(
            order_id=data["order_id"],
            idempotency_key=data["idempotency_key"],
            participant_ref=data["participant_ref"],
            meeting_ref=data["meeting_ref"],
            session_ref=data["session_ref"],
            territory=data.get("territory"),
            restriction_id=data["restriction"]["id"],
            case_ref=data["restriction"].get("case_ref"),
            notice_texts=dict(data["notice"]["texts"]),
            host_notice=data.get("host_notice", ""),
            raw=dict(body),
        )


class Delivery(enum.StrEnum):
    FIRST = "first"  # act on it, then call WebhookVerifier.done
    REPEAT = "repeat"  # acted on already: answer 2xx and do nothing


@dataclass(frozen=True, slots=True)
class ReceivedOrder:
    webhook_id: str
    order: RemovalOrder
    delivery: Delivery


class WebhookVerifier:
    """Verify removal-order webhooks; tell first deliveries from repeats (module docstring)."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)
        self._done: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ReceivedOrder:
        wanted = {k.lower(): v for k, v in headers.items()}
        try:
            payload = self._webhook.verify(body, wanted)
        except WebhookVerificationError as exc:
            raise InvalidWebhook(str(exc)) from None
        except (ValueError, TypeError) as exc:  # malformed signature header or body
            raise InvalidWebhook(f"malformed webhook: {exc}") from None
        webhook_id = wanted["webhook-id"]
        if isinstance(payload, dict) and payload.get("type") == BATCH_TYPE:
            raise InvalidWebhook("a batch of orders: read it with verify_all")
        try:
            order = RemovalOrder.from_body(payload)
        except (KeyError, TypeError) as exc:
            raise InvalidWebhook(f"not a removal order: missing {exc}") from None
        if order.idempotency_key != webhook_id:
            raise InvalidWebhook("the webhook-id is not the order's idempotency key")
        return self._received(order)

    def verify_all(self, body: bytes, headers: Mapping[str, str]) -> list[ReceivedOrder]:
        """The orders of a single-order or a batch message, each FIRST or REPEAT by its own
        idempotency key (which ``ReceivedOrder.webhook_id`` then holds)."""
        wanted = {k.lower(): v for k, v in headers.items()}
        try:
            payload = self._webhook.verify(body, wanted)
        except WebhookVerificationError as exc:
            raise InvalidWebhook(str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise InvalidWebhook(f"malformed webhook: {exc}") from None
        if not isinstance(payload, dict) or payload.get("type") != BATCH_TYPE:
            return [self.verify(body, headers)]
        try:
            orders = [RemovalOrder.from_body(item) for item in payload["data"]["orders"]]
        except (KeyError, TypeError) as exc:
            raise InvalidWebhook(f"not a batch of removal orders: missing {exc}") from None
        return [self._received(order) for order in orders]

    def _received(self, order: RemovalOrder) -> ReceivedOrder:
        with self._lock:
            self._forget_old()
            seen = order.idempotency_key in self._done
        return ReceivedOrder(
            order.idempotency_key, order, Delivery.REPEAT if seen else Delivery.FIRST
        )

    def done(self, received: ReceivedOrder | str) -> None:
        """Remember that this webhook id was acted on."""
        webhook_id = received if isinstance(received, str) else received.webhook_id
        with self._lock:
            self._done[webhook_id] = time.monotonic()

    def _forget_old(self) -> None:
        horizon = time.monotonic() - REPLAY_WINDOW_S
        for key in [k for k, at in self._done.items() if at < horizon]:
            del self._done[key]


class LexlociClient:
    """The HTTP API, as one platform (its token) sees it."""

    def __init__(
        self,
        base_url: str,
        token: str,
        platform: str,
        *,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.platform = platform
        self._http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._auth = {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> LexlociClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self._http.request(
            method,
            f"/api/v1{path}",
            json=body,
            params={k: v for k, v in params.items() if v is not None} or None,
            headers=self._auth,
        )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:300]}
            raise LexlociRequestError(
                response.status_code, error.get("code", "error"), error.get("message", ""), error
            )
        return response.json()

    # -- decisions ----------------------------------------------------------------------------

    def decide_join(
        self,
        meeting_ref: str,
        participant_ref: str,
        *,
        client_ip: str | None = None,
        peer: str | None = None,
        forwarded_headers: Sequence[tuple[str, str]] = (),
        phone: str | None = None,
        series_ref: str | None = None,
        account_ref: str | None = None,
        session_ref: str | None = None,
        language: str | None = None,
    ) -> JoinDecision:
        """Ask before minting a join token. Give ``client_ip`` (resolved by you), or ``peer``
        and the raw ``forwarded_headers`` you received (resolved by lexloci)."""
        body = _where(
            meeting_ref, participant_ref, client_ip, peer, forwarded_headers, phone,
            series_ref, account_ref, session_ref, language,
        )  # fmt: skip
        return JoinDecision.from_body(self._call("POST", "/decisions/join", body))

    # -- roster events ------------------------------------------------------------------------

    def send_events(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Send up to 1,000 events; returns one result per event (``outcome``: applied,
        duplicate, not_live or conflict; ``orders``: removal orders made at once)."""
        answer = self._call("POST", f"/platforms/{self.platform}/events", {"events": list(events)})
        results: list[dict[str, Any]] = answer["results"]
        return results

    def joined(
        self,
        event_id: str,
        meeting_ref: str,
        participant_ref: str,
        *,
        client_ip: str | None = None,
        peer: str | None = None,
        forwarded_headers: Sequence[tuple[str, str]] = (),
        phone: str | None = None,
        series_ref: str | None = None,
        account_ref: str | None = None,
        session_ref: str | None = None,
        language: str | None = None,
        decision_id: str | None = None,
    ) -> dict[str, Any]:
        event = _where(
            meeting_ref, participant_ref, client_ip, peer, forwarded_headers, phone,
            series_ref, account_ref, session_ref, language,
        )  # fmt: skip
        event.update(id=event_id, type="participant.joined")
        if decision_id is not None:
            event["decision_id"] = decision_id
        return self.send_events([event])[0]

    def left(
        self,
        event_id: str,
        meeting_ref: str,
        participant_ref: str,
        *,
        session_ref: str | None = None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": event_id,
            "type": "participant.left",
            "meeting_ref": meeting_ref,
            "participant_ref": participant_ref,
        }
        if session_ref is not None:
            event["session_ref"] = session_ref
        return self.send_events([event])[0]

    def address_changed(
        self,
        event_id: str,
        meeting_ref: str,
        participant_ref: str,
        *,
        client_ip: str | None = None,
        peer: str | None = None,
        forwarded_headers: Sequence[tuple[str, str]] = (),
        session_ref: str | None = None,
    ) -> dict[str, Any]:
        event = _where(
            meeting_ref, participant_ref, client_ip, peer, forwarded_headers, None,
            None, None, session_ref, None,
        )  # fmt: skip
        event.update(id=event_id, type="participant.address_changed")
        return self.send_events([event])[0]

    # -- orders -------------------------------------------------------------------------------

    def orders(self, state: str | None = None) -> list[dict[str, Any]]:
        """Orders by state: pending, delivered, acknowledged, dead, unacknowledged."""
        answer = self._call("GET", f"/platforms/{self.platform}/orders", state=state)
        orders: list[dict[str, Any]] = answer["orders"]
        return orders

    def ack(self, *order_ids: str) -> list[dict[str, Any]]:
        """Acknowledge orders once carried out (idempotent)."""
        answer = self._call("POST", f"/platforms/{self.platform}/orders/ack", {"ids": order_ids})
        orders: list[dict[str, Any]] = answer["orders"]
        return orders

    def stream_orders(self, *, read_timeout: float | None = None) -> Iterator[RemovalOrder]:
        """Orders as they come (server-sent events): every unacknowledged one first. Acknowledge
        each with ``ack`` once carried out; an order not acknowledged in time comes again."""
        timeout = httpx.Timeout(10.0, read=read_timeout)
        with self._http.stream(
            "GET",
            f"/api/v1/platforms/{self.platform}/orders/stream",
            headers={**self._auth, "Accept": "text/event-stream"},
            timeout=timeout,
        ) as response:
            if response.status_code >= 400:
                response.read()
                error = response.json().get("error", {})
                raise LexlociRequestError(
                    response.status_code,
                    error.get("code", "error"),
                    error.get("message", ""),
                    error,
                )
            data: list[str] = []
            for line in response.iter_lines():
                if line == "":
                    if data:
                        yield RemovalOrder.from_body(json.loads("\n".join(data)))
                    data = []
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                # "id:", "event:", "retry:" and ":" comments carry nothing the body lacks


def _where(
    meeting_ref: str,
    participant_ref: str,
    client_ip: str | None,
    peer: str | None,
    forwarded_headers: Sequence[tuple[str, str]],
    phone: str | None,
    series_ref: str | None,
    account_ref: str | None,
    session_ref: str | None,
    language: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"meeting_ref": meeting_ref, "participant_ref": participant_ref}
    optional = {
        "client_ip": client_ip,
        "phone": phone,
        "series_ref": series_ref,
        "account_ref": account_ref,
        "session_ref": session_ref,
        "language": language,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if peer is not None:
        body["forwarded"] = {"peer": peer, "headers": [list(h) for h in forwarded_headers]}
    return body
