"""The database schema's version, managed by Alembic migrations (``storage/migrations``).

- ``upgrade(engine)`` applies every migration not yet applied (``lexloci db upgrade``).
- ``check(engine)`` is what ``lexloci serve`` runs at start: a database with no lexloci tables
  at all is initialized (creating it is the same as upgrading from nothing, so the quick start
  needs no extra step); a database at the current revision is used as it is; anything else —
  an older revision, or lexloci tables without a recorded revision — is refused with a message
  that says to run ``lexloci db upgrade``. lexloci never changes an existing schema by itself.
"""

from __future__ import annotations

from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lexloci.errors import ConfigurationError
from lexloci.storage.engine import describe_url

__all__ = ["check", "current_revision", "head_revision", "upgrade"]

# An arbitrary constant naming "lexloci schema changes" among PostgreSQL advisory locks.
_SCHEMA_LOCK = 0x1E510C1


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("lexloci.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships at least one migration
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations; returns (revision before, revision after)."""
    before = current_revision(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        command.upgrade(_config(conn), revision)
    return before, head_revision()


def check(engine: sa.Engine) -> None:
    """Initialize an empty database; refuse an out-of-date one (see the module docstring).

    Several processes of a fleet may start on one new database at once: the check runs in one
    write transaction holding a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock),
    so exactly one of them creates the schema and the others find it done.
    """
    head = head_revision()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        if current is None and not tables:
            command.upgrade(_config(conn), "head")
            return
    where = describe_url(engine.url)
    found = f"revision {current}" if current else "lexloci tables with no recorded revision"
    raise ConfigurationError(
        f"the database {where} has {found}; this lexloci needs revision {head}. "
        f"Back it up, then run: lexloci db upgrade --db '{where}'"
    )
