"""Verify a published report against the audit log it cites.

``verify_report`` answers one of three ways, checking in this order and stopping at the first
failure:

1. ``log_mismatch``: the log is not the one the report was computed from: another origin, or
   entries 1..size no longer hash to the cited root (the whole chain up to the checkpoint is
   recomputed, so an edited entry anywhere before it is named, as is a log cut short);
2. ``figure_differs``: the figures recomputed from entries 1..size for the report's own period,
   banded with the report's own threshold, differ from the report's; the first difference in
   document order is named by its path (``countries.CN.requests.by_type.user_data``), with
   both values. ``period.as_of`` is compared first, then ``totals``, ``countries`` and
   ``unattributed``; a country present on one side only is a difference too;
3. ``confirmed``: every figure matches.

What the report states and verification takes as given: the period (its label must name its
bounds), the checkpoint, the band threshold and the generation time. What it does not check:
the free text (title, method). For those, and as a receipt, it looks up the
``report:transparency:generated`` entry recorded after the checkpoint with this document's
digest: a report edited in any way, figures or text, has no such entry.

Input that is not a report (not JSON, another schema, missing or malformed period, checkpoint
or banding) raises ``InvalidInput``: the CLI exits 2 on it, not 1.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lexloci.audit import (
    AuditTag,
    Checkpoint,
    JsonValue,
    VerifyResult,
    VerifyStatus,
    parse_timestamp,
)
from lexloci.errors import InvalidInput
from lexloci.transparency.computation import EntrySource, Progress, compute_report
from lexloci.transparency.model import (
    BUCKET_SECTIONS,
    DOCUMENT_SCHEMA,
    Banding,
    Path,
    document_digest,
)
from lexloci.transparency.period import Period

__all__ = [
    "EMBEDDED_REPORT_ID",
    "Difference",
    "ReportVerification",
    "StatedReport",
    "Verdict",
    "first_difference",
    "read_report",
    "verify_report",
]

#: The id of the ``<script type="application/json">`` element an HTML report embeds itself in.
EMBEDDED_REPORT_ID: Final = "lexloci-report"
_EMBEDDED = re.compile(
    r'<script type="application/json" id="' + EMBEDDED_REPORT_ID + r'">(.*?)</script>', re.DOTALL
)


class Verdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    FIGURE_DIFFERS = "figure_differs"
    LOG_MISMATCH = "log_mismatch"


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Difference:
    """The first figure that differs: where, what the report says, what the log gives."""

    path: Path
    reported: JsonValue | _Missing
    recomputed: JsonValue | _Missing

    @property
    def name(self) -> str:
        return ".".join(self.path)

    def __str__(self) -> str:
        if isinstance(self.reported, _Missing):
            return f"{self.name}: not in the report; the log gives {_show(self.recomputed)}"
        if isinstance(self.recomputed, _Missing):
            return (
                f"{self.name}: the report says {_show(self.reported)}; the log has no such figure"
            )
        return (
            f"{self.name}: the report says {_show(self.reported)}, "
            f"the log gives {_show(self.recomputed)}"
        )


def _show(value: JsonValue | _Missing) -> str:
    if isinstance(value, _Missing):
        return "nothing"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class StatedReport:
    """A report document as read, with what it says it was computed from."""

    document: dict[str, Any]
    period: Period
    checkpoint: Checkpoint
    banding: Banding | None
    generated_at: dt.datetime

    @property
    def digest(self) -> str:
        return document_digest(self.document)


@dataclass(frozen=True, slots=True)
class ReportVerification:
    verdict: Verdict
    checkpoint: Checkpoint
    figures_checked: int = 0
    difference: Difference | None = None
    problem: str | None = None  # why the log does not match, for ``log_mismatch``
    chain: VerifyResult | None = None
    recorded_seq: int | None = None  # the report:transparency:generated entry with its digest


def _extract_document(text: str) -> Any:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        match = _EMBEDDED.search(text)
        if match is None:
            raise InvalidInput(
                "not a report: neither JSON nor an HTML report with its embedded JSON"
            )
        stripped = match.group(1)
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the report is not valid JSON: {exc}") from None


def read_report(text: str) -> StatedReport:
    """Parse a JSON report, or the JSON an HTML report embeds; ``InvalidInput`` if it is not
    a lexloci transparency report."""
    document = _extract_document(text)
    if not isinstance(document, dict) or document.get("schema") != DOCUMENT_SCHEMA:
        raise InvalidInput(f"not a lexloci transparency report (schema {DOCUMENT_SCHEMA!r})")
    period_data = document.get("period")
    if not isinstance(period_data, dict):
        raise InvalidInput("the report has no period")
    try:
        label = period_data["label"]
        start = parse_timestamp(period_data["start"])
        end = parse_timestamp(period_data["end"])
        if not isinstance(label, str):
            raise TypeError("the period label is not a string")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the report's period is malformed: {exc}") from None
    period = Period.from_label_and_bounds(label, start, end)
    checkpoint_data = document.get("checkpoint")
    if not isinstance(checkpoint_data, dict):
        raise InvalidInput("the report cites no checkpoint")
    try:
        checkpoint = Checkpoint.from_dict(checkpoint_data)
    except ValueError as exc:
        raise InvalidInput(f"the report's checkpoint is malformed: {exc}") from None
    banding_data = document.get("banding")
    banding = None
    if banding_data is not None:
        threshold = banding_data.get("threshold") if isinstance(banding_data, dict) else None
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise InvalidInput("the report's banding has no integer threshold")
        try:
            banding = Banding(threshold)
        except ValueError as exc:
            raise InvalidInput(f"the report's banding is malformed: {exc}") from None
    try:
        generated_at = parse_timestamp(document["generated_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the report's generated_at is malformed: {exc}") from None
    for section in BUCKET_SECTIONS:
        if not isinstance(document.get(section), dict):
            raise InvalidInput(f"the report has no {section!r} object")
    return StatedReport(document, period, checkpoint, banding, generated_at)


def first_difference(
    reported: Any, recomputed: JsonValue, path: Path = ()
) -> tuple[Difference | None, int]:
    """The first difference in ``recomputed``'s order (then keys only the report has), and
    how many leaves matched before it."""
    if isinstance(recomputed, dict) and isinstance(reported, dict):
        checked = 0
        for key, child in recomputed.items():
            if key not in reported:
                return Difference((*path, key), MISSING, child), checked
            found, matched = first_difference(reported[key], child, (*path, key))
            checked += matched
            if found is not None:
                return found, checked
        for key, value in reported.items():
            if key not in recomputed:
                return Difference((*path, key), value, MISSING), checked
        return None, checked
    # type() as well as ==: in Python True == 1, and a report saying true is not saying 1.
    if type(reported) is type(recomputed) and reported == recomputed:
        return None, 1
    return Difference(path, reported, recomputed), 0


def _recorded_generation(source: EntrySource, stated: StatedReport) -> int | None:
    digest = stated.digest
    for entry in source.iter_entries(
        after_seq=stated.checkpoint.size, tags=(AuditTag.REPORT_TRANSPARENCY_GENERATED.value,)
    ):
        if entry.payload.get("digest") == digest:
            return entry.seq
    return None


def verify_report(
    stated: StatedReport,
    source: EntrySource,
    *,
    origin: str,
    chain_check: Callable[[Checkpoint], VerifyResult],
    progress: Progress | None = None,
) -> ReportVerification:
    """Check ``stated`` against the log (see the module docstring for the order).

    ``chain_check(checkpoint)`` must verify the log's entries 1..checkpoint.size against the
    checkpoint (``SqlAuditLog.verify(until_seq=..., checkpoints=[...])``, or
    ``lexloci.audit.verify`` over ``iter_records``).
    """
    checkpoint = stated.checkpoint
    if checkpoint.origin != origin:
        problem = f"the report cites the log {checkpoint.origin!r}; this log is {origin!r}"
        return ReportVerification(Verdict.LOG_MISMATCH, checkpoint, problem=problem)
    chain = chain_check(checkpoint)
    if chain.status is VerifyStatus.BROKEN:
        problem = str(chain.breakage)
        return ReportVerification(Verdict.LOG_MISMATCH, checkpoint, problem=problem, chain=chain)
    recomputed = compute_report(
        source,
        stated.period,
        checkpoint,
        generated_at=stated.generated_at,
        banding=stated.banding,
        progress=progress,
    ).document()
    expected_period = recomputed["period"]
    assert isinstance(expected_period, Mapping)  # the document always has a period object
    reported_as_of = stated.document["period"].get("as_of", MISSING)
    found, checked = first_difference(reported_as_of, expected_period["as_of"], ("period", "as_of"))
    for section in BUCKET_SECTIONS:
        if found is not None:
            break
        found, matched = first_difference(stated.document[section], recomputed[section], (section,))
        checked += matched
    recorded = _recorded_generation(source, stated)
    if found is not None:
        return ReportVerification(
            Verdict.FIGURE_DIFFERS, checkpoint, checked, found, chain=chain, recorded_seq=recorded
        )
    return ReportVerification(
        Verdict.CONFIRMED, checkpoint, checked, chain=chain, recorded_seq=recorded
    )
