"""``PlatformService``: other platforms' join decisions, live rosters and removal orders.

**Join decisions** (``decide``). The question names the platform's meeting (and optionally its
series, host account and session), the participant, the client address and optionally a
dial-in number. The answer is ``MeetingService.gate`` — the same function that decides joins to
lexloci's own sessions — for the platform's namespaced context (``lexloci.platforms.model``),
and it is audited exactly as such a join (``GateResult.audit_entry``: same tag, same payload),
plus ``platform`` and ``participant_ref``, *before* it is returned (I4). A decision stores no
participant: the platform tells lexloci who actually joined through roster events.

The entry is written like a join's record (``Store.record_gate``, ``record_gate_async``):
``prepare_decision`` is the cheap part (the gate, on the caller's thread or event loop), and the
answer waits only for the shared transaction holding the entry to commit — durable first, as I4
asks, at the join gate's cost.

**Client addresses.** A platform either reports the address it resolved itself (``client_ip``)
or hands over the TCP peer and the raw ``Forwarded`` / ``X-Forwarded-For`` headers it received;
those are resolved by ``resolve_client_address`` with the platform's registered trusted proxies,
or the server's ``--trust-proxy`` ranges when it registered none.

**Roster events** (``apply_events``), idempotent by event id per platform: a replayed id changes
nothing and returns the first answer; the same id with different content is a conflict.
``participant.joined`` opens a presence (or refreshes the live one), ``participant.left`` ends it,
``participant.address_changed`` locates it again. A joined or moved participant whom an active
``remove_live`` restriction covers gets a removal order at once, in the event's transaction.

**Sweeps** (``sweep``): after every applied restriction version (``LiveMeetings`` calls it on
every node), the platforms' live presences in the restriction's scope are swept with the policy
engine's ``sweep``; each removal becomes one order (``lexloci.platforms.orders``). Orders are
inserted if absent, keyed by (presence, restriction), in chunks of ``SWEEP_CHUNK`` per
transaction, each with one ``platform:orders:issued`` audit entry listing exactly the orders it
inserted (``lexloci.audit.removals``), so however many nodes sweep, each removal is ordered and
audited once, and no order can be delivered before its entry commits (I4). A chunk's orders are
inserted claimed by this node's delivery worker when it has room (``hand_orders_to``) and
handed to it after the commit; the rest wait for a claim. Nothing here ends a meeting or
touches an account (I2); only participants the signal rule places inside the jurisdiction (or
uncertain under the restriction's declared policy) get orders (I1, I6).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from lexloci.audit.encoding import canonical_text
from lexloci.audit.tags import AuditTag
from lexloci.clock import Clock
from lexloci.errors import Conflict, InvalidInput, NotFound
from lexloci.geo import ClientAddress, Evidence, Location, TrustedProxies, parse_ip
from lexloci.geo import resolve_client_address as resolve_address
from lexloci.meetings.model import Participant, ParticipantState
from lexloci.meetings.ports import EncodedEntry, GateRecord
from lexloci.meetings.service import GateResult, MeetingService, new_id
from lexloci.platforms.model import (
    DeliveryPolicy,
    EventKind,
    EventOutcome,
    EventResult,
    LivePresence,
    OrderState,
    Platform,
    PlatformParticipant,
    PresenceState,
    RemovalOrder,
    RosterEvent,
    check_name,
    check_ref,
    live_key,
    order_id,
    participant_key,
    platform_context,
    platform_of,
)
from lexloci.platforms.orders import ORDER_ACTOR, OrderMaker
from lexloci.platforms.ports import Handover, OrderCourier, PlatformStore, PlatformTx
from lexloci.policy import Enforcement, LiveParticipant, Removal, Restriction, Scope, SessionContext

__all__ = ["JoinQuestion", "PlatformDecision", "PlatformService", "event_digest"]

#: Orders written per transaction in a sweep: delivery starts on the first chunk while the
#: next is written, and no write transaction holds SQLite's lock for long.
SWEEP_CHUNK = 1000
MAX_URL = 500


def event_digest(event: dict[str, Any]) -> str:
    """A stable digest of an event as sent, to tell a replay from a reused id."""
    return hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class JoinQuestion:
    meeting_ref: str
    participant_ref: str
    client: ClientAddress
    phone: str | None = None
    series_ref: str | None = None
    account_ref: str | None = None
    session_ref: str | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class PlatformDecision:
    platform: str
    participant_ref: str
    context: SessionContext
    client: ClientAddress
    gate: GateResult

    def to_dict(self) -> dict[str, Any]:
        decision, notice = self.gate.decision, self.gate.notice
        return {
            "effect": decision.effect.value,
            "decision_id": decision.decision_id,
            "policy_version": decision.policy_version,
            "decided_at": decision.decided_at.isoformat(),
            "platform": self.platform,
            "participant_ref": self.participant_ref,
            "context": self.context.to_dict(),
            "territory": self.gate.location.territory,
            "restriction_ids": list(decision.restriction_ids),
            "case_refs": list(notice.case_refs) if notice else [],
            "reasons": [r.to_dict() for r in decision.reasons],
            "notice": notice.to_dict() if notice else None,
            "client_address": {
                "address": self.client.address,
                "via": self.client.via,
                "reason": self.client.reason,
            },
            "evidence": self.gate.evidence,
        }


class PlatformService:
    def __init__(
        self,
        store: PlatformStore,
        meetings: MeetingService,
        clock: Clock,
        trusted: TrustedProxies,
        *,
        node: str = "local",
    ) -> None:
        self.store = store
        self.meetings = meetings
        self.clock = clock
        self.trusted = trusted
        self.node = node
        self._platforms: dict[str, Platform] = {}
        self._proxies: dict[str, TrustedProxies] = {}
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._courier: OrderCourier | None = None

    def hand_orders_to(self, courier: OrderCourier | None) -> None:
        """Let ``courier`` (this node's delivery worker) deliver the orders sweeps make here
        without claiming them again (``lexloci.platforms.ports.OrderCourier``)."""
        self._courier = courier

    # -- registration ------------------------------------------------------------------------

    def register(
        self,
        name: str,
        webhook_url: str | None,
        *,
        trusted_proxies: Sequence[str] = (),
        delivery: DeliveryPolicy | None = None,
    ) -> Platform:
        """Register a platform with a new signing secret (returned in ``Platform.secret``)."""
        check_name(name)
        if webhook_url is not None:
            webhook_url = _check_url(webhook_url)
        proxies = tuple(p.strip() for p in trusted_proxies if p.strip())
        TrustedProxies(proxies)  # refuses anything that is not a CIDR range
        platform = Platform(
            name=name,
            webhook_url=webhook_url,
            secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            trusted_proxies=proxies,
            delivery=delivery or DeliveryPolicy(),
            created_at=self.clock.now(),
        )
        if self.store.platform(name) is not None:
            raise Conflict(f"a platform named {name!r} is registered already", platform=name)
        with self.store.transaction() as tx:
            tx.insert_platform(platform)
        return platform

    def cached_platform(self, name: str) -> Platform | None:
        """The registration if this process has read it already (never touches storage)."""
        return self._platforms.get(name)

    def platform(self, name: str) -> Platform:
        """A registered platform (404 ``not_found`` for any other name)."""
        cached = self._platforms.get(name)
        if cached is not None:
            return cached
        found = self.store.platform(name) if isinstance(name, str) else None
        if found is None:
            raise NotFound(f"no platform {name!r} is registered", platform=name)
        self._platforms[name] = found
        return found

    def platforms(self) -> list[Platform]:
        return self.store.platforms()

    def names_platform(self, ref: str) -> bool:
        """Whether ``ref`` is a reference in a registered platform's namespace."""
        name = platform_of(ref)
        if name is None:
            return False
        try:
            self.platform(name)
        except NotFound:
            return False
        return True

    # -- the join decision -------------------------------------------------------------------

    def client_address(
        self,
        platform: Platform,
        *,
        client_ip: str | None,
        peer: str | None,
        headers: Sequence[tuple[str, str]],
        phone: str | None,
    ) -> ClientAddress:
        """The participant's address, as the platform reported or forwarded it."""
        if client_ip is not None:
            if peer is not None or headers:
                raise InvalidInput(
                    "give either client_ip, or peer with the forwarding headers, not both"
                )
            return ClientAddress(str(parse_ip(client_ip)), "platform")
        if peer is None:
            if headers:
                raise InvalidInput("forwarding headers need the peer address they came from")
            if phone is None:
                raise InvalidInput(
                    "give client_ip, or peer (the address that connected to the platform) with "
                    "its forwarding headers, or a dial-in phone number"
                )
            return ClientAddress(None, "none", "dial-in: no client address")
        return resolve_address(peer, headers, self._trusted_for(platform))

    def _trusted_for(self, platform: Platform) -> TrustedProxies:
        if not platform.trusted_proxies:
            return self.trusted
        proxies = self._proxies.get(platform.name)
        if proxies is None:
            proxies = self._proxies[platform.name] = TrustedProxies(platform.trusted_proxies)
        return proxies

    def decide(self, platform: Platform, question: JoinQuestion) -> PlatformDecision:
        """Decide and audit; returns once the audit entry is durable."""
        decision, record = self.prepare_decision(platform, question)
        self.meetings.store.record_gate(record)
        return decision

    def prepare_decision(
        self, platform: Platform, question: JoinQuestion
    ) -> tuple[PlatformDecision, GateRecord]:
        """The decision and the write that audits it, not yet made: the answer may be given
        only after ``record`` committed (``Store.record_gate`` / ``record_gate_async``)."""
        context = platform_context(
            platform.name,
            question.meeting_ref,
            series_ref=question.series_ref,
            account_ref=question.account_ref,
            session_ref=question.session_ref,
        )
        check_ref(question.participant_ref, "participant_ref")
        gate = self.meetings.gate(context, question.client, question.phone, question.language)
        pid = participant_key(platform.name, question.participant_ref)
        tag, payload = gate.audit_entry(pid, context.session_id, question.client, question.phone)
        payload["platform"] = platform.name
        payload["participant_ref"] = question.participant_ref
        # Encoded here, so that the write is plain data (it may happen in another process).
        record = GateRecord((EncodedEntry(tag, f"participant:{pid}", canonical_text(payload)),))
        decision = PlatformDecision(
            platform.name, question.participant_ref, context, question.client, gate
        )
        return decision, record

    # -- roster events -----------------------------------------------------------------------

    def apply_events(self, platform: Platform, events: Sequence[RosterEvent]) -> list[EventResult]:
        """Apply a batch of roster events in one transaction (see the module docstring)."""
        now = self.clock.now()
        # Locating is pure and may take a moment for a large batch: do it before the
        # transaction takes the write lock.
        located = {
            index: self._locate(event.client, event.phone)
            for index, event in enumerate(events)
            if event.kind is not EventKind.LEFT
        }
        results: list[EventResult] = []
        ordered = False
        with self.store.transaction() as tx:
            for index, event in enumerate(events):
                claimed = tx.claim_event(
                    platform.name, event.id, event.kind.value, event.digest, now
                )
                if not claimed.new:
                    if claimed.digest != event.digest or claimed.result is None:
                        results.append(
                            EventResult(
                                event.id,
                                EventOutcome.CONFLICT,
                                message=f"event id {event.id!r} was used before for another event",
                            )
                        )
                    else:
                        first = EventResult.from_dict(claimed.result)
                        results.append(replace(first, outcome=EventOutcome.DUPLICATE))
                    continue
                result = self._apply(tx, platform, event, located.get(index), now)
                ordered = ordered or bool(result.orders)
                tx.set_event_result(platform.name, event.id, result.to_dict())
                results.append(result)
        if ordered:
            self._notify()
        return results

    def _locate(self, client: ClientAddress | None, phone: str | None) -> Location:
        address = client.address if client is not None else None
        if address is None and phone is None:
            reason = client.reason if client is not None else None
            return self.meetings.locator.unknown_client(reason or "no client address")
        return self.meetings.locator.locate(Evidence(client_ip=address, phone=phone))

    def _apply(
        self,
        tx: PlatformTx,
        platform: Platform,
        event: RosterEvent,
        location: Location | None,
        now: dt.datetime,
    ) -> EventResult:
        context = platform_context(
            platform.name,
            event.meeting_ref,
            series_ref=event.series_ref,
            account_ref=event.account_ref,
            session_ref=event.session_ref,
        )
        key = live_key(
            platform.name, context.session_id, check_ref(event.participant_ref, "participant_ref")
        )
        live = tx.live_presence(key)
        if event.kind is EventKind.LEFT:
            if live is None:
                return EventResult(
                    event.id, EventOutcome.NOT_LIVE, message="nobody live by that reference"
                )
            tx.end_presences([live.id], PresenceState.LEFT, now)
            return EventResult(
                event.id, EventOutcome.APPLIED, live.id, PresenceState.LEFT.value, live.territory
            )
        assert location is not None  # located above for every kind but LEFT
        client = event.client or ClientAddress(None, "none", "dial-in: no client address")
        if live is None and event.kind is EventKind.ADDRESS_CHANGED:
            return EventResult(
                event.id, EventOutcome.NOT_LIVE, message="nobody live by that reference"
            )
        if live is None:
            presence = PlatformParticipant(
                id=new_id("ppt"),
                platform=platform.name,
                participant_ref=event.participant_ref,
                context=context,
                state=PresenceState.JOINED,
                territory=location.territory,
                location=location.to_dict(),
                client_ip=client.address,
                client_via=client.via,
                phone=event.phone,
                language=event.language,
                joined_at=now,
                updated_at=now,
                decision_id=event.decision_id,
            )
            tx.insert_presence(presence, key)
        else:
            presence = replace(
                live,
                territory=location.territory,
                location=location.to_dict(),
                client_ip=client.address,
                client_via=client.via,
                phone=event.phone if event.phone is not None else live.phone,
                updated_at=now,
                decision_id=event.decision_id or live.decision_id,
            )
            tx.update_presence(presence)
        removals = self.meetings.engine.reevaluate(
            LiveParticipant(presence.id, context, location), now
        )
        # One order removes them; the first restriction by id is the one cited, as in
        # MeetingService.update_evidence.
        maker = OrderMaker(self.node, now)
        orders = self._order(tx, {presence.id: presence.live()}, removals[:1], maker)
        state = PresenceState.REMOVED if orders else PresenceState.JOINED
        return EventResult(
            event.id,
            EventOutcome.APPLIED,
            presence.id,
            state.value,
            location.territory,
            tuple(order.id for order in orders),
        )

    # -- sweeps ------------------------------------------------------------------------------

    def sweep(self, restriction: Restriction) -> list[str]:
        """Orders for the live platform participants an applied restriction version removes.

        Called on every node for every applied version; idempotent (see the module docstring).
        Returns the ids of the orders this call created.
        """
        now = self.clock.now()
        if Enforcement.REMOVE_LIVE not in restriction.effects or not restriction.is_active(now):
            return []
        live = self.store.live_in_scope(restriction.scope)
        if not live:
            return []
        by_id = {p.id: p for p in live}
        located = self._relocate_all(live)
        removals = self.meetings.engine.sweep(
            restriction,
            (
                LiveParticipant(p.id, p.context, where)
                for p, where in zip(live, located, strict=True)
            ),
            now,
        )
        created: list[str] = []
        maker = OrderMaker(self.node, now)
        for start in range(0, len(removals), SWEEP_CHUNK):
            chunk = removals[start : start + SWEEP_CHUNK]
            claims = self._reserve(chunk, by_id)
            made: Sequence[RemovalOrder] = ()
            try:
                with self.store.transaction() as tx:
                    ordered = self._order(tx, by_id, chunk, maker, restriction, claims)
                made = ordered  # committed
            finally:
                self._hand_over(claims, made)
            created += [order.id for order in made]
            self._notify()
        return created

    def _reserve(
        self, removals: Sequence[Removal], presences: dict[str, LivePresence]
    ) -> dict[str, Handover]:
        """Room in this node's delivery worker for the orders these removals may become: the
        handover each order id will be inserted under (the first ``room`` of each platform)."""
        courier = self._courier
        if courier is None:
            return {}
        ids: dict[str, list[str]] = {}
        for removal in removals:
            if removal.restriction_id is not None:
                presence = presences[removal.participant_id]
                ids.setdefault(presence.platform, []).append(
                    order_id(presence.id, removal.restriction_id)
                )
        claims: dict[str, Handover] = {}
        for name, wanted in ids.items():
            handover = courier.reserve(name, len(wanted))
            if handover is not None:
                claims.update((oid, handover) for oid in wanted[: handover.room])
        return claims

    def _hand_over(self, claims: dict[str, Handover], orders: Sequence[RemovalOrder]) -> None:
        """Give each handover its committed orders (none if nothing committed), which releases
        the room they did not use."""
        if not claims:
            return
        courier = self._courier
        assert courier is not None  # only a courier makes handovers
        taken: dict[Handover, list[RemovalOrder]] = {h: [] for h in set(claims.values())}
        for order in orders:
            handover = claims.get(order.id)
            if handover is not None:
                taken[handover].append(order)
        for handover, handed in taken.items():
            courier.hand_over(handover, handed)

    def sweep_active(self) -> list[str]:
        """Sweep every active restriction: at start-up, for presences that joined while this
        node was down or before a change reached it."""
        created: list[str] = []
        for restriction in self.meetings.engine.active(self.clock.now()):
            created += self.sweep(restriction)
        return created

    def _relocate_all(self, live: Sequence[LivePresence]) -> list[Location]:
        """Locate presences again. Address-only ones go through the locator's batch path, which
        shares one Location per territory: the policy engine's and the order maker's memos then
        work per territory instead of per participant."""
        out: list[Location | None] = [None] * len(live)
        plain = [i for i, p in enumerate(live) if p.phone is None and p.client_ip is not None]
        if plain:
            try:
                found = self.meetings.locator.locate_ips([live[i].client_ip or "" for i in plain])
            except InvalidInput:  # a stored address that no longer parses: one by one below
                found = []
            for i, location in zip(plain, found, strict=False):
                out[i] = location
        return [
            location if location is not None else self._relocate(live[i])
            for i, location in enumerate(out)
        ]

    def _relocate(self, presence: LivePresence) -> Location:
        if presence.client_ip is None and presence.phone is None:
            return self.meetings.locator.unknown_client("no client address")
        try:
            return self.meetings.locator.locate(
                Evidence(client_ip=presence.client_ip, phone=presence.phone)
            )
        except InvalidInput:
            return self.meetings.locator.unknown_client("stored evidence no longer parses")

    def _order(
        self,
        tx: PlatformTx,
        presences: dict[str, LivePresence],
        removals: Sequence[Removal],
        maker: OrderMaker,
        restriction: Restriction | None = None,
        claims: dict[str, Handover] | None = None,
    ) -> tuple[RemovalOrder, ...]:
        """Order, audit and mark removed, in ``tx``, the removals not ordered before; an order
        whose id is in ``claims`` is inserted claimed by that handover's worker."""
        # Only presences still live when the transaction holds them: someone may have left
        # since the sweep read the roster.
        live = tx.lock_live([r.participant_id for r in removals])
        removals = [r for r in removals if r.participant_id in live]
        if not removals:
            return ()
        built = []
        for removal in removals:
            held = restriction
            if held is None and removal.restriction_id is not None:
                held = self.meetings.engine.get(removal.restriction_id)
            built.append(maker.make(removal, presences[removal.participant_id], held))
        bodies = {m.order.id: m.stored_body for m in built if m.stored_body is not None}
        inserted = tx.insert_orders([made.order for made in built], claims, bodies)
        if not inserted:
            return ()
        done = [made for made in built if made.order.id in inserted]
        tx.remove_presences(
            [(made.order.participant_id, made.presence_reason) for made in done], maker.now
        )
        # One entry for the transaction's orders, in it: none is delivered before it commits.
        issued = AuditTag.PLATFORM_ORDERS_ISSUED
        tx.audit_encoded([(issued, ORDER_ACTOR, maker.audit_payload(done))])
        return tuple(made.order for made in done)

    # -- orders ------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from any thread) after new orders are committed."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def orders(
        self, platform: Platform, state: str | None = None, limit: int = 1000
    ) -> list[RemovalOrder]:
        return self.store.orders(platform.name, _states(state), limit)

    def order(self, platform: Platform, order_id: str) -> RemovalOrder:
        found = self.store.order(platform.name, order_id)
        if found is None:
            raise NotFound(f"platform {platform.name} has no order {order_id!r}", id=order_id)
        return found

    def acknowledge(self, platform: Platform, ids: Iterable[str], via: str) -> list[RemovalOrder]:
        """Acknowledge orders (idempotent); every id must be one of this platform's orders."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            raise InvalidInput("name at least one order id to acknowledge")
        found = {o.id for o in self.store.orders_by_id(wanted) if o.platform == platform.name}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound(
                f"platform {platform.name} has no order {missing[0]!r}", ids=missing[:20]
            )
        self.store.acknowledge(platform.name, wanted, self.clock.now(), via)
        return self.store.orders_by_id(wanted)

    def redeliver(self, platform: Platform, order_id: str) -> RemovalOrder:
        """Put a dead-lettered order back in the delivery queue with a fresh attempt budget."""
        order = self.order(platform, order_id)
        if order.state is not OrderState.DEAD:
            raise Conflict(
                f"order {order_id} is {order.state.value}; only a dead-lettered order is "
                "redelivered",
                id=order_id,
            )
        self.store.redeliver(platform.name, order_id, self.clock.now())
        self._notify()
        return self.order(platform, order_id)

    # -- rosters -----------------------------------------------------------------------------

    def participants(
        self, platform: Platform, state: str | None = None, limit: int = 1000
    ) -> list[PlatformParticipant]:
        wanted: PresenceState | None = None
        if state is not None:
            try:
                wanted = PresenceState(state)
            except ValueError:
                raise InvalidInput(
                    f"unknown state {state!r}; one of " + ", ".join(s.value for s in PresenceState)
                ) from None
        return self.store.participants(platform.name, wanted, limit)

    def participants_in(self, scope: Scope) -> list[Participant]:
        """Every platform presence a scope covers, as the case workflow's impact preview
        counts participants (``lexloci.cases.service``)."""
        return [
            Participant(
                id=p.id,
                session_id=p.context.session_id,
                display_name=participant_key(p.platform, p.participant_ref),
                state=ParticipantState(p.state.value),
                joined_at=p.joined_at,
                territory=p.territory,
                location=p.location,
                client_ip=p.client_ip,
                phone=p.phone,
                user_id=participant_key(p.platform, p.participant_ref),
                language=p.language,
                reason=p.reason,
                left_at=p.left_at,
                decision_id=p.decision_id,
            )
            for p in self.store.participants_in_scope(scope)
        ]


def _states(state: str | None) -> list[OrderState] | None:
    if state is None or state == "all":
        return None
    if state == "unacknowledged":
        return [OrderState.PENDING, OrderState.DELIVERED, OrderState.DEAD]
    try:
        return [OrderState(state)]
    except ValueError:
        names = [s.value for s in OrderState] + ["unacknowledged", "all"]
        raise InvalidInput(f"unknown order state {state!r}; one of {', '.join(names)}") from None


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(
            f"the webhook URL must be an http:// or https:// URL of at most {MAX_URL} characters",
            field="webhook_url",
        )
    if parts.fragment:
        raise InvalidInput("the webhook URL must not have a #fragment", field="webhook_url")
    return url
