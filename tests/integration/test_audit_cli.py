"""``lexloci audit verify`` and ``lexloci audit export`` against real databases, no mocks."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from lexloci.audit import AuditTag, Checkpoint
from lexloci.audit import verification as verification_module
from lexloci.cli import audit_commands
from lexloci.cli.audit_commands import app
from lexloci.clock import FixedClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import audit_log, create_tables

POSTGRES_URL = os.environ.get("LEXLOCI_TEST_POSTGRES_URL")
START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    # Whatever happened, it ended in a deliberate exit, never in an uncaught exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def fill(url: str, count: int) -> Checkpoint:
    engine = make_engine(url)
    try:
        create_tables(engine)
        log = SqlAuditLog(engine, FixedClock(START))
        for i in range(count):
            with engine.begin() as conn:
                log.append(conn, AuditTag.AUTH_TOKEN_USED, "token:auditor", {"i": i, "w": "北京"})
        return log.checkpoint()
    finally:
        engine.dispose()


def tamper(url: str, seq: int, **values: object) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(**values))
    finally:
        engine.dispose()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def test_verify_prints_ok_with_size_and_root_hash(url: str) -> None:
    checkpoint = fill(url, 5)
    result = invoke("verify", "--db", url)
    assert result.exit_code == 0
    assert result.stdout == (
        f"OK: audit log (origin lexloci) intact: size 5, root hash {checkpoint.root_hash}\n"
    )


def test_verify_uses_the_configured_database_by_default(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(url, 2)
    monkeypatch.setenv("LEXLOCI_DATABASE_URL", url)
    result = invoke("verify")
    assert result.exit_code == 0
    assert "size 2" in result.stdout


def test_verify_names_the_entry_whose_body_byte_changed_and_exits_1(url: str) -> None:
    fill(url, 6)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            body = conn.execute(
                sa.select(audit_log.c.body).where(audit_log.c.seq == 4)
            ).scalar_one()
    finally:
        engine.dispose()
    tamper(url, 4, body=body.replace(b'"i":3', b'"i":7'))
    result = invoke("verify", "--db", url)
    assert result.exit_code == 1
    assert result.stdout.startswith("BROKEN: entry 4: hash_mismatch: ")
    assert "entries up to 3 are intact" in result.stdout


def test_verify_names_an_entry_whose_tag_column_was_changed(url: str) -> None:
    fill(url, 3)
    tamper(url, 2, tag="auth:token:rejected")
    result = invoke("verify", "--db", url)
    assert result.exit_code == 1
    assert result.stdout.startswith("BROKEN: entry 2: column_mismatch: tag column")


def test_verify_shows_progress_on_long_logs(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(url, 6)
    monkeypatch.setattr(audit_commands, "LONG_LOG", 5)
    monkeypatch.setattr(verification_module, "PROGRESS_EVERY", 2)
    result = invoke("verify", "--db", url)
    assert result.exit_code == 0
    assert "verifying: 2 / 6 entries (33%)" in result.stderr
    assert "verifying: 6 / 6 entries (100%)" in result.stderr


def test_short_logs_verify_without_progress_noise(url: str) -> None:
    fill(url, 3)
    assert invoke("verify", "--db", url).stderr == ""


def test_export_writes_one_json_line_per_entry_to_stdout(url: str) -> None:
    checkpoint = fill(url, 4)
    result = invoke("export", "--db", url)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4]
    assert json.loads(lines[0])["payload"] == {"i": 0, "w": "北京"}
    assert json.loads(lines[-1])["hash"] == checkpoint.root_hash
    assert f"size 4, root hash {checkpoint.root_hash}" in result.stderr


def test_an_export_file_verifies_and_a_changed_export_does_not(url: str, tmp_path: Path) -> None:
    checkpoint = fill(url, 5)
    target = tmp_path / "audit.jsonl"
    assert invoke("export", "--db", url, "-o", str(target)).exit_code == 0
    assert not (tmp_path / "audit.jsonl.partial").exists()
    result = invoke("verify", "--from-export", str(target), "--deep")
    assert result.exit_code == 0
    assert f"size 5, root hash {checkpoint.root_hash}" in result.stdout

    lines = target.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"i":2', b'"i":9')
    target.write_bytes(b"".join(lines))
    result = invoke("verify", "--from-export", str(target))
    assert result.exit_code == 1
    assert result.stdout.startswith("BROKEN: entry 3: hash_mismatch")

    target.write_bytes(b"".join(lines[:1]) + b"not json\n")
    result = invoke("verify", "--from-export", str(target))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"BROKEN: line 2 of {target}: export line is not JSON")


def test_export_can_start_after_a_seq(url: str) -> None:
    fill(url, 5)
    result = invoke("export", "--db", url, "--after-seq", "3")
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [4, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "nope://x"], "unsupported database URL 'nope://x'"),
        (["--db", "not a url"], "invalid database URL"),
        (["--db", "postgresql+psycopg://u:secret@127.0.0.1:1/db"], "cannot open"),
        (
            ["--db", "sqlite:///x.db", "--from-export", "x.jsonl"],
            "--from-export takes neither --db nor --workers",
        ),
        (["--from-export", "/nonexistent/audit.jsonl"], "cannot read /nonexistent/audit.jsonl"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args: list[str], message: str) -> None:
    for command in (["verify"], ["export"]) if "--from-export" not in args else (["verify"],):
        result = invoke(*command, *args)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ")
        assert message in result.stderr
        assert result.stderr.count("\n") == 1
        assert "secret" not in result.stderr


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    result = invoke("verify", "--db", f"sqlite:///{path}")
    assert result.exit_code == 2
    assert f"no SQLite database at '{path}'" in result.stderr
    assert not path.exists()


def test_a_database_without_an_audit_log_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE something (id INTEGER)")
    engine.dispose()
    result = invoke("verify", "--db", f"sqlite:///{path}")
    assert result.exit_code == 2
    assert "no audit log (table audit_log)" in result.stderr


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    result = invoke("export", "--db", f"sqlite:///{path}")
    assert result.exit_code == 2
    assert "file is not a database" in result.stderr


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("LEXLOCI_TEST_POSTGRES_URL is not set")
    schema = f"lexloci_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.mark.postgres
def test_verify_and_export_work_on_postgresql(postgres_url: str) -> None:
    checkpoint = fill(postgres_url, 4)
    verified = invoke("verify", "--db", postgres_url)
    assert verified.exit_code == 0
    assert f"size 4, root hash {checkpoint.root_hash}" in verified.stdout
    exported = invoke("export", "--db", postgres_url)
    assert len(exported.stdout.splitlines()) == 4


def test_verify_with_worker_processes_gives_the_same_answer(url: str) -> None:
    fill(url, 9)
    tamper(url, 7, actor="token:someone-else")
    single = invoke("verify", "--db", url, "--workers", "1")
    parallel = invoke("verify", "--db", url, "--workers", "3")
    assert (parallel.exit_code, parallel.stdout) == (single.exit_code, single.stdout)
    assert parallel.stdout.startswith("BROKEN: entry 7: column_mismatch: actor column")
