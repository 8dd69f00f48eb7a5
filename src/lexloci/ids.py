"""Random identifiers and secrets, drawn from a buffered pool of kernel randomness.

``os.urandom`` releases the GIL around its ``getrandom()`` call. On a busy node the group
commit thread then takes the GIL and may keep it for a whole switch interval (5 ms), so a join
that drew its participant id and its token straight from ``secrets`` waited for the GIL twice
(measured: a fifth of the event loop's samples under load, see docs/meetings.md). This module
reads 4 KiB at a time and hands out slices: one system call per ~100 tokens.

The bytes are the kernel CSPRNG's output either way, used once each; the pool is per process
(emptied in a forked child, so parent and child never hand out the same bytes) and guarded by
a lock.
"""

from __future__ import annotations

import base64
import os
import threading
import time

__all__ = ["time_ordered_hex", "token_bytes", "token_hex", "token_urlsafe"]

_CHUNK = 4096


class _Pool:
    __slots__ = ("_bytes", "_lock", "_offset")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._offset = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._offset + n > len(self._bytes):
                self._bytes, self._offset = os.urandom(_CHUNK), 0
            start = self._offset
            self._offset += n
            return self._bytes[start : start + n]


_POOL = _Pool()


def token_bytes(n: int) -> bytes:
    """``n`` random bytes (like ``secrets.token_bytes``)."""
    if n <= 0:
        raise ValueError("token_bytes needs a positive size")
    if n > _CHUNK // 4:
        return os.urandom(n)
    return _POOL.take(n)


def token_hex(n: int) -> str:
    """``2n`` hex digits from ``n`` random bytes (like ``secrets.token_hex``)."""
    return token_bytes(n).hex()


def token_urlsafe(n: int) -> str:
    """URL-safe base64 of ``n`` random bytes, unpadded (like ``secrets.token_urlsafe``)."""
    return base64.urlsafe_b64encode(token_bytes(n)).rstrip(b"=").decode("ascii")


def time_ordered_hex() -> str:
    """26 hex digits that sort by creation time: 14 of microseconds since the epoch, then 12
    random ones (48 bits: two made in one microsecond on any nodes are still distinct).

    For ids of rows written at a high rate, such as participants: a random key lands on a
    random page of each index over it, so every insert dirties another page, written to the
    WAL at the next commit; keys that grow with time fill the last page instead (measured on
    the gate's writer: about a fifth of its CPU per join). An id made so tells when it was
    made, to the microsecond; use it only where that time is no secret (a participant's
    ``joined_at`` is in every roster)."""
    return f"{time.time_ns() // 1000:014x}{token_hex(6)}"


# A forked child starts with an empty pool: it never hands out bytes its parent also holds.
os.register_at_fork(after_in_child=_POOL.reset)
