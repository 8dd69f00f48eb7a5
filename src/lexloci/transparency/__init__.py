"""The transparency report (issue 6, invariant I4): computed from the audit log alone, citing the
checkpoint it was computed at, and verifiable against that log by anyone who has it.

The pieces, each with its invariants in its module docstring:

- ``period``: half-years (the default), quarters, years, or whole-day ranges;
- ``model``: the figures every requesting country gets, banding of small counts, the JSON
  document and its digest;
- ``computation``: ``compute_report`` reads only the tags it needs, up to the checkpoint;
- ``rendering``: JSON, CSV and a self-contained HTML page with inline SVG charts;
- ``verification``: ``verify_report`` checks the log still has the cited checkpoint, recomputes
  every figure and names the first that differs;
- ``notices``: a redacted public notice per request, withheld while a non-disclosure order runs;
- ``service``: ``ReportService`` generates a report or notice and records that it did in the
  audit log, after computing, so the report cites the log as it was before its own entry.

This package imports ``lexloci.audit`` (pure) and the case model's enumerations, never storage
or a web framework: the CLI and the API hand it a log.
"""

from lexloci.transparency.computation import EntrySource, Progress, compute_report
from lexloci.transparency.model import (
    DOCUMENT_SCHEMA,
    FIGURE_PATHS,
    Banding,
    Figures,
    TransparencyReport,
    document_digest,
)
from lexloci.transparency.notices import NOTICE_SCHEMA, PublicNotice, public_notice
from lexloci.transparency.period import (
    Period,
    current_half_year,
    parse_period,
    period_between,
    resolve_period,
)
from lexloci.transparency.rendering import FORMATS, MEDIA_TYPES, render
from lexloci.transparency.service import GeneratedReport, ReportService
from lexloci.transparency.verification import (
    Difference,
    ReportVerification,
    StatedReport,
    Verdict,
    read_report,
    verify_report,
)

__all__ = [
    "DOCUMENT_SCHEMA",
    "FIGURE_PATHS",
    "FORMATS",
    "MEDIA_TYPES",
    "NOTICE_SCHEMA",
    "Banding",
    "Difference",
    "EntrySource",
    "Figures",
    "GeneratedReport",
    "Period",
    "Progress",
    "PublicNotice",
    "ReportService",
    "ReportVerification",
    "StatedReport",
    "TransparencyReport",
    "Verdict",
    "compute_report",
    "current_half_year",
    "document_digest",
    "parse_period",
    "period_between",
    "public_notice",
    "read_report",
    "render",
    "resolve_period",
    "verify_report",
]
