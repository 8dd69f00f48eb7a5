"""Run a fleet of real ``lexloci serve`` processes (and, when needed, a private nats-server)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.functional.servers import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def wait_for(condition, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Node:
    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lexloci", "serve", "--port", str(self.port), *self.args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def readiness(self) -> dict[str, object] | None:
        try:
            response = httpx.get(f"{self.url}/readyz", timeout=2)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Fleet:
    workdir: Path
    database_url: str
    bus_url: str
    stream: str
    nodes: dict[str, Node] = field(default_factory=dict)

    def add(self, name: str, *, sessions: bool = True) -> Node:
        port = free_port()
        bus = ["--bus", self.bus_url] if self.bus_url else []  # no URL: the in-process bus
        args = [
            "--node", name, *bus, "--db", self.database_url,
            "--trust-proxy", "127.0.0.1/32", "--log-level", "warning",
            "--advertise-url", f"http://127.0.0.1:{port}",
            "--sessions" if sessions else "--no-sessions",
        ]  # fmt: skip
        env = {"LEXLOCI_BUS_STREAM": self.stream, "LEXLOCI_EXPIRY_INTERVAL": "1"}
        node = Node(name, port, args, env, self.workdir / f"{name}.log")
        self.nodes[name] = node
        node.start()
        return node

    def wait_ready(self, *names: str) -> None:
        for name in names or list(self.nodes):
            node = self.nodes[name]
            wait_for(node.ready, 60, what=f"node {name} ready\n{node.log()}")

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def token(self, role: str, name: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "lexloci", "token", "create", "--role", role, "--name", name,
             "--db", self.database_url],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip()


@dataclass
class NatsServer:
    """A private nats-server with JetStream, for tests that take the bus down and up again."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        store = self.workdir / "jetstream"
        store.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 20, what="nats-server to listen")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
