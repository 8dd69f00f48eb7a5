"""Where a participant is relative to a jurisdiction: the definition of "located inside" (I1).

A ``Location`` is evidence from up to three kinds of signal (client address, media-path address,
dial-in number), each possibly naming several candidate territories. This module turns that
evidence into one tri-state answer (``Containment``) per jurisdiction J. Invariant I1 ("nobody
located outside J is affected") is stated, implemented and tested in terms of this rule and no
other.

**Step 1 — one signal.** A signal's candidates are the territories its sources named (its
``candidates``, plus its ``territory`` if a hand-built signal left that out). Each candidate is
placed with ``Jurisdiction.contains``, passing the signal's subdivision for the candidate it
belongs to (a candidate that is itself a subdivision code is placed as that subdivision of its
country). Then the signal is

- INSIDE when it has candidates and every one of them is INSIDE J;
- OUTSIDE when it has candidates and every one of them is OUTSIDE J;
- UNCERTAIN otherwise: no candidates at all, sources that disagree across J's border (CN vs HK
  for J = CN), or a country-level answer when J names only some of that country's subdivisions
  (UA for J = UA-43: lexloci never guesses that it is inside).

**Step 2 — combining signals.** Network signals (client address, media-path address) outrank
the phone number, because caller ID can be withheld or spoofed and roaming phones keep their
home code.

1. If any network signal is INSIDE, the participant is INSIDE. A media path that terminates
   inside J means the person receives the meeting inside J, whatever the signalling address says.
2. Otherwise, if at least one network signal has candidates and every network signal that has
   candidates is OUTSIDE, the participant is OUTSIDE. Network signals without candidates
   (private addresses, sources that did not answer) neither help nor hurt.
3. Otherwise, if no network signal has candidates, the phone signal decides by the same two
   rules (INSIDE if it is INSIDE; OUTSIDE if it is OUTSIDE).
4. Everything else is UNCERTAIN: the restriction's ``unknown_location`` policy applies, and the
   decision says so (I6).

**Anonymizer flags** do not change the answer. A restriction with
``AnonymizerPolicy.DENY_IF_ESTIMATE_INSIDE`` may deny a *flagged* connection that this rule
leaves UNCERTAIN when its best single estimate (``best_estimate``) is INSIDE J; an OUTSIDE
answer is never overridden (see ``lexloci.policy.restriction``).

Everything here is a pure function of its arguments, so equal evidence always gets the same
answer; the engine relies on that to memoize answers per shared ``Location`` object.
"""

from __future__ import annotations

from collections.abc import Iterable

from lexloci.geo import Location, Signal, SignalLocation
from lexloci.jurisdictions import Containment, Jurisdiction, country_of, is_subdivision

__all__ = [
    "best_estimate",
    "candidates_of",
    "classify_location",
    "classify_signal",
    "estimate_inside",
    "location_keys",
    "names_any_candidate",
    "place_territory",
]

_INSIDE = Containment.INSIDE
_OUTSIDE = Containment.OUTSIDE
_UNCERTAIN = Containment.UNCERTAIN


def candidates_of(signal: SignalLocation) -> frozenset[str]:
    """The territories a signal names: its candidates, and its territory if missing from them."""
    territory = signal.territory
    if territory is None or territory in signal.candidates:
        return signal.candidates
    return signal.candidates | {territory}


def place_territory(
    jurisdiction: Jurisdiction, territory: str, subdivision: str | None = None
) -> Containment:
    """``Jurisdiction.contains``, also for a territory given as a subdivision code."""
    if is_subdivision(territory):
        # A candidate given as a subdivision code is that subdivision of its country, so
        # J = UA contains a candidate UA-43 (Jurisdiction.contains expects a country code).
        return jurisdiction.contains(country_of(territory), territory)
    return jurisdiction.contains(territory, subdivision)


def classify_signal(signal: SignalLocation, jurisdiction: Jurisdiction) -> Containment:
    """Step 1 of the rule: one signal against J."""
    candidates = candidates_of(signal)
    if not candidates:
        return _UNCERTAIN
    inside = outside = 0
    for territory in candidates:
        sub = signal.subdivision if territory == signal.territory else None
        answer = place_territory(jurisdiction, territory, sub)
        if answer is _INSIDE:
            inside += 1
        elif answer is _OUTSIDE:
            outside += 1
    if inside == len(candidates):
        return _INSIDE
    if outside == len(candidates):
        return _OUTSIDE
    return _UNCERTAIN


def _combine(signals: Iterable[SignalLocation], jurisdiction: Jurisdiction) -> Containment | None:
    """One tier of step 2; None when no signal of the tier has candidates."""
    seen = False
    uncertain = False
    for signal in signals:
        if not candidates_of(signal):
            continue
        seen = True
        answer = classify_signal(signal, jurisdiction)
        if answer is _INSIDE:
            return _INSIDE
        if answer is _UNCERTAIN:
            uncertain = True
    if not seen:
        return None
    return _UNCERTAIN if uncertain else _OUTSIDE


def classify_location(location: Location, jurisdiction: Jurisdiction) -> Containment:
    """Step 2 of the rule: is this participant INSIDE, OUTSIDE or UNCERTAIN for J?"""
    signals = location.signals
    network = _combine((s for s in signals if s.signal is not Signal.PHONE), jurisdiction)
    if network is not None:
        return network
    phone = _combine((s for s in signals if s.signal is Signal.PHONE), jurisdiction)
    return _UNCERTAIN if phone is None else phone


def best_estimate(location: Location) -> tuple[str | None, str | None]:
    """The single most likely (territory, subdivision): what the anonymizer policy looks at.

    ``Location.territory`` when the geo layer set one (the first network signal whose sources
    agree, else an agreed phone territory); otherwise the first network signal's estimate (its
    highest-priority source's answer), else the phone signal's.
    """
    if location.territory is not None:
        return location.territory, location.subdivision
    ordered = sorted(location.signals, key=lambda s: s.signal is Signal.PHONE)
    for signal in ordered:
        estimate = signal.estimate
        if estimate is not None:
            sub = signal.subdivision if estimate == signal.territory else None
            return estimate, sub
    return None, None


def estimate_inside(location: Location, jurisdiction: Jurisdiction) -> bool:
    """Whether the best single estimate lies INSIDE J (never for an unknown estimate)."""
    territory, subdivision = best_estimate(location)
    if territory is None:
        return False
    return place_territory(jurisdiction, territory, subdivision) is _INSIDE


def names_any_candidate(location: Location) -> bool:
    """Whether any signal names a territory; a location naming none is UNCERTAIN for every J."""
    return any(candidates_of(signal) for signal in location.signals)


def location_keys(location: Location) -> frozenset[str]:
    """Every territory key a jurisdiction index must be probed with for this location.

    Completeness (tested): when the location names a candidate and ``classify_location`` is not
    OUTSIDE for J, or ``estimate_inside`` holds for J, one of these keys is a territory of J or
    the country of one of J's subdivisions. A location naming no candidate is UNCERTAIN for every
    J, so the engine evaluates every restriction in scope for it instead of probing keys.
    """
    keys: set[str] = set()
    for signal in location.signals:
        for territory in candidates_of(signal):
            keys.add(territory)
        if signal.subdivision is not None:
            keys.add(signal.subdivision)
    keys.update(t for t in best_estimate(location) if t is not None)
    keys.update([country_of(k) for k in keys if is_subdivision(k)])
    return frozenset(keys)
