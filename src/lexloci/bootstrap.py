"""The composition root: the one place that picks adapters and wires them together.

The web app, the CLI and the tests all get their objects from ``build_container``; nothing else
constructs adapters from settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

__all__ = ["Container", "build_container", "build_locator"]


@dataclass
class Container:
    settings: Settings
    locator: Locator
    trusted_proxies: TrustedProxies
    groups: GroupRegistry
    clock: Clock = field(default_factory=SystemClock)


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


def build_container(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    try:
        trusted = TrustedProxies(settings.trust_proxy)
        groups = GroupRegistry(settings.groups)
    except InvalidInput as exc:
        raise ConfigurationError(exc.message) from None
    return Container(
        settings=settings,
        locator=build_locator(settings),
        trusted_proxies=trusted,
        groups=groups,
        clock=clock or SystemClock(),
    )
