"""What the benches share: progress lines, percentiles, a free loopback port, and a minimal
keep-alive HTTP/1.1 client (so the driver costs the server's measurements as little as
possible). Imported by the bench scripts, which run with this folder on ``sys.path``."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from collections.abc import Sequence
from typing import Any

__all__ = ["HttpError", "RawHttp", "free_port", "percentile", "progress"]


def progress(message: str) -> None:
    print(message, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpError(RuntimeError):
    pass


class RawHttp:
    """Requests over a pool of keep-alive connections; the driver should cost next to nothing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        if self._idle:
            reader, writer = self._idle.pop()
            return reader, writer, True
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return reader, writer, False

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers)
            + "\r\n"
        ).encode("latin-1") + body
        while True:
            reader, writer, reused = await self._connection()
            try:
                writer.write(head)
                raw = await reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if reused:  # the server closed an idle keep-alive connection: try the next
                    continue
                raise
            status = int(raw[9:12])
            lower = raw.lower()
            start = lower.find(b"\r\ncontent-length:")
            if start < 0:
                writer.close()
                raise HttpError(f"{method} {path}: no Content-Length in {raw!r}")
            end = lower.index(b"\r\n", start + 2)
            payload = await reader.readexactly(int(raw[start + 17 : end]))
            if b"\r\nconnection: close" in lower:
                writer.close()
            else:
                self._idle.append((reader, writer))
            return status, payload

    async def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        address: str | None = None,
        expect: int = 200,
    ) -> Any:
        headers = [("Content-Type", "application/json")]
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        if address is not None:
            headers.append(("X-Forwarded-For", address))
        raw = json.dumps(body).encode() if body is not None else b""
        status, payload = await self.request(method, path, raw, headers)
        if status != expect:
            raise HttpError(f"{method} {path}: {status} {payload[:500]!r}")
        return json.loads(payload)

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
