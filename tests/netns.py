"""A network namespace of the test's own, and ways into it (browser and Janus tests share it).

Why: Chromium's ICE offers every address of the machine it runs on (here also eth0's
192.0.2.2), Janus never gathers candidates on loopback, and a test may send traffic only to
loopback or to namespaces it made itself. So the browser tests run the server and Chromium in
a fresh namespace whose only interface is its own loopback, and the Janus lab
(tests/janus/lab.py) adds a veth pair whose two ends both stay inside; nothing they do can
leave it.

Ways in:

- ``popen``/``run``: a command started with ``ip netns exec`` (which execs it, so the PID we
  hold is the command's own and terminating it needs nothing broader);
- ``wrapper``: a tiny script that execs a program inside the namespace, for tools that start a
  program themselves (Playwright starts Chromium from ``executable_path`` and talks to it over a
  pipe, which crosses namespaces untouched);
- ``http``: an httpx client whose one worker thread has joined the namespace with ``setns(2)``.
  A network namespace is per thread, and a socket stays in the namespace it was made in, so
  the test process reaches the server's 127.0.0.1 without a veth or a route;
- ``entered``: the calling thread itself, for a while (and every thread and process it starts
  meanwhile, which inherit it).

``NetworkNamespace.create`` deletes the namespace on exit; whatever still runs in it then has
no network at all, so a leak cannot reach anything.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

__all__ = [
    "NamespaceHttp",
    "NamespaceUnavailable",
    "NetworkNamespace",
    "stop_process",
    "unique_name",
]

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
_NETNS_DIR = Path("/run/netns")


class NamespaceUnavailable(RuntimeError):
    """This machine cannot give the test a network namespace (no iproute2, or not root)."""


def unique_name(prefix: str) -> str:
    """``PREFIX-PID-RANDOM``: unique across the modules of one test run, and across runs."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


class NetworkNamespace:
    def __init__(self, name: str) -> None:
        self.name = name
        self.path = _NETNS_DIR / name

    @classmethod
    @contextmanager
    def create(cls, prefix: str) -> Iterator[NetworkNamespace]:
        """A new namespace (``unique_name(prefix)``) with its loopback up; deleted on exit."""
        namespace = cls(unique_name(prefix))
        namespace.add()
        try:
            yield namespace
        finally:
            namespace.delete()

    def add(self) -> None:
        """Create the namespace and bring its loopback up (``delete`` undoes it)."""
        if shutil.which("ip") is None:
            raise NamespaceUnavailable("iproute2's ip command is not installed")
        added = subprocess.run(
            ["ip", "netns", "add", self.name], capture_output=True, text=True, check=False
        )
        if added.returncode != 0:
            raise NamespaceUnavailable(f"ip netns add {self.name}: {added.stderr.strip()}")
        self.run(["ip", "link", "set", "lo", "up"])

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    def command(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args), capture_output=True, text=True, check=True)

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(args), **kwargs)

    def wrapper(self, path: Path, program: str) -> Path:
        """Write an executable script at ``path`` that runs ``program`` in this namespace."""
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {program} "$@"\n')
        path.chmod(0o755)
        return path

    def http(self, base_url: str, timeout: float = 15.0) -> NamespaceHttp:
        return NamespaceHttp(self, base_url, timeout)

    def enter_current_thread(self) -> None:
        """Move the calling thread (only it) into this namespace."""
        _setns(self.path, self.name)

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run this thread (and the threads and processes it starts) inside the namespace."""
        # Held open for the way back, whatever happens meanwhile.
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            self.enter_current_thread()
            try:
                yield
            finally:
                _setns_fd(fd, "the test's own namespace")
        finally:
            os.close(fd)


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _setns(path: Path, name: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns_fd(fd, name)
    finally:
        os.close(fd)


def _setns_fd(fd: int, name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns into {name}: {os.strerror(errno)}")


class NamespaceHttp:
    """Synchronous HTTP calls made from a worker thread that lives inside the namespace."""

    def __init__(self, namespace: NetworkNamespace, base_url: str, timeout: float) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"netns-{namespace.name}",
            initializer=namespace.enter_current_thread,
        )
        # The client is created inside the worker, so its sockets are made in the namespace.
        self._client = self._call(lambda: httpx.Client(base_url=base_url, timeout=timeout))

    def _call(self, function: Callable[[], T]) -> T:
        return self._pool.submit(function).result()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._call(lambda: self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._call(self._client.close)
        self._pool.shutdown(wait=True)
