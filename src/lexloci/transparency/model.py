"""The transparency report's figures, banding, and its JSON document.

Invariants:

- **One fixed shape.** Every bucket (each requesting country, ``unattributed`` and ``totals``)
  has the same figures (``FIGURE_PATHS``), zeros included, in the same order; only the keys of
  ``by_territory`` maps, and request types or reasons unknown to this version, are added, in
  sorted order after the fixed ones. The JSON schema in docs/transparency.md (shipped as
  ``report.schema.json``) describes exactly this document.
- **Counts are exact integers until rendering.** ``Figures`` hold the numbers computed from the
  log; banding is applied only when the document is built, so verification recomputes the exact
  numbers and bands them with the report's own threshold before comparing.
- **Banding** with threshold ``N`` shows every count from 1 to N-1 as the string ``"1-(N-1)"``;
  0 and counts of N or more are shown exactly. It applies to every count alike, totals included.
- **The digest** of a report is the SHA-256 of the canonical JSON encoding (the audit log's,
  ``lexloci.audit.canonical_json``) of its document: independent of indentation and key order in
  a file, and the value the ``report:transparency:generated`` audit entry records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from lexloci.audit import Checkpoint, JsonValue, canonical_json, format_timestamp
from lexloci.cases.model import LegalProcess, RejectionReason, RequestType
from lexloci.transparency.period import Period

__all__ = [
    "BUCKET_SECTIONS",
    "DOCUMENT_SCHEMA",
    "FIGURE_PATHS",
    "MAX_BAND_THRESHOLD",
    "METHOD",
    "UNKNOWN_TERRITORY",
    "Banding",
    "Figures",
    "Path",
    "Shown",
    "TransparencyReport",
    "document_digest",
    "flatten",
    "nest",
]

DOCUMENT_SCHEMA: Final = "lexloci.transparency/1"
MAX_BAND_THRESHOLD: Final = 1_000_000
UNKNOWN_TERRITORY: Final = "unknown"  # by_territory key for participants with no territory (I6)
#: The three parts of a document that hold figures: what verification compares.
BUCKET_SECTIONS: Final = ("totals", "countries", "unattributed")

Path: TypeAlias = tuple[str, ...]
Shown: TypeAlias = int | str  # a count, or its band such as "1-9"


def _fixed_paths() -> tuple[Path, ...]:
    paths: list[Path] = [("requests", "received"), ("requests", "with_non_disclosure_order")]
    paths += [("requests", "by_type", t.value) for t in RequestType]
    paths += [("requests", "by_legal_process", p.value) for p in LegalProcess]
    paths += [("targets", kind) for kind in ("accounts", "meetings", "series")]
    paths += [
        ("outcomes", name)
        for name in ("decided", "complied", "partially", "rejected", "appealed", "pending_at_end")
    ]
    paths += [("actions", name) for name in ("complied", "partially", "rejected", "converted")]
    paths += [("rejection_reasons", r.value) for r in RejectionReason]
    paths += [("participants", "blocked", "total"), ("participants", "removed", "total")]
    paths += [("accounts", name) for name in ("suspended", "reinstated", "action_refused")]
    paths += [("disclosures", name) for name in ("packages", "records", "accounts")]
    paths += [("non_disclosure_orders", "in_force_at_end")]
    paths += [
        ("restrictions", name) for name in ("activated", "lifted", "expired", "active_at_end")
    ]
    return tuple(paths)


#: Every figure each bucket always has, in document order.
FIGURE_PATHS: Final = _fixed_paths()
_FIXED: Final = frozenset(FIGURE_PATHS)
# Where open-ended keys may appear: after the fixed keys of the same map, sorted.
_OPEN_MAPS: Final = (
    ("requests", "by_type"),
    ("requests", "by_legal_process"),
    ("rejection_reasons",),
    ("participants", "blocked", "by_territory"),
    ("participants", "removed", "by_territory"),
)


def _insertion_points() -> dict[Path, Path]:
    """For each open map, the fixed figure its extra keys follow: the map's last fixed key, or
    for a ``by_territory`` map (which has no fixed keys) the total beside it."""
    points: dict[Path, Path] = {}
    for parent in _OPEN_MAPS:
        if parent[-1] == "by_territory":
            points[(*parent[:-1], "total")] = parent
        else:
            points[[p for p in FIGURE_PATHS if p[:-1] == parent][-1]] = parent
    return points


_INSERT_AFTER: Final = _insertion_points()
_TERRITORY_MAPS: Final = tuple(m for m in _OPEN_MAPS if m[-1] == "by_territory")


@dataclass(frozen=True, slots=True)
class Figures:
    """The exact counts of one bucket, keyed by path, in document order."""

    values: dict[Path, int]

    @classmethod
    def complete(cls, counted: Mapping[Path, int]) -> Figures:
        """Every fixed figure (0 when not counted), with the open-ended keys in their maps."""
        extra: dict[Path, list[Path]] = {}
        for path in sorted(p for p in counted if p not in _FIXED):
            if path[:-1] not in _OPEN_MAPS:
                raise ValueError(f"not a report figure: {'.'.join(path)}")
            extra.setdefault(path[:-1], []).append(path)
        ordered: dict[Path, int] = {}
        for path in FIGURE_PATHS:
            ordered[path] = counted.get(path, 0)
            for extra_path in extra.get(_INSERT_AFTER.get(path, ()), ()):
                ordered[extra_path] = counted[extra_path]
        return cls(ordered)

    def get(self, *path: str) -> int:
        return self.values.get(path, 0)

    def is_empty(self) -> bool:
        return not any(self.values.values())

    def shown(self, banding: Banding | None) -> dict[str, JsonValue]:
        """The nested JSON object of these figures, banded if asked.

        ``by_territory`` maps are always present, ``{}`` when nobody was counted, so that the
        document has the same shape whatever happened.
        """
        items: Iterable[tuple[Path, JsonValue]] = self.values.items()
        if banding is not None:
            items = ((path, banding.show(value)) for path, value in self.values.items())
        document = nest(items)
        for parent in _TERRITORY_MAPS:
            node = document
            for key in parent[:-1]:
                child = node[key]
                assert isinstance(child, dict)  # the fixed totals beside each map exist
                node = child
            node.setdefault(parent[-1], {})
        return document


@dataclass(frozen=True, slots=True)
class Banding:
    """Small counts shown as a band: with threshold 10, counts 1-9 become ``"1-9"``."""

    threshold: int

    def __post_init__(self) -> None:
        if not 2 <= self.threshold <= MAX_BAND_THRESHOLD:
            raise ValueError(f"a band threshold is from 2 to {MAX_BAND_THRESHOLD}")

    @property
    def band(self) -> str:
        return f"1-{self.threshold - 1}"

    def show(self, value: int) -> Shown:
        if 0 < value < self.threshold:
            return self.band
        return value

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "threshold": self.threshold,
            "band": self.band,
            "rule": f"counts from 1 to {self.threshold - 1} are shown as {self.band!r}; "
            f"0 and counts of {self.threshold} or more are exact",
        }


def nest(items: Iterable[tuple[Path, JsonValue]]) -> dict[str, JsonValue]:
    """Paths and leaves as nested objects, keeping the order the paths come in."""
    root: dict[str, JsonValue] = {}
    for path, value in items:
        node = root
        for key in path[:-1]:
            child = node.setdefault(key, {})
            assert isinstance(child, dict)  # a figure path never passes through a leaf
            node = child
        node[path[-1]] = value
    return root


def flatten(value: object, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of nested objects with its path, in document order (an empty object is a
    leaf too, so a report that lost a whole map still shows where)."""
    if isinstance(value, Mapping) and value:
        for key, child in value.items():
            yield from flatten(child, (*prefix, key))
    else:
        yield prefix, value


