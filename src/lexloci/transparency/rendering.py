"""Render a report as JSON, CSV or one self-contained HTML page.

Invariants:

- **One source.** Every format is rendered from the report's JSON document (``document()``),
  banded the same way, so the three formats never disagree and the digest recorded in the audit
  log (of the document) identifies the report whatever format it was delivered in.
- **JSON** is the document, indented, keys in document order.
- **CSV** has one row per bucket and figure: ``period, checkpoint_origin, checkpoint_size,
  checkpoint_root_hash, country, metric, value``. ``country`` is an ISO code, ``all`` for the
  totals or ``unattributed``; ``metric`` is the figure's dotted path
  (``participants.blocked.by_territory.CN``). Every row names the checkpoint, so a single row
  quoted elsewhere still says what it was computed from.
- **HTML** loads nothing from the network (a Content-Security-Policy of ``default-src 'none'``
  says so to the browser too): styles are inline, charts are inline SVG drawn here, and the
  JSON document is embedded in a ``<script type="application/json">`` element, so
  ``lexloci report verify`` accepts the HTML page itself. Every text is escaped by Jinja2's
  autoescaping.
- **Banded bars** are drawn to the band's upper bound with a hatched fill and labelled with the
  band, never with a length that would reveal the exact count.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import jinja2

from lexloci.audit import Checkpoint, JsonValue
from lexloci.jurisdictions import territory_name
from lexloci.transparency.model import (
    METHOD,
    Path,
    TransparencyReport,
    flatten,
)
from lexloci.transparency.verification import EMBEDDED_REPORT_ID

__all__ = ["CSV_COLUMNS", "FORMATS", "MEDIA_TYPES", "render", "render_csv", "render_html"]

FORMATS: Final = ("json", "csv", "html")
MEDIA_TYPES: Final = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
CSV_COLUMNS: Final = (
    "period",
    "checkpoint_origin",
    "checkpoint_size",
    "checkpoint_root_hash",
    "country",
    "metric",
    "value",
)


def render(report: TransparencyReport, fmt: str) -> str:
    """The report in ``fmt`` (one of ``FORMATS``)."""
    document = report.document()
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render_csv(document)
    if fmt == "html":
        return render_html(document)
    raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")


def _buckets(document: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    yield "all", document["totals"]
    yield from document["countries"].items()
    yield "unattributed", document["unattributed"]


def render_csv(document: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    checkpoint = document["checkpoint"]
    cited = (
        document["period"]["label"],
        checkpoint["origin"],
        checkpoint["size"],
        checkpoint["root_hash"],
    )
    for country, figures in _buckets(document):
        for path, value in flatten(figures):
            if isinstance(value, dict):  # an empty by_territory map: no figure to write
                continue
            writer.writerow((*cited, country, ".".join(path), value))
    return out.getvalue()


# -- HTML ---------------------------------------------------------------------------------------

_LABEL_WIDTH: Final = 190
_BAR_AREA: Final = 380
_VALUE_WIDTH: Final = 80
_ROW: Final = 26
_BAR: Final = 18
_TOP: Final = 8


@dataclass(frozen=True, slots=True)
class SegmentLayout:
    x: int
    width: int
    css: str
    title: str
    banded: bool


@dataclass(frozen=True, slots=True)
class RowLayout:
    label: str
    y: int
    segments: tuple[SegmentLayout, ...]
    value_x: int
    value_text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart with its geometry computed, for the template to draw."""

    id: str
    title: str
    description: str
    legend: tuple[tuple[str, str], ...]  # (css class, label)
    rows: tuple[RowLayout, ...]
    width: int
    height: int
    empty_text: str


def _magnitude(value: JsonValue, band_top: int) -> int:
    """How long to draw a shown value: a band is drawn to its upper bound."""
    if isinstance(value, int):
        return value
    return band_top


def _band_top(document: Mapping[str, Any]) -> int:
    banding = document.get("banding")
    return int(banding["threshold"]) - 1 if banding else 0


