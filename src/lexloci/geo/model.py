"""Locations are evidence, not facts (invariant I6).

A ``Location`` answers "where is this participant believed to be?" and carries everything that
answer rests on: one ``SignalLocation`` per signal (client address, media-path address, dial-in
phone number), each with the sources that answered, their data versions, the territories they
pointed to, anonymizer flags, and the reason when nothing could be resolved.

Rules for one signal with several sources (IP databases):

- every source that answers is recorded, in priority order (operator database first, the
  embedded RIR data last);
- if all answering sources agree, that is the signal's ``territory``;
- if they disagree, ``territory`` is None, ``candidates`` holds every territory named and
  ``reason`` is ``sources_disagree``: the disagreement is kept, never silently resolved. The
  first source's answer remains available as ``estimate`` for display.

How the signals of one participant combine for a restriction is the policy engine's rule
(``lexloci.policy``); ``Location.territory`` is only the best single estimate for rosters and
reports: the first network signal with a territory (media path, then client address), else —
only when no network signal named any territory — the phone number.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Evidence",
    "Flag",
    "Location",
    "Reason",
    "Signal",
    "SignalLocation",
    "SourceAnswer",
]


class Signal(enum.StrEnum):
    CLIENT_IP = "client_ip"
    MEDIA_IP = "media_ip"
    PHONE = "phone"

    @property
    def is_network(self) -> bool:
        return self is not Signal.PHONE


class Flag(enum.StrEnum):
    """Anonymizer flags from an operator-supplied source."""

    TOR = "tor"
    VPN = "vpn"
    PROXY = "proxy"
    HOSTING = "hosting"


class Reason(enum.StrEnum):
    """Why a signal (or a whole location) has no single territory."""

    NO_EVIDENCE = "no_evidence"
    NON_GLOBAL_ADDRESS = "non_global_address"
    NO_SOURCE_ANSWERED = "no_source_answered"
    NOT_A_TERRITORY = "not_a_territory"
    SOURCES_DISAGREE = "sources_disagree"
    SHARED_CALLING_CODE = "shared_calling_code"
    CLIENT_ADDRESS_UNKNOWN = "client_address_unknown"


@dataclass(frozen=True, slots=True)
class SourceAnswer:
    """One source's answer: which database, which data version, which territory."""

    source: str
    version: str
    territory: str | None
    subdivision: str | None = None
    raw: str | None = None  # the source's own code when it was not a territory (EU, AP, UK...)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceAnswer:
        return cls(
            str(data["source"]),
            str(data["version"]),
            data.get("territory"),
            data.get("subdivision"),
            data.get("raw"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "version": self.version,
            "territory": self.territory,
        }
        if self.subdivision is not None:
            out["subdivision"] = self.subdivision
        if self.raw is not None:
            out["raw"] = self.raw
        return out


@dataclass(frozen=True, slots=True)
class SignalLocation:
    """What one signal says about where a participant is."""

    signal: Signal
    territory: str | None
    candidates: frozenset[str] = frozenset()
    answers: tuple[SourceAnswer, ...] = ()
    flags: frozenset[Flag] = frozenset()
    subdivision: str | None = None
    reason: Reason | None = None
    detail: str | None = None

    @property
    def estimate(self) -> str | None:
        """The territory to show: the consensus, else the highest-priority source's answer."""
        if self.territory is not None:
            return self.territory
        for answer in self.answers:
            if answer.territory is not None:
                return answer.territory
        return None

    @property
    def disagreement(self) -> bool:
        return len(self.candidates) > 1 and self.reason is Reason.SOURCES_DISAGREE

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignalLocation:
        reason = data.get("reason")
        return cls(
            Signal(data["signal"]),
            data.get("territory"),
            frozenset(data.get("candidates", ())),
            tuple(SourceAnswer.from_dict(a) for a in data.get("sources", ())),
            frozenset(Flag(f) for f in data.get("flags", ())),
            data.get("subdivision"),
            Reason(reason) if reason else None,
            data.get("detail"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "signal": self.signal.value,
            "territory": self.territory,
            "candidates": sorted(self.candidates),
            "sources": [a.to_dict() for a in self.answers],
            "flags": sorted(f.value for f in self.flags),
        }
        if self.subdivision is not None:
            out["subdivision"] = self.subdivision
        if self.reason is not None:
            out["reason"] = self.reason.value
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class Location:
    """Where a participant is believed to be, with every piece of evidence for it."""

    territory: str | None
    signals: tuple[SignalLocation, ...] = ()
    subdivision: str | None = None
    reason: Reason | None = None

    @property
    def flags(self) -> frozenset[Flag]:
        out: frozenset[Flag] = frozenset()
        for s in self.signals:
            out |= s.flags
        return out

    @property
    def sources(self) -> tuple[SourceAnswer, ...]:
        return tuple(a for s in self.signals for a in s.answers)

    @property
    def disagreements(self) -> tuple[str, ...]:
        """Human-readable notes on every disagreement the evidence holds."""
        notes = []
        for s in self.signals:
            if s.disagreement:
                names = ", ".join(f"{a.source}={a.territory}" for a in s.answers)
                notes.append(f"{s.signal.value}: sources disagree ({names})")
        network = {s.territory for s in self.signals if s.signal.is_network and s.territory}
        if len(network) > 1:
            notes.append("network signals disagree: " + ", ".join(sorted(network)))
        return tuple(notes)

    def signal(self, kind: Signal) -> SignalLocation | None:
        for s in self.signals:
            if s.signal is kind:
                return s
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        """Rebuild a recorded snapshot (``to_dict``'s output); raises ValueError/KeyError."""
        reason = data.get("reason")
        return cls(
            data.get("territory"),
            tuple(SignalLocation.from_dict(s) for s in data.get("signals", ())),
            data.get("subdivision"),
            Reason(reason) if reason else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The evidence snapshot recorded with decisions and shown by ``locate``."""
        out: dict[str, Any] = {
            "territory": self.territory,
            "flags": sorted(f.value for f in self.flags),
            "sources": [
                {"signal": s.signal.value, **a.to_dict()} for s in self.signals for a in s.answers
            ],
            "signals": [s.to_dict() for s in self.signals],
            "disagreements": list(self.disagreements),
        }
        if self.subdivision is not None:
            out["subdivision"] = self.subdivision
        if self.reason is not None:
            out["reason"] = self.reason.value
        return out


@dataclass(frozen=True, slots=True)
class Evidence:
    """The raw signals known about a participant; ``Locator.locate`` turns them into a Location."""

    client_ip: str | None = None
    media_ip: str | None = None
    phone: str | None = None
