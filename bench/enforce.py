"""Live enforcement speed: removal latency with 1,000 and 10,000 live participants, and the join
gate's throughput next to a bare endpoint of the same framework, in one process run.

Usage: python bench/enforce.py [--sizes 1000,10000] [--runs 7,5] [--seconds 3]

Set-up. The server is the product's own app (``create_app`` on a ``build_container`` from
settings, SQLite in a temporary folder with WAL and synchronous=FULL as in production, trusted
proxy 127.0.0.1/32), run by uvicorn with ``lexloci serve``'s options in a subprocess of this
script, with the child process it starts to write the join gate's records (the default,
``lexloci.storage.gate_writer``). Server, its writer and the clients share the box's two cores.
Only that instance gets two
extra routes that return a constant JSON object: ``POST /bench/bare``, the peer for the join
gate, put *first* in FastAPI's route table (a constant JSON endpoint as FastAPI serves it at
best: the router finds it at once), and ``POST /bench/bare-last``, the same endpoint appended
*last*, where earlier versions of this bench put the peer. The join gate itself is served by
lexloci's direct dispatch (``lexloci.api.direct``), in front of FastAPI's router; a peer behind
the router's walk through lexloci's ~100 routes pays about 115 µs per request that the join
does not, and the ratio would measure that walk, not the gate. Clients are asyncio in this
process; RLIMIT_NOFILE is raised to its hard limit first (and inherited by the server). One
host account holds 100 meetings with one live session each.

Participants. Each one joins over HTTP "from" a country through a trusted X-Forwarded-For,
12.5 % of them (seeded) from three mainland-China addresses and the rest from HK, MO, TW, US,
DE, JP, NL, BR, ZA, AU, RU and IE, then holds a ``websockets`` signalling connection (hello,
welcome) and reads everything the server sends. Compression is off: the figures are the
server's work, not zlib's (browsers would negotiate permessage-deflate).

Removal. A run files a CN request against the host account through the case workflow over HTTP
(intake token "alice"; request type ``restrict_account`` with the action
``block_participants``, which the scope guard turns into one account-scoped CN restriction
covering all 100 sessions) and approves it with a different approver token ("bob"). The time
is taken from just before the approval request is sent, i.e. *including* the case decision
transaction, to the moment this process sees the last CN participant's connection closed (close
code 4403); every other participant must still be connected. The appeal then lifts the
restriction and the removed participants are replaced by new CN joiners, so each run removes
the same number. Participants enter session by session (a meeting fills in a burst at its
start), and each run waits until the server has gone quiet (no participant received anything
for 0.5 s): otherwise the roster broadcasts of the re-joins would still be queued on the
server's event loop and the run would time that backlog. Reported per size: the median and p99
(linear interpolation) of the per-run times to the last close, and the p50/p99 of every removed
participant's own close time.

Join gate. For each connection count of ``--workers`` (32, 64 and 128 by default), that many
keep-alive HTTP/1.1 connections (a small raw asyncio client, so the driver costs as little as
possible) send back-to-back POSTs for ``--seconds`` each round, alternating the bare endpoint,
the join gate (joins into 10 sessions of a second account, with the same country mix and its
X-Forwarded-For) and the last-route bare endpoint, three rounds each; the median round of each
counts. An endpoint's throughput is its best median over the connection counts: with a closed
loop of a fixed number of connections, an endpoint that waits for a durable commit before it
answers (the join) is held back by that wait, not by the server's capacity, until enough
requests are in flight to fill the commits — the bare endpoint saturates the server at 32
already. ``join_ratio`` is the join gate's throughput against ``/bench/bare``'s, the fair
peer; ``join_ratio_by_workers`` gives the ratio at each connection count (at 32 it is what the
earlier versions of this bench, with 32 connections only, reported);
``join_ratio_last_route_peer`` is against ``/bench/bare-last``, to compare with earlier runs.
Each round also reports the server's CPU per request, in the server process and in its gate
writer (``join_server_cpu_us``, ``join_gate_writer_cpu_us``, ``bare_server_cpu_us``: medians
over the rounds at each endpoint's best connection count). This phase runs last, with the 10,000
participants still connected, so the live sweeps above are not inflated by the participants it
admits.

Human-readable progress first; the last line is one JSON object. On the 2-core box a full run
takes about 12 minutes, almost all of it the server admitting participants (see
docs/meetings.md, "Performance"); ``--sizes 1000 --runs 3`` is a quick smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from benchlib import HttpError, RawHttp, free_port, percentile, progress

SESSIONS = 100
CN_SHARE = 0.125
CN_ADDRESSES = ("223.5.5.5", "180.76.76.76", "114.114.114.114")
OTHER_ADDRESSES = (  # HK MO TW US DE JP NL BR ZA AU RU IE, checked with `lexloci locate`
    "202.45.84.58",
    "202.175.3.3",
    "168.95.1.1",
    "8.8.4.4",
    "5.9.0.1",
    "133.242.0.3",
    "193.0.6.139",
    "200.160.0.8",
    "41.0.0.1",
    "1.1.1.1",
    "77.88.8.8",
    "31.13.64.1",
)
CLOSE_REMOVED = 4403
CONCURRENT_ENTRIES = 64
REMOVAL_TIMEOUT_S = 120.0
CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}


# -- the server (a subprocess running this file with --serve) -------------------------------


def serve(port: int, database_url: str) -> None:
    """The product's app, plus the bare peer endpoint on this instance only."""
    import uvicorn

    from lexloci.api.app import create_app
    from lexloci.bootstrap import build_container
    from lexloci.config import Settings

    parent = os.getppid()

    def exit_with_parent() -> None:
        # A bench killed midway must not leave its server (and 10,000 sockets) behind.
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    container = build_container(Settings(database_url=database_url, trust_proxy=["127.0.0.1/32"]))
    app = create_app(container)

    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    # The peer: first in the route table, so FastAPI finds it at once (the framework's best
    # case; the join gate skips the router altogether). The same endpoint last in the table is
    # what earlier versions of this bench compared with.
    app.add_api_route("/bench/bare-last", bare, methods=["POST"], include_in_schema=False)
    app.add_api_route("/bench/bare", bare, methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())
    # The options `lexloci serve` uses.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s(pid: int) -> float:
    """CPU seconds the live child processes of ``pid`` have used (the gate's writer)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    total += process_cpu_s(int(child))
    return total


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def create_tokens(database_url: str) -> dict[str, str]:
    """Staff tokens written straight into the database before the server starts."""
    from lexloci.auth import Role
    from lexloci.bootstrap import build_container
    from lexloci.config import Settings

    container = build_container(Settings(database_url=database_url))
    try:
        now = container.clock.now()
        return {
            key: container.tokens.create(name, now, role=role)[1]
            for key, name, role in (
                ("admin", "root", Role.ADMIN),
                ("intake", "alice", Role.INTAKE),
                ("approver", "bob", Role.APPROVER),
            )
        }
    finally:
        container.close()


# -- participants -----------------------------------------------------------------------------


@dataclass(eq=False)
class Member:
    session_id: str
    cn: bool
    address: str
    name: str
    participant_id: str = ""
    ws: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    closed_at: float | None = None
    close_code: int | None = None


@dataclass
class Watch:
    """The CN members a run waits for, and anyone else whose connection closes meanwhile."""

    waiting: set[Member] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    collateral: list[Member] = field(default_factory=list)


class Population:
    def __init__(self, http: RawHttp, port: int, sessions: list[str], seed: int = 2020) -> None:
        self.http = http
        self.port = port
        self.sessions = sessions
        self.members: list[Member] = []
        self.rng = random.Random(seed)
        self.watch: Watch | None = None
        self.last_message = time.perf_counter()
        self._serial = 0

    def _new(self, session_id: str, cn: bool) -> Member:
        self._serial += 1
        pool = CN_ADDRESSES if cn else OTHER_ADDRESSES
        address = pool[self._serial % len(pool)]
        return Member(session_id, cn, address, f"participant {self._serial}")

    async def _enter(self, member: Member) -> None:
        joined = await self.http.json(
            "POST",
            f"/api/v1/sessions/{member.session_id}/join",
            {"display_name": member.name},
            address=member.address,
            expect=201,
        )
        member.participant_id = joined["participant_id"]
        ws = await connect(
            f"ws://127.0.0.1:{self.port}/api/v1/sessions/{member.session_id}/signal",
            compression=None,
            proxy=None,
            open_timeout=120,
            ping_interval=None,  # the server pings; the client answers without timers of its own
            close_timeout=5,
        )
        await ws.send(json.dumps({"type": "hello", "token": joined["token"]}))
        # The protocol promises the welcome first (no roster broadcast may overtake it).
        first = json.loads(await ws.recv())
        if first.get("type") != "welcome":
            raise HttpError(f"expected the welcome first, got {first.get('type')!r}")
        member.ws = ws
        member.reader = asyncio.create_task(self._read(member, ws))

    async def _read(self, member: Member, ws: ClientConnection) -> None:
        try:
            while True:
                await ws.recv(decode=False)  # rosters and notices: read, not parsed
                self.last_message = time.perf_counter()
        except ConnectionClosed as closed:
            member.closed_at = time.perf_counter()
            member.close_code = closed.rcvd.code if closed.rcvd else None
        watch = self.watch
        if watch is None:
            return
        if member in watch.waiting:
            watch.waiting.discard(member)
            if not watch.waiting:
                watch.done.set()
        else:
            watch.collateral.append(member)

    async def add(self, members: list[Member], label: str) -> None:
        """Join and connect ``members`` (interleaved across sessions), with progress lines."""
        semaphore = asyncio.Semaphore(CONCURRENT_ENTRIES)
        started = time.perf_counter()
        done = 0
        last = started

        async def one(member: Member) -> None:
            nonlocal done, last
            async with semaphore:
                await self._enter(member)
            done += 1
            now = time.perf_counter()
            if now - last >= 5 or done == len(members):
                last = now
                rate = done / (now - started)
                progress(f"  {label}: {done:,}/{len(members):,} connected ({rate:,.0f}/s)")

        await asyncio.gather(*(one(m) for m in members))
        self.members += members

    def _by_session(self, members: list[Member]) -> list[Member]:
        # People arrive at a meeting in a burst around its start, so entries go session by
        # session: the server folds a burst's roster updates into a few broadcasts.
        order = {session_id: index for index, session_id in enumerate(self.sessions)}
        return sorted(members, key=lambda m: order[m.session_id])

    async def grow_to(self, total: int) -> None:
        """Fill every session up to ``total / sessions`` live members: removed ones come back
        as new joiners from the same territory, the rest are 12.5 % CN."""
        gone = [m for m in self.members if m.closed_at is not None]
        self.members = self.live()
        new = [self._new(m.session_id, m.cn) for m in gone]
        per_session = total // len(self.sessions)
        count = Counter(m.session_id for m in self.members + new)
        new += [
            self._new(session_id, self.rng.random() < CN_SHARE)
            for session_id in self.sessions
            for _ in range(per_session - count[session_id])
        ]
        await self.add(self._by_session(new), f"building {total:,}")

    async def replace_closed(self) -> None:
        """New CN joiners in place of the removed ones, so every run removes as many."""
        gone = [m for m in self.members if m.closed_at is not None]
        self.members = [m for m in self.members if m.closed_at is None]
        fresh = [self._new(m.session_id, m.cn) for m in gone]
        await self.add(self._by_session(fresh), "re-joining")

    async def settle(self, quiet_s: float = 0.5, limit_s: float = 300.0) -> float:
        """Wait until no participant has received anything for ``quiet_s``; the time waited.

        Re-joins leave roster broadcasts queued on the server's event loop; a removal started
        behind them would time that backlog too (see docs/meetings.md, "Performance").
        """
        started = time.perf_counter()
        while time.perf_counter() - self.last_message < quiet_s:
            if time.perf_counter() - started > limit_s:
                raise HttpError(f"the server did not go quiet within {limit_s:g} s")
            await asyncio.sleep(0.05)
        return time.perf_counter() - started

    def live(self) -> list[Member]:
        return [m for m in self.members if m.closed_at is None]

    async def close(self) -> None:
        self.watch = None
        for member in self.members:
            if member.reader is not None:
                member.reader.cancel()
        for member in self.members:
            if member.ws is not None:
                with contextlib.suppress(Exception):
                    member.ws.transport.abort()


# -- the phases -------------------------------------------------------------------------------


@dataclass
class Platform:
    http: RawHttp
    tokens: dict[str, str]
    account_id: str
    sessions: list[str]


async def create_platform(
    http: RawHttp, tokens: dict[str, str], sessions: int, name: str
) -> Platform:
    account = await http.json(
        "POST",
        "/api/v1/accounts",
        {"name": name, "home_country": "US"},
        token=tokens["admin"],
        expect=201,
    )
    host = account["host_token"]
    session_ids = []
    for index in range(sessions):
        meeting = await http.json(
            "POST",
            "/api/v1/meetings",
            {"topic": f"{name} {index}", "host_account_id": account["id"]},
            token=host,
            expect=201,
        )
        session = await http.json(
            "POST", f"/api/v1/meetings/{meeting['id']}/sessions", token=host, expect=201
        )
        session_ids.append(session["id"])
    return Platform(http, tokens, account["id"], session_ids)


@dataclass
class RemovalRun:
    to_last_close_s: float
    to_response_s: float
    removed: int
    per_participant_s: list[float]
    collateral: int


async def removal_run(platform: Platform, population: Population) -> RemovalRun:
    http, tokens = platform.http, platform.tokens
    cn = [m for m in population.live() if m.cn]
    case = await http.json(
        "POST",
        "/api/v1/cases",
        {
            "authority": CN_AUTHORITY,
            "request_type": "restrict_account",
            "requested_actions": ["block_participants"],
            "legal_process": "administrative_order",
            "legal_basis": "Cybersecurity Law art. 50",
            "targets": [{"kind": "account", "ref": platform.account_id}],
            "received_at": "2026-06-01T08:00:00Z",
        },
        token=tokens["intake"],
        expect=201,
    )
    watch = Watch(waiting=set(cn))
    population.watch = watch
    started = time.perf_counter()
    decided = await http.json(
        "POST",
        f"/api/v1/cases/{case['id']}/decision",
        {"decision": "approve_all"},
        token=tokens["approver"],
    )
    responded = time.perf_counter()
    scopes = [r["scope"] for r in decided["restrictions"]]
    if scopes != [{"kind": "account", "ref": platform.account_id}]:
        raise HttpError(f"expected one account-scoped restriction, got {scopes}")
    await asyncio.wait_for(watch.done.wait(), REMOVAL_TIMEOUT_S)
    population.watch = None
    codes = {m.close_code for m in cn}
    if codes != {CLOSE_REMOVED}:
        raise HttpError(f"CN participants closed with {codes}, expected {CLOSE_REMOVED}")
    closes = [m.closed_at - started for m in cn if m.closed_at is not None]
    await http.json(
        "POST",
        f"/api/v1/cases/{case['id']}/appeal",
        {"reason": "benchmark: lift and run again"},
        token=tokens["approver"],
    )
    return RemovalRun(max(closes), responded - started, len(cn), closes, len(watch.collateral))


async def removal_runs(
    platform: Platform, population: Population, runs: int, label: str
) -> dict[str, Any]:
    results: list[RemovalRun] = []
    for index in range(runs):
        await population.settle()
        run = await removal_run(platform, population)
        results.append(run)
        progress(
            f"  {label} run {index + 1}/{runs}: {run.removed} CN participants removed, last "
            f"connection closed after {run.to_last_close_s * 1000:,.0f} ms (approval answered "
            f"after {run.to_response_s * 1000:,.0f} ms); others disconnected: {run.collateral}"
        )
        if run.collateral:
            raise HttpError(f"{run.collateral} participants outside CN lost their connection")
        if index + 1 < runs:  # after the last run, the next phase's growth fills the gaps
            await population.replace_closed()
    lasts = [r.to_last_close_s for r in results]
    everyone = [t for r in results for t in r.per_participant_s]
    return {
        "runs": runs,
        "live": len(population.live()),
        "removed_per_run": statistics.median(r.removed for r in results),
        "last_close_median_s": statistics.median(lasts),
        "last_close_p99_s": percentile(lasts, 0.99),
        "approval_response_median_s": statistics.median(r.to_response_s for r in results),
        "participant_p50_s": percentile(everyone, 0.50),
        "participant_p99_s": percentile(everyone, 0.99),
    }


async def throughput_round(
    http_factory: Callable[[], RawHttp],
    workers: int,
    seconds: float,
    request: Callable[[int], tuple[str, bytes, list[tuple[str, str]], int]],
) -> float:
    """Completed requests per second, ``workers`` connections sending back to back."""
    clients = [http_factory() for _ in range(workers)]
    done = 0
    counter = 0
    deadline = 0.0

    async def worker(client: RawHttp) -> None:
        nonlocal done, counter
        while time.perf_counter() < deadline:
            counter += 1
            path, body, headers, expect = request(counter)
            status, payload = await client.request("POST", path, body, headers)
            if status != expect:
                raise HttpError(f"POST {path}: {status} {payload[:300]!r}")
            done += 1

    # Warm the connections first so the round times requests, not TCP handshakes.
    for client in clients:
        path, body, headers, _ = request(0)
        await client.request("POST", path, body, headers)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return done / elapsed


async def join_throughput(
    port: int, server_pid: int, sessions: list[str], workers: int, seconds: float, rounds: int
) -> dict[str, Any]:
    rng = random.Random(6)
    json_type = ("Content-Type", "application/json")

    def bare(n: int) -> tuple[str, bytes, list[tuple[str, str]], int]:
        body = json.dumps({"display_name": f"bench {n}"}).encode()
        return "/bench/bare", body, [json_type, ("X-Forwarded-For", "5.9.0.1")], 200

    def bare_last(n: int) -> tuple[str, bytes, list[tuple[str, str]], int]:
        _, body, headers, status = bare(n)
        return "/bench/bare-last", body, headers, status

    def join(n: int) -> tuple[str, bytes, list[tuple[str, str]], int]:
        pool = CN_ADDRESSES if rng.random() < CN_SHARE else OTHER_ADDRESSES
        address = pool[n % len(pool)]
        body = json.dumps({"display_name": f"bench {n}"}).encode()
        path = f"/api/v1/sessions/{sessions[n % len(sessions)]}/join"
        return path, body, [json_type, ("X-Forwarded-For", address)], 201

    rates: dict[str, list[float]] = {"bare": [], "join": [], "bare_last": []}
    # Server CPU per request: the server process, and its child that writes the joins.
    cpu_us: dict[str, list[tuple[float, float]]] = {name: [] for name in rates}
    for index in range(rounds):
        for name, request in (("bare", bare), ("join", join), ("bare_last", bare_last)):
            server, child = process_cpu_s(server_pid), children_cpu_s(server_pid)
            rate = await throughput_round(lambda: RawHttp(port), workers, seconds, request)
            count = rate * seconds
            server = (process_cpu_s(server_pid) - server) / count * 1e6
            child = (children_cpu_s(server_pid) - child) / count * 1e6
            rates[name].append(rate)
            cpu_us[name].append((server, child))
            progress(
                f"  round {index + 1}/{rounds}: {name} {rate:,.0f} requests/s, server CPU "
                f"{server:,.0f} µs a request (+ {child:,.0f} µs in its gate writer)"
            )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {
        name: [round(statistics.median(v[i] for v in values), 1) for i in (0, 1)]
        for name, values in cpu_us.items()
    }
    return medians | {"rounds": rates, "cpu_us": cpu}


def peaks(levels: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Each endpoint's throughput: its best median over the connection counts tried."""
    out: dict[str, Any] = {"levels": levels}
    for name in ("bare", "join", "bare_last"):
        workers = max(levels, key=lambda w: levels[w][name])
        out[name] = levels[workers][name]
        out[f"{name}_workers"] = workers
        out[f"{name}_cpu_us"] = levels[workers]["cpu_us"][name]
    return out


