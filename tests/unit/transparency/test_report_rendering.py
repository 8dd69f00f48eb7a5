"""The three formats: JSON matching its documented schema, CSV one row per country and figure,
and an HTML page that needs nothing from the network."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lexloci.audit import AuditTag, InMemoryAuditLog
from lexloci.clock import FixedClock
from lexloci.transparency import Banding, TransparencyReport, compute_report, parse_period, render
from lexloci.transparency.model import flatten
from lexloci.transparency.rendering import CSV_COLUMNS
from tests.unit.transparency.json_schema import validate
from tests.unit.transparency.scripted import Script, at

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "src/lexloci/transparency/report.schema.json"
H2 = parse_period("2026-H2")


def report_for(script: Script, banding: Banding | None = None) -> TransparencyReport:
    log = script.container.audit_log
    return compute_report(
        log, H2, log.checkpoint(), generated_at=script.clock.now(), banding=banding
    )


def empty_report() -> TransparencyReport:
    log = InMemoryAuditLog(FixedClock(at(2026, 8, 1)))
    return compute_report(log, H2, log.checkpoint(), generated_at=at(2026, 8, 1))


@pytest.mark.parametrize("band", [None, 3, 10])
def test_the_json_document_matches_the_documented_schema(script: Script, band: int | None) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    report = report_for(script, Banding(band) if band else None)
    document = json.loads(render(report, "json"))
    assert document == report.document()
    assert validate(document, schema) == []
    assert validate(empty_report().document(), schema) == []


def test_the_schema_catches_a_figure_out_of_shape(script: Script) -> None:
    """The schema is strict enough to matter: it is not satisfied by anything."""
    schema = json.loads(SCHEMA_FILE.read_text())
    document: dict[str, Any] = report_for(script).document()
    document["countries"]["CN"]["requests"]["received"] = -1
    document["countries"]["CN"]["outcomes"]["invented"] = 1
    del document["totals"]["accounts"]
    problems = validate(document, schema)
    assert any(p.startswith("$.countries.CN.requests.received:") for p in problems)
    assert any("unexpected 'invented'" in p for p in problems)
    assert any("missing 'accounts'" in p for p in problems)


def test_the_documented_schema_is_the_shipped_schema() -> None:
    docs = (ROOT / "docs/transparency.md").read_text()
    match = re.search(r"<!-- schema:begin -->\n```json\n(.*?)```\n<!-- schema:end -->", docs, re.S)
    assert match is not None, "docs/transparency.md embeds the schema between schema markers"
    assert match.group(1) == SCHEMA_FILE.read_text()


def test_the_csv_has_one_row_per_country_and_figure_citing_the_checkpoint(script: Script) -> None:
    report = report_for(script)
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    document: dict[str, Any] = report.document()
    buckets = {
        "all": document["totals"],
        **document["countries"],
        "unattributed": document["unattributed"],
    }
    expected = sum(
        1 for figures in buckets.values() for _, v in flatten(figures) if not isinstance(v, dict)
    )
    assert len(rows) - 1 == expected
    cp = report.checkpoint
    assert {tuple(r[:4]) for r in rows[1:]} == {("2026-H2", cp.origin, str(cp.size), cp.root_hash)}
    by_key = {(r[4], r[5]): r[6] for r in rows[1:]}
    assert by_key[("CN", "requests.received")] == "5"
    assert by_key[("DE", "participants.blocked.by_territory.DE")] == "1"
    assert by_key[("all", "outcomes.rejected")] == "2"
    assert next(r[4] for r in rows[1:]) == "all"
    assert [r[4] for r in rows[1:]][-1] == "unattributed"


def test_the_csv_of_a_banded_report_carries_the_bands(script: Script) -> None:
    rows = list(csv.reader(io.StringIO(render(report_for(script, Banding(3)), "csv"))))
    by_key = {(r[4], r[5]): r[6] for r in rows[1:]}
    assert by_key[("DE", "requests.received")] == "1-2"
    assert by_key[("CN", "requests.received")] == "5"


def test_the_html_page_loads_nothing_from_the_network(script: Script) -> None:
    page = render(report_for(script), "html")
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert re.search(r"\b(src|href)\s*=", page) is None
    assert "url(" not in page
    assert "@import" not in page
    # The only URL on the page is the SVG namespace, which is a name, not a fetch.
    assert set(re.findall(r"https?://[^\s\"'<]+", page)) == {"http://www.w3.org/2000/svg"}


def test_the_html_page_has_a_summary_charts_tables_method_and_checkpoint(script: Script) -> None:
    report = report_for(script)
    page = render(report, "html")
    for section in ("summary", "charts", "tables", "method", "checkpoint"):
        assert f'<section id="{section}"' in page
    for chart in (
        "chart-requests-by-country",
        "chart-outcomes-by-country",
        "chart-outcomes",
        "chart-participants-by-country",
    ):
        block = page.split(f'<figure id="{chart}">')[1].split("</figure>")[0]
        assert block.count('<rect class="bar') >= 2, chart
    assert "China (CN)" in page
    assert "Germany (DE)" in page
    assert "United States (US)" in page
    assert report.checkpoint.root_hash in page
    assert page.count("<table>") == 11


def test_banded_bars_are_drawn_to_the_band_top_and_labelled_with_the_band(script: Script) -> None:
    page = render(report_for(script, Banding(3)), "html")
    block = page.split('<figure id="chart-requests-by-country">')[1].split("</figure>")[0]
    bars = re.findall(
        r'<rect class="bar requests( banded)?" x="\d+"\s+y="\d+" width="(\d+)"', block
    )
    # CN has 5 requests (exact); DE and US have 2 each, shown as "1-2" and drawn to 2.
    assert [(bool(banded), int(width)) for banded, width in bars] == [
        (False, 380),
        (True, 152),
        (True, 152),
    ]
    assert ">1-2</text>" in block


def test_text_from_the_log_is_escaped_in_the_html_page() -> None:
    log = InMemoryAuditLog(FixedClock(at(2026, 8, 1)))
    with log.transaction() as tx:
        log.append(
            tx,
            AuditTag.CASE_CASE_RECEIVED,
            "test:script",
            {"case_id": "c1", "requesting_country": "<b>XX", "request_type": "<i>new</i>"},
        )
    report = compute_report(log, H2, log.checkpoint(), generated_at=at(2026, 8, 1))
    page = render(report, "html")
    assert "<b>XX" not in page
    assert "&lt;b&gt;XX" in page
    assert "<i>new" not in page
    embedded = page.split('id="lexloci-report">')[1].split("</script>")[0]
    assert "<" not in embedded  # the embedded JSON cannot close its script element
    assert json.loads(embedded) == report.document()


def test_an_empty_period_renders_without_bars(script: Script) -> None:
    page = render(empty_report(), "html")
    assert '<rect class="bar' not in page
    assert "No requests were received in this period." in page


def test_an_unknown_format_is_refused(script: Script) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(report_for(script), "pdf")