def _chart(
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[tuple[str, str, Path]],
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    band_top: int,
    empty_text: str,
    *,
    show_legend: bool = True,
) -> Chart:
    """Bars of ``rows`` (label, figures), one stacked segment per ``series`` (css, name, path)."""
    values = [[_get(figures, path) for _, _, path in series] for _, figures in rows]
    kept = [
        (label, shown)
        for (label, _), shown in zip(rows, values, strict=True)
        if any(_magnitude(v, band_top) for v in shown)
    ]
    longest = max((sum(_magnitude(v, band_top) for v in shown) for _, shown in kept), default=0)
    layouts: list[RowLayout] = []
    for index, (label, shown) in enumerate(kept):
        y = _TOP + index * _ROW
        x = _LABEL_WIDTH
        segments: list[SegmentLayout] = []
        for (css, name, _), value in zip(series, shown, strict=True):
            magnitude = _magnitude(value, band_top)
            if not magnitude:
                continue
            # At least one pixel, so a count of 1 next to a count of 10,000 is still drawn.
            width = max(1, round(_BAR_AREA * magnitude / longest))
            segments.append(
                SegmentLayout(x, width, css, f"{label}: {name} {value}", isinstance(value, str))
            )
            x += width
        text = " + ".join(str(v) for v in shown if _magnitude(v, band_top))
        layouts.append(RowLayout(label, y, tuple(segments), x + 6, text))
    height = _TOP * 2 + max(len(layouts), 1) * _ROW
    # Wide enough for the longest value label ("1-9 + 12 + 1-9"), at about 7 px a character.
    width = max(
        [_LABEL_WIDTH + _BAR_AREA + _VALUE_WIDTH]
        + [row.value_x + 7 * len(row.value_text) + 8 for row in layouts]
    )
    legend = (
        tuple((css, name) for css, name, _ in series) if show_legend and len(series) > 1 else ()
    )
    return Chart(chart_id, title, description, legend, tuple(layouts), width, height, empty_text)


def _get(figures: Mapping[str, Any], path: Path) -> JsonValue:
    node: Any = figures
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return 0
        node = node[key]
    return node  # type: ignore[no-any-return]  # a leaf of the document: an int or a band


def _country_label(code: str) -> str:
    return f"{territory_name(code)} ({code})"


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    title: str
    note: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, bool, tuple[JsonValue, ...]], ...]  # label, is the totals row, cells


_OUTCOMES: Final = (
    ("complied", "Complied fully", ("outcomes", "complied")),
    ("partially", "Partially", ("outcomes", "partially")),
    ("rejected", "Rejected", ("outcomes", "rejected")),
)


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _rows(document: Mapping[str, Any]) -> list[tuple[str, bool, Mapping[str, Any]]]:
    rows: list[tuple[str, bool, Mapping[str, Any]]] = [
        (_country_label(code), False, figures) for code, figures in document["countries"].items()
    ]
    unattributed = document["unattributed"]
    if any(v not in (0, {}) for _, v in flatten(unattributed)):
        rows.append(("Unattributed (case not in the log)", False, unattributed))
    rows.append(("All countries", True, document["totals"]))
    return rows


def _columns(totals: Mapping[str, Any], prefix: Path) -> list[Path]:
    """The figures under ``prefix``, in document order, as the totals have them (the totals
    hold every key any country has)."""
    return [
        path
        for path, value in flatten(totals)
        if path[: len(prefix)] == prefix and not isinstance(value, dict)
    ]


def _tables(document: Mapping[str, Any]) -> list[Table]:
    totals = document["totals"]
    specs: list[tuple[str, str, str, list[tuple[str, Path]]]] = [
        (
            "requests-by-type",
            "Requests received, by type",
            "Requests whose intake was recorded in the period.",
            [("Received", ("requests", "received"))]
            + [(_words(p[-1]), p) for p in _columns(totals, ("requests", "by_type"))]
            + [("With a non-disclosure order", ("requests", "with_non_disclosure_order"))],
        ),
        (
            "requests-by-legal-process",
            "Requests received, by legal process",
            "The kind of legal process each request was served under.",
            [(_words(p[-1]), p) for p in _columns(totals, ("requests", "by_legal_process"))],
        ),
        (
            "targets",
            "Targets specified",
            "Accounts, meetings and meeting series named by the requests received.",
            [(_words(p[-1]), p) for p in _columns(totals, ("targets",))],
        ),
        (
            "outcomes",
            "Outcomes",
            "Decisions recorded in the period; pending: received and not decided at the end.",
            [
                (_words(p[-1]) if p[-1] != "complied" else "Complied fully", p)
                for p in _columns(totals, ("outcomes",))
            ],
        ),
        (
            "actions",
            "Requested actions",
            "Each requested action on each target; converted: replaced by the least "
            "restrictive lawful action (a meeting is never ended, I2).",
            [(_words(p[-1]), p) for p in _columns(totals, ("actions",))],
        ),
        (
            "rejection-reasons",
            "Reasons for refusing all or part of an action",
            "An action refused for several reasons counts once for each.",
            [(_words(p[-1]), p) for p in _columns(totals, ("rejection_reasons",))],
        ),
        (
            "participants-blocked",
            "Participants blocked at join, by their territory",
            "Only participants located inside the requesting jurisdiction are ever blocked (I1).",
            [("Total", ("participants", "blocked", "total"))]
            + [(p[-1], p) for p in _columns(totals, ("participants", "blocked", "by_territory"))],
        ),
        (
            "participants-removed",
            "Participants removed from live sessions, by their territory",
            "The session went on for everyone else; no session was ended (I2).",
            [("Total", ("participants", "removed", "total"))]
            + [(p[-1], p) for p in _columns(totals, ("participants", "removed", "by_territory"))],
        ),
        (
            "accounts",
            "Accounts",
            "Distinct accounts; refused: the holder is based outside the requesting "
            "jurisdiction, so the account was not suspended.",
            [
                ("Suspended", ("accounts", "suspended")),
                ("Reinstated", ("accounts", "reinstated")),
                ("Suspension refused", ("accounts", "action_refused")),
            ],
        ),
        (
            "disclosures",
            "Disclosures of data",
            "Only records of participants located inside the jurisdiction (I5).",
            [
                ("Packages", ("disclosures", "packages")),
                ("Records disclosed", ("disclosures", "records")),
                ("Accounts concerned", ("disclosures", "accounts")),
            ],
        ),
        (
            "orders-and-restrictions",
            "Non-disclosure orders and restrictions",
            "In force / active: at the end of the period (period.as_of).",
            [
                ("Non-disclosure orders in force", ("non_disclosure_orders", "in_force_at_end")),
                ("Restrictions activated", ("restrictions", "activated")),
                ("Lifted", ("restrictions", "lifted")),
                ("Expired", ("restrictions", "expired")),
                ("Active at the end", ("restrictions", "active_at_end")),
            ],
        ),
    ]
    rows = _rows(document)
    return [
        Table(
            table_id,
            title,
            note,
            tuple(header for header, _ in columns),
            tuple(
                (label, is_total, tuple(_get(figures, path) for _, path in columns))
                for label, is_total, figures in rows
            ),
        )
        for table_id, title, note, columns in specs
    ]


