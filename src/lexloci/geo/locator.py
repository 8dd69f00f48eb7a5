"""``Locator``: turn evidence (client address, media address, phone number) into a Location.

Evaluation order for one IP address:

1. parse and normalize it (``addresses.parse_ip``); malformed input raises ``InvalidAddress``;
2. a non-global address resolves to unknown with reason ``non_global_address``;
3. every configured ``IpCountrySource`` is asked, in priority order (operator mmdb first, then
   the embedded ``iptocc`` data); all answers are kept;
4. agreeing answers give the territory; disagreeing ones give no territory, every candidate and
   reason ``sources_disagree`` (see ``lexloci.geo.model``);
5. every ``AnonymizerSource`` adds its flags.

Fast path: with only the embedded source and no anonymizer source (the default), a global
address's Location depends only on the territory code, so one immutable Location per territory
is built once and shared. ``locate_ip`` then costs one ``iptocc`` call and a dict lookup; any
address iptocc has no answer for takes the full path above, so the result is the same either
way (a test compares both paths).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from iptocc import country_code as _iptocc_country_code

from lexloci.geo.addresses import ipv4_non_global_kind, non_global_kind, parse_ip
from lexloci.geo.model import (
    Evidence,
    Flag,
    Location,
    Reason,
    Signal,
    SignalLocation,
    SourceAnswer,
)
from lexloci.geo.phone import PhoneNumberSource
from lexloci.geo.sources import (
    AnonymizerSource,
    IpCountrySource,
    IptoccSource,
)
from lexloci.geo.sources import (
    territory_codes as _territory_codes,
)

__all__ = ["Locator"]

_NO_EVIDENCE = Location(None, reason=Reason.NO_EVIDENCE)
# Module constants: reading an Enum member costs ~0.2 µs on Python 3.11, too much per join.
_CLIENT_IP = Signal.CLIENT_IP
_AF_INET = socket.AF_INET
_inet_pton = socket.inet_pton


class Locator:
    def __init__(
        self,
        ip_sources: Sequence[IpCountrySource] | None = None,
        anonymizers: Sequence[AnonymizerSource] = (),
        phone: PhoneNumberSource | None = None,
    ) -> None:
        self.ip_sources: tuple[IpCountrySource, ...] = tuple(ip_sources or (IptoccSource(),))
        if not self.ip_sources:
            raise ValueError("a Locator needs at least one IP source")
        self.anonymizers = tuple(anonymizers)
        self.phone = phone or PhoneNumberSource()
        only = self.ip_sources[0]
        self._fast: IptoccSource | None = (
            only
            if len(self.ip_sources) == 1 and isinstance(only, IptoccSource) and not anonymizers
            else None
        )
        # One shared Location per territory for the fast path (see the module docstring).
        self._by_code: dict[str | None, Location] = {}
        if self._fast is not None:
            for code in sorted(_territory_codes()):
                answer = self._fast.answer_for(code)
                assert answer is not None
                sig = SignalLocation(Signal.CLIENT_IP, code, frozenset({code}), (answer,))
                self._by_code[code] = Location(code, (sig,))
        self._unregistered = self._combine((_from_answers(_CLIENT_IP, (), frozenset()),))
        self._snapshots: dict[str | None, dict[str, Any]] = {}

    def snapshot(self, location: Location) -> dict[str, Any]:
        """``location.to_dict()``, built once per territory for the fast path's shared
        Locations (every join records one, twice). The dict may be shared: read it, never
        change it."""
        territory = location.territory
        if self._by_code.get(territory) is not location:
            return location.to_dict()
        held = self._snapshots.get(territory)
        if held is None:
            held = self._snapshots[territory] = location.to_dict()
        return held

    # -- description ---------------------------------------------------------------------

    def describe(self) -> list[dict[str, str]]:
        """The sources in priority order, for /healthz and reports."""
        out = [{"kind": "ip", "name": s.name, "version": s.version} for s in self.ip_sources]
        out += [
            {"kind": "anonymizer", "name": a.name, "version": a.version} for a in self.anonymizers
        ]
        out.append({"kind": "phone", "name": self.phone.name, "version": self.phone.version})
        return out

    # -- IP addresses --------------------------------------------------------------------

    def locate_ip(self, raw: str, signal: Signal = _CLIENT_IP) -> Location:
        """Locate one IP address. Raises InvalidAddress for something that is not one."""
        table = self._by_code  # empty unless the fast path applies
        if table and signal is _CLIENT_IP:
            try:
                hit = table.get(_iptocc_country_code(raw))
            except TypeError:  # not a string: the full path says why
                hit = None
            return hit if hit is not None else self._fast_miss(raw)
        return self._combine((self._ip_signal(raw, signal),))

    def _fast_miss(self, raw: str) -> Location:
        """iptocc had no answer: an unregistered global IPv4 address shares one Location."""
        try:
            value = int.from_bytes(_inet_pton(_AF_INET, raw), "big")
        except (OSError, TypeError, ValueError):  # IPv6, or needs normalizing, or invalid
            return self._combine((self._ip_signal(raw, _CLIENT_IP),))
        if ipv4_non_global_kind(value) is not None:
            return self._combine((self._ip_signal(raw, _CLIENT_IP),))
        return self._unregistered

    def locate_ips(self, raws: Sequence[str]) -> list[Location]:
        """Locate many client addresses at once (same results as ``locate_ip`` on each)."""
        if self._fast is None:
            return [self.locate_ip(r) for r in raws]
        codes = _iptocc_country_code(raws)
        get = self._by_code.get
        out: list[Location | None] = [get(c) for c in codes]
        if None in out:
            miss = self._fast_miss
            for i, hit in enumerate(out):
                if hit is None:
                    out[i] = miss(raws[i])
        return out  # type: ignore[return-value]  # every None was replaced just above

    def _ip_signal(self, raw: str, signal: Signal) -> SignalLocation:
        address = parse_ip(raw)
        kind = non_global_kind(address)
        if kind is not None:
            return SignalLocation(
                signal,
                None,
                reason=Reason.NON_GLOBAL_ADDRESS,
                detail=f"{address} is a {kind} address",
            )
        text = str(address)
        answers = tuple(a for a in (s.lookup(text) for s in self.ip_sources) if a is not None)
        flags: frozenset[Flag] = frozenset()
        for anonymizer in self.anonymizers:
            flags |= anonymizer.flags(text)
        return _from_answers(signal, answers, flags)

    # -- phone numbers and whole evidence -----------------------------------------------

    def locate_phone(self, raw: str) -> Location:
        return self._combine((self.phone.locate(raw),))

    def locate(self, evidence: Evidence) -> Location:
        """Locate every signal of the evidence; raises InvalidInput for malformed ones."""
        if evidence.media_ip is None and evidence.phone is None and evidence.client_ip is not None:
            return self.locate_ip(evidence.client_ip)  # the join gate's usual case: fast path
        signals: list[SignalLocation] = []
        if evidence.media_ip is not None:
            signals.append(self._ip_signal(evidence.media_ip, Signal.MEDIA_IP))
        if evidence.client_ip is not None:
            signals.append(self._ip_signal(evidence.client_ip, Signal.CLIENT_IP))
        if evidence.phone is not None:
            signals.append(self.phone.locate(evidence.phone))
        if not signals:
            return _NO_EVIDENCE
        return self._combine(tuple(signals))

    def unknown_client(self, detail: str) -> Location:
        """The Location of a participant whose client address could not be determined."""
        return Location(
            None,
            (
                SignalLocation(
                    Signal.CLIENT_IP, None, reason=Reason.CLIENT_ADDRESS_UNKNOWN, detail=detail
                ),
            ),
            reason=Reason.CLIENT_ADDRESS_UNKNOWN,
        )

    def _combine(self, signals: tuple[SignalLocation, ...]) -> Location:
        best = next((s for s in signals if s.signal.is_network and s.territory), None)
        if best is None and not any(s.signal.is_network and s.candidates for s in signals):
            # A phone number is an estimate only when no network signal named any territory
            # (the same precedence the policy engine's rule gives it).
            best = next((s for s in signals if s.territory), None)
        if best is not None:
            location = Location(best.territory, signals, best.subdivision)
        else:
            location = Location(None, signals, reason=signals[0].reason)
        return location


def _from_answers(
    signal: Signal, answers: tuple[SourceAnswer, ...], flags: frozenset[Flag]
) -> SignalLocation:
    named = [a for a in answers if a.territory is not None]
    if not named:
        raws = ", ".join(f"{a.source}={a.raw}" for a in answers if a.raw)
        return SignalLocation(
            signal,
            None,
            answers=answers,
            flags=flags,
            reason=Reason.NOT_A_TERRITORY if raws else Reason.NO_SOURCE_ANSWERED,
            detail=f"no territory code in answers ({raws})" if raws else None,
        )
    candidates = frozenset(a.territory for a in named if a.territory is not None)
    if len(candidates) == 1:
        (territory,) = candidates
        subdivision = next((a.subdivision for a in named if a.subdivision), None)
        return SignalLocation(signal, territory, candidates, answers, flags, subdivision)
    return SignalLocation(signal, None, candidates, answers, flags, reason=Reason.SOURCES_DISAGREE)
