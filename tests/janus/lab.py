"""The Janus lab: a network namespace of the test's own, with Janus, lexloci and WebRTC peers.

Janus never gathers ICE candidates on loopback, so the lab creates a namespace (``ip netns
add``) with a veth pair whose two ends both stay inside it:

    lj0  10.123.0.1/24         Janus's ICE interface (``ice_enforce_list = "lj0"``)
    lj1  10.123.0.2/24         the peers' side; each peer gets an address of its own on it,
                               10.123.0.11, .12, ... (private addresses only: a media path
                               "in CN" is tested by posting Janus's own event batches, so no
                               public address is ever assigned, even inside the namespace)
    lo   127.0.0.1             Janus's HTTP API (8088) and admin API (7088), and lexloci

The namespace has no other interface and no route out, so nothing sent in it can leave it.
``accept_local`` is set on its interfaces because Janus sends out of ``lj0`` (it binds its ICE
sockets to the interface) towards addresses that are local to the same namespace: without it
the kernel drops the ARP exchange and the packets as martians.

The namespace is a ``tests.netns.NetworkNamespace`` (shared with the browser tests) with the
veth pair added. The test process enters it with ``setns`` on its main thread for the lab's
lifetime (``NetworkNamespace.entered``), so the lexloci server thread it then starts, its HTTP
calls, and Janus's event handler posting to lexloci all meet on the namespace's loopback. Janus and
each peer are processes started with ``ip netns exec`` and stopped by PID; the namespace is
deleted at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lexloci.media.janus_deploy import JanusDeployment, default_library_dir, write
from tests.netns import NetworkNamespace, stop_process, unique_name

PEER_SCRIPT = Path(__file__).with_name("peer.py")
JANUS_ADDRESS = "10.123.0.1"
PEER_SIDE_ADDRESS = "10.123.0.2"
JANUS_URL = "http://127.0.0.1:8088/janus"
JANUS_ADMIN_URL = "http://127.0.0.1:7088/admin"


def lab_unavailable() -> str | None:
    """Why the lab cannot run on this machine, or None."""
    if shutil.which("janus") is None:
        return "the janus binary is not installed (apt-get install janus)"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not (default_library_dir() / "plugins" / "libjanus_videoroom.so").exists():
        return "the Janus VideoRoom plugin is not installed"
    try:
        import aiortc  # noqa: F401 - only whether the peers can run
    except ImportError:
        return "aiortc is not installed (pip install -e '.[dev]')"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Namespace(NetworkNamespace):
    """A namespace of the test's own with the veth pair Janus's ICE needs (module docstring)."""

    def __init__(self) -> None:
        super().__init__(unique_name("lexloci-janus"))
        self._next_peer = 11

    def add(self) -> None:
        super().add()
        ns = ("-n", self.name)
        _ip(*ns, "link", "add", "lj0", "type", "veth", "peer", "name", "lj1")
        _ip(*ns, "addr", "add", f"{JANUS_ADDRESS}/24", "dev", "lj0")
        _ip(*ns, "addr", "add", f"{PEER_SIDE_ADDRESS}/24", "dev", "lj1")
        _ip(*ns, "link", "set", "lj0", "up")
        _ip(*ns, "link", "set", "lj1", "up")
        for interface in ("all", "default", "lj0", "lj1"):
            self.run(["sysctl", "-qw", f"net.ipv4.conf.{interface}.accept_local=1"])

    def peer_address(self, address: str | None = None) -> str:
        """A new address on the peers' side (the next 10.123.0.x, or ``address``)."""
        if address is None:
            address = f"10.123.0.{self._next_peer}"
            self._next_peer += 1
        _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "lj1")
        # Janus sends out of lj0: an address outside lj0's /24 needs a route through it.
        if not address.startswith("10.123.0."):
            _ip("-n", self.name, "route", "add", f"{address}/32", "dev", "lj0")
        return address


@dataclass
class JanusSecrets:
    admin_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    room_admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    event_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def settings(self) -> dict[str, Any]:
        """lexloci settings for a Janus started with these secrets in the lab."""
        return {
            "media": "janus",
            "janus_url": JANUS_URL,
            "janus_admin_url": JANUS_ADMIN_URL,
            "janus_admin_secret": self.admin_secret,
            "janus_room_admin_key": self.room_admin_key,
            "janus_event_token": self.event_token,
        }

    def serve_args(self) -> list[str]:
        """``lexloci serve`` options for this lab's Janus (the secrets go in ``environment``)."""
        return ["--media", "janus", "--janus-url", JANUS_URL, "--janus-admin-url", JANUS_ADMIN_URL]

    def environment(self) -> dict[str, str]:
        """The secrets as ``lexloci serve`` reads them: from the environment, never argv."""
        return {
            "LEXLOCI_JANUS_ADMIN_SECRET": self.admin_secret,
            "LEXLOCI_JANUS_ROOM_ADMIN_KEY": self.room_admin_key,
            "LEXLOCI_JANUS_EVENT_TOKEN": self.event_token,
        }


