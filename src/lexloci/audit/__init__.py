"""The hash-chained audit log (invariant I4): every decision and action, before it takes effect.

Pure Python (standard library only). The pieces:

- ``AuditTag``: what happened, as ``source:subject:action``, with the payload keys each needs;
- ``seal`` and ``lexloci.audit.encoding``: the canonical body and the SHA-256 chain;
- ``AuditLog``: the port (append inside the caller's transaction; checkpoint; page; iterate);
  ``InMemoryAuditLog`` here, ``lexloci.storage.audit.SqlAuditLog`` for SQLite/PostgreSQL;
- ``Checkpoint``: size and root hash, what a transparency report cites;
- ``verify``: recompute the chain and name the first broken entry.

docs/audit.md is the reference for the tags, the encoding and the guarantees.
"""

from lexloci.audit.encoding import (
    GENESIS_HASH,
    AuditEncodingError,
    JsonValue,
    canonical_json,
    entry_hash,
    format_timestamp,
    parse_timestamp,
)
from lexloci.audit.log import DEFAULT_ORIGIN, MAX_PAGE_LIMIT, AuditLog
from lexloci.audit.memory import InMemoryAuditLog, InMemoryTransaction
from lexloci.audit.model import (
    AuditEntry,
    AuditPage,
    AuditRecord,
    Checkpoint,
    NewEntry,
    UnparsableEntry,
    export_line,
    records_from_export,
    seal,
)
from lexloci.audit.tags import AuditTag
from lexloci.audit.verification import Breakage, Problem, VerifyResult, VerifyStatus, verify

__all__ = [
    "DEFAULT_ORIGIN",
    "GENESIS_HASH",
    "MAX_PAGE_LIMIT",
    "AuditEncodingError",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "AuditTag",
    "Breakage",
    "Checkpoint",
    "InMemoryAuditLog",
    "InMemoryTransaction",
    "JsonValue",
    "NewEntry",
    "Problem",
    "UnparsableEntry",
    "VerifyResult",
    "VerifyStatus",
    "canonical_json",
    "entry_hash",
    "export_line",
    "format_timestamp",
    "parse_timestamp",
    "records_from_export",
    "seal",
    "verify",
]
