"""A fleet: three meeting nodes and one API process sharing PostgreSQL and NATS JetStream.

Approving a CN restriction on the API process removes every CN participant on every node and
nobody else; a node killed before the approval refuses CN joins from its very first accepted
request after a restart; a bus outage delays a change but loses nothing and applies nothing
twice.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from lexloci.meetings.signalling import CLOSE_REMOVED
from tests.databases import fresh_postgres_database
from tests.functional.meeting_clients import ADDRESS, Member
from tests.integration.fleet import Fleet, NatsServer, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

NATS_ENV = "LEXLOCI_TEST_NATS_URL"
CN_CASE = {
    "authority": {"name": "Ministry of Public Security", "country": "CN", "jurisdiction": ["CN"]},
    "request_type": "restrict_meeting",
    "legal_process": "administrative_order",
    "legal_basis": "Cybersecurity Law art. 50",
    "received_at": "2026-06-01T08:00:00Z",
}


def _delete_stream(bus_url: str, stream: str) -> None:
    import asyncio

    import nats

    async def delete() -> None:
        nc = await nats.connect(bus_url, connect_timeout=2, max_reconnect_attempts=0)
        with contextlib.suppress(Exception):  # it may not exist; cleanup is best effort
            await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(delete())


@pytest.fixture
def fleet_parts(tmp_path: Path) -> Iterator[tuple[str, str]]:
    bus = os.environ.get(NATS_ENV)
    if not bus:
        pytest.skip(f"{NATS_ENV} is not set")
    with fresh_postgres_database() as database_url:
        yield database_url, bus


def _fleet(tmp_path: Path, database_url: str, bus: str) -> Fleet:
    return Fleet(tmp_path, database_url, bus, f"LLTEST_{secrets.token_hex(4).upper()}")


class Scenario:
    """An account with sessions spread over the meeting nodes, and the staff to decide cases."""

    def __init__(self, fleet: Fleet, api: str) -> None:
        self.fleet = fleet
        self.api = api
        admin = fleet.token("admin", "root")
        self.intake = {"Authorization": f"Bearer {fleet.token('intake', 'alice')}"}
        self.approver = {"Authorization": f"Bearer {fleet.token('approver', 'bob')}"}
        account = httpx.post(
            f"{api}/api/v1/accounts",
            json={"name": "host", "home_country": "HK"},
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
        self.account_id = account["id"]
        self.host = {"Authorization": f"Bearer {account['host_token']}"}
        self.meeting_id = httpx.post(
            f"{api}/api/v1/meetings",
            json={"topic": "vigil", "host_account_id": self.account_id},
            headers=self.host,
        ).json()["id"]
        self.sessions: dict[str, str] = {}  # session id -> node name

    def session_on_every_node(self, names: list[str]) -> None:
        def covered() -> bool:
            response = httpx.post(
                f"{self.api}/api/v1/meetings/{self.meeting_id}/sessions", headers=self.host
            )
            assert response.status_code == 201, response.text
            self.sessions[response.json()["id"]] = response.json()["node"]
            return set(names) <= set(self.sessions.values())

        wait_for(
            covered, 60, interval=0,
            what=f"sessions on every node (so far: {sorted(set(self.sessions.values()))})",
        )  # fmt: skip

    def node_url(self, session_id: str) -> str:
        return httpx.get(f"{self.api}/api/v1/sessions/{session_id}").json()["node_url"]  # type: ignore[no-any-return]

    def join(self, session_id: str, where: str, connect: bool = True) -> Member:
        url = self.node_url(session_id)
        response = httpx.post(
            f"{url}/api/v1/sessions/{session_id}/join",
            json={"display_name": where},
            headers={"X-Forwarded-For": ADDRESS[where]},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        server: Any = SimpleNamespace(ws_base=url.replace("http://", "ws://"))
        member = Member(server, session_id, where, body["participant_id"], body["token"])
        if connect:
            member.connect()
        return member

    def approve_cn_case(self) -> dict[str, Any]:
        case = httpx.post(
            f"{self.api}/api/v1/cases",
            json={**CN_CASE, "targets": [{"kind": "account", "ref": self.account_id}]},
            headers=self.intake,
        )
        assert case.status_code == 201, case.text
        decided = httpx.post(
            f"{self.api}/api/v1/cases/{case.json()['id']}/decision",
            json={"decision": "approve_all"},
            headers=self.approver,
            timeout=30,
        )
        assert decided.status_code == 200, decided.text
        return decided.json()  # type: ignore[no-any-return]

    def roster(self, session_id: str) -> dict[str, str]:
        response = httpx.get(
            f"{self.api}/api/v1/sessions/{session_id}/participants", headers=self.host
        )
        return {p["id"]: p["state"] for p in response.json()["participants"]}


def test_a_cn_restriction_reaches_every_node_and_a_restarted_node_enforces_it(
    tmp_path: Path, fleet_parts: tuple[str, str]
) -> None:
    database_url, bus = fleet_parts
    fleet = _fleet(tmp_path, database_url, bus)
    try:
        api = fleet.add("api", sessions=False)
        for name in ("n1", "n2", "n3"):
            fleet.add(name)
        fleet.wait_ready()
        scenario = Scenario(fleet, api.url)
        scenario.session_on_every_node(["n1", "n2", "n3"])
        members: dict[str, list[Member]] = {}
        for session_id, node in scenario.sessions.items():
            members.setdefault(node, []).extend(
                scenario.join(session_id, where) for where in ("CN", "HK", "US", "DE")
            )

        fleet.nodes["n3"].kill()  # down before the approval
        decided = scenario.approve_cn_case()
        assert decided["restrictions"][0]["jurisdiction"]["territories"] == ["CN"]

        for node in ("n1", "n2"):
            for member in members[node]:
                if member.name == "CN":
                    assert member.closed_code() == CLOSE_REMOVED, node
                else:
                    assert member.is_open(), (node, member.name)

        # n3 comes back: the very first join it accepts must already know the restriction.
        n3_session = next(s for s, n in scenario.sessions.items() if n == "n3")
        fleet.nodes["n3"].start()

        def first_answer() -> httpx.Response | None:
            try:
                response = httpx.post(
                    f"{fleet.nodes['n3'].url}/api/v1/sessions/{n3_session}/join",
                    json={"display_name": "CN again"},
                    headers={"X-Forwarded-For": ADDRESS["CN"]},
                    timeout=5,
                )
            except httpx.TransportError:
                return None
            return None if response.status_code == 503 else response

        answer = wait_for(first_answer, 60, interval=0.05, what="n3 to accept requests")
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "geo_restricted"
        # ... and the CN participant it held when it died is recorded as removed.
        cn_on_n3 = [m for m in members["n3"] if m.name == "CN"]
        wait_for(
            lambda: all(
                scenario.roster(m.session_id)[m.participant_id] == "removed" for m in cn_on_n3
            ),
            30,
            what="n3 to sweep the participants it held",
        )
        others = [m for ms in members.values() for m in ms if m.name != "CN"]
        assert all(
            scenario.roster(m.session_id)[m.participant_id] == "joined"
            for m in others
            if m.session_id != n3_session
        )
        ok = httpx.post(
            f"{fleet.nodes['n3'].url}/api/v1/sessions/{n3_session}/join",
            json={"display_name": "DE"},
            headers={"X-Forwarded-For": ADDRESS["DE"]},
        )
        assert ok.status_code == 201
        # a join sent to the wrong node is redirected, never served
        wrong = httpx.post(
            f"{fleet.nodes['n1'].url}/api/v1/sessions/{n3_session}/join",
            json={"display_name": "DE"},
            headers={"X-Forwarded-For": ADDRESS["DE"]},
        )
        assert wrong.status_code == 421
        assert wrong.json()["error"]["node_url"] == fleet.nodes["n3"].url
    finally:
        fleet.stop()
        _delete_stream(bus, fleet.stream)


def test_a_bus_outage_delays_a_change_but_loses_nothing(
    tmp_path: Path, fleet_parts: tuple[str, str]
) -> None:
    database_url, _ = fleet_parts
    nats_server = NatsServer(tmp_path)
    nats_server.start()
    fleet = _fleet(tmp_path, database_url, nats_server.url)
    try:
        api = fleet.add("api", sessions=False)
        fleet.add("n1")
        fleet.wait_ready()
        scenario = Scenario(fleet, api.url)
        scenario.session_on_every_node(["n1"])
        session_id = next(iter(scenario.sessions))
        cn, de = scenario.join(session_id, "CN"), scenario.join(session_id, "DE")

        nats_server.kill()
        wait_for(
            lambda: (fleet.nodes["n1"].readiness() or {}).get("status") == "degraded",
            30,
            what="degraded",
        )
        scenario.approve_cn_case()  # committed; the outbox holds it while the bus is down
        assert cn.is_open(), "nothing can reach n1 yet"

        nats_server.start()  # same JetStream store: the stream survives
        assert cn.closed_code(timeout=60) == CLOSE_REMOVED
        assert de.is_open()
        wait_for(
            lambda: (fleet.nodes["n1"].readiness() or {}).get("status") == "ready", 30, what="ready"
        )
        audit = httpx.get(
            f"{api.url}/api/v1/audit",
            params={"tag": "meeting:participant:removed", "limit": 1000},
            headers={"Authorization": f"Bearer {fleet.token('auditor', 'dave')}"},
        ).json()["entries"]
        assert [e["payload"]["participant_id"] for e in audit] == [cn.participant_id]  # once
    finally:
        fleet.stop()
        nats_server.kill()
