"""``lexloci audit``: verify and export the hash-chained audit log.

Exit status: 0 when the command did what was asked (``verify``: the chain is intact), 1 when
a check failed (``verify`` found a broken entry, or ``export`` met an entry it cannot write),
2 for bad input (an unparsable or unsupported URL, a missing database file or table, an
unreadable export file). Problems are one ``error: ...`` line on standard error, never a
traceback. Neither command writes to the database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from sqlalchemy.exc import SQLAlchemyError

from lexloci.audit import (
    AuditRecord,
    UnparsableEntry,
    VerifyResult,
    VerifyStatus,
    export_line,
    records_from_export,
    verify,
)
from lexloci.clock import SystemClock
from lexloci.config import Settings
from lexloci.errors import LexlociError
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import describe_url, make_engine

__all__ = ["app", "first_line", "opened_log"]

app = typer.Typer(
    name="audit",
    help="Verify and export the hash-chained audit log.",
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


@contextmanager
def opened_log(db: str | None) -> Iterator[SqlAuditLog]:
    """The audit log at ``db`` (or the configured database); its engine is disposed after."""
    try:
        url = db if db is not None else Settings().database_url
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise _fail(f"invalid setting: {exc}") from None
    try:
        engine = make_engine(url, must_exist=True)
    except LexlociError as exc:
        raise _fail(exc.message) from None
    try:
        # The clock only stamps appends, which these commands never make.
        log = SqlAuditLog(engine, SystemClock())
        try:
            present = log.table_exists()
        except SQLAlchemyError as exc:
            raise _fail(f"cannot open {describe_url(url)}: {first_line(exc)}") from None
        if not present:
            raise _fail(f"no audit log (table audit_log) in {describe_url(url)}")
        yield log
    finally:
        engine.dispose()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


LONG_LOG = 100_000


class _Progress:
    """Progress on standard error for long logs (at least ``LONG_LOG`` entries): a redrawn line
    on a terminal, one line per tenth otherwise (so CI logs stay short)."""

    def __init__(self, label: str, total: int | None) -> None:
        self._label = label
        self._total = total
        self._tty = sys.stderr.isatty()
        self._next_tenth = 1
        self._shown = False

    def __call__(self, done: int) -> None:
        if self._total is None:
            line = f"{self._label}: {done:,} entries"
            due = done >= LONG_LOG and (self._tty or done % LONG_LOG == 0)
        else:
            percent = done * 100 // max(self._total, 1)
            line = f"{self._label}: {done:,} / {self._total:,} entries ({percent}%)"
            due = self._total >= LONG_LOG and (
                self._tty or done * 10 >= self._next_tenth * self._total
            )
            while done * 10 >= self._next_tenth * self._total > 0:
                self._next_tenth += 1
        if not due:
            return
        self._shown = True
        if self._tty:
            sys.stderr.write("\r" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self._shown and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _report(result: VerifyResult, what: str) -> None:
    if result.status is VerifyStatus.INTACT:
        typer.echo(f"OK: {what} intact: size {result.size}, root hash {result.root_hash}")
        return
    assert result.breakage is not None  # a broken result always names its breakage
    typer.echo(f"BROKEN: {result.breakage}")
    typer.echo(
        f"entries up to {result.size} are intact (root hash {result.root_hash}); "
        "everything from the broken entry on is unverified"
    )
    raise typer.Exit(1)


@app.command("verify")
def verify_command(
    db: DbOption = None,
    from_export: Annotated[
        Path | None,
        typer.Option(
            "--from-export",
            help="Verify a JSON Lines export (from `lexloci audit export`) instead of a database.",
            show_default=False,
        ),
    ] = None,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep", help="Also parse every body and check it re-encodes canonically (slower)."
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes to verify with. \\[default: the number of CPUs for logs of "
            "200,000 entries or more, else 1]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recompute the hash chain and name the first broken entry.

    Prints OK with the size and root hash, or BROKEN with the first broken entry (its seq and
    what is wrong) and exits with status 1.
    """
    if from_export is not None:
        if db is not None or workers is not None:
            raise _fail("--from-export takes neither --db nor --workers")
        _verify_export(from_export, deep=deep)
        return
    with opened_log(db) as log:
        try:
            size = log.checkpoint().size
            progress = _Progress("verifying", size)
            try:
                result = log.verify(until_seq=size, deep=deep, progress=progress, workers=workers)
            finally:
                progress.finish()
        except SQLAlchemyError as exc:
            raise _fail(f"reading the audit log failed: {first_line(exc)}") from None
    _report(result, f"audit log (origin {log.origin})")


def _verify_export(path: Path, *, deep: bool) -> None:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    progress = _Progress("verifying", None)
    with handle:
        try:
            result = verify(records_from_export(handle), deep=deep, progress=progress)
        except UnparsableEntry as exc:
            progress.finish()
            typer.echo(f"BROKEN: line {exc.seq} of {path}: {exc.reason}")
            raise typer.Exit(1) from None
        except OSError as exc:
            raise _fail(f"reading {path} failed: {exc.strerror}") from None
        finally:
            progress.finish()
    _report(result, f"export {path}")


@app.command("export")
def export_command(
    db: DbOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    after_seq: Annotated[
        int, typer.Option(min=0, help="Export only entries with a larger seq.")
    ] = 0,
) -> None:
    """Write the audit log as JSON Lines, one entry per line, in seq order.

    Each line is the entry's canonical body plus its hash and prev_hash; drop those two keys and
    re-encode canonically to get the exact hashed bytes (docs/audit.md). The export ends at the
    checkpoint taken when it starts, which is printed on standard error so it can be cited.
    """
    progress = _Progress("exporting", None)
    with opened_log(db) as log:
        try:
            checkpoint = log.checkpoint()
            progress = _Progress("exporting", max(checkpoint.size - after_seq, 0))
            records = log.iter_records(after_seq=after_seq, until_seq=checkpoint.size)
            with closing(records), _destination(output) as sink:
                written = _write_lines(records, sink, progress)
        except SQLAlchemyError as exc:
            raise _fail(f"reading the audit log failed: {first_line(exc)}") from None
        except UnparsableEntry as exc:
            typer.echo(f"error: cannot export {exc}", err=True)
            raise typer.Exit(1) from None
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}") from None
        finally:
            progress.finish()
    typer.echo(
        f"exported {written} entries; checkpoint: origin {checkpoint.origin}, "
        f"size {checkpoint.size}, root hash {checkpoint.root_hash}",
        err=True,
    )


def _write_lines(
    records: Iterator[AuditRecord], sink: BinaryIO, progress: Callable[[int], None]
) -> int:
    written = 0
    for record in records:
        sink.write(export_line(record))
        written += 1
        if written % 10_000 == 0:
            progress(written)
    progress(written)
    return written


@contextmanager
def _destination(output: Path | None) -> Iterator[BinaryIO]:
    """Standard output, or ``output`` written under a temporary name and renamed when complete,
    so an interrupted export never leaves a truncated file that looks finished."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