class JanusProcess:
    def __init__(self, namespace: Namespace, folder: Path, keys: JanusSecrets, events: str):
        self.namespace = namespace
        self.folder = folder
        self.log_path = folder / "janus.log"
        self.deployment = JanusDeployment(
            admin_secret=keys.admin_secret,
            room_admin_key=keys.room_admin_key,
            event_url=events,
            event_secret=keys.event_token,
            ice_interfaces=("lj0",),
            rtp_ports=(20000, 20999),
            session_timeout=60,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        write(self.deployment, self.folder)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "ip", "netns", "exec", self.namespace.name,
                    "janus", "-F", str(self.folder), "-C", str(self.folder / "janus.jcfg"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:  # the calling thread is inside the namespace: its loopback is Janus's
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{JANUS_URL}/info", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("janus did not answer /janus/info")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class PeerProcess:
    """One ``peer.py`` process, answering one JSON line per command (see its docstring)."""

    def __init__(self, namespace: Namespace, address: str, log_path: Path) -> None:
        self.address = address
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", namespace.name, sys.executable, str(PEER_SCRIPT),
             "--address", address],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )  # fmt: skip
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def call(self, op: str, timeout: float = 60.0, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        line = self._lines.get(timeout=timeout)
        if not line:
            raise RuntimeError(f"peer {self.address} exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def checked(self, op: str, **fields: Any) -> dict[str, Any]:
        answer = self.call(op, **fields)
        if not answer.get("ok"):
            raise RuntimeError(f"peer {self.address} {op}: {answer.get('error')}")
        return answer

    def publish(self, media: dict[str, Any], display: str) -> int:
        """Publish with what lexloci's join returned as ``media``; the feed id."""
        answer = self.checked(
            "publish", janus=media["url"], token=media["token"], room=media["room"],
            display=display,
        )  # fmt: skip
        return int(answer["feed"])

    def subscribe(self, feeds: list[int]) -> None:
        self.checked("subscribe", feeds=feeds)

    def status(self) -> dict[str, Any]:
        return self.checked("status")

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError, RuntimeError, queue.Empty):
                self.call("quit", timeout=10)
            stop_process(self.process)
        self._reader.join(timeout=10)  # it reads until the pipe's end, then the pipes can close
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._log.close()


def frames(status: dict[str, Any], feed: int, kind: str) -> int:
    received = status["received"].get(f"{feed}:{kind}")
    return int(received["frames"]) if received else 0


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy (no fixed sleeps in the tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def connections(status: dict[str, Any]) -> list[dict[str, Any]]:
    """The peer's publisher connection and every subscriber connection."""
    return [c for c in [status["publisher"], *status["subscribers"]] if c is not None]


def all_closed(status: dict[str, Any]) -> bool:
    """The publisher and at least one subscriber connection existed, and all are closed."""
    return (
        status["publisher"] is not None
        and bool(status["subscribers"])
        and all(c["closed_at"] is not None for c in connections(status))
    )


class Lab:
    """A namespace with Janus, entered by the calling thread, plus the peers it started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.namespace = Namespace()
        self.secrets = JanusSecrets()
        self.janus: JanusProcess | None = None
        self.peers: list[PeerProcess] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Lab:
        self._stack.callback(self.namespace.delete)
        self.namespace.add()
        self._stack.enter_context(self.namespace.entered())
        return self

    def start_janus(self, events_url: str) -> None:
        self.janus = JanusProcess(self.namespace, self.folder / "janus", self.secrets, events_url)
        self._stack.callback(self.janus.stop)
        self.janus.start()

    def peer(self, address: str | None = None) -> PeerProcess:
        address = self.namespace.peer_address(address)
        peer = PeerProcess(self.namespace, address, self.folder / f"peer-{address}.log")
        self.peers.append(peer)
        return peer

    def handles_by_participant(self) -> dict[str, int]:
        """How many Janus handles each participant holds, as Janus's admin API lists them.

        A handle is attributed through the token it was attached with, which names the
        participant (``lx1.<session>.<participant>.<mac>``, see lexloci.media.janus)."""
        counts: dict[str, int] = {}
        with httpx.Client(timeout=10) as admin:

            def call(verb: str, path: str = "") -> dict[str, Any]:
                body = {"janus": verb, "transaction": secrets.token_hex(8)}
                answer: dict[str, Any] = admin.post(
                    JANUS_ADMIN_URL + path, json={**body, "admin_secret": self.secrets.admin_secret}
                ).json()
                return answer

            for session in call("list_sessions").get("sessions", []):
                for handle in call("list_handles", f"/{session}").get("handles", []):
                    info = call("handle_info", f"/{session}/{handle}").get("info") or {}
                    parts = str(info.get("token", "")).split(".")
                    if len(parts) == 4 and parts[0] == "lx1":
                        counts[parts[2]] = counts.get(parts[2], 0) + 1
        return counts

    def close_peers(self) -> None:
        for peer in self.peers:
            peer.close()
        self.peers.clear()

    def __exit__(self, *exc: object) -> None:
        self.close_peers()
        self._stack.close()
