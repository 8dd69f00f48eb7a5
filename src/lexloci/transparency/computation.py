"""Compute a transparency report from the audit log alone, at a checkpoint.

Evaluation, in this order (each step reads one or a few tags through the log's tag index, in
seq order, and never an entry after the checkpoint's size):

1. the entry at the checkpoint's size gives ``as_of``: the period's end, or the time of that
   entry while the period has not ended (states "at the end" are states at ``as_of``);
2. ``case:case:received`` entries (all of them, whenever recorded) give each case's requesting
   country and non-disclosure order; those recorded in the period count as requests received;
3. decisions, appeals, conversions, account actions, disclosures and restriction changes are
   counted when recorded in the period, for the case's country;
4. ``meeting:participant:join_denied`` and ``meeting:participant:removed`` entries recorded in
   the period count per territory, for the countries of the cases they name; so does each
   order inside a ``platform:orders:issued`` entry recorded in the period, as the removal it
   stands for (``lexloci.audit.removals``);
5. states at ``as_of``: requests received but not decided, orders in force, restrictions
   activated and neither lifted nor expired (by entries recorded before the period's end) and
   valid at ``as_of``.

Invariants:

- **Only the log.** Nothing but entries 1..checkpoint.size is read, so anyone with the log
  (or an export of it) gets the same numbers; ``verify_report`` relies on exactly that.
- **Placement by the entry's time.** An entry is in the period when ``start <= at < end``;
  the payload's own dates (``received_at``) never move an event between periods. With a clock
  that does not go back, a period that has ended gets the same figures at every later
  checkpoint.
- **Each event once per bucket.** An event counts once in the totals and once for each distinct
  country it is attributed to; an event whose cases are all unknown to the log counts as
  unattributed (it can only come from a restriction made outside the case workflow).
- ``join_allowed`` entries, by far the most numerous, are never read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from lexloci.audit import AuditEntry, AuditTag, Checkpoint, JsonValue
from lexloci.audit.removals import removal_groups
from lexloci.transparency.model import (
    UNKNOWN_TERRITORY,
    Banding,
    Figures,
    Path,
    TransparencyReport,
)
from lexloci.transparency.period import Period

__all__ = ["EntrySource", "Progress", "compute_report", "read_as_of"]

#: ``progress(tag, entries read so far)``: called every ``PROGRESS_EVERY`` entries and per tag.
Progress = Callable[[str, int], None]
PROGRESS_EVERY: Final = 10_000

TOTAL: Final = "\x00totals"  # bucket keys that can never collide with a country code
UNATTRIBUTED: Final = "\x00unattributed"

_DECISIONS: Final = {
    AuditTag.CASE_CASE_APPROVED.value: "complied",
    AuditTag.CASE_CASE_PARTIALLY_APPROVED.value: "partially",
    AuditTag.CASE_CASE_REJECTED.value: "rejected",
}
_TARGET_KINDS: Final = {"account": "accounts", "meeting": "meetings", "series": "series"}


class EntrySource(Protocol):
    """What the computation reads: ``AuditLog.iter_entries`` (``SqlAuditLog`` and
    ``InMemoryAuditLog`` both have it)."""

    def iter_entries(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        tags: Collection[str] | None = None,
    ) -> Iterator[AuditEntry]: ...


def _text(payload: Mapping[str, JsonValue], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def _texts(payload: Mapping[str, JsonValue], key: str) -> list[str]:
    value = payload.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _count(payload: Mapping[str, JsonValue], key: str) -> int:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _instant(text: str | None) -> dt.datetime | None:
    """A payload date-time (written with ``isoformat``), aware; None if absent or unreadable."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass
class _Restriction:
    country: str
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    ended: bool = False  # lifted or expired by an entry before the period's end


