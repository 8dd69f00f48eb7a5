"""The report's figures: exact counts of a scripted half-year, period placement, attribution,
states at the end of a period, and banding."""

from __future__ import annotations

from typing import Any

import pytest

from lexloci.audit import AuditTag, Checkpoint, InMemoryAuditLog
from lexloci.clock import FixedClock
from lexloci.transparency import (
    Banding,
    Figures,
    TransparencyReport,
    compute_report,
    parse_period,
    period_between,
)
from tests.unit.transparency.scripted import Script, at

H2 = parse_period("2026-H2")


def report_for(script: Script, period: str = "2026-H2", **kwargs: Any) -> TransparencyReport:
    log = script.container.audit_log
    return compute_report(
        log, parse_period(period), log.checkpoint(), generated_at=script.clock.now(), **kwargs
    )


def nonzero(figures: Figures) -> dict[str, int]:
    return {".".join(path): value for path, value in figures.values.items() if value}


CN_H2 = {
    "requests.received": 5,  # B, C, D, H, J (A was received in H1)
    "requests.with_non_disclosure_order": 1,  # J
    "requests.by_type.user_data": 1,
    "requests.by_type.restrict_meeting": 1,
    "requests.by_type.restrict_account": 2,
    "requests.by_type.emergency": 1,
    "requests.by_legal_process.warrant": 1,
    "requests.by_legal_process.court_order": 2,
    "requests.by_legal_process.other": 2,
    "targets.accounts": 2,
    "targets.meetings": 4,
    "outcomes.decided": 6,  # A (received in H1) is decided in H2
    "outcomes.complied": 2,  # A, C
    "outcomes.partially": 3,  # B, D, H
    "outcomes.rejected": 1,  # J
    "outcomes.appealed": 1,  # C
    "actions.complied": 3,  # A, C, H's first meeting
    "actions.partially": 2,  # B (converted), D (part withheld)
    "actions.rejected": 2,  # H's second meeting, J
    "actions.converted": 1,  # B: suspend became a restriction on the account's meetings
    "rejection_reasons.outside_jurisdiction": 3,  # B, D, J
    "rejection_reasons.declined_by_reviewer": 1,  # H's second meeting
    "participants.blocked.total": 3,
    "participants.blocked.by_territory.CN": 3,
    "participants.removed.total": 2,
    "participants.removed.by_territory.CN": 2,
    "accounts.suspended": 1,  # the CN host (C)
    "accounts.reinstated": 1,  # on appeal
    "accounts.action_refused": 1,  # the US host (B)
    "disclosures.packages": 1,
    "disclosures.records": 2,
    "disclosures.accounts": 1,
    "restrictions.activated": 3,  # A, B, H
    "restrictions.lifted": 1,  # B
    "restrictions.expired": 1,  # A
    "restrictions.active_at_end": 1,  # H
}
DE_H2 = {
    "requests.received": 2,  # E, I
    "requests.with_non_disclosure_order": 1,  # E
    "requests.by_type.restrict_meeting": 2,
    "requests.by_legal_process.court_order": 1,
    "requests.by_legal_process.administrative_order": 1,
    "targets.meetings": 1,  # I names it by an invitation URL
    "targets.series": 1,
    "outcomes.decided": 1,
    "outcomes.complied": 1,
    "outcomes.pending_at_end": 1,  # I
    "actions.complied": 1,
    "participants.blocked.total": 1,
    "participants.blocked.by_territory.DE": 1,
    "non_disclosure_orders.in_force_at_end": 1,  # E, to 2027-03-01
    "restrictions.activated": 1,
    "restrictions.active_at_end": 1,
}
US_H2 = {
    "requests.received": 2,  # F, G
    "requests.by_type.user_data": 1,
    "requests.by_type.preservation": 1,
    "requests.by_legal_process.subpoena": 2,
    "targets.meetings": 2,
    "outcomes.decided": 2,
    "outcomes.complied": 1,
    "outcomes.rejected": 1,
    "actions.complied": 1,
    "actions.rejected": 1,
    "rejection_reasons.overbroad": 1,
}


def test_scripted_half_year_gives_exactly_the_expected_figures_per_country(script: Script) -> None:
    report = report_for(script)
    assert list(report.countries) == ["CN", "DE", "US"]
    assert nonzero(report.countries["CN"]) == CN_H2
    assert nonzero(report.countries["DE"]) == DE_H2
    assert nonzero(report.countries["US"]) == US_H2
    assert report.unattributed.is_empty()
    assert report.as_of == H2.end  # the log goes on past the period


