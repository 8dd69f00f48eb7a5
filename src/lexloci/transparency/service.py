"""Generate reports and notices, and record each generation in the audit log.

Order of ``ReportService.transparency`` (the same for ``notice``):

1. take the log's checkpoint (``origin``, ``size``, ``root_hash``);
2. compute from entries 1..size only, and render;
3. append ``report:transparency:generated`` (``report:notice:exported``) with the period, the
   checkpoint, the format and the document's digest, in its own transaction, and only then
   hand the report out.

So a report never counts its own generation entry, and cites the log as it was before that
entry: re-verifying it later recomputes exactly what it was computed from. If the append fails,
the report is not handed out (I4: nothing is published without its record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from lexloci.audit import AuditLog, AuditTag, JsonValue
from lexloci.clock import Clock
from lexloci.transparency.computation import Progress, compute_report
from lexloci.transparency.model import Banding, TransparencyReport, document_digest
from lexloci.transparency.notices import PublicNotice, public_notice
from lexloci.transparency.period import Period
from lexloci.transparency.rendering import FORMATS, render

__all__ = ["GeneratedReport", "ReportService"]

TxT = TypeVar("TxT")


@dataclass(frozen=True, slots=True)
class GeneratedReport:
    report: TransparencyReport
    format: str
    content: str
    digest: str
    recorded_seq: int  # the report:transparency:generated entry


class ReportService(Generic[TxT]):
    """Reports over any ``AuditLog``; ``transaction()`` opens a write transaction of it
    (``engine.begin`` for ``SqlAuditLog``, ``log.transaction`` for ``InMemoryAuditLog``)."""

    def __init__(
        self,
        log: AuditLog[TxT],
        transaction: Callable[[], AbstractContextManager[TxT]],
        clock: Clock,
    ) -> None:
        self.log = log
        self._transaction = transaction
        self.clock = clock

    def transparency(
        self,
        period: Period,
        *,
        actor: str,
        fmt: str = "json",
        banding: Banding | None = None,
        progress: Progress | None = None,
    ) -> GeneratedReport:
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
        checkpoint = self.log.checkpoint()
        report = compute_report(
            self.log,
            period,
            checkpoint,
            generated_at=self.clock.now(),
            banding=banding,
            progress=progress,
        )
        content = render(report, fmt)
        digest = document_digest(report.document())
        payload: dict[str, JsonValue] = {
            "period": {
                "label": period.label,
                "start": period.to_dict()["start"],
                "end": period.to_dict()["end"],
            },
            "checkpoint": checkpoint.to_dict(),
            "banding": banding.threshold if banding is not None else None,
            "format": fmt,
            "digest": digest,
        }
        with self._transaction() as tx:
            entry = self.log.append(tx, AuditTag.REPORT_TRANSPARENCY_GENERATED, actor, payload)
        return GeneratedReport(report, fmt, content, digest, entry.seq)

    def notice(self, case_id: str, *, actor: str, now: dt.datetime | None = None) -> PublicNotice:
        """The public notice of a case (``NotFound`` for a case the log does not hold)."""
        checkpoint = self.log.checkpoint()
        notice = public_notice(
            self.log, case_id, checkpoint=checkpoint, now=now or self.clock.now()
        )
        payload: dict[str, JsonValue] = {
            "case_id": case_id,
            "status": "withheld" if notice.withheld else "published",
            "checkpoint": checkpoint.to_dict(),
            "digest": notice.digest,
        }
        with self._transaction() as tx:
            self.log.append(tx, AuditTag.REPORT_NOTICE_EXPORTED, actor, payload)
        return notice
