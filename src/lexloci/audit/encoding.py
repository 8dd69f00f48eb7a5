"""The canonical encoding of an audit entry, and the hash that chains entries together.

An entry's **body** is the one byte string that is stored and hashed. It is the UTF-8 encoding
of a JSON object with exactly these six keys, in this (sorted) order::

    {"actor":A,"at":T,"payload":P,"seq":N,"tag":G,"v":1}

- keys sorted by code point at every level, no whitespace anywhere (separators ``,`` and ``:``);
- strings are written as themselves (not ``\\u`` escaped) except ``"``, ``\\`` and the control
  characters U+0000-U+001F, which use ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t`` or
  ``\\u00XX`` (lowercase hex); strings must be valid Unicode (no lone surrogates);
- integers in decimal, within +/-(2**53 - 1) so every JSON reader gets the same number back;
- no floating-point numbers at all (there is no single agreed text form for them across
  languages, and NaN/Infinity are not JSON); use integers (counts, milliseconds) or strings;
- ``true``, ``false``, ``null``, arrays and objects as usual;
- ``at`` (and any datetime inside the payload) is ISO 8601 in UTC with exactly six fractional
  digits and a ``Z``: ``2026-11-27T12:00:00.000000Z`` (27 characters, so text order is time
  order); a ``date`` is ``YYYY-MM-DD``; naive datetimes are refused;
- ``v`` is the encoding version, 1.

This is exactly ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False).encode("utf-8")`` over the normalized values, so the encoder is a one-liner;
the rules above are what another implementation must reproduce.

The **hash** of entry ``n`` is ``SHA-256(raw(prev_hash) || body)``, written as 64 lowercase hex
digits, where ``raw(prev_hash)`` is the 32 bytes of entry ``n - 1``'s hash and, for the first
entry, the 32 zero bytes of ``GENESIS_HASH``. Each hash therefore commits to its own body and,
through ``prev_hash``, to every entry before it.

Because the keys are sorted, a body always starts with ``{"actor":A,"at":T,"payload":`` and
ends with ``,"seq":N,"tag":G,"v":1}``. ``frame`` builds those two pieces from the indexed
columns, which lets verification check the columns against the hashed body without parsing the
payload (see ``lexloci.audit.verification``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Final, TypeAlias

__all__ = [
    "ENCODING_VERSION",
    "GENESIS_HASH",
    "MAX_ACTOR_LENGTH",
    "AuditEncodingError",
    "JsonValue",
    "NormalizeMemo",
    "canonical_json",
    "canonical_spliced",
    "canonical_text",
    "encode_body",
    "encode_payload",
    "entry_hash",
    "format_timestamp",
    "frame",
    "normalize_payload",
    "parse_timestamp",
    "slot",
    "validate_actor",
]

JsonValue: TypeAlias = str | int | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

ENCODING_VERSION: Final = 1
GENESIS_HASH: Final = "0" * 64
MAX_ACTOR_LENGTH: Final = 200
_MAX_SAFE_INTEGER: Final = 2**53 - 1
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")


class AuditEncodingError(ValueError):
    """A payload or actor that cannot be written into the log.

    This is a programming error in the code that builds the entry (a float, a naive datetime,
    a set), not bad input from a user, so it is a ``ValueError`` and not a
    ``LexlociError``: the API answers it with a 500, and the state change it was meant to
    record is rolled back with it.
    """


# One encoder instance: json.dumps with keyword arguments builds a new encoder on every call,
# which costs more than encoding a typical entry.
_CANONICAL_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_encode_string: Final = encode_basestring  # the C string encoder, without ASCII escaping


def canonical_json(value: JsonValue) -> bytes:
    """The canonical bytes of an already-normalized JSON value (see the module docstring)."""
    return _CANONICAL_ENCODER.encode(value).encode("utf-8")


_TOKENS: dict[str, str] = {}  # slot name -> its encoded token


def canonical_text(value: object) -> str:
    """The canonical JSON text of any value the payload rules accept (normalized first)."""
    return _CANONICAL_ENCODER.encode(_normalize(value))


def slot(name: str) -> str:
    """A placeholder string for ``canonical_spliced``: NUL-delimited, so that no value that
    passed ``check_ref``-style validation (printable text) can be mistaken for it."""
    return f"\x00{name}\x00"


def canonical_spliced(value: Mapping[str, object], pieces: Mapping[str, str]) -> str | None:
    """The canonical JSON text of ``value`` with each ``slot(name)`` string inside it replaced
    by ``pieces[name]``, itself canonical text (``canonical_text``).

    This is how many entries that share large parts (the same evidence snapshot, the same
    reason) are encoded without encoding the shared parts again for each: the result is
    exactly ``canonical_json`` of the value with the pieces in place of the slots, because a
    canonical object's text is its members' texts in key order, whatever those members are.
    Returns None — the caller encodes the whole value instead — if a slot's token does not
    occur exactly once (a value that happened to contain it).
    """
    text = _CANONICAL_ENCODER.encode(_normalize(value))
    for name, piece in pieces.items():
        token = _TOKENS.get(name) or _TOKENS.setdefault(name, _encode_string(slot(name)))
        if text.count(token) != 1:
            return None
        text = text.replace(token, piece)
    return text


def format_timestamp(moment: dt.datetime) -> str:
    """``2026-11-27T12:00:00.000000Z``: UTC, microseconds, fixed width."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditEncodingError(f"naive datetime {moment!r}: audit times must be timezone-aware")
    # isoformat pads the year to four digits, unlike strftime("%Y") on glibc.
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> dt.datetime:
    """The aware UTC datetime of a string written by ``format_timestamp`` (and only that form)."""
    if not _TIMESTAMP.match(text):
        raise ValueError(f"not an audit timestamp (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}")
    return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)


