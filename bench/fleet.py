"""Fleet enforcement speed: approval → last affected participant removed, across nodes.

In one run:

- **fleet**: an API process and 3 meeting nodes (``lexloci serve --node ... --bus nats://...``)
  sharing a fresh PostgreSQL database and the local NATS JetStream, holding 3,000 connected
  participants (about 15 % joining "from" CN through a trusted X-Forwarded-For);
- **single node**: one ``lexloci serve`` with the in-process bus, same database server, same
  3,000 participants.

Each run waits until no participant has received anything for 0.5 s (the roster broadcasts
of the previous joins are done, as in bench/enforce.py), then files a CN case on the API
process and times from sending the approval until the last
CN participant's signalling socket is closed by its node; then it lifts the restriction and lets
the CN participants back in for the next run. Needs PostgreSQL (LEXLOCI_TEST_POSTGRES_URL or
the local default) and NATS (LEXLOCI_TEST_NATS_URL or nats://127.0.0.1:4222).

    python bench/fleet.py [--participants 3000] [--runs 5]

Nodes run with ``lexloci serve``'s defaults, so the signalling sockets are not compressed (the
clients offer permessage-deflate, as browsers do, and the server declines it; see
docs/operations.md). ``LEXLOCI_WS_COMPRESSION=true`` in this script's environment reaches every
node and measures the fleet with compression on.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.databases import fresh_postgres_database  # noqa: E402 - needs the repo root on the path
from tests.integration.fleet import Fleet  # noqa: E402

ADDRESSES = {
    "CN": "223.5.5.5",
    "HK": "202.45.84.58",
    "TW": "168.95.1.1",
    "US": "8.8.4.4",
    "DE": "5.9.0.1",
}
MIX = ["CN", "HK", "TW", "US", "DE", "US", "DE"]  # one in seven (~14 %) from CN
CASE = {
    "authority": {"name": "Ministry of Public Security", "country": "CN", "jurisdiction": ["CN"]},
    "request_type": "restrict_meeting",
    "legal_process": "administrative_order",
    "legal_basis": "Cybersecurity Law art. 50",
    "received_at": "2026-06-01T08:00:00Z",
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Member:
    """One connected participant: its signalling socket and when this client saw it close."""

    index: int  # which participant: picks the session, and the display name
    where: str
    session_id: str
    ws: ClientConnection
    closed: asyncio.Future[float]
    reader: asyncio.Task[None]


#: When any participant last received anything (``Setup.settle`` waits for quiet).
LAST_MESSAGE = [time.perf_counter()]


async def drain(ws: ClientConnection, closed: asyncio.Future[float]) -> None:
    """Read (and drop) everything the node sends, as a client would, until the socket closes.

    Unread roster broadcasts would otherwise pile up in this process (gigabytes at 3,000
    participants) and slow the very loop that timestamps the removals."""
    try:
        while True:
            await ws.recv(decode=False)
            LAST_MESSAGE[0] = time.perf_counter()
    except ConnectionClosed:
        pass
    finally:
        if not closed.done():
            closed.set_result(time.perf_counter())


class Setup:
    def __init__(self, fleet: Fleet, api: str) -> None:
        self.fleet = fleet
        self.api = api
        # Staff calls (sequential): pooled; idle connections expire before uvicorn's 5 s
        # keep-alive closes them under us.
        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(keepalive_expiry=2))
        # Participants: each join on a connection of its own, as separate devices would. A
        # shared keep-alive pool is what broke the 3,000-participant run: with this process's
        # event loop lagging by seconds, httpcore 1.0.9's pool decided to close an idle
        # connection (expired, or evicted for another origin), yielded while closing others,
        # and by then another join had started on it; the join's read then failed with
        # ReadError(ClosedResourceError), a socket closed by this process, not by a node.
        # With no idle connections kept, the pool never has one to hand out and close.
        self.joins = httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=None, max_keepalive_connections=0)
        )
        self.members: list[Member] = []

    async def prepare(self, sessions: int) -> None:
        admin = self.fleet.token("admin", "root")
        self.intake = {"Authorization": f"Bearer {self.fleet.token('intake', 'alice')}"}
        self.approver = {"Authorization": f"Bearer {self.fleet.token('approver', 'bob')}"}
        account = (
            await self.http.post(
                f"{self.api}/api/v1/accounts",
                json={"name": "host", "home_country": "HK"},
                headers={"Authorization": f"Bearer {admin}"},
            )
        ).json()
        self.account_id = account["id"]
        self.host = {"Authorization": f"Bearer {account['host_token']}"}
        meeting = (
            await self.http.post(
                f"{self.api}/api/v1/meetings",
                json={"topic": "bench", "host_account_id": self.account_id},
                headers=self.host,
            )
        ).json()
        self.sessions: list[tuple[str, str]] = []
        for _ in range(sessions):
            session = (
                await self.http.post(
                    f"{self.api}/api/v1/meetings/{meeting['id']}/sessions", headers=self.host
                )
            ).json()
            info = (await self.http.get(f"{self.api}/api/v1/sessions/{session['id']}")).json()
            self.sessions.append((session["id"], info["node_url"]))

    async def join(self, index: int, where: str) -> None:
        session_id, node_url = self.sessions[index % len(self.sessions)]
        response = await self.joins.post(
            f"{node_url}/api/v1/sessions/{session_id}/join",
            json={"display_name": f"{where}-{index}"},
            headers={"X-Forwarded-For": ADDRESSES[where]},
        )
        if response.status_code != 201:
            raise RuntimeError(f"join failed: {response.status_code} {response.text[:200]}")
        body = response.json()
        ws = await connect(
            node_url.replace("http", "ws") + f"/api/v1/sessions/{session_id}/signal",
            max_queue=None,
            open_timeout=30,
        )
        await ws.send(json.dumps({"type": "hello", "token": body["token"]}))
        while json.loads(await ws.recv())["type"] != "welcome":
            pass
        closed = asyncio.get_running_loop().create_future()
        self.members.append(
            Member(index, where, session_id, ws, closed, asyncio.create_task(drain(ws, closed)))
        )

    async def join_all(self, wheres: list[tuple[int, str]], concurrency: int = 40) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, where: str) -> None:
            async with gate:
                await self.join(index, where)

        await asyncio.gather(*(one(i, w) for i, w in wheres))

    async def settle(self, quiet_s: float = 0.5, limit_s: float = 120.0) -> None:
        """Wait until no participant has received anything for ``quiet_s``: the roster
        broadcasts of the (re-)joins are done, so a run times the removal, not that backlog
        (the same rule as bench/enforce.py)."""
        deadline = time.perf_counter() + limit_s
        while time.perf_counter() - LAST_MESSAGE[0] < quiet_s:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the nodes did not go quiet within {limit_s:.0f} s")
            await asyncio.sleep(0.1)

    async def run_once(self) -> tuple[float, str]:
        await self.settle()
        targets = [m.closed for m in self.members if m.where == "CN"]
        case = (
            await self.http.post(
                f"{self.api}/api/v1/cases",
                json={**CASE, "targets": [{"kind": "account", "ref": self.account_id}]},
                headers=self.intake,
            )
        ).json()
        start = time.perf_counter()
        decided = await self.http.post(
            f"{self.api}/api/v1/cases/{case['id']}/decision",
            json={"decision": "approve_all"},
            headers=self.approver,
        )
        decided.raise_for_status()
        ends = await asyncio.wait_for(asyncio.gather(*targets), 120)
        elapsed = max(ends) - start
        node_of = dict(self.sessions)
        last: dict[str, list[float]] = {}
        for m in self.members:
            if m.where == "CN":
                last.setdefault(node_of[m.session_id].rsplit(":", 1)[1], []).append(
                    m.closed.result() - start
                )
        per_node = ", ".join(
            f":{port} {len(t)} in {max(t):.2f}s" for port, t in sorted(last.items())
        )
        # I1: nobody outside CN was removed by the CN case.
        collateral = [m for m in self.members if m.where != "CN" and m.closed.done()]
        if collateral:
            raise RuntimeError(f"{len(collateral)} participants outside CN lost their socket")
        # reset: lift, and let the CN participants back in
        for restriction in decided.json()["restrictions"]:
            (
                await self.http.post(
                    f"{self.api}/api/v1/restrictions/{restriction['id']}/lift",
                    headers=self.approver,
                )
            ).raise_for_status()
        await asyncio.sleep(1.5)  # the lift reaches every node through the bus
        removed = [(m.index, m.where) for m in self.members if m.where == "CN"]
        self.members = [m for m in self.members if m.where != "CN"]
        await self.join_all(removed)
        return elapsed, per_node

    async def close(self) -> None:
        await asyncio.gather(*(m.ws.close() for m in self.members), return_exceptions=True)
        await asyncio.gather(*(m.reader for m in self.members), return_exceptions=True)
        await self.http.aclose()
        await self.joins.aclose()


async def measure(fleet: Fleet, api: str, participants: int, runs: int, label: str) -> list[float]:
    setup = Setup(fleet, api)
    try:
        await setup.prepare(sessions=30)
        nodes = sorted({url for _, url in setup.sessions})
        progress(
            f"[{label}] {len(setup.sessions)} sessions on {len(nodes)} node(s); "
            f"joining {participants}"
        )
        started = time.perf_counter()
        await setup.join_all([(i, MIX[i % len(MIX)]) for i in range(participants)])
        progress(f"[{label}] joined in {time.perf_counter() - started:.1f}s")
        times = []
        for run in range(1, runs + 1):
            elapsed, per_node = await setup.run_once()
            times.append(elapsed)
            progress(
                f"[{label}] run {run}/{runs}: last CN participant removed "
                f"{elapsed:.3f}s after approval (by node port: {per_node})"
            )
        return times
    finally:
        await setup.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    os.environ.setdefault(
        "LEXLOCI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    bus = os.environ.get("LEXLOCI_TEST_NATS_URL", "nats://127.0.0.1:4222")
    results: dict[str, list[float]] = {}
    with TemporaryDirectory() as tmp:
        with fresh_postgres_database() as database_url:
            fleet = Fleet(Path(tmp), database_url, bus, f"LLBENCH_{secrets.token_hex(4).upper()}")
            try:
                api = fleet.add("api", sessions=False)
                for name in ("n1", "n2", "n3"):
                    fleet.add(name)
                fleet.wait_ready()
                results["fleet"] = asyncio.run(
                    measure(fleet, api.url, args.participants, args.runs, "fleet")
                )
            except BaseException:
                for node in fleet.nodes.values():
                    progress(f"--- {node.name} log (tail) ---\n{node.log()[-3000:]}")
                raise
            finally:
                fleet.stop()
        with fresh_postgres_database() as database_url:
            single = Fleet(Path(tmp), database_url, "", "unused")
            try:
                node = single.add("solo")
                single.wait_ready()
                results["single"] = asyncio.run(
                    measure(single, node.url, args.participants, args.runs, "single node")
                )
            finally:
                single.stop()
    summary = {
        "participants": args.participants,
        "runs": args.runs,
        "nodes": 3,
        "fleet_removal_median_s": round(statistics.median(results["fleet"]), 4),
        "fleet_removal_p99_s": round(p99(results["fleet"]), 4),
        "single_node_removal_median_s": round(statistics.median(results["single"]), 4),
        "single_node_removal_p99_s": round(p99(results["single"]), 4),
    }
    summary["fleet_ratio"] = round(
        summary["fleet_removal_p99_s"] / summary["single_node_removal_p99_s"], 3
    )
    summary["target"] = {"fleet_removal_p99_s": "<= 1.0"}
    print()
    print(f"{'bus':<22}{'median s':>10}{'p99 s':>10}")
    for label, key in (("NATS, 3 nodes", "fleet"), ("in-process, 1 node", "single_node")):
        median, tail = summary[f"{key}_removal_median_s"], summary[f"{key}_removal_p99_s"]
        print(f"{label:<22}{median:>10}{tail:>10}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
