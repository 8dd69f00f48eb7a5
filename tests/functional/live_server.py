"""A real uvicorn server on loopback, in a thread of the test process.

Tests talk to it over real HTTP and WebSocket connections, and may also reach into its
container (the composition root's objects) — for example to activate a restriction through the
domain API before the case workflow is involved — by running coroutines on the server's own
event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from lexloci.api.app import create_app
from lexloci.auth import Role
from lexloci.bootstrap import Container, build_container
from lexloci.config import Settings
from tests.functional.servers import free_port

T = TypeVar("T")


class LiveServer:
    def __init__(self, container: Container, server: uvicorn.Server, base: str) -> None:
        self.container = container
        self.server = server
        self.base = base
        self.ws_base = base.replace("http://", "ws://")
        self.http = httpx.Client(base_url=base, timeout=10.0)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.server.servers[0].get_loop()  # type: ignore[no-any-return]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def staff_token(self, role: Role, name: str) -> str:
        _, token = self.container.tokens.create(name, self.container.clock.now(), role=role)
        return token


@contextmanager
def live_server(tmp_path: Path, **settings: Any) -> Iterator[LiveServer]:
    settings.setdefault("database_url", f"sqlite:///{tmp_path / 'lexloci.db'}")
    settings.setdefault("trust_proxy", ["127.0.0.1/32"])
    container = build_container(Settings(**settings))
    app = create_app(container)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        proxy_headers=False,
        log_level="warning",
        ws_max_size=64 * 1024,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    live = LiveServer(container, server, f"http://127.0.0.1:{port}")
    try:
        yield live
    finally:
        live.http.close()
        server.should_exit = True
        thread.join(timeout=10)
        container.close()
