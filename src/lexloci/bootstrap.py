"""The composition root: the one place that picks adapters and wires them together.

The web app, the CLI and the tests all get their objects from ``build_container``; nothing else
constructs adapters from settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from anyio import to_thread

from lexloci.bus import InProcessBus, RestrictionBus
from lexloci.cases.service import CaseService
from lexloci.clock import Clock, SystemClock
from lexloci.config import Settings
from lexloci.errors import ConfigurationError, InvalidInput
from lexloci.geo import (
    AnonymizerSource,
    IpCountrySource,
    IptoccSource,
    Locator,
    MmdbAnonymizerSource,
    MmdbCountrySource,
    TorExitListSource,
    TrustedProxies,
)
from lexloci.jurisdictions import GroupRegistry
from lexloci.media import MediaPlane, MeshMediaPlane
from lexloci.meetings.live import LiveMeetings
from lexloci.meetings.service import MeetingService
from lexloci.meetings.signalling import SignallingHub
from lexloci.platforms import DeliveryWorker, PlatformService
from lexloci.policy import PolicyEngine
from lexloci.storage import records as _records  # noqa: F401 - declares the tables on metadata
from lexloci.storage import schema
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.meeting_store import SqlStore
from lexloci.storage.platform_store import SqlPlatformStore
from lexloci.storage.tokens import SqlTokenStore

__all__ = ["Container", "build_container", "build_locator", "open_database"]


@dataclass
class Container:
    """Everything a process needs, built once from settings."""

    settings: Settings
    locator: Locator
    trusted_proxies: TrustedProxies
    groups: GroupRegistry
    clock: Clock
    engine: sa.Engine
    audit_log: SqlAuditLog
    store: SqlStore
    tokens: SqlTokenStore
    policy: PolicyEngine
    meetings: MeetingService
    cases: CaseService
    hub: SignallingHub
    media: MediaPlane
    live: LiveMeetings
    bus: RestrictionBus
    platforms: PlatformService
    delivery: DeliveryWorker

    @property
    def node_url(self) -> str:
        s = self.settings
        return s.advertise_url or f"http://{s.host}:{s.port}"

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()


def build_locator(settings: Settings) -> Locator:
    """IP sources in priority order: the operator's mmdb first, the embedded RIR data last."""
    ip_sources: list[IpCountrySource] = []
    if settings.geoip_mmdb is not None:
        ip_sources.append(MmdbCountrySource(settings.geoip_mmdb))
    ip_sources.append(IptoccSource())
    anonymizers: list[AnonymizerSource] = []
    if settings.anonymizer_mmdb is not None:
        anonymizers.append(MmdbAnonymizerSource(settings.anonymizer_mmdb))
    if settings.tor_exit_list is not None:
        anonymizers.append(TorExitListSource(settings.tor_exit_list))
    return Locator(ip_sources, anonymizers)


def build_bus(settings: Settings, store: SqlStore) -> RestrictionBus:
    """In-process for one node; NATS JetStream for a fleet (``--bus nats://...``)."""
    if settings.bus is None:
        return InProcessBus()
    from lexloci.bus.nats import NatsBus

    return NatsBus(
        settings.bus,
        settings.bus_stream,
        settings.node,
        pending=store.pending_publications,
        mark_published=store.mark_published,
    )


def build_media_plane(settings: Settings) -> MediaPlane:
    """The mesh by default; the Janus SFU adapter with ``media = "janus"``."""
    if settings.media == "mesh":
        return MeshMediaPlane()
    from lexloci.media.janus import JanusMediaPlane

    url, admin_url = settings.janus_url, settings.janus_admin_url
    secret, room_key = settings.janus_admin_secret, settings.janus_room_admin_key
    if url is None or admin_url is None or secret is None or room_key is None:
        missing = [
            f"LEXLOCI_{name.upper()}"
            for name in (
                "janus_url",
                "janus_admin_url",
                "janus_admin_secret",
                "janus_room_admin_key",
            )
            if getattr(settings, name) is None
        ]
        raise ConfigurationError("the Janus media plane needs " + ", ".join(missing))
    event_token = settings.janus_event_token
    return JanusMediaPlane(
        url=url,
        admin_url=admin_url,
        admin_secret=secret.get_secret_value(),
        room_admin_key=room_key.get_secret_value(),
        event_secret=event_token.get_secret_value() if event_token is not None else None,
    )


def open_database(settings: Settings, clock: Clock) -> tuple[sa.Engine, SqlAuditLog]:
    """The engine and audit log. A new, empty database is initialized; an out-of-date one is
    refused with ConfigurationError (see ``lexloci.storage.schema``)."""
    engine = make_engine(settings.database_url)
    try:
        schema.check(engine)
    except Exception:
        engine.dispose()
        raise
    return engine, SqlAuditLog(engine, clock)


def _gate_writer_process(settings: Settings, engine: sa.Engine, clock: Clock) -> bool:
    """Whether the gate's records are written by a process of their own: as configured, but
    never for an in-memory SQLite database (another process cannot see it) nor for a clock
    other than the system's (tests' clocks live in this process; the writer stamps entries)."""
    if settings.gate_writer != "process" or not isinstance(clock, SystemClock):
        return False
    url = engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def build_container(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    clock = clock or SystemClock()
    try:
        trusted = TrustedProxies(settings.trust_proxy)
        groups = GroupRegistry(settings.groups)
    except InvalidInput as exc:
        raise ConfigurationError(exc.message) from None
    locator = build_locator(settings)
    engine, audit_log = open_database(settings, clock)
    store = SqlStore(engine, audit_log, gate_writer=_gate_writer_process(settings, engine, clock))
    policy = PolicyEngine()
    meetings = MeetingService(store, locator, policy, clock, node=settings.node)
    meetings.load()
    platform_store = SqlPlatformStore(engine, audit_log)
    platforms = PlatformService(platform_store, meetings, clock, trusted, node=settings.node)
    platforms.sweep_active()  # presences that joined while this node was down
    delivery = DeliveryWorker(platform_store, clock, name=settings.node)
    platforms.add_listener(delivery.wake)
    platforms.hand_orders_to(delivery)  # a sweep's orders go straight to its senders
    hub = SignallingHub()
    media = build_media_plane(settings)
    live = LiveMeetings(meetings, hub, media)
    # Every applied restriction version also orders the removal of other platforms' live
    # participants (on every node; the orders table keeps each order unique).
    live.change_hooks.append(lambda r: to_thread.run_sync(platforms.sweep, r))
    return Container(
        settings=settings,
        locator=locator,
        trusted_proxies=trusted,
        groups=groups,
        clock=clock,
        engine=engine,
        audit_log=audit_log,
        store=store,
        tokens=SqlTokenStore(engine, audit_log),
        policy=policy,
        meetings=meetings,
        cases=CaseService(store, groups, clock, external=platforms),
        hub=hub,
        media=media,
        live=live,
        bus=build_bus(settings, store),
        platforms=platforms,
        delivery=delivery,
    )
