"""Audit entries as stored (``AuditRecord``) and as read (``AuditEntry``), and checkpoints.

Invariants:

- ``seq`` numbers entries 1, 2, 3, ... with no gaps: the n-th entry ever appended has seq n,
  so a log of size N holds exactly seqs 1..N and a checkpoint's size is its last seq;
- a record's ``body`` (see ``lexloci.audit.encoding``) is the source of truth; its ``tag``,
  ``actor`` and ``at`` columns are copies kept for queries, and ``verify`` checks that they
  match the body;
- ``AuditEntry`` is always built from the body, never from the columns;
- ``seal`` is the only way entries are made: it normalizes the payload, encodes the body and
  computes the hash, so every implementation of ``AuditLog`` writes identical bytes. It is
  ``prepare`` (check and encode what does not depend on the entry's place in the chain) then
  ``seal_prepared`` (frame it with seq and time, and hash it after the head); a log that
  serializes appends with a lock prepares before taking it, so the lock is held only for the
  framing and the hash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lexloci.audit.encoding import (
    ENCODING_VERSION,
    JsonValue,
    NormalizeMemo,
    canonical_json,
    encode_payload,
    entry_hash,
    format_timestamp,
    frame,
    normalize_payload,
    parse_timestamp,
    validate_actor,
)
from lexloci.audit.tags import AuditTag

__all__ = [
    "AuditEntry",
    "AuditPage",
    "AuditRecord",
    "Checkpoint",
    "NewEntry",
    "PreparedEntry",
    "SealedEntry",
    "UnparsableEntry",
    "export_line",
    "link",
    "prepare",
    "records_from_export",
    "seal",
    "seal_prepared",
]

_BODY_KEYS = frozenset({"actor", "at", "payload", "seq", "tag", "v"})


class UnparsableEntry(ValueError):
    """A stored body (or an export line) that is not a well-formed audit entry."""

    def __init__(self, seq: int | None, reason: str) -> None:
        where = f"entry {seq}" if seq is not None else "entry"
        super().__init__(f"{where}: {reason}")
        self.seq = seq
        self.reason = reason


class AuditRecord(NamedTuple):
    """One entry exactly as stored: the query columns, the hashed body and the two hashes.

    A NamedTuple because verification streams millions of these and tuples are cheap.
    """

    seq: int
    tag: str
    actor: str
    at: str
    body: bytes
    prev_hash: str
    hash: str


class NewEntry(NamedTuple):
    """What a caller asks to append; the log adds seq, time and hashes."""

    tag: AuditTag
    actor: str
    payload: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry as read from its body. ``tag`` is a plain string so entries written by a newer
    lexloci (with tags this version does not know) can still be read; compare it with
    ``AuditTag`` members directly (they are strings)."""

    seq: int
    tag: str
    actor: str
    at: dt.datetime
    payload: dict[str, JsonValue]
    prev_hash: str
    hash: str

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditEntry:
        document = _parse_body(record.body, record.seq)
        try:
            at = parse_timestamp(document["at"])
        except (TypeError, ValueError) as exc:
            raise UnparsableEntry(record.seq, f"bad 'at': {exc}") from None
        return cls(
            seq=document["seq"],
            tag=document["tag"],
            actor=document["actor"],
            at=at,
            payload=document["payload"],
            prev_hash=record.prev_hash,
            hash=record.hash,
        )

    def to_dict(self) -> dict[str, JsonValue]:
        """The export/API shape: the body's fields plus ``prev_hash`` and ``hash``."""
        return {
            "seq": self.seq,
            "tag": self.tag,
            "actor": self.actor,
            "at": format_timestamp(self.at),
            "payload": self.payload,
            "v": ENCODING_VERSION,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _parse_body(body: bytes, seq: int | None) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnparsableEntry(seq, f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict) or document.keys() != _BODY_KEYS:
        raise UnparsableEntry(seq, f"body must be an object with keys {sorted(_BODY_KEYS)}")
    if document["v"] != ENCODING_VERSION:
        raise UnparsableEntry(seq, f"unknown encoding version {document['v']!r}")
    types = {"seq": int, "tag": str, "actor": str, "at": str, "payload": dict}
    for key, expected in types.items():
        if not isinstance(document[key], expected) or isinstance(document[key], bool):
            raise UnparsableEntry(seq, f"body field {key!r} is not a {expected.__name__}")
    return document


@dataclass(frozen=True, slots=True)
class SealedEntry:
    record: AuditRecord
    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An entry checked and encoded, up to what depends on its place in the chain."""

    tag: AuditTag
    actor: str
    payload: dict[str, JsonValue]  # normalized
    payload_bytes: bytes  # its canonical encoding


def prepare(
    tag: AuditTag, actor: str, payload: Mapping[str, object], memo: NormalizeMemo | None = None
) -> PreparedEntry:
    """Check ``tag`` and ``actor``, normalize and encode ``payload`` (the costly part of
    sealing, and the part that needs no lock)."""
    if not isinstance(tag, AuditTag):
        raise TypeError(f"tag must be an AuditTag, got {tag!r}")
    validate_actor(actor)
    normalized = normalize_payload(payload, memo)
    return PreparedEntry(tag, actor, normalized, encode_payload(normalized))


def link(
    *, seq: int, prev_hash: str, tag: str, actor: str, at: dt.datetime, payload_bytes: bytes
) -> AuditRecord:
    """The stored record of the next link after ``prev_hash``: the frame of (actor, at, seq,
    tag) around an already-encoded canonical payload, and its hash. The one place a body is
    framed and chained (``seal_prepared``, and bulk writers that encode payloads themselves)."""
    at_text = format_timestamp(at)
    head, tail = frame(seq=seq, tag=tag, actor=actor, at=at_text)
    body = head + payload_bytes + tail
    return AuditRecord(seq, tag, actor, at_text, body, prev_hash, entry_hash(prev_hash, body))


def seal_prepared(
    prepared: PreparedEntry, *, seq: int, prev_hash: str, at: dt.datetime
) -> SealedEntry:
    """The next link after ``prev_hash``: the body is the frame of (actor, at, seq, tag)
    around the encoded payload, byte for byte what ``encode_body`` gives (keys are sorted, so
    ``payload`` sits between ``at`` and ``seq``)."""
    tag = prepared.tag.value
    record = link(
        seq=seq, prev_hash=prev_hash, tag=tag, actor=prepared.actor, at=at,
        payload_bytes=prepared.payload_bytes,
    )  # fmt: skip
    digest = record.hash
    # The entry carries what a reader gets back from the body: the normalized payload, and
    # the time in UTC (exact: the timestamp keeps every microsecond).
    entry = AuditEntry(
        seq=seq,
        tag=tag,
        actor=prepared.actor,
        at=at.astimezone(dt.UTC),
        payload=prepared.payload,
        prev_hash=prev_hash,
        hash=digest,
    )
    return SealedEntry(record, entry)


def seal(
    *,
    seq: int,
    prev_hash: str,
    tag: AuditTag,
    actor: str,
    at: dt.datetime,
    payload: Mapping[str, object],
    memo: NormalizeMemo | None = None,
) -> SealedEntry:
    """Build the record and entry for the next link of a chain whose head is ``prev_hash``
    (``memo``: see ``normalize_payload``)."""
    return seal_prepared(prepare(tag, actor, payload, memo), seq=seq, prev_hash=prev_hash, at=at)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The log's size and root hash at one moment: what a report cites.

    The root hash is the hash of entry ``size`` (``GENESIS_HASH`` for an empty log). Because
    each hash covers the previous one, it commits to every entry 1..size, in order: changing,
    inserting, removing or reordering any of them changes it (short of a SHA-256 collision).
    See docs/audit.md for why a chain head is enough here and what a Merkle tree would add.
    """

    origin: str
    size: int
    root_hash: str

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValueError("a checkpoint origin is one non-empty line")
        if self.size < 0:
            raise ValueError("a checkpoint size is not negative")
        if len(self.root_hash) != 64 or self.root_hash.strip("0123456789abcdef"):
            raise ValueError("a checkpoint root hash is 64 lowercase hex digits")

    def to_dict(self) -> dict[str, JsonValue]:
        return {"origin": self.origin, "size": self.size, "root_hash": self.root_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Checkpoint:
        origin, size, root = data.get("origin"), data.get("size"), data.get("root_hash")
        if not isinstance(origin, str) or not isinstance(root, str):
            raise ValueError("a checkpoint needs string 'origin' and 'root_hash'")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ValueError("a checkpoint needs an integer 'size'")
        return cls(origin, size, root)

    def to_note(self) -> str:
        """The unsigned checkpoint body in the c2sp.org/tlog-checkpoint text layout.

        Three lines: origin, size in decimal, root hash in standard base64. Unlike a
        tlog-checkpoint the root is a hash-chain head, not an RFC 6962 Merkle root, so
        Merkle inclusion proofs do not apply to it.
        """
        root = base64.b64encode(bytes.fromhex(self.root_hash)).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n"

    @classmethod
    def from_note(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[3] != "" or not lines[1].isdigit():
            raise ValueError("a checkpoint note is: origin, size, base64 root hash, one per line")
        try:
            root = base64.b64decode(lines[2], validate=True)
        except binascii.Error:
            raise ValueError("the checkpoint root hash is not base64") from None
        return cls(lines[0], int(lines[1]), root.hex())


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of entries in seq order; pass ``next_after_seq`` back to get the next page."""

    entries: tuple[AuditEntry, ...]
    next_after_seq: int | None = field(default=None)


def export_line(record: AuditRecord) -> bytes:
    """One JSON Lines line (with its newline) for a stored record.

    The line is the body's object with ``hash`` and ``prev_hash`` added in front, so the exact
    body can be rebuilt by any reader: drop those two keys and apply the canonical encoding.
    It is built from the stored bytes without parsing them, so exporting does not verify.
    """
    if not (record.body.startswith(b'{"') and record.body.endswith(b"}")):
        raise UnparsableEntry(record.seq, "body is not a JSON object; run verify")
    return b'{"hash":%s,"prev_hash":%s,%s\n' % (
        canonical_json(record.hash),
        canonical_json(record.prev_hash),
        record.body[1:],
    )


def records_from_export(lines: Iterable[bytes | str]) -> Iterator[AuditRecord]:
    """Rebuild the stored records from an export, for verification away from the database.

    Raises ``UnparsableEntry`` (with the line number as ``seq`` when the line has no usable seq)
    for a line that is not an export record; blank lines are not allowed either.
    """
    for line_number, line in enumerate(lines, start=1):
        raw = line.encode("utf-8") if isinstance(line, str) else line
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnparsableEntry(line_number, f"export line is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise UnparsableEntry(line_number, "export line is not a JSON object")
        digest, prev_hash = document.pop("hash", None), document.pop("prev_hash", None)
        if not isinstance(digest, str) or not isinstance(prev_hash, str):
            raise UnparsableEntry(line_number, "export line lacks 'hash' or 'prev_hash'")
        try:
            body = canonical_json(document)
        except ValueError as exc:  # NaN/Infinity or a lone surrogate: never written by seal
            reason = f"export line has no canonical form: {exc}"
            raise UnparsableEntry(line_number, reason) from None
        fields = _parse_body(body, line_number)
        yield AuditRecord(
            fields["seq"], fields["tag"], fields["actor"], fields["at"], body, prev_hash, digest
        )
