"""Generating a report or a notice records it in the audit log, after computing."""

from __future__ import annotations

import pytest

from lexloci.audit import AuditTag, InMemoryAuditLog
from lexloci.clock import FixedClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.transparency import (
    Banding,
    ReportService,
    compute_report,
    document_digest,
    parse_period,
)
from tests.unit.transparency.scripted import Script, at

H2 = parse_period("2026-H2")


def test_a_report_cites_the_log_as_it_was_before_its_own_generation_entry(
    log_copy: SqlAuditLog, script: Script
) -> None:
    service = ReportService(log_copy, log_copy.engine.begin, script.clock)
    generated = service.transparency(H2, actor="auditor:dave", fmt="html", banding=Banding(10))
    checkpoint = generated.report.checkpoint
    assert generated.recorded_seq == checkpoint.size + 1
    (entry,) = log_copy.iter_entries(after_seq=checkpoint.size)
    assert entry.tag == AuditTag.REPORT_TRANSPARENCY_GENERATED
    assert entry.actor == "auditor:dave"
    assert entry.payload == {
        "period": {
            "label": "2026-H2",
            "start": "2026-07-01T00:00:00.000000Z",
            "end": "2027-01-01T00:00:00.000000Z",
        },
        "checkpoint": checkpoint.to_dict(),
        "banding": 10,
        "format": "html",
        "digest": generated.digest,
    }
    assert generated.digest == document_digest(generated.report.document())
    # Computing again now, one entry later, counts nothing new: reports count no report.
    later = compute_report(log_copy, H2, log_copy.checkpoint(), generated_at=script.clock.now())
    assert later.totals == generated.report.totals


def test_exporting_a_notice_is_recorded_with_its_digest(
    log_copy: SqlAuditLog, script: Script
) -> None:
    service = ReportService(log_copy, log_copy.engine.begin, FixedClock(at(2027, 2, 1)))
    before = log_copy.checkpoint()
    notice = service.notice(script.cases["E"], actor="admin:root")
    assert notice.withheld
    (entry,) = log_copy.iter_entries(after_seq=before.size)
    assert entry.tag == AuditTag.REPORT_NOTICE_EXPORTED
    assert entry.payload == {
        "case_id": script.cases["E"],
        "status": "withheld",
        "checkpoint": before.to_dict(),
        "digest": notice.digest,
    }


def test_the_service_works_on_any_audit_log() -> None:
    clock = FixedClock(at(2026, 8, 1))
    log = InMemoryAuditLog(clock)
    service = ReportService(log, log.transaction, clock)
    generated = service.transparency(H2, actor="test:auditor", fmt="csv")
    assert generated.recorded_seq == 1
    assert generated.report.checkpoint.size == 0
    assert generated.content.startswith("period,checkpoint_origin,")


def test_an_unknown_format_is_refused_before_anything_is_recorded() -> None:
    clock = FixedClock(at(2026, 8, 1))
    log = InMemoryAuditLog(clock)
    with pytest.raises(ValueError, match="unknown report format"):
        ReportService(log, log.transaction, clock).transparency(H2, actor="x:y", fmt="pdf")
    assert log.checkpoint().size == 0