def validate_actor(actor: str) -> str:
    """Who acted: non-empty, printable, at most ``MAX_ACTOR_LENGTH`` characters.

    By convention ``kind:id`` (``token:alice``, ``participant:p-1``, ``system:enforcement``),
    so that "everything this actor did" is one prefix query on the indexed column.
    """
    if not isinstance(actor, str) or not 0 < len(actor) <= MAX_ACTOR_LENGTH:
        raise AuditEncodingError(
            f"actor must be a string of 1 to {MAX_ACTOR_LENGTH} characters, got {actor!r}"
        )
    if not actor.isprintable():
        raise AuditEncodingError(f"actor must be printable text, got {actor!r}")
    return actor


#: ``normalize_payload``'s memo: id of a top-level value -> (that value, its normalized form).
#: Holding the value keeps its id from being reused while the memo lives.
NormalizeMemo = dict[int, tuple[object, JsonValue]]


def normalize_payload(
    payload: Mapping[str, object], memo: NormalizeMemo | None = None
) -> dict[str, JsonValue]:
    """The payload as plain JSON values, checked against the encoding rules.

    Datetimes become timestamps, dates ``YYYY-MM-DD``, tuples lists, str/int enums their values.
    Anything else that is not JSON (floats, sets, bytes, objects) is refused with the path to it.

    With a ``memo``, a top-level dict or list value that an earlier payload of the same memo
    also held (the same object: a sweep's entries share their evidence and context) is
    normalized once; callers must not change such values while the memo lives.
    """
    if not isinstance(payload, Mapping):
        raise AuditEncodingError(f"payload must be a mapping, got {type(payload).__name__}")
    if memo is None or type(payload) is not dict:
        normalized = _normalize(payload)
        assert isinstance(normalized, dict)  # a Mapping always normalizes to a dict
        return normalized
    out: dict[str, JsonValue] = {}
    shared: dict[str, JsonValue] = {}
    rest: dict[object, object] = {}
    for key, value in payload.items():
        kind = type(value)
        if type(key) is str and (kind is dict or kind is list):
            held = memo.get(id(value))
            if held is None or held[0] is not value:
                held = memo[id(value)] = (value, _normalize_at(key, value))
            shared[key] = held[1]
        else:
            rest[key] = value
    out = _normalize_dict(rest)
    out.update(shared)
    return out


def _normalize_at(key: str, value: object) -> JsonValue:
    try:
        return _normalize(value)
    except AuditEncodingError as exc:
        raise AuditEncodingError(f"at {key!r}: {exc}") from None


