"""The schema: one shared ``metadata`` that every lexloci table is declared on.

Invariants:

- ``audit_log`` is append-only: the database itself refuses UPDATE, DELETE (and, on
  PostgreSQL, TRUNCATE) with triggers created together with the table. This is a defence
  against mistakes and casual tampering, not the guarantee: someone who owns the database can
  drop the triggers, and the hash chain (``lexloci audit verify``) is what detects that. A
  migration that creates ``audit_log`` must create the triggers as well
  (``AUDIT_LOG_GUARD_DDL``).
- ``audit_log.body`` is binary on purpose: the hash is over exactly those bytes, and no driver
  or server text-encoding conversion may stand between what was hashed and what is read back.
- ``seq`` is the primary key (on SQLite an alias of the rowid): two appends can never both
  claim the same place in the chain.
- Constraint and index names follow ``NAMING_CONVENTION`` so migrations can refer to them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
)

from lexloci.audit.encoding import MAX_ACTOR_LENGTH

__all__ = ["AUDIT_LOG_GUARD_DDL", "NAMING_CONVENTION", "audit_log", "create_tables", "metadata"]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

audit_log = Table(
    "audit_log",
    metadata,
    # INTEGER (not BIGINT) on SQLite so that seq is the rowid: no second index, faster scans.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("tag", String(64), nullable=False),
    Column("actor", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("at", String(27), nullable=False),  # the body's timestamp text: text order = time
    Column("body", LargeBinary, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "tag", "seq"),
    Index(None, "at"),
    Index(None, "actor", "seq"),
)

_SQLITE_GUARD = [
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRESQL_GUARD = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "'BEGIN RAISE EXCEPTION ''audit_log is append-only''; END'",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]
AUDIT_LOG_GUARD_DDL: Final = {"sqlite": _SQLITE_GUARD, "postgresql": _POSTGRESQL_GUARD}


@event.listens_for(audit_log, "after_create")
def _create_audit_log_guard(_table: Table, connection: Connection, **_kw: Any) -> None:
    for statement in AUDIT_LOG_GUARD_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


def create_tables(engine: Engine) -> None:
    """Create every table that does not exist yet (with the audit log's guard triggers)."""
    metadata.create_all(engine)