def _charts(document: Mapping[str, Any]) -> list[Chart]:
    band_top = _band_top(document)
    countries = [(_country_label(code), figures) for code, figures in document["countries"].items()]
    totals = document["totals"]
    return [
        _chart(
            "chart-requests-by-country",
            "Requests received, by requesting country",
            "Number of requests whose intake was recorded in the period.",
            [("requests", "Requests", ("requests", "received"))],
            countries,
            band_top,
            "No requests were received in this period.",
        ),
        _chart(
            "chart-outcomes-by-country",
            "Outcomes, by requesting country",
            "Decisions recorded in the period: complied fully, partially, rejected.",
            _OUTCOMES,
            countries,
            band_top,
            "No decisions were recorded in this period.",
        ),
        _chart(
            "chart-outcomes",
            "Outcomes, all countries",
            "Every decision recorded in the period, by outcome.",
            _OUTCOMES,
            # One row per outcome, holding only its own figure: one coloured bar each.
            [(name, {"outcomes": {path[-1]: _get(totals, path)}}) for _, name, path in _OUTCOMES],
            band_top,
            "No decisions were recorded in this period.",
            show_legend=False,  # each bar is labelled with its outcome already
        ),
        _chart(
            "chart-participants-by-country",
            "Participants blocked and removed, by requesting country",
            "Blocked at join and removed from live sessions, always inside the requesting "
            "jurisdiction.",
            [
                ("blocked", "Blocked at join", ("participants", "blocked", "total")),
                ("removed", "Removed from live sessions", ("participants", "removed", "total")),
            ],
            countries,
            band_top,
            "Nobody was blocked or removed in this period.",
        ),
    ]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lexloci.transparency", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _summary(document: Mapping[str, Any]) -> list[tuple[str, JsonValue]]:
    totals = document["totals"]
    return [
        ("Requests received", _get(totals, ("requests", "received"))),
        ("Complied fully", _get(totals, ("outcomes", "complied"))),
        ("Partially", _get(totals, ("outcomes", "partially"))),
        ("Rejected", _get(totals, ("outcomes", "rejected"))),
        ("Participants blocked at join", _get(totals, ("participants", "blocked", "total"))),
        ("Participants removed", _get(totals, ("participants", "removed", "total"))),
        ("Accounts suspended", _get(totals, ("accounts", "suspended"))),
        ("Suspensions refused", _get(totals, ("accounts", "action_refused"))),
        ("Records disclosed", _get(totals, ("disclosures", "records"))),
        ("Restrictions active at the end", _get(totals, ("restrictions", "active_at_end"))),
    ]


def render_html(document: Mapping[str, Any]) -> str:
    checkpoint = Checkpoint.from_dict(document["checkpoint"])
    template = _environment().get_template("report.html")
    return template.render(
        document=document,
        period=document["period"],
        checkpoint=checkpoint,
        checkpoint_note=checkpoint.to_note(),
        banding=document.get("banding"),
        summary=_summary(document),
        charts=_charts(document),
        tables=_tables(document),
        method=document.get("method") or list(METHOD),
        countries=len(document["countries"]),
        embedded_id=EMBEDDED_REPORT_ID,
    )