@dataclass
class _Tally:
    """Counts per bucket (country code, ``TOTAL`` or ``UNATTRIBUTED``) and path."""

    counts: dict[str, Counter[Path]] = field(default_factory=lambda: defaultdict(Counter))
    distinct: dict[str, dict[Path, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )

    def add(self, countries: Iterable[str], path: Path, n: int = 1) -> None:
        self.counts[TOTAL][path] += n
        for country in countries:
            self.counts[country][path] += n

    def add_distinct(self, countries: Iterable[str], path: Path, key: str) -> None:
        self.distinct[TOTAL][path].add(key)
        for country in countries:
            self.distinct[country][path].add(key)

    def figures(self, bucket: str) -> Figures:
        counted: Counter[Path] = Counter(self.counts.get(bucket, {}))
        for path, keys in self.distinct.get(bucket, {}).items():
            counted[path] += len(keys)
        return Figures.complete(counted)

    def buckets(self) -> set[str]:
        return set(self.counts) | set(self.distinct)


class _Reader:
    """Streams the entries of some tags up to the checkpoint, reporting progress."""

    def __init__(self, source: EntrySource, size: int, progress: Progress | None) -> None:
        self._source = source
        self._size = size
        self._progress = progress
        self.read = 0

    def entries(self, *tags: AuditTag) -> Iterator[AuditEntry]:
        if self._size == 0:
            return
        for tag in tags:
            # One tag per query: the (tag, seq) index then yields rows in seq order with no
            # sort, which is what keeps a million-entry log fast on SQLite.
            for entry in self._source.iter_entries(until_seq=self._size, tags=(tag.value,)):
                self.read += 1
                if self._progress is not None and self.read % PROGRESS_EVERY == 0:
                    self._progress(tag.value, self.read)
                yield entry
            if self._progress is not None:
                self._progress(tag.value, self.read)


def read_as_of(source: EntrySource, checkpoint: Checkpoint, period: Period) -> dt.datetime:
    """The moment states are reported at: the period's end, or, while the period has not ended
    by the checkpoint's last entry, that entry's time (the start, for a log with none yet)."""
    if checkpoint.size == 0:
        return period.start
    last = next(
        iter(source.iter_entries(after_seq=checkpoint.size - 1, until_seq=checkpoint.size)),
        None,
    )
    if last is None:  # the log no longer reaches the checkpoint; verification says so
        return period.start
    return min(period.end, max(period.start, last.at))


class _Computation:
    def __init__(self, reader: _Reader, period: Period, as_of: dt.datetime) -> None:
        self.reader = reader
        self.period = period
        self.as_of = as_of
        self.tally = _Tally()
        self.case_country: dict[str, str] = {}
        self.open_cases: dict[str, str] = {}  # received before the end, not yet decided
        self.restrictions: dict[str, _Restriction] = {}

    def in_period(self, entry: AuditEntry) -> bool:
        return self.period.start <= entry.at < self.period.end

    def before_end(self, entry: AuditEntry) -> bool:
        return entry.at < self.period.end

    def country_of(self, case_id: str | None, fallback: str | None = None) -> list[str]:
        country = self.case_country.get(case_id or "") or fallback
        return [country or UNATTRIBUTED]

    def countries_of(self, case_ids: Iterable[str]) -> list[str]:
        found = {self.case_country.get(case_id, UNATTRIBUTED) for case_id in case_ids}
        return sorted(found or {UNATTRIBUTED})

    def run(self) -> _Tally:
        self.requests()
        self.decisions()
        self.case_events()
        self.restriction_events()
        self.participants()
        self.states()
        return self.tally

    def requests(self) -> None:
        add = self.tally.add
        for entry in self.reader.entries(AuditTag.CASE_CASE_RECEIVED):
            payload = entry.payload
            case_id = _text(payload, "case_id") or f"seq:{entry.seq}"
            country = _text(payload, "requesting_country") or UNATTRIBUTED
            self.case_country[case_id] = country
            if not self.before_end(entry):
                continue
            self.open_cases[case_id] = country
            order_until = _instant(_text(payload, "non_disclosure_until"))
            if order_until is not None and order_until > self.as_of:
                add([country], ("non_disclosure_orders", "in_force_at_end"))
            if not self.in_period(entry):
                continue
            where = [country]
            add(where, ("requests", "received"))
            if order_until is not None:
                add(where, ("requests", "with_non_disclosure_order"))
            add(where, ("requests", "by_type", _text(payload, "request_type") or "unknown"))
            process = _text(payload, "legal_process") or "unknown"
            add(where, ("requests", "by_legal_process", process))
            targets = payload.get("targets")
            for target in targets if isinstance(targets, list) else []:
                kind = target.get("kind") if isinstance(target, dict) else None
                if isinstance(kind, str) and kind in _TARGET_KINDS:
                    add(where, ("targets", _TARGET_KINDS[kind]))

    def decisions(self) -> None:
        add = self.tally.add
        tags = (
            AuditTag.CASE_CASE_APPROVED,
            AuditTag.CASE_CASE_PARTIALLY_APPROVED,
            AuditTag.CASE_CASE_REJECTED,
        )
        for entry in self.reader.entries(*tags):
            if not self.before_end(entry):
                continue
            payload = entry.payload
            case_id = _text(payload, "case_id")
            self.open_cases.pop(case_id or "", None)
            if not self.in_period(entry):
                continue
            where = self.country_of(case_id, _text(payload, "requesting_country"))
            add(where, ("outcomes", "decided"))
            add(where, ("outcomes", _DECISIONS[entry.tag]))
            actions = payload.get("actions")
            for action in actions if isinstance(actions, list) else []:
                if not isinstance(action, dict):
                    continue
                outcome = _text(action, "outcome")
                if outcome in ("complied", "partially", "rejected"):
                    add(where, ("actions", outcome))
                for reason in dict.fromkeys(_texts(action, "reasons")):
                    add(where, ("rejection_reasons", reason))

    def case_events(self) -> None:
        tally = self.tally
        simple = {
            AuditTag.CASE_CASE_APPEALED.value: ("outcomes", "appealed"),
            AuditTag.CASE_ACTION_CONVERTED.value: ("actions", "converted"),
        }
        accounts = {
            AuditTag.CASE_ACCOUNT_SUSPENDED.value: ("accounts", "suspended"),
            AuditTag.CASE_ACCOUNT_REINSTATED.value: ("accounts", "reinstated"),
            AuditTag.CASE_ACCOUNT_ACTION_REFUSED.value: ("accounts", "action_refused"),
        }
        tags = (
            AuditTag.CASE_CASE_APPEALED,
            AuditTag.CASE_ACTION_CONVERTED,
            AuditTag.CASE_ACCOUNT_SUSPENDED,
            AuditTag.CASE_ACCOUNT_REINSTATED,
            AuditTag.CASE_ACCOUNT_ACTION_REFUSED,
            AuditTag.CASE_DISCLOSURE_CREATED,
        )
        for entry in self.reader.entries(*tags):
            if not self.in_period(entry):
                continue
            payload = entry.payload
            where = self.country_of(_text(payload, "case_id"))
            if entry.tag in simple:
                tally.add(where, simple[entry.tag])
            elif entry.tag in accounts:
                account = _text(payload, "account_id") or f"seq:{entry.seq}"
                tally.add_distinct(where, accounts[entry.tag], account)
            else:
                tally.add(where, ("disclosures", "packages"))
                tally.add(where, ("disclosures", "records"), _count(payload, "records"))
                tally.add(where, ("disclosures", "accounts"), _count(payload, "accounts"))

    def restriction_events(self) -> None:
        tally = self.tally
        tags = (
            AuditTag.POLICY_RESTRICTION_ACTIVATED,
            AuditTag.POLICY_RESTRICTION_LIFTED,
            AuditTag.POLICY_RESTRICTION_EXPIRED,
        )
        names = {
            AuditTag.POLICY_RESTRICTION_ACTIVATED.value: "activated",
            AuditTag.POLICY_RESTRICTION_LIFTED.value: "lifted",
            AuditTag.POLICY_RESTRICTION_EXPIRED.value: "expired",
        }
        for entry in self.reader.entries(*tags):
            if not self.before_end(entry):
                continue
            payload = entry.payload
            restriction_id = _text(payload, "restriction_id") or f"seq:{entry.seq}"
            (country,) = self.country_of(_text(payload, "case_id"))
            if self.in_period(entry):
                tally.add_distinct([country], ("restrictions", names[entry.tag]), restriction_id)
            held = self.restrictions.setdefault(restriction_id, _Restriction(country))
            if entry.tag == AuditTag.POLICY_RESTRICTION_ACTIVATED:
                # Entries are read in seq order, so a later activation (a new version) wins.
                held.valid_from = _instant(_text(payload, "valid_from"))
                held.valid_until = _instant(_text(payload, "valid_until"))
            else:
                held.ended = True

    def participants(self) -> None:
        kinds = {
            AuditTag.MEETING_PARTICIPANT_JOIN_DENIED.value: "blocked",
            AuditTag.MEETING_PARTICIPANT_REMOVED.value: "removed",
        }
        start, end = self.period.start, self.period.end
        # These are nearly all the entries a report reads: per entry, only one count of
        # (kind, cases, territory); attribution to countries happens once per distinct key.
        seen: Counter[tuple[str, tuple[str, ...], str]] = Counter()
        issued = AuditTag.PLATFORM_ORDERS_ISSUED.value
        for entry in self.reader.entries(
            AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
            AuditTag.MEETING_PARTICIPANT_REMOVED,
            AuditTag.PLATFORM_ORDERS_ISSUED,
        ):
            if not start <= entry.at < end:
                continue
            if entry.tag == issued:
                # Each order in it is one removal, exactly as its own entry would have been.
                for group, n in removal_groups(entry.payload):
                    seen[("removed", _cases(group), _territory(group))] += n
                continue
            payload = entry.payload
            seen[(kinds[entry.tag], _cases(payload), _territory(payload))] += 1
        add = self.tally.add
        for (kind, named, territory), n in seen.items():
            where = self.countries_of(named)
            add(where, ("participants", kind, "total"), n)
            add(where, ("participants", kind, "by_territory", territory), n)

    def states(self) -> None:
        add = self.tally.add
        for country in self.open_cases.values():
            add([country], ("outcomes", "pending_at_end"))
        for held in self.restrictions.values():
            if held.ended or held.valid_from is None or held.valid_until is None:
                continue
            if held.valid_from <= self.as_of < held.valid_until:
                add([held.country], ("restrictions", "active_at_end"))


def _cases(payload: Mapping[str, JsonValue]) -> tuple[str, ...]:
    """The cases a blocking or removal names (``case_ids``, else ``case_ref``)."""
    case_ids = _texts(payload, "case_ids")
    if not case_ids and (ref := _text(payload, "case_ref")):
        case_ids = [ref]
    return tuple(case_ids)


def _territory(payload: Mapping[str, JsonValue]) -> str:
    return _text(payload, "territory") or UNKNOWN_TERRITORY


def compute_report(
    source: EntrySource,
    period: Period,
    checkpoint: Checkpoint,
    *,
    generated_at: dt.datetime,
    banding: Banding | None = None,
    progress: Progress | None = None,
) -> TransparencyReport:
    """The report for ``period`` from entries 1..``checkpoint.size`` of ``source``."""
    as_of = read_as_of(source, checkpoint, period)
    reader = _Reader(source, checkpoint.size, progress)
    tally = _Computation(reader, period, as_of).run()
    countries = {
        bucket: tally.figures(bucket) for bucket in sorted(tally.buckets() - {TOTAL, UNATTRIBUTED})
    }
    return TransparencyReport(
        period=period,
        checkpoint=checkpoint,
        as_of=as_of,
        totals=tally.figures(TOTAL),
        countries={code: figures for code, figures in countries.items() if not figures.is_empty()},
        unattributed=tally.figures(UNATTRIBUTED),
        generated_at=generated_at,
        banding=banding,
    )
