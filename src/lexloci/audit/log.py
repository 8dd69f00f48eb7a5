"""The ``AuditLog`` port: append inside the caller's transaction, then read, page and verify.

Contract (every implementation keeps it; tests/integration/test_audit_log_contract.py runs the
same tests over each one):

- **Atomic with the state change.** ``append(tx, ...)`` writes into the caller's open
  transaction ``tx`` and returns the entry with its seq. The entry becomes visible, and durable,
  exactly when ``tx`` commits, together with the state change it records; if ``tx`` rolls back
  the entry never existed (and its seq is given to the next entry, so seqs have no gaps).
  Callers therefore commit first and only then let the effect happen (disconnect the removed
  participant, send the notice, answer the HTTP request).
- **One chain.** Appends are serialized: while a transaction holding an append is open, other
  appenders wait for it. Two transactions can never both extend the same head, so the chain
  never forks; if an implementation's serialization were bypassed, the unique seq makes one of
  the two commits fail instead.
- **Append-only.** Nothing in lexloci updates or deletes an entry.
- **Readers never wait for writers** and see only committed entries, in seq order.

``TxT`` is the implementation's transaction type: a SQLAlchemy ``Connection`` in a transaction
for ``SqlAuditLog``, an ``InMemoryTransaction`` for ``InMemoryAuditLog``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Final, Protocol, TypeVar

from lexloci.audit.model import AuditEntry, AuditPage, AuditRecord, Checkpoint, NewEntry
from lexloci.audit.tags import AuditTag

__all__ = ["DEFAULT_ORIGIN", "MAX_PAGE_LIMIT", "AuditLog", "check_page_limit"]

TxT_contra = TypeVar("TxT_contra", contravariant=True)

DEFAULT_ORIGIN: Final = "lexloci"
MAX_PAGE_LIMIT: Final = 1000


class AuditLog(Protocol[TxT_contra]):
    @property
    def origin(self) -> str:
        """The log's name in its checkpoints (one line, e.g. ``lexloci.example.org/audit``)."""
        ...

    def append(
        self, tx: TxT_contra, tag: AuditTag, actor: str, payload: Mapping[str, object]
    ) -> AuditEntry:
        """Add one entry inside ``tx``; its time comes from the log's injected clock.

        Raises ``AuditEncodingError`` for a payload the encoding refuses (then the caller's
        transaction should be rolled back: the state change would be unrecorded).
        """
        ...

    def append_many(self, tx: TxT_contra, entries: Iterable[NewEntry]) -> list[AuditEntry]:
        """Add several entries inside ``tx``, in order, with one head lookup and one write."""
        ...

    def checkpoint(self) -> Checkpoint:
        """Size and root hash of the committed log."""
        ...

    def page(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        tags: Collection[str] | None = None,
    ) -> AuditPage:
        """Up to ``limit`` (at most ``MAX_PAGE_LIMIT``) entries with seq > ``after_seq``."""
        ...

    def iter_entries(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        tags: Collection[str] | None = None,
    ) -> Iterator[AuditEntry]:
        """Entries with ``after_seq`` < seq <= ``until_seq``, streamed with bounded memory.

        ``tags`` filters on the stored tag column; an entry's fields always come from its body.
        """
        ...

    def iter_records(
        self, *, after_seq: int = 0, until_seq: int | None = None
    ) -> Iterator[AuditRecord]:
        """The stored records, unparsed, for ``verify`` and export."""
        ...


def check_page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"page limit must be between 1 and {MAX_PAGE_LIMIT}, got {limit}")
    return limit
