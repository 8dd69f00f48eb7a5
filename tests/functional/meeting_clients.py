"""Test participants: join over HTTP "from" a country (trusted X-Forwarded-For over loopback)
and hold a real WebSocket signalling connection."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from lexloci.auth import Role
from lexloci.jurisdictions import Jurisdiction
from lexloci.meetings.service import new_id
from lexloci.policy import Enforcement, Restriction, Scope
from tests.functional.live_server import LiveServer

# Real public addresses of each territory (checked against the shipped data in the geo tests).
ADDRESS = {
    "CN": "223.5.5.5",
    "CN2": "180.76.76.76",
    "HK": "202.45.84.58",
    "MO": "202.175.3.3",
    "TW": "168.95.1.1",
    "US": "8.8.4.4",
    "DE": "5.9.0.1",
}


@dataclass
class Member:
    server: LiveServer
    session_id: str
    name: str
    participant_id: str
    token: str
    ws: ClientConnection | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)

    def connect(self) -> dict[str, Any]:
        self.ws = connect(
            f"{self.server.ws_base}/api/v1/sessions/{self.session_id}/signal", legacy=True
        )
        self.ws.send(json.dumps({"type": "hello", "token": self.token}))
        return self.expect("welcome")

    def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(json.dumps(message))

    def expect(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of ``kind`` (earlier messages of other kinds are kept in inbox)."""
        for i, message in enumerate(self.inbox):
            if message["type"] == kind:
                return self.inbox.pop(i)
        assert self.ws is not None
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] == kind:
                return message
            self.inbox.append(message)

    def closed_code(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes the connection; its close code."""
        assert self.ws is not None
        try:
            while True:
                self.inbox.append(json.loads(self.ws.recv(timeout=timeout)))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def is_open(self) -> bool:
        assert self.ws is not None
        try:
            self.ws.ping().wait(5)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


@dataclass
class Platform:
    """An admin, a host account, a meeting and a live session on a live server."""

    server: LiveServer
    admin: str
    host_token: str
    account_id: str
    meeting_id: str
    session_id: str

    @classmethod
    def create(
        cls, server: LiveServer, home_country: str = "US", recurrence: str | None = None
    ) -> Platform:
        admin = server.staff_token(Role.ADMIN, "root")
        auth = {"Authorization": f"Bearer {admin}"}
        account = server.http.post(
            "/api/v1/accounts",
            json={"name": "Vigil host", "home_country": home_country},
            headers=auth,
        )
        assert account.status_code == 201, account.text
        host = {"Authorization": f"Bearer {account.json()['host_token']}"}
        meeting = server.http.post(
            "/api/v1/meetings",
            json={
                "topic": "June 4 vigil",
                "host_account_id": account.json()["id"],
                "recurrence": recurrence,
            },
            headers=host,
        )
        assert meeting.status_code == 201, meeting.text
        session = server.http.post(
            f"/api/v1/meetings/{meeting.json()['id']}/sessions", headers=host
        )
        assert session.status_code == 201, session.text
        return cls(
            server,
            admin,
            account.json()["host_token"],
            account.json()["id"],
            meeting.json()["id"],
            session.json()["id"],
        )

    @property
    def host(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.host_token}"}

    def join(
        self, where: str, name: str | None = None, session_id: str | None = None, **body: Any
    ) -> httpx_response:
        headers = {"X-Forwarded-For": ADDRESS[where]} if where in ADDRESS else {}
        headers.update(body.pop("headers", {}))
        return self.server.http.post(
            f"/api/v1/sessions/{session_id or self.session_id}/join",
            json={"display_name": name or f"from {where}", **body},
            headers=headers,
        )

    def member(self, where: str, session_id: str | None = None, connect: bool = True) -> Member:
        response = self.join(where, session_id=session_id)
        assert response.status_code == 201, response.text
        data = response.json()
        member = Member(
            self.server, data["session_id"], where, data["participant_id"], data["token"]
        )
        if connect:
            member.connect()
        return member

    def roster(self, session_id: str | None = None) -> dict[str, str]:
        """participant id -> state, as the roster endpoint shows it."""
        response = self.server.http.get(
            f"/api/v1/sessions/{session_id or self.session_id}/participants", headers=self.host
        )
        assert response.status_code == 200, response.text
        return {p["id"]: p["state"] for p in response.json()["participants"]}

    def restrict(
        self, scope: Scope, territories: tuple[str, ...] = ("CN",), case: str = "CASE-TEST-1"
    ) -> Restriction:
        now = self.server.container.clock.now()
        restriction = Restriction.new(
            id=new_id("res"),
            case_ref=case,
            jurisdiction=Jurisdiction.of(*territories),
            scope=scope,
            effects=frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE}),
            valid_from=now - dt.timedelta(minutes=1),
        )
        self.server.run(self.server.container.live.activate(restriction, "test:domain-api"))
        return restriction


httpx_response = Any
