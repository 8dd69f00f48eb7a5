"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database on the server named by
LEXLOCI_TEST_POSTGRES_URL (marker ``postgres``; CI sets the URL and never skips)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

POSTGRES_ENV = "LEXLOCI_TEST_POSTGRES_URL"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test server; drop it afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    url = make_url(base)
    name = f"lexloci_test_{secrets.token_hex(6)}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'lexloci.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