def test_totals_count_every_event_once(script: Script) -> None:
    report = report_for(script)
    expected: dict[str, int] = {}
    for figures in (CN_H2, DE_H2, US_H2):  # no event here is attributed to two countries
        for name, value in figures.items():
            expected[name] = expected.get(name, 0) + value
    assert nonzero(report.totals) == expected


def test_every_bucket_has_every_figure_zeros_included(script: Script) -> None:
    report = report_for(script)
    us = report.countries["US"].values
    assert us[("participants", "blocked", "total")] == 0
    assert us[("requests", "by_type", "emergency")] == 0
    assert list(us)[:2] == [("requests", "received"), ("requests", "with_non_disclosure_order")]


def test_an_event_belongs_to_the_period_its_audit_entry_was_recorded_in(script: Script) -> None:
    """A is received in H1 and decided in H2; the blocked join and K of 2027 are in neither."""
    h1 = report_for(script, "2026-H1")
    assert nonzero(h1.totals) == {
        "requests.received": 1,
        "requests.by_type.restrict_meeting": 1,
        "requests.by_legal_process.administrative_order": 1,
        "targets.meetings": 1,
        "outcomes.pending_at_end": 1,
    }
    assert list(h1.countries) == ["CN"]


def test_quarters_add_up_to_their_half_year_and_a_date_range_equals_it(script: Script) -> None:
    h2 = report_for(script)
    q3, q4 = report_for(script, "2026-Q3"), report_for(script, "2026-Q4")
    for path in (
        ("requests", "received"),
        ("outcomes", "decided"),
        ("participants", "blocked", "total"),
    ):
        assert q3.totals.get(*path) + q4.totals.get(*path) == h2.totals.get(*path)
    log = script.container.audit_log
    ranged = compute_report(
        log,
        period_between("2026-07-01", "2026-12-31"),
        log.checkpoint(),
        generated_at=script.clock.now(),
    )
    assert ranged.totals == h2.totals
    assert ranged.countries == h2.countries


def test_states_of_a_period_not_yet_ended_are_taken_at_the_last_entry(script: Script) -> None:
    report = report_for(script, "2027-H1")
    assert report.as_of == at(2027, 1, 3)
    assert nonzero(report.totals) == {
        "requests.received": 1,  # K
        "requests.by_type.user_data": 1,
        "requests.by_legal_process.warrant": 1,
        "targets.meetings": 1,
        "outcomes.pending_at_end": 2,  # I and K
        "participants.blocked.total": 1,
        "participants.blocked.by_territory.CN": 1,
        "non_disclosure_orders.in_force_at_end": 1,  # E's order runs to 2027-03-01
        "restrictions.active_at_end": 2,  # E's to 2027-06-01, H's to 2027-02-01
    }


def test_entries_after_the_checkpoint_are_not_counted(script: Script) -> None:
    log = script.container.audit_log
    full = log.checkpoint()
    earlier = next(
        e
        for e in log.iter_entries(tags=[AuditTag.CASE_CASE_RECEIVED.value])
        if e.payload["case_id"] == script.cases["J"]
    )
    cut = Checkpoint(full.origin, earlier.seq - 1, earlier.prev_hash)
    report = compute_report(log, H2, cut, generated_at=script.clock.now())
    assert report.totals.get("requests", "received") == 8  # J's intake is the next entry
    assert report.as_of == at(2026, 10, 15)  # A's expiry, the last entry before J


# -- attribution, on hand-written entries ------------------------------------------------------


def in_memory(*entries: tuple[AuditTag, dict[str, Any]]) -> InMemoryAuditLog:
    log = InMemoryAuditLog(FixedClock(at(2026, 8, 1)))
    with log.transaction() as tx:
        for tag, payload in entries:
            log.append(tx, tag, "test:script", payload)
    return log


def received(case_id: str, country: str) -> tuple[AuditTag, dict[str, Any]]:
    return AuditTag.CASE_CASE_RECEIVED, {
        "case_id": case_id,
        "requesting_country": country,
        "request_type": "restrict_meeting",
        "legal_process": "court_order",
        "targets": [{"kind": "meeting", "ref": "mtg_1"}],
        "non_disclosure_until": None,
    }


