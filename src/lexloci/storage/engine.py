"""Database engines: SQLite (the default) and PostgreSQL through psycopg.

Invariants of an engine from ``make_engine``:

- **SQLite**: WAL journal (readers never block the writer and a ``kill -9`` cannot corrupt the
  file), ``synchronous=FULL`` (a commit is on disk when it returns, also across a power cut),
  foreign keys enforced, and a busy timeout so a writer waits for the lock instead of failing.
  Every transaction starts with ``BEGIN IMMEDIATE``, i.e. takes the single write lock when it
  begins, not at its first write. That is what lets the audit log read the chain head and
  append after it without a race (SQLAlchemy's documented recipe: the sqlite3 module's own
  transaction handling is switched off and the ``begin`` event emits BEGIN). The cost: a write
  transaction excludes other writers for its whole duration, so keep write transactions short
  and do reads in ``connect_read_only`` connections, which begin ``DEFERRED``.
- **PostgreSQL**: ``postgresql://`` means ``postgresql+psycopg://``; writers use the server's
  default READ COMMITTED isolation (the audit log serializes its appends itself with an
  advisory lock, see ``lexloci.storage.audit``); ``connect_read_only`` connections are
  ``READ ONLY`` transactions.
- Anything else, an unparsable URL, a missing driver or (with ``must_exist``) a missing SQLite
  file is a ``ConfigurationError`` with a message fit for a user, never a driver traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from lexloci.errors import ConfigurationError

__all__ = [
    "READ_ONLY_OPTION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "begins_immediate",
    "connect_read_only",
    "describe_url",
    "make_engine",
]

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
READ_ONLY_OPTION: Final = "lexloci_read_only"


def describe_url(url: str | URL) -> str:
    """The URL for messages and logs, with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def make_engine(url: str | URL, *, must_exist: bool = False) -> Engine:
    """An engine for ``url`` with the settings above.

    ``must_exist=True`` refuses to create a new SQLite file (for commands that only read, where
    a mistyped path should be an error rather than an empty database).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL {str(url)!r}: {exc}") from None
    # Split the name by hand: get_driver_name() would import the dialect, and an unknown one
    # should be "unsupported", not a plugin-loading error.
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in {"", "pysqlite"}:
        return _sqlite_engine(parsed, must_exist=must_exist)
    if backend == "postgresql" and driver in {"", "psycopg"}:
        # "postgresql://" selects psycopg2 in SQLAlchemy; lexloci is tested with psycopg 3.
        return _postgresql_engine(parsed.set(drivername="postgresql+psycopg"))
    raise ConfigurationError(
        f"unsupported database URL {describe_url(parsed)!r}: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB"
    )


def connect_read_only(engine: Engine) -> Connection:
    """A connection whose transactions only read and never take the SQLite write lock."""
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.connect().execution_options(**options)


def begins_immediate(engine: Engine) -> bool:
    """Whether write transactions on this SQLite engine begin with BEGIN IMMEDIATE."""
    return event.contains(engine, "begin", _begin)


def _sqlite_engine(url: URL, *, must_exist: bool) -> Engine:
    database = url.database or ""
    in_memory = database in {"", ":memory:"} or url.query.get("mode") == "memory"
    if must_exist and not in_memory and not Path(database).is_file():
        raise ConfigurationError(f"no SQLite database at {database!r}")
    engine = create_engine(url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Stop the sqlite3 module from emitting BEGIN itself (and from committing before DDL);
    # SQLAlchemy's "begin" event below emits our BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgresql_engine(url: URL) -> Engine:
    try:
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError):
        raise ConfigurationError(
            "PostgreSQL needs the psycopg driver: pip install 'psycopg[binary]'"
        ) from None
