"""Platform integration speed: stateless join decisions next to the meeting service's own join
gate, and the time from a restriction's activation to every removal order acknowledged for
10,000 live participants of one platform — in one process run.

Usage: python bench/integration.py [--participants 10000] [--runs 3] [--seconds 3] [--workers 32]
                                   [--batch-size 250]

Set-up. The server is the product's own app (``create_app`` on ``build_container``, SQLite in a
temporary folder with WAL and synchronous=FULL as in production, trusted proxy 127.0.0.1/32)
run by uvicorn with ``lexloci serve``'s options in a subprocess of this script, so server and
clients each have a core of their own. Before it starts, this script writes the staff tokens
and registers the platform ``bench`` (``PlatformService.register``, the code behind
``lexloci platform add``) with its webhook pointing at a receiver in this process, 64
concurrent requests and ``--batch-size`` orders per signed request (batch messages; 1 measures
single-order messages).

Decisions vs. join gate. ``--workers`` keep-alive HTTP/1.1 connections (a small raw asyncio
client, so the driver costs as little as possible) send back-to-back POSTs for ``--seconds``
per round, alternating ``POST /api/v1/decisions/join`` (the platform's token; meeting
``room-<n>`` of 10, account ``host-1``, a participant reference per request, the address in
``client_ip``) and ``POST /api/v1/sessions/{sid}/join`` (10 live sessions of one host, the
address in a trusted X-Forwarded-For), three rounds each; the median round of each is
reported. Addresses cycle through CN (12.5 %), HK, MO, TW, US, DE, JP, NL, BR, ZA, AU, RU and
IE. Both sides run the same gate; each decision and each join is audited before it is
answered (the join also stores its participant). No restriction is active in this phase.

Orders. A run reports ``--participants`` live participants of ``bench`` in one meeting through
roster events (batches of 1,000; every one located in mainland China, so every one gets an
order), files a CN request against ``bench:room-live`` through the case workflow over HTTP
(intake "alice") and approves it (approver "bob"). The clock starts just before the approval
request is sent, so it includes the case decision transaction, the sweep, the orders' writes
and audit entries, and every webhook. The receiver is an asyncio HTTP/1.1 server in this
process that verifies each webhook's Standard Webhooks signature with the ``standardwebhooks``
library, reads every order in it (a batch's ``data.orders``, or the single order) and answers 204
(which acknowledges every order the request carried); an order's time is when that 204 is
written. Reported per run: p50, p99 and the last order's time, and when lexloci itself listed
no unacknowledged order (polled); the figure is the median of the runs' p99. Between runs the
case's restriction is lifted by appeal and the participants are replaced by new ones.

Human-readable progress first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from benchlib import HttpError, RawHttp, free_port, percentile, progress

ADDRESSES = (  # CN once in eight; then HK MO TW US DE JP NL BR ZA AU RU IE
    "223.5.5.5",
    "202.45.84.58",
    "202.175.3.3",
    "168.95.1.1",
    "8.8.4.4",
    "5.9.0.1",
    "133.242.0.3",
    "193.0.6.139",
)
MORE = ("200.160.0.8", "41.0.0.1", "1.1.1.1", "77.88.8.8", "31.13.64.1")
CN_ADDRESSES = ("223.5.5.5", "180.76.76.76", "114.114.114.114")
ROOMS = 10
CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}
ORDERS_TIMEOUT_S = 300.0


def address(index: int) -> str:
    if index % 8 == 0:
        return ADDRESSES[0]
    pool = ADDRESSES[1:] + MORE
    return pool[index % len(pool)]


# -- the server (a subprocess running this file with --serve) -------------------------------


def serve(port: int, database_url: str) -> None:
    import uvicorn

    from lexloci.api.app import create_app
    from lexloci.bootstrap import build_container
    from lexloci.config import Settings

    container = build_container(Settings(database_url=database_url, trust_proxy=["127.0.0.1/32"]))
    uvicorn.run(  # the options `lexloci serve` uses
        create_app(container),
        host="127.0.0.1",
        port=port,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
    )


def prepare(database_url: str, webhook_url: str, batch_size: int) -> dict[str, str]:
    """Staff tokens and the platform's registration, written before the server starts."""
    from lexloci.auth import Role
    from lexloci.bootstrap import build_container
    from lexloci.config import Settings
    from lexloci.platforms import DeliveryPolicy

    container = build_container(Settings(database_url=database_url))
    try:
        now = container.clock.now()
        tokens = {
            key: container.tokens.create(name, now, role=role)[1]
            for key, name, role in (
                ("admin", "root", Role.ADMIN),
                ("intake", "alice", Role.INTAKE),
                ("approver", "bob", Role.APPROVER),
            )
        }
        registered = container.platforms.register(
            "bench", webhook_url, delivery=DeliveryPolicy(concurrency=64, batch_size=batch_size)
        )
        tokens["platform"] = container.tokens.create("bench", now, platform="bench")[1]
        tokens["secret"] = registered.secret
        return tokens
    finally:
        container.close()