def denied(territory: str | None, case_ids: list[str]) -> tuple[AuditTag, dict[str, Any]]:
    return AuditTag.MEETING_PARTICIPANT_JOIN_DENIED, {
        "participant_id": "par_1",
        "territory": territory,
        "case_ids": case_ids,
    }


def compute(log: InMemoryAuditLog) -> TransparencyReport:
    return compute_report(log, H2, log.checkpoint(), generated_at=at(2026, 12, 1))


def test_a_block_naming_cases_of_two_countries_counts_for_each_and_once_in_the_totals() -> None:
    log = in_memory(received("c1", "CN"), received("c2", "HK"), denied("HK", ["c1", "c2"]))
    report = compute(log)
    for figures in (report.countries["CN"], report.countries["HK"], report.totals):
        assert figures.get("participants", "blocked", "total") == 1
        assert figures.get("participants", "blocked", "by_territory", "HK") == 1


def test_a_block_whose_case_is_not_in_the_log_is_unattributed() -> None:
    report = compute(in_memory(received("c1", "CN"), denied("CN", ["CASE-MADE-ELSEWHERE"])))
    assert report.unattributed.get("participants", "blocked", "total") == 1
    assert report.countries["CN"].get("participants", "blocked", "total") == 0
    assert report.totals.get("participants", "blocked", "total") == 1


def test_a_participant_without_a_territory_is_counted_as_unknown() -> None:
    report = compute(in_memory(received("c1", "CN"), denied(None, ["c1"])))
    assert report.countries["CN"].get("participants", "blocked", "by_territory", "unknown") == 1


def test_an_empty_log_gives_a_report_of_zeros() -> None:
    log = InMemoryAuditLog(FixedClock(at(2026, 8, 1)))
    report = compute(log)
    assert report.countries == {}
    assert report.totals.is_empty()
    assert report.as_of == H2.start


# -- banding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [(0, 0), (1, "1-9"), (9, "1-9"), (10, 10), (12345, 12345)]
)
def test_banding_shows_counts_below_the_threshold_as_a_band(value: int, shown: object) -> None:
    assert Banding(10).show(value) == shown


@pytest.mark.parametrize("threshold", [-1, 0, 1, 1_000_001])
def test_a_band_threshold_must_leave_a_band(threshold: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Banding(threshold)


def test_a_banded_report_bands_every_figure_totals_included(script: Script) -> None:
    document: dict[str, Any] = report_for(script, banding=Banding(3)).document()
    cn, de, totals = document["countries"]["CN"], document["countries"]["DE"], document["totals"]
    assert isinstance(cn, dict)
    assert isinstance(de, dict)
    assert isinstance(totals, dict)
    assert cn["requests"] == {
        "received": 5,
        "with_non_disclosure_order": "1-2",
        "by_type": {
            "user_data": "1-2",
            "meeting_content": 0,
            "recording": 0,
            "restrict_meeting": "1-2",
            "restrict_account": "1-2",
            "preservation": 0,
            "emergency": "1-2",
        },
        "by_legal_process": {
            "warrant": "1-2",
            "subpoena": 0,
            "court_order": "1-2",
            "administrative_order": 0,
            "other": "1-2",
        },
    }
    assert de["participants"] == {
        "blocked": {"total": "1-2", "by_territory": {"DE": "1-2"}},
        "removed": {"total": 0, "by_territory": {}},
    }
    assert totals["outcomes"] == {
        "decided": 9,
        "complied": 4,
        "partially": 3,
        "rejected": "1-2",
        "appealed": "1-2",
        "pending_at_end": "1-2",
    }
    assert document["banding"] == {
        "threshold": 3,
        "band": "1-2",
        "rule": "counts from 1 to 2 are shown as '1-2'; 0 and counts of 3 or more are exact",
    }


def test_figures_refuse_a_path_outside_the_report_shape() -> None:
    with pytest.raises(ValueError, match="not a report figure"):
        Figures.complete({("requests", "invented"): 1})
    with_extra = Figures.complete({("requests", "by_type", "future_type"): 2})
    keys = [path for path in with_extra.values if path[:2] == ("requests", "by_type")]
    assert keys[-1] == ("requests", "by_type", "future_type")  # after the known types
