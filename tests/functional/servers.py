"""Start real ``lexloci serve`` processes on loopback for functional tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    args: Sequence[str], workdir: Path, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Iterator[str]:
    """Run ``lexloci serve ARGS`` until the block ends; yield its base URL."""
    port = free_port()
    log = (workdir / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "lexloci", "serve", "--port", str(port), *args],
        cwd=workdir,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"lexloci serve exited: {(workdir / log.name).read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("lexloci serve did not answer /healthz in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