# -- the platform's webhook receiver --------------------------------------------------------


class Receiver:
    """Verifies every webhook and answers 204; remembers when each order was answered."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.answered: dict[str, float] = {}
        self.bad = 0
        self.repeats = 0

    def handle(self, headers: dict[str, str], body: bytes) -> bytes:
        try:
            self.webhook.verify(body, headers)
        except WebhookVerificationError:
            self.bad += 1
            return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
        message = json.loads(body)
        if message["type"] == "participant.removal_ordered.batch":
            ids = [order["data"]["idempotency_key"] for order in message["data"]["orders"]]
        else:
            ids = [message["data"]["idempotency_key"]]
        at = time.perf_counter()
        for order_id in ids:
            if order_id in self.answered:
                self.repeats += 1
            else:
                self.answered[order_id] = at
        return b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class _ReceiverProtocol(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(self.receiver.handle(headers, body))


# -- phases ---------------------------------------------------------------------------------


async def rate(http: RawHttp, workers: int, seconds: float, one: Any) -> float:
    """Requests per second of ``one(i)`` from ``workers`` connections for ``seconds``."""
    done = 0
    stop = time.perf_counter() + seconds
    serial = 0

    async def worker() -> None:
        nonlocal done, serial
        while time.perf_counter() < stop:
            serial += 1
            await one(serial)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - started)


async def decisions_vs_gate(
    http: RawHttp, tokens: dict[str, str], args: argparse.Namespace
) -> tuple[float, float]:
    account = await http.json(
        "POST",
        "/api/v1/accounts",
        {"name": "gate host", "home_country": "US"},
        token=tokens["admin"],
        expect=201,
    )
    host = account["host_token"]
    sessions = []
    for index in range(ROOMS):
        meeting = await http.json(
            "POST",
            "/api/v1/meetings",
            {"topic": f"gate {index}", "host_account_id": account["id"]},
            token=host,
            expect=201,
        )
        session = await http.json(
            "POST", f"/api/v1/meetings/{meeting['id']}/sessions", token=host, expect=201
        )
        sessions.append(session["id"])

    async def decide(i: int) -> None:
        body = {
            "meeting_ref": f"room-{i % ROOMS}",
            "participant_ref": f"d{i}",
            "account_ref": "host-1",
            "client_ip": address(i),
        }
        await http.json("POST", "/api/v1/decisions/join", body, token=tokens["platform"])

    async def join(i: int) -> None:
        await http.json(
            "POST",
            f"/api/v1/sessions/{sessions[i % ROOMS]}/join",
            {"display_name": f"j{i}"},
            address=address(i),
            expect=201,
        )

    await rate(http, args.workers, 0.5, decide)  # warm both paths up
    await rate(http, args.workers, 0.5, join)
    decision_rates: list[float] = []
    gate_rates: list[float] = []
    for round_ in range(3):
        decision_rates.append(await rate(http, args.workers, args.seconds, decide))
        gate_rates.append(await rate(http, args.workers, args.seconds, join))
        progress(
            f"  round {round_ + 1}: decisions {decision_rates[-1]:,.0f}/s, "
            f"join gate {gate_rates[-1]:,.0f}/s"
        )
    return statistics.median(decision_rates), statistics.median(gate_rates)


async def populate(http: RawHttp, tokens: dict[str, str], count: int, run: int) -> None:
    for start in range(0, count, 1000):
        events = [
            {
                "id": f"r{run}-e{i}",
                "type": "participant.joined",
                "meeting_ref": "room-live",
                "participant_ref": f"r{run}-p{i}",
                "client_ip": CN_ADDRESSES[i % len(CN_ADDRESSES)],
            }
            for i in range(start, min(start + 1000, count))
        ]
        await http.json(
            "POST", "/api/v1/platforms/bench/events", {"events": events}, token=tokens["platform"]
        )


async def unacknowledged(http: RawHttp, tokens: dict[str, str]) -> int:
    page = await http.json(
        "GET",
        "/api/v1/platforms/bench/orders?state=unacknowledged&limit=1",
        token=tokens["admin"],
    )
    return len(page["orders"])


async def orders_run(
    http: RawHttp, tokens: dict[str, str], receiver: Receiver, count: int, run: int
) -> dict[str, float]:
    await populate(http, tokens, count, run)
    case = await http.json(
        "POST",
        "/api/v1/cases",
        {
            "authority": CN_AUTHORITY,
            "request_type": "restrict_meeting",
            "legal_process": "administrative_order",
            "legal_basis": "Cybersecurity Law art. 50",
            "targets": [{"kind": "meeting", "ref": "bench:room-live"}],
            "received_at": "2026-06-01T08:00:00Z",
        },
        token=tokens["intake"],
        expect=201,
    )
    receiver.answered.clear()
    started = time.perf_counter()
    await http.json(
        "POST",
        f"/api/v1/cases/{case['id']}/decision",
        {"decision": "approve_all"},
        token=tokens["approver"],
    )
    decided = time.perf_counter() - started
    deadline = started + ORDERS_TIMEOUT_S
    while len(receiver.answered) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(receiver.answered)} of {count} orders arrived")
        await asyncio.sleep(0.01)
    while await unacknowledged(http, tokens):
        if time.perf_counter() > deadline:
            raise RuntimeError("lexloci still lists unacknowledged orders")
        await asyncio.sleep(0.02)
    recorded = time.perf_counter() - started
    times = [at - started for at in receiver.answered.values()]
    await http.json(
        "POST",
        f"/api/v1/cases/{case['id']}/appeal",
        {"reason": "bench reset"},
        token=tokens["approver"],
    )
    return {
        "decision_answered_s": decided,
        "p50_s": percentile(times, 0.5),
        "p99_s": percentile(times, 0.99),
        "last_s": max(times),
        "recorded_s": recorded,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lexloci-bench-") as folder:
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        receiver_port = free_port()
        tokens = prepare(database_url, f"http://127.0.0.1:{receiver_port}/orders", args.batch_size)
        receiver = Receiver(tokens["secret"])
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: _ReceiverProtocol(receiver), "127.0.0.1", receiver_port
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), database_url],
            stdout=subprocess.DEVNULL,
        )
        http = RawHttp(port)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError, HttpError, asyncio.IncompleteReadError):
                    if (await http.request("GET", "/healthz"))[0] == 200:
                        break
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                await asyncio.sleep(0.1)
            progress(
                f"decisions vs. join gate: {args.workers} connections, {args.seconds:g} s rounds"
            )
            decisions, gate = await decisions_vs_gate(http, tokens, args)
            progress(f"  median: decisions {decisions:,.0f}/s, join gate {gate:,.0f}/s")
            progress(f"orders: {args.participants:,} live participants, {args.runs} runs")
            runs = []
            for run in range(args.runs):
                result = await orders_run(http, tokens, receiver, args.participants, run)
                runs.append(result)
                progress(
                    f"  run {run + 1}: decision answered {result['decision_answered_s']:.2f} s, "
                    f"orders acked p50 {result['p50_s']:.2f} s, p99 {result['p99_s']:.2f} s, "
                    f"last {result['last_s']:.2f} s; none unacknowledged in lexloci at "
                    f"{result['recorded_s']:.2f} s"
                )
            if receiver.bad or receiver.repeats:
                raise RuntimeError(
                    f"{receiver.bad} webhooks failed verification, {receiver.repeats} repeated"
                )
        finally:
            http.close()
            server.terminate()
            server.wait(timeout=30)
            listener.close()
    return {
        "decision_per_s": round(decisions, 1),
        "join_gate_per_s": round(gate, 1),
        "decision_ratio": round(decisions / gate, 3),
        "orders_acked_p99_s_10k": round(statistics.median(r["p99_s"] for r in runs), 3),
        "orders_acked_p50_s_10k": round(statistics.median(r["p50_s"] for r in runs), 3),
        "orders_acked_last_s_10k": round(statistics.median(r["last_s"] for r in runs), 3),
        "orders_recorded_s_10k": round(statistics.median(r["recorded_s"] for r in runs), 3),
        "participants": args.participants,
        "runs": args.runs,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=250)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = asyncio.run(main_async(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