METHOD: Final = (
    "Computed only from the hash-chained audit log, from its entries 1 to the cited "
    "checkpoint's size; the checkpoint's root hash is the chain hash of that last entry.",
    "An event belongs to the period when the time of its audit entry is inside it "
    "(start included, end excluded, UTC). A request counts as received when its intake was "
    "recorded (case:case:received), not by the received_at date typed in at intake, so the "
    "figures of a period that has ended never change as the log grows.",
    "Each request is attributed to its authority's requesting country. Blocks at join and "
    "removals from live sessions are attributed through the cases they name to those cases' "
    "countries; one that names cases of several countries counts once for each, and once in "
    "the totals. One whose cases are not in the log is counted as unattributed.",
    "Outcomes count the decisions recorded in the period: complied (every requested action "
    "approved as asked), partially (some approved, refused or converted) and rejected. Action "
    "figures and rejection reasons count each requested action on each target; an action "
    "listing several reasons counts once for each reason.",
    "Targets count the accounts, meetings and meeting series named by the requests received "
    "in the period (a meeting named by an invitation URL counts as a meeting).",
    "Accounts count distinct accounts suspended, reinstated, or whose suspension was refused "
    "(their holder is outside the requesting jurisdiction) in the period. Disclosures count "
    "the packages prepared, the participant records in them and the host accounts concerned.",
    "Non-disclosure orders in force, restrictions active and requests pending are states at "
    "the end of the period, or at the time of the last entry in the checkpoint while the "
    "period has not ended (period.as_of).",
    "Participants are counted by the territory recorded in the entry itself (unknown when no "
    "location could be resolved).",
)


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    """A report as computed: exact figures per bucket, and what they were computed from."""

    period: Period
    checkpoint: Checkpoint
    as_of: dt.datetime
    totals: Figures
    countries: dict[str, Figures]
    unattributed: Figures
    generated_at: dt.datetime
    banding: Banding | None = None
    title: str = field(default="Transparency report")

    @property
    def complete(self) -> bool:
        """Whether the period had ended when the report was generated."""
        return self.generated_at >= self.period.end

    def document(self) -> dict[str, JsonValue]:
        """The JSON document (banded when the report has a threshold)."""
        period: dict[str, JsonValue] = {
            **self.period.to_dict(),
            "as_of": format_timestamp(self.as_of),
            "complete": self.complete,
        }
        return {
            "schema": DOCUMENT_SCHEMA,
            "title": self.title,
            "period": period,
            "checkpoint": self.checkpoint.to_dict(),
            "generated_at": format_timestamp(self.generated_at),
            "banding": self.banding.to_dict() if self.banding is not None else None,
            "totals": self.totals.shown(self.banding),
            "countries": {
                code: figures.shown(self.banding) for code, figures in self.countries.items()
            },
            "unattributed": self.unattributed.shown(self.banding),
            "method": list(METHOD),
        }


def document_digest(document: Mapping[str, JsonValue]) -> str:
    """``sha256:<hex>`` of the document's canonical JSON encoding."""
    return "sha256:" + hashlib.sha256(canonical_json(dict(document))).hexdigest()
