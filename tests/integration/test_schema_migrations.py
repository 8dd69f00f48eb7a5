"""Migrations create exactly the schema the code declares, and serve refuses an old schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from lexloci.errors import ConfigurationError
from lexloci.storage import records as _records  # noqa: F401 - declares the tables
from lexloci.storage import schema
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import metadata
from tests.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def test_migrations_build_exactly_the_declared_schema(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    assert schema.current_revision(engine) == schema.head_revision()


def test_an_empty_database_is_initialized_and_an_old_one_refused(engine: sa.Engine) -> None:
    schema.check(engine)  # empty: initialized
    assert schema.current_revision(engine) == schema.head_revision()
    schema.check(engine)  # current: accepted as it is
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(ConfigurationError, match="lexloci db upgrade"):
        schema.check(engine)


def test_the_audit_log_is_append_only_after_migration(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (seq, tag, actor, at, body, prev_hash, hash) "
                "VALUES (1, 't', 'a', 'x', :b, 'p', 'h')"
            ),
            {"b": b"{}"},
        )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


def test_serve_refuses_an_out_of_date_schema_with_a_clear_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    result = subprocess.run(
        [sys.executable, "-m", "lexloci", "serve", "--db", url, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "lexloci db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    upgraded = subprocess.run(
        [sys.executable, "-m", "lexloci", "db", "current", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "needs 'lexloci db upgrade'" in upgraded.stdout