async def bench(
    port: int, server_pid: int, tokens: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    http = RawHttp(port)
    progress(f"creating 1 host account with {SESSIONS} meetings, one live session each")
    platform = await create_platform(http, tokens, SESSIONS, "Enforcement bench host")
    population = Population(http, port, platform.sessions)
    removal: dict[int, dict[str, Any]] = {}
    try:
        for size, runs in zip(args.sizes, args.runs, strict=True):
            progress(f"{size:,} live participants in {SESSIONS} sessions")
            started, cpu = time.perf_counter(), process_cpu_s(server_pid)
            await population.grow_to(size)
            cn = sum(m.cn for m in population.live())
            progress(
                f"  {len(population.live()):,} connected ({cn:,} from CN, "
                f"{cn / len(population.live()):.1%}) in {time.perf_counter() - started:,.1f} s "
                f"(server CPU {process_cpu_s(server_pid) - cpu:,.1f} s)"
            )
            removal[size] = await removal_runs(platform, population, runs, f"{size:,}")
            progress(f"  server's garbage collector so far: {await collector_summary(http)}")
        other = await create_platform(http, tokens, 10, "Throughput host")
        await population.settle()
        levels: dict[int, dict[str, Any]] = {}
        for workers in args.workers:
            progress(
                f"join gate vs bare endpoint: {workers} keep-alive connections, {args.seconds:g} s "
                f"rounds, with {len(population.live()):,} participants connected"
            )
            levels[workers] = await join_throughput(
                port, server_pid, other.sessions, workers, args.seconds, 3
            )
        rates = peaks(levels)
        collector = (await http.json("GET", "/healthz"))["collector"]
    finally:
        await population.close()
        http.close()
    return {"removal": removal, "rates": rates, "collector": collector}


async def collector_summary(http: RawHttp) -> str:
    """The server's collections per generation, with their total and longest pause."""
    report = (await http.json("GET", "/healthz"))["collector"]
    return ", ".join(
        f"gen{g}: {r['collections']:,} ({r['total_ms']:,.0f} ms, longest {r['longest_ms']:,.0f} ms)"
        for g, r in enumerate(report["generations"])
    )


def sized(value: int) -> str:
    return f"{value // 1000}k" if value % 1000 == 0 else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="live participants per phase")
    parser.add_argument("--runs", default="7,5", help="removal runs per phase")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput round length")
    parser.add_argument(
        "--workers", default="32,64,128", help="throughput connection counts (comma-separated)"
    )
    parser.add_argument("--server-log", type=Path, help="keep the server's log in this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.db)
        return
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.runs = [int(r) for r in args.runs.split(",")]
    args.workers = [int(w) for w in args.workers.split(",")]
    if len(args.sizes) != len(args.runs):
        parser.error("--sizes and --runs need as many values each")

    nofile = raise_nofile()
    needed = max(args.sizes) + 1_000
    if nofile < needed:
        parser.error(f"RLIMIT_NOFILE hard limit {nofile} is below the {needed} needed")
    progress(
        f"lexloci enforcement bench on {platform.node()} ({os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}), RLIMIT_NOFILE {nofile}"
    )
    with tempfile.TemporaryDirectory(prefix="lexloci-enforce-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'lexloci.db'}"
        tokens = create_tokens(database_url)
        port = free_port()
        log_path = args.server_log or Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve", "--port", str(port), "--db", database_url],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for_server(port, server, log_path)
                started = time.perf_counter()
                results = asyncio.run(bench(port, server.pid, tokens, args))
                elapsed = time.perf_counter() - started
            except BaseException:
                progress(f"server log:\n{log_path.read_text()[-5000:]}")
                raise
            finally:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    report(results, args, elapsed)


def wait_for_server(port: int, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the bench server exited:\n{log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("the bench server did not start listening")


def report(results: dict[str, Any], args: argparse.Namespace, elapsed: float) -> None:
    removal: dict[int, dict[str, Any]] = results["removal"]
    rates = results["rates"]
    progress("")
    progress("removal: from the approval request to the last CN connection closed")
    for size, figures in removal.items():
        progress(
            f"  {size:>6,} live: median {figures['last_close_median_s'] * 1000:,.0f} ms, "
            f"p99 {figures['last_close_p99_s'] * 1000:,.0f} ms over {figures['runs']} runs "
            f"of {figures['removed_per_run']:,.0f} removals; per participant p50 "
            f"{figures['participant_p50_s'] * 1000:,.0f} ms, p99 "
            f"{figures['participant_p99_s'] * 1000:,.0f} ms"
        )
    ratio = rates["join"] / rates["bare"]
    ratio_last = rates["join"] / rates["bare_last"]
    for workers, level in rates["levels"].items():
        progress(
            f"  {workers:>4} connections: join gate {level['join']:,.0f}/s, bare endpoint "
            f"{level['bare']:,.0f}/s (ratio {level['join'] / level['bare']:.2f}), last-route "
            f"bare endpoint {level['bare_last']:,.0f}/s"
        )
    progress(
        f"throughput (each endpoint's best): join gate {rates['join']:,.0f}/s at "
        f"{rates['join_workers']} connections vs bare endpoint {rates['bare']:,.0f}/s at "
        f"{rates['bare_workers']}: ratio {ratio:.2f} (target >= 0.5); vs the bare endpoint as "
        f"the last route {rates['bare_last']:,.0f}/s: {ratio_last:.2f}"
    )
    progress(f"total {elapsed:,.0f} s")
    out: dict[str, Any] = {}
    for size, figures in removal.items():
        key = sized(size)
        out[f"removal_median_s_{key}"] = round(figures["last_close_median_s"], 4)
        out[f"removal_p99_s_{key}"] = round(figures["last_close_p99_s"], 4)
        out[f"removal_participant_p99_s_{key}"] = round(figures["participant_p99_s"], 4)
        out[f"removed_per_run_{key}"] = figures["removed_per_run"]
        out[f"runs_{key}"] = figures["runs"]
    out |= {
        "join_per_s": round(rates["join"], 1),
        "bare_per_s": round(rates["bare"], 1),
        "join_ratio": round(ratio, 3),
        "bare_last_route_per_s": round(rates["bare_last"], 1),
        "join_ratio_last_route_peer": round(ratio_last, 3),
        "join_workers": rates["join_workers"],
        "bare_workers": rates["bare_workers"],
        "join_server_cpu_us": rates["join_cpu_us"][0],
        "join_gate_writer_cpu_us": rates["join_cpu_us"][1],
        "bare_server_cpu_us": rates["bare_cpu_us"][0],
        "join_ratio_by_workers": {
            str(w): round(level["join"] / level["bare"], 3) for w, level in rates["levels"].items()
        },
        "gc_full_collections": results["collector"]["generations"][2]["collections"],
        "gc_longest_pause_ms": max(g["longest_ms"] for g in results["collector"]["generations"]),
        "activation": "case workflow over HTTP (account-scoped CN restriction, 100 sessions)",
        "machine": f"{platform.node()} {os.cpu_count()} CPUs",
        "elapsed_s": round(elapsed, 1),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
