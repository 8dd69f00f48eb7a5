"""The browser-test stack: ``lexloci serve`` and Chromium in a namespace, and helpers to drive it.

``MeetingStack`` owns the namespace, the server process, an HTTP client inside the namespace
(for the host's and staff's API calls) and one Chromium. ``Participant`` is one browser context
— its own X-Forwarded-For address, hence its own country, and its own language — with the
meeting page open.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexloci.api.routes.pages import STRINGS
from tests.netns import NamespaceHttp, NamespaceUnavailable, NetworkNamespace, stop_process

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PORT = 8000  # the namespace is ours alone: no other listener can hold the port
WAIT_MS = 45_000  # generous: two cores run a server and several Chromium renderers

# Real public addresses of each territory, as in tests/functional/meeting_clients.py.
ADDRESS = {"CN": "223.5.5.5", "DE": "5.9.0.1", "HK": "202.45.84.58", "US": "8.8.4.4"}

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # WebRTC between pages of one machine: offer loopback candidates, with their real address
    # rather than an mDNS name nothing here could resolve.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

_LEXLOCI = (sys.executable, "-m", "lexloci")

CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}

_PLAYING = """([peer, after]) => {
    const video = document.querySelector(`video[data-peer="${peer}"]`);
    return video !== null && !video.paused && video.videoWidth > 0 && video.currentTime > after;
}"""


@dataclass(frozen=True)
class Meeting:
    account_id: str
    host_token: str
    meeting_id: str
    session_id: str


class MeetingStack:
    def __init__(
        self, namespace: NetworkNamespace, http: NamespaceHttp, browser: Any, tokens: dict[str, str]
    ) -> None:
        self.namespace = namespace
        self.http = http
        self.browser = browser
        self.tokens = tokens
        self.base = f"http://127.0.0.1:{PORT}"

    def _auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def _ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    def meeting(self, topic: str, home_country: str = "HK") -> Meeting:
        account = self._ok(
            self.http.post(
                "/api/v1/accounts",
                json={"name": "Vigil host", "home_country": home_country},
                headers=self._auth("admin"),
            ),
            201,
        )
        host = {"Authorization": f"Bearer {account['host_token']}"}
        meeting = self._ok(
            self.http.post(
                "/api/v1/meetings",
                json={"topic": topic, "host_account_id": account["id"]},
                headers=host,
            ),
            201,
        )
        session = self._ok(
            self.http.post(f"/api/v1/meetings/{meeting['id']}/sessions", headers=host), 201
        )
        assert session["join_url"] == f"/meet/{session['id']}"
        return Meeting(account["id"], account["host_token"], meeting["id"], session["id"])

    def roster(self, meeting: Meeting) -> dict[str, dict[str, Any]]:
        """Everyone who joined or tried to, by display name (names are unique per test)."""
        body = self._ok(
            self.http.get(
                f"/api/v1/sessions/{meeting.session_id}/participants",
                headers={"Authorization": f"Bearer {meeting.host_token}"},
            )
        )
        return {p["display_name"]: p for p in body["participants"]}

    def restrict_cn_through_a_case(self, meeting: Meeting) -> dict[str, Any]:
        """File a CN request against the meeting (intake: alice), approve it (approver: bob)."""
        case = self._ok(
            self.http.post(
                "/api/v1/cases",
                json={
                    "authority": CN_AUTHORITY,
                    "request_type": "restrict_meeting",
                    "legal_process": "administrative_order",
                    "legal_basis": "Cybersecurity Law art. 50",
                    "targets": [{"kind": "meeting", "ref": meeting.meeting_id}],
                    "received_at": "2026-06-01T08:00:00Z",
                },
                headers=self._auth("intake"),
            ),
            201,
        )
        return self._ok(
            self.http.post(
                f"/api/v1/cases/{case['id']}/decision",
                json={"decision": "approve_all"},
                headers=self._auth("approver"),
            )
        )

    def participant(self, where: str, locale: str) -> Participant:
        context = self.browser.new_context(
            extra_http_headers={"X-Forwarded-For": ADDRESS[where]},
            locale=locale,
            viewport={"width": 1100, "height": 760},
        )
        return Participant(context, context.new_page(), self.base, locale.split("-", maxsplit=1)[0])


class Participant:
    def __init__(self, context: Any, page: Any, base: str, language: str) -> None:
        self.context = context
        self.page = page
        self.base = base
        self.t = STRINGS[language]

    def open(self, meeting: Meeting) -> None:
        self.page.goto(f"{self.base}/meet/{meeting.session_id}")

    def join(self, name: str) -> None:
        # By accessible name, in the page's language: the labels are part of what is tested.
        self.page.get_by_label(self.t["name_label"]).fill(name)
        self.page.get_by_role("button", name=self.t["join"]).click()

    def wait_in_meeting(self) -> None:
        self.page.get_by_text(self.t["status_connected"]).wait_for(timeout=WAIT_MS)

    def remote_time(self, peer_id: str) -> float:
        time_: float = self.page.evaluate(
            '(peer) => document.querySelector(`video[data-peer="${peer}"]`).currentTime',
            peer_id,
        )
        return time_

    def wait_playing(self, peer_id: str, after: float = 0.0) -> None:
        """Until the remote video of ``peer_id`` has frames and plays past ``after`` seconds."""
        self.page.wait_for_function(_PLAYING, arg=[peer_id, after], timeout=WAIT_MS, polling=100)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def join_in_turn(meeting: Meeting, *people: tuple[Participant, str]) -> None:
    """Each participant opens the meeting page and joins under its name, one after the other."""
    for participant, name in people:
        participant.open(meeting)
        participant.join(name)
        participant.wait_in_meeting()


def _token(db_url: str, role: str, name: str) -> str:
    created = subprocess.run(
        [*_LEXLOCI, "token", "create", "--role", role, "--name", name, "--db", db_url],
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip()


def _wait_healthy(http: NamespaceHttp, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"lexloci serve exited:\n{log.read_text()}")
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"lexloci serve did not answer /healthz:\n{log.read_text()}")
        time.sleep(0.1)


def browser_unavailable() -> str | None:
    """Why Chromium cannot be driven here, or None."""
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (Debian package chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright==1.65.2)"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed: no network namespace for the browser"
    return None


@contextmanager
def meeting_stack(
    workdir: Path,
    namespace: NetworkNamespace | None = None,
    serve_args: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> Iterator[MeetingStack]:
    """Namespace, tokens, ``lexloci serve`` and Chromium; all torn down by PID and name.

    ``namespace``: one the caller made (the Janus lab's), else a new one with only a loopback.
    ``serve_args`` and ``environment``: more for ``lexloci serve`` (``--media janus`` …).
    Skips when a piece is missing; tests/conftest.py turns such a skip into a failure in CI.
    """
    reason = browser_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    db_url = f"sqlite:///{workdir / 'lexloci.db'}"
    # Tokens first, straight into the database file: the server reads them from there.
    tokens = {
        "admin": _token(db_url, "admin", "root"),
        "intake": _token(db_url, "intake", "alice"),
        "approver": _token(db_url, "approver", "bob"),
    }
    with ExitStack() as stack:
        if namespace is None:
            try:
                namespace = stack.enter_context(NetworkNamespace.create("lexloci-br"))
            except NamespaceUnavailable as exc:
                pytest.skip(str(exc))
        log_path = workdir / "serve.log"
        log = stack.enter_context(log_path.open("wb"))
        serve = ["serve", "--trust-proxy", "127.0.0.1/32", "--db", db_url, "--port", str(PORT)]
        server = namespace.popen(
            [*_LEXLOCI, *serve, *serve_args, "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, **(environment or {})},
        )
        stack.callback(stop_process, server)
        http = namespace.http(f"http://127.0.0.1:{PORT}")
        stack.callback(http.close)
        _wait_healthy(http, server, log_path)
        chromium = namespace.wrapper(workdir / "chromium-in-netns", CHROMIUM)
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        stack.callback(browser.close)
        yield MeetingStack(namespace, http, browser, tokens)
