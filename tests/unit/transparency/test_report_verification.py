"""``verify_report``: a report is confirmed figure by figure against the log it cites, or the
first differing figure is named, or the log is found not to be the one it was computed from."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from lexloci.audit import Checkpoint, VerifyResult, verify
from lexloci.errors import InvalidInput
from lexloci.storage.audit import SqlAuditLog
from lexloci.transparency import (
    Banding,
    GeneratedReport,
    ReportService,
    ReportVerification,
    Verdict,
    parse_period,
    read_report,
    verify_report,
)
from lexloci.transparency.model import flatten
from tests.unit.transparency.scripted import Script

H2 = parse_period("2026-H2")


def generate(
    log: SqlAuditLog, script: Script, fmt: str = "json", band: int | None = None
) -> GeneratedReport:
    service = ReportService(log, log.engine.begin, script.clock)
    return service.transparency(
        H2, actor="test:auditor", fmt=fmt, banding=Banding(band) if band else None
    )


def chain_of(log: SqlAuditLog) -> Callable[[Checkpoint], VerifyResult]:
    return lambda cp: log.verify(until_seq=cp.size, checkpoints=[cp])


def check(text: str, log: SqlAuditLog) -> ReportVerification:
    return verify_report(read_report(text), log, origin=log.origin, chain_check=chain_of(log))


def edited(content: str, change: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(content)
    change(document)
    return json.dumps(document)


def test_an_untouched_report_is_confirmed_figure_by_figure(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script)
    result = check(generated.content, log_copy)
    assert result.verdict is Verdict.CONFIRMED
    leaves = [
        value
        for section in ("totals", "countries", "unattributed")
        for _, value in flatten(json.loads(generated.content)[section])
        if not isinstance(value, dict)  # an empty by_territory map holds no figure
    ]
    assert result.figures_checked == len(leaves) + 1  # and period.as_of
    assert result.recorded_seq == generated.recorded_seq


def test_a_report_verifies_again_after_the_log_has_grown(
    log_copy: SqlAuditLog, script: Script
) -> None:
    first = generate(log_copy, script)
    generate(log_copy, script, fmt="csv")  # more entries after the first report's checkpoint
    assert check(first.content, log_copy).verdict is Verdict.CONFIRMED


def _set(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _drop(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _add_country(document: dict[str, Any]) -> None:
    document["countries"]["FR"] = copy.deepcopy(document["unattributed"])


@pytest.mark.parametrize(
    ("change", "name", "reported", "recomputed"),
    [
        (
            _set(("countries", "CN", "requests", "by_type", "user_data"), 2),
            "countries.CN.requests.by_type.user_data",
            2,
            1,
        ),
        (_set(("totals", "outcomes", "rejected"), 0), "totals.outcomes.rejected", 0, 2),
        (
            _set(("countries", "US", "outcomes", "rejected"), "1"),
            "countries.US.outcomes.rejected",
            "1",
            1,
        ),
        (
            _set(("countries", "US", "outcomes", "rejected"), True),
            "countries.US.outcomes.rejected",
            True,
            1,
        ),
        (
            _set(("countries", "CN", "participants", "removed", "by_territory", "HK"), 1),
            "countries.CN.participants.removed.by_territory.HK",
            1,
            None,
        ),
        (_drop(("countries", "DE")), "countries.DE", None, "figures"),
        (_add_country, "countries.FR", "figures", None),
        (
            _set(("period", "as_of"), "2026-12-31T00:00:00.000000Z"),
            "period.as_of",
            "2026-12-31T00:00:00.000000Z",
            "2027-01-01T00:00:00.000000Z",
        ),
        (
            _set(("unattributed", "accounts", "suspended"), 3),
            "unattributed.accounts.suspended",
            3,
            0,
        ),
    ],
)
def test_a_changed_figure_is_named_with_both_values(
    log_copy: SqlAuditLog,
    script: Script,
    change: Callable[[dict[str, Any]], None],
    name: str,
    reported: object,
    recomputed: object,
) -> None:
    generated = generate(log_copy, script)
    result = check(edited(generated.content, change), log_copy)
    assert result.verdict is Verdict.FIGURE_DIFFERS
    assert result.difference is not None
    assert result.difference.name == name
    if reported == "figures":
        assert isinstance(result.difference.reported, dict)
    elif reported is None:
        assert str(result.difference).endswith(
            f"{name}: not in the report; the log gives "
            + json.dumps(result.difference.recomputed, sort_keys=True)
        )
    else:
        assert result.difference.reported == reported
    if recomputed == "figures":
        assert isinstance(result.difference.recomputed, dict)
    elif recomputed is None:
        assert "the log has no such figure" in str(result.difference)
    else:
        assert result.difference.recomputed == recomputed
    assert result.recorded_seq is None  # an edited report has no generation entry


def test_the_first_difference_in_document_order_is_the_one_named(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script)

    def two_changes(document: dict[str, Any]) -> None:
        document["countries"]["US"]["targets"]["meetings"] = 7
        document["countries"]["CN"]["accounts"]["suspended"] = 7

    result = check(edited(generated.content, two_changes), log_copy)
    assert result.difference is not None
    assert result.difference.name == "countries.CN.accounts.suspended"
    assert str(result.difference) == (
        "countries.CN.accounts.suspended: the report says 7, the log gives 1"
    )


def test_a_banded_report_is_checked_against_recomputed_counts_banded_alike(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script, band=3)
    assert check(generated.content, log_copy).verdict is Verdict.CONFIRMED
    # The exact count in place of its band is a difference: the report must say what it says.
    exact = edited(generated.content, _set(("countries", "DE", "requests", "received"), 2))
    result = check(exact, log_copy)
    assert result.difference is not None
    assert (result.difference.reported, result.difference.recomputed) == (2, "1-2")
    # So is a band in place of an exact count.
    banded = edited(generated.content, _set(("countries", "CN", "requests", "received"), "1-2"))
    assert check(banded, log_copy).difference is not None
    # And a changed threshold changes what every small count must read.
    rethreshold = edited(generated.content, _set(("banding", "threshold"), 10))
    result = check(rethreshold, log_copy)
    assert result.difference is not None
    assert result.difference.name == "totals.requests.received"


def test_the_json_embedded_in_the_html_page_is_verified(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script, fmt="html")
    result = check(generated.content, log_copy)
    assert result.verdict is Verdict.CONFIRMED
    assert result.recorded_seq == generated.recorded_seq


def _tamper_body(log: SqlAuditLog, seq: int) -> None:
    with log.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        body = conn.exec_driver_sql("SELECT body FROM audit_log WHERE seq = ?", (seq,)).scalar_one()
        forged = body.replace(b'"requesting_country":"US"', b'"requesting_country":"FR"')
        assert forged != body
        conn.exec_driver_sql("UPDATE audit_log SET body = ? WHERE seq = ?", (forged, seq))


def test_a_log_rewritten_before_the_checkpoint_no_longer_matches_it(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script)
    first_us_case = next(
        e.seq
        for e in log_copy.iter_entries(tags=["case:case:received"])
        if e.payload["requesting_country"] == "US"
    )
    _tamper_body(log_copy, first_us_case)
    result = check(generated.content, log_copy)
    assert result.verdict is Verdict.LOG_MISMATCH
    assert result.problem is not None
    assert result.problem.startswith(f"entry {first_us_case}: hash_mismatch")


def test_a_checkpoint_beyond_the_end_of_the_log_does_not_match(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script)
    size = log_copy.checkpoint().size
    grown = edited(generated.content, _set(("checkpoint", "size"), size + 10))
    result = check(grown, log_copy)
    assert result.verdict is Verdict.LOG_MISMATCH
    assert result.problem is not None
    assert "log_truncated" in result.problem


def test_a_checkpoint_with_another_root_does_not_match(
    log_copy: SqlAuditLog, script: Script
) -> None:
    generated = generate(log_copy, script)
    forged = edited(generated.content, _set(("checkpoint", "root_hash"), "ab" * 32))
    result = check(forged, log_copy)
    assert result.verdict is Verdict.LOG_MISMATCH
    assert result.problem is not None
    assert "checkpoint_mismatch" in result.problem


def test_a_report_of_another_log_does_not_match(log_copy: SqlAuditLog, script: Script) -> None:
    generated = generate(log_copy, script)
    other = edited(generated.content, _set(("checkpoint", "origin"), "elsewhere.example/audit"))
    result = check(other, log_copy)
    assert result.verdict is Verdict.LOG_MISMATCH
    assert (
        result.problem
        == "the report cites the log 'elsewhere.example/audit'; this log is 'lexloci'"
    )


def test_verification_also_works_from_an_export_of_the_log(
    log_copy: SqlAuditLog, script: Script
) -> None:
    """Anyone with an export (records) can check a report: the chain check is plain verify."""
    generated = generate(log_copy, script)

    def from_records(cp: Checkpoint) -> VerifyResult:
        return verify(log_copy.iter_records(until_seq=cp.size), checkpoints=[cp])

    result = verify_report(
        read_report(generated.content), log_copy, origin="lexloci", chain_check=from_records
    )
    assert result.verdict is Verdict.CONFIRMED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "neither JSON nor an HTML report"),
        ("<html><body>hello</body></html>", "neither JSON nor an HTML report"),
        ("{not json", "not valid JSON"),
        ("[]", "neither JSON"),
        ('{"schema": "something/else"}', "not a lexloci transparency report"),
        ('{"schema": "lexloci.transparency/1"}', "has no period"),
    ],
)
def test_input_that_is_not_a_report_is_invalid_input(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_report(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(("period", "label"), "2026-H1"), "not the stated bounds"),
        (_set(("period", "start"), "yesterday"), "period is malformed"),
        (_drop(("checkpoint",)), "cites no checkpoint"),
        (_set(("checkpoint", "root_hash"), "xyz"), "checkpoint is malformed"),
        (_set(("banding",), {"threshold": 1}), "banding is malformed"),
        (_set(("banding",), {"threshold": "10"}), "no integer threshold"),
        (_drop(("totals",)), "no 'totals' object"),
        (_drop(("generated_at",)), "generated_at is malformed"),
    ],
)
def test_a_malformed_report_is_invalid_input(
    log_copy: SqlAuditLog, script: Script, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    generated = generate(log_copy, script)
    with pytest.raises(InvalidInput, match=message):
        read_report(edited(generated.content, change))