def _normalize(value: object) -> JsonValue:
    # Every join decision is written through here, so plain JSON values take a fast path:
    # exact-type checks, and leaves handled in the container loops without a call each. The
    # isinstance checks against ABCs, and everything unusual, are left to the slow paths.
    kind = type(value)
    if kind is dict:
        return _normalize_dict(value)  # type: ignore[arg-type]  # exactly a dict
    if kind is list or kind is tuple:
        return _normalize_list(value)  # type: ignore[arg-type]  # exactly a list or tuple
    if _is_plain_leaf(value):
        return value  # type: ignore[return-value]  # checked by _is_plain_leaf
    if isinstance(value, Mapping):
        return _normalize_dict(value)
    if isinstance(value, list | tuple):
        return _normalize_list(value)
    return _normalize_scalar(value)


def _is_plain_leaf(value: object) -> bool:
    kind = type(value)
    return (
        kind is str
        or kind is bool
        or value is None
        or (kind is int and -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER)  # type: ignore[operator]
    )


def _normalize_dict(value: Mapping[object, object]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise AuditEncodingError(f"object key {key!r} is not a string")
            key = str(key)  # noqa: PLW2901 - a StrEnum key becomes its plain value
        kind = type(item)
        if kind is str or kind is bool or item is None:
            out[key] = item  # type: ignore[assignment]  # exactly str, bool or None
            continue
        try:
            out[key] = _normalize(item)
        except AuditEncodingError as exc:
            raise AuditEncodingError(f"at {key!r}: {exc}") from None
    return out


def _normalize_list(value: list[object] | tuple[object, ...]) -> list[JsonValue]:
    items: list[JsonValue] = []
    for index, item in enumerate(value):
        kind = type(item)
        if kind is str or kind is bool or item is None:
            items.append(item)  # type: ignore[arg-type]  # exactly str, bool or None
            continue
        try:
            items.append(_normalize(item))
        except AuditEncodingError as exc:
            raise AuditEncodingError(f"at [{index}]: {exc}") from None
    return items


def _normalize_scalar(value: object) -> JsonValue:
    # Order matters: bool is an int subclass, and datetime is a date subclass.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a StrEnum member becomes its plain value
    if isinstance(value, int) and -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        return int(value)
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        problem = f"integer {value} is outside +/-(2**53 - 1)"
    elif isinstance(value, float):
        problem = f"float {value!r}: the audit encoding has no floats; use an integer or a string"
    elif isinstance(value, set | frozenset):
        problem = f"{type(value).__name__} is not JSON-compatible; sort it into a list"
    else:
        problem = f"{type(value).__name__} is not JSON-compatible"
    raise AuditEncodingError(problem)


def encode_body(
    *, seq: int, tag: str, actor: str, at: str, payload: Mapping[str, JsonValue]
) -> bytes:
    """The canonical body. ``payload`` must already be normalized."""
    document: dict[str, JsonValue] = {
        "actor": actor,
        "at": at,
        "payload": dict(payload),
        "seq": seq,
        "tag": tag,
        "v": ENCODING_VERSION,
    }
    try:
        return canonical_json(document)
    except UnicodeEncodeError as exc:
        raise AuditEncodingError(f"text is not valid Unicode: {exc.reason}") from None


def encode_payload(payload: Mapping[str, JsonValue]) -> bytes:
    """The canonical bytes of a normalized payload: exactly what ``encode_body`` puts between
    ``"payload":`` and ``,"seq":``."""
    try:
        return canonical_json(dict(payload))
    except UnicodeEncodeError as exc:
        raise AuditEncodingError(f"text is not valid Unicode: {exc.reason}") from None


def frame(*, seq: int, tag: str, actor: str, at: str) -> tuple[bytes, bytes]:
    """The bytes every canonical body with these fields starts and ends with.

    Called once per entry by ``verify``, hence string building instead of a JSON document.
    A lone surrogate in a column cannot be encoded and gives a frame no body matches.
    """
    head = f'{{"actor":{_encode_string(actor)},"at":{_encode_string(at)},"payload":'
    tail = f',"seq":{seq},"tag":{_encode_string(tag)},"v":{ENCODING_VERSION}}}'
    return (
        head.encode("utf-8", "surrogatepass"),
        tail.encode("utf-8", "surrogatepass"),
    )


def entry_hash(prev_hash: str, body: bytes) -> str:
    """``SHA-256(raw(prev_hash) || body)`` as lowercase hex."""
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    digest.update(body)
    return digest.hexdigest()
