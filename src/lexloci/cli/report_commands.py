"""``lexloci report``: the transparency report, its verification, and per-request notices.

Exit status: 0 when the command did what was asked (``verify``: every figure confirmed), 1 when
a check failed (``verify``: a figure differs, or the log no longer has the cited checkpoint),
2 for bad input (a malformed period or band, an unreadable or non-report file, an unparsable or
unsupported database URL, a missing database file or audit table, an unknown case). Problems
are one ``error: ...`` line on standard error, never a traceback.

``transparency`` and ``notice`` append one audit entry each (``report:transparency:generated``,
``report:notice:exported``) after computing, as ``cli:report``; ``verify`` writes nothing.
On long logs (``LONG_LOG`` entries or more) progress is shown on standard error: a redrawn
line on a terminal, a line per step otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from sqlalchemy.exc import SQLAlchemyError

from lexloci.audit import Checkpoint, VerifyResult
from lexloci.cli.audit_commands import first_line, opened_log
from lexloci.clock import SystemClock
from lexloci.errors import InvalidInput, LexlociError
from lexloci.transparency import (
    FORMATS,
    Banding,
    ReportService,
    Verdict,
    read_report,
    resolve_period,
    verify_report,
)

__all__ = ["ACTOR", "LONG_LOG", "app"]

ACTOR: Final = "cli:report"
LONG_LOG: Final = 100_000

app = typer.Typer(
    name="report",
    help="The transparency report, computed from the audit log and verifiable against it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy database URL. \\[default: LEXLOCI_DATABASE_URL, else sqlite:///lexloci.db]",
        show_default=False,
    ),
]


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(status)


class _Progress:
    """Progress on standard error for logs of at least ``LONG_LOG`` entries."""

    def __init__(self, size: int) -> None:
        self._enabled = size >= LONG_LOG
        self._size = size
        self._tty = sys.stderr.isatty()
        self._shown = False
        self._last_step = ""

    def reading(self, tag: str, read: int) -> None:
        """Computation: entries read so far, and the tag being read."""
        line = f"computing: {read:,} entries read ({tag})"
        self._show(line, step=tag)

    def verifying(self, done: int) -> None:
        """Chain verification: entries verified of the checkpoint's size."""
        percent = done * 100 // max(self._size, 1)
        self._show(
            f"verifying the chain: {done:,} / {self._size:,} entries ({percent}%)",
            step=str(percent // 10),
        )

    def _show(self, line: str, *, step: str) -> None:
        if not self._enabled:
            return
        if self._tty:
            sys.stderr.write("\r\x1b[K" + line)
        elif step != self._last_step:  # one line per tag or tenth, so CI logs stay short
            sys.stderr.write(line + "\n")
        else:
            return
        self._last_step = step
        self._shown = True
        sys.stderr.flush()

    def finish(self) -> None:
        if self._shown and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._shown = False


def _write(output: Path | None, content: str) -> None:
    """Standard output, or ``output`` written under a temporary name and renamed when complete,
    so an interrupted run never leaves a truncated report that looks finished."""
    if output is None:
        sys.stdout.write(content)
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as sink:
            sink.write(content)
            sink.flush()
            os.fsync(sink.fileno())
        partial.replace(output)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def _format_for(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        cleaned = fmt.strip().lower()
        if cleaned not in FORMATS:
            raise _fail(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        return cleaned
    suffix = output.suffix.lower() if output is not None else ""
    return {".html": "html", ".htm": "html", ".csv": "csv"}.get(suffix, "json")


@app.command("transparency")
def transparency_command(
    period: Annotated[
        str | None,
        typer.Option(
            help="YYYY-H1, YYYY-H2, YYYY-Qn or YYYY. \\[default: the current half-year]",
            show_default=False,
        ),
    ] = None,
    first_day: Annotated[
        str | None,
        typer.Option("--from", help="First day of a custom period (YYYY-MM-DD, included)."),
    ] = None,
    last_day: Annotated[
        str | None,
        typer.Option("--to", help="Last day of a custom period (YYYY-MM-DD, included)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="json, csv or html. \\[default: from the -o suffix, else json]",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    band: Annotated[
        int | None,
        typer.Option(
            help="Show counts from 1 to N-1 as the band '1-(N-1)' (e.g. --band 10 gives '1-9').",
            min=2,
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Compute the transparency report from the audit log and record that it was generated.

    The report cites the checkpoint (origin, size, root hash) it was computed at; its
    generation is then appended to the log as report:transparency:generated with the
    report's digest. Check it later with `lexloci report verify FILE`.

    Example: lexloci report transparency --period 2026-H2 --format html -o report.html
    """
    chosen = _format_for(fmt, output)
    banding = Banding(band) if band is not None else None
    with opened_log(db) as log:
        service = ReportService(log, log.engine.begin, SystemClock())
        try:
            wanted = resolve_period(period, first_day, last_day, service.clock.now())
            progress = _Progress(log.checkpoint().size)
            try:
                generated = service.transparency(
                    wanted, actor=ACTOR, fmt=chosen, banding=banding, progress=progress.reading
                )
            finally:
                progress.finish()
        except InvalidInput as exc:
            raise _fail(exc.message) from None
        except SQLAlchemyError as exc:
            raise _fail(f"reading the audit log failed: {first_line(exc)}") from None
    _write(output, generated.content)
    cp = generated.report.checkpoint
    typer.echo(
        f"report {wanted.label} ({chosen}) computed at checkpoint origin {cp.origin}, "
        f"size {cp.size}, root hash {cp.root_hash}; digest {generated.digest}; "
        f"recorded as audit entry {generated.recorded_seq}",
        err=True,
    )


@app.command("verify")
def verify_command(
    report: Annotated[
        Path,
        typer.Argument(
            help="A JSON report, or an HTML report (its embedded JSON is checked).",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes to verify the chain with. \\[default: as lexloci audit verify]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a report against the audit log it cites.

    Verifies the hash chain up to the cited checkpoint (the log must still have it), recomputes
    every figure from those entries for the report's period and band threshold, and prints OK,
    or the first figure that differs (exit 1), or why the log does not match (exit 1).
    """
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _fail(f"cannot read {report}: {reason}") from None
    try:
        stated = read_report(text)
    except InvalidInput as exc:
        raise _fail(f"{report}: {exc.message}") from None
    with opened_log(db) as log:
        progress = _Progress(stated.checkpoint.size)

        def chain_check(checkpoint: Checkpoint) -> VerifyResult:
            return log.verify(
                until_seq=checkpoint.size,
                checkpoints=[checkpoint],
                progress=progress.verifying,
                workers=workers,
            )

        try:
            result = verify_report(
                stated, log, origin=log.origin, chain_check=chain_check, progress=progress.reading
            )
        except SQLAlchemyError as exc:
            raise _fail(f"reading the audit log failed: {first_line(exc)}") from None
        finally:
            progress.finish()
    cp = result.checkpoint
    cited = f"checkpoint origin {cp.origin}, size {cp.size}, root hash {cp.root_hash}"
    if result.verdict is Verdict.LOG_MISMATCH:
        typer.echo(f"LOG MISMATCH: the log no longer has the {cited}: {result.problem}")
        raise typer.Exit(1)
    if result.recorded_seq is not None:
        receipt = f"its generation is recorded at audit entry {result.recorded_seq}"
    else:
        receipt = "no report:transparency:generated entry has this document's digest"
    if result.verdict is Verdict.FIGURE_DIFFERS:
        typer.echo(f"DIFFERS: {result.difference}")
        typer.echo(f"({result.figures_checked} figures matched before it; {receipt})")
        raise typer.Exit(1)
    typer.echo(
        f"OK: all {result.figures_checked} figures of {stated.period.label} recomputed from "
        f"the audit log at {cited}; {receipt}"
    )


@app.command("notice")
def notice_command(
    case_id: Annotated[str, typer.Argument(help="The case id (case_...).", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print the redacted public notice of one request.

    While a non-disclosure order is in force the notice is withheld: only the date the order
    ends is given. The export is recorded in the audit log as report:notice:exported.
    """
    with opened_log(db) as log:
        service = ReportService(log, log.engine.begin, SystemClock())
        try:
            notice = service.notice(case_id.strip(), actor=ACTOR)
        except LexlociError as exc:
            raise _fail(exc.message) from None
        except SQLAlchemyError as exc:
            raise _fail(f"reading the audit log failed: {first_line(exc)}") from None
    _write(output, json.dumps(notice.document, indent=2, ensure_ascii=False) + "\n")
    if notice.withheld:
        typer.echo(
            f"notice {case_id} withheld: a non-disclosure order is in force until "
            f"{notice.document['withheld_until']}",
            err=True,
        )
