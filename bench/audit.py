"""Audit log performance: append throughput and ``lexloci audit verify`` over 1,000,000 entries.

Usage: python bench/audit.py [--entries N] [--append-seconds S]

Everything runs on SQLite in a temporary directory (WAL, synchronous=FULL, as in production).
Measured, in one process run:

- appends by a single writer: one transaction (and so one fsync) per entry; batches of 100
  entries per transaction; and the cost of an append inside an already open transaction (what
  auditing adds to a transaction that commits a state change anyway);
- ``lexloci audit verify`` over N entries (default 1,000,000) as a subprocess, i.e. including
  interpreter start-up, with its default workers (one process per CPU for long logs); the same
  verification in one process; and, as the peer, the floor: reading the same rows with the
  bare sqlite3 module and hashing each body once, with no checks at all;
- ``verify --deep`` (parse and re-encode every body) over the first 100,000 entries;
- the join gate over HTTP (a real server, 8 concurrent clients) with the audit log on, and off
  (a bench-only log that writes nothing — lexloci itself cannot turn auditing off), in
  alternating rounds: ``audit_ratio`` = on / off. Both servers write the joins in-process
  (``gate_writer="thread"``), where the bench can swap the log; the default writer process
  keeps a log of its own.

The entries are shaped like the meeting service's join decisions (a decision snapshot with geo
evidence, about 1 KB per body). The log to verify is written by a direct writer (canonical
encoding and hash chain without the payload walk, byte-identical to ``seal``, checked on
samples) because a million appends through the full writer take minutes on this machine; the
append figures above measure the full writer. Human-readable output first; the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lexloci.audit import (
    GENESIS_HASH,
    AuditRecord,
    AuditTag,
    NewEntry,
    VerifyStatus,
    canonical_json,
    entry_hash,
    seal,
)
from lexloci.audit.encoding import frame
from lexloci.storage.audit import PARALLEL_MIN_ENTRIES, SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import create_tables

START = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
BUILD_BATCH = 10_000


class TickingClock:
    """Each reading is one millisecond after the previous: realistic, distinct timestamps."""

    def __init__(self) -> None:
        self._ticks = 0

    def now(self) -> dt.datetime:
        self._ticks += 1
        return START + dt.timedelta(milliseconds=self._ticks)


def join_denied_payload(n: int) -> dict[str, Any]:
    """A payload shaped like ``meetings.service``'s join decision entries."""
    return {
        "participant_id": f"p-{n:09d}",
        "display_name": f"participant {n}",
        "client_ip": f"223.5.{n % 256}.{(n >> 8) % 256}",
        "client_address_via": "peer",
        "phone": None,
        "decision": {
            "decision_id": f"d-{n:012d}",
            "effect": "deny",
            "enforcement": "block_join",
            "restriction_ids": ["r-000017"],
            "reasons": [
                {
                    "code": "inside_jurisdiction",
                    "effect": "deny",
                    "message": "located in CN, inside the jurisdiction of restriction r-000017",
                    "restriction_id": "r-000017",
                    "restriction_version": 1,
                    "case_ref": "case-2026-0042",
                }
            ],
            "context": {
                "session_id": f"s-{n % 500:06d}",
                "meeting_id": f"m-{n % 200:06d}",
                "series_id": f"m-{n % 200:06d}",
                "account_id": f"a-{n % 50:06d}",
            },
            "location": {
                "territory": "CN",
                "signals": [
                    {
                        "signal": "client_ip",
                        "territory": "CN",
                        "candidates": [],
                        "sources": [{"source": "iptocc", "version": "3.3.170", "territory": "CN"}],
                        "flags": [],
                    }
                ],
            },
            "policy_version": 7,
            "decided_at": "2026-07-01T00:00:00+00:00",
        },
        "notice": "An authority of your location (CN) demanded this; case case-2026-0042.",
    }


def entries(count: int, first: int = 0) -> Iterator[NewEntry]:
    for n in range(first, first + count):
        yield NewEntry(
            AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
            f"participant:p-{n:09d}",
            join_denied_payload(n),
        )


def stderr_progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r  {label}: {done:,} / {total:,}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def measure_appends(directory: Path, seconds: float) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{directory / 'appends.db'}")
    create_tables(engine)
    log = SqlAuditLog(engine, TickingClock())
    results: dict[str, float] = {}

    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        with engine.begin() as conn:
            log.append_many(conn, entries(1, count))
        count += 1
    results["append_per_s_tx_each"] = count / (time.perf_counter() - began)

    batch, count, began = 100, 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        with engine.begin() as conn:
            log.append_many(conn, entries(batch, count))
        count += batch
    results["append_per_s_batch_100"] = count / (time.perf_counter() - began)

    inside = 5_000
    with engine.begin() as conn:
        began = time.perf_counter()
        for n in range(inside):
            log.append(conn, *next(entries(1, n)))
        elapsed = time.perf_counter() - began
    results["append_us_in_open_tx"] = elapsed / inside * 1e6
    engine.dispose()
    return results


def at_text(n: int) -> str:
    """The timestamp TickingClock gives the (n+1)-th reading, without datetime arithmetic."""
    millis = n + 1
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"2026-07-01T{hours:02d}:{minute:02d}:{second:02d}.{ms:03d}000Z"


def direct_records(first: int, count: int, prev_hash: str) -> list[AuditRecord]:
    """Records exactly as ``SqlAuditLog.append_many`` with a TickingClock writes them, built
    from the canonical encoding directly (no payload walk): the bench needs a million entries
    in seconds. ``check_direct_records`` proves the bytes equal on samples, and verification
    would reject any entry that differed."""
    tag = AuditTag.MEETING_PARTICIPANT_JOIN_DENIED.value
    out: list[AuditRecord] = []
    for n in range(first, first + count):
        actor = f"participant:p-{n:09d}"
        at = at_text(n)
        head, tail = frame(seq=n + 1, tag=tag, actor=actor, at=at)
        body = head + canonical_json(join_denied_payload(n)) + tail
        digest = entry_hash(prev_hash, body)
        out.append(AuditRecord(n + 1, tag, actor, at, body, prev_hash, digest))
        prev_hash = digest
    return out


def check_direct_records() -> None:
    direct = direct_records(0, 3, GENESIS_HASH)
    clock = TickingClock()
    prev = GENESIS_HASH
    for record, (tag, actor, payload) in zip(direct, entries(3), strict=True):
        sealed = seal(
            seq=record.seq, prev_hash=prev, tag=tag, actor=actor, at=clock.now(), payload=payload
        )
        if sealed.record != record:
            raise SystemExit(f"the bench's direct writer differs from seal() at {record.seq}")
        prev = record.hash


def build_log(path: Path, total: int) -> int:
    """Write ``total`` entries; returns the average body size in bytes."""
    check_direct_records()
    engine = make_engine(f"sqlite:///{path}")
    create_tables(engine)
    engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous = FULL")
    done, prev = 0, GENESIS_HASH
    while done < total:
        batch = direct_records(done, min(BUILD_BATCH, total - done), prev)
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
        raw.execute("COMMIT")
        done, prev = done + len(batch), batch[-1].hash
        if done % 100_000 == 0 or done == total:
            stderr_progress("building", done, total)
    (average,) = raw.execute("SELECT avg(length(body)) FROM audit_log").fetchone()
    raw.close()
    return round(float(average))


def verify_in_process(
    url: str, *, workers: int | None = None, deep: bool = False, until: int | None = None
) -> float:
    engine = make_engine(url)
    log = SqlAuditLog(engine, TickingClock())
    began = time.perf_counter()
    result = log.verify(until_seq=until, deep=deep, workers=workers)
    elapsed = time.perf_counter() - began
    engine.dispose()
    if result.status is not VerifyStatus.INTACT:
        raise SystemExit(f"verification failed: {result.breakage}")
    return elapsed


def verify_cli(url: str) -> tuple[float, str]:
    command = [
        sys.executable,
        "-c",
        "from lexloci.cli.audit_commands import app; app()",
        "verify",
        "--db",
        url,
    ]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"lexloci audit verify failed: {done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip()


def verify_floor(path: Path) -> float:
    """The peer: bare sqlite3 reading the same rows and hashing each body once, nothing else."""
    began = time.perf_counter()
    raw = sqlite3.connect(path)
    sha256 = hashlib.sha256
    for body, prev_hash, _ in raw.execute(
        "SELECT body, prev_hash, hash FROM audit_log ORDER BY seq"
    ):
        sha256(bytes.fromhex(prev_hash) + body).hexdigest()
    raw.close()
    return time.perf_counter() - began


class _NoAudit(SqlAuditLog):
    """The "audit off" side of the join-gate comparison, and nothing else: it writes nothing.

    lexloci itself has no such switch (invariant I4); this exists only here, to measure what
    auditing every join decision costs."""

    def append_many(self, conn: Any, entries: Any) -> list[Any]:
        from types import SimpleNamespace

        return [SimpleNamespace(seq=0) for _ in entries]


def _serve(directory: Path, name: str, audit: bool) -> tuple[Any, Any, str, str]:
    """A real lexloci server (uvicorn, in a thread) with one live session; its base URL."""
    import threading

    import uvicorn

    from lexloci.api.app import create_app
    from lexloci.bootstrap import build_container
    from lexloci.config import Settings

    # Both sides write the joins in-process (``gate_writer="thread"``): the "off" side swaps
    # the store's audit log after the set-up, which the default writer process (a log of its
    # own, in another process) would not see. Same writer on both sides, so the ratio is
    # still what auditing costs.
    settings = Settings(
        database_url=f"sqlite:///{directory / name}.db",
        trust_proxy=["127.0.0.1/32"],
        gate_writer="thread",
    )
    container = build_container(settings)
    account = container.meetings.create_account("bench", "DE", "bench")
    meeting = container.meetings.create_meeting("bench", account.id, "bench")
    session = container.meetings.start_session(meeting.id, "bench")
    if not audit:  # swapped in after the set-up, so only the joins go unaudited
        container.store.audit_log = _NoAudit(container.engine, container.clock)
    with socket_for_port() as port:
        pass
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                       proxy_headers=False, access_log=False)
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}", session.id


class socket_for_port:  # noqa: N801 - reads as a phrase at its one use
    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def _drive_joins(base: str, session_id: str, seconds: float, workers: int = 8) -> float:
    """Joins per second over HTTP from ``workers`` concurrent clients (one in five from CN)."""
    import asyncio

    import httpx

    addresses = ["5.9.0.1", "8.8.4.4", "202.45.84.58", "168.95.1.1", "223.5.5.5"]

    async def run() -> float:
        done = 0
        deadline = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def worker(w: int) -> None:
                nonlocal done
                i = w
                while time.perf_counter() < deadline:
                    response = await client.post(
                        f"/api/v1/sessions/{session_id}/join",
                        json={"display_name": f"p{i}"},
                        headers={"X-Forwarded-For": addresses[i % len(addresses)]},
                    )
                    if response.status_code not in (201, 403):
                        raise RuntimeError(f"join failed: {response.status_code} {response.text}")
                    done += 1
                    i += workers

            began = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(workers)))
            return done / (time.perf_counter() - began)

    return asyncio.run(run())


def measure_join_gate(directory: Path, seconds: float, rounds: int) -> dict[str, float]:
    """The join gate over HTTP with the audit log on and off; alternating rounds, medians."""
    import statistics

    servers = {flag: _serve(directory, f"join-{flag}", flag) for flag in (True, False)}
    rates: dict[bool, list[float]] = {True: [], False: []}
    try:
        for round_no in range(1, rounds + 1):
            for flag in (True, False):
                _, _, base, session_id = servers[flag]
                rates[flag].append(_drive_joins(base, session_id, seconds))
            print(
                f"  round {round_no}/{rounds}: audit on {rates[True][-1]:7.0f} joins/s, "
                f"off {rates[False][-1]:7.0f} joins/s"
            )
    finally:
        for server, thread, _, _ in servers.values():
            server.should_exit = True
            thread.join(10)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    return {"join_per_s_audit_on": on, "join_per_s_audit_off": off, "audit_ratio": on / off}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--append-seconds", type=float, default=4.0)
    parser.add_argument("--join-seconds", type=float, default=4.0)
    parser.add_argument("--join-rounds", type=int, default=3)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory(prefix="lexloci-bench-audit-") as tmp:
        directory = Path(tmp)

        print("appends (single writer, SQLite WAL, synchronous=FULL):")
        appends = measure_appends(directory, args.append_seconds)
        print(f"  one transaction per entry : {appends['append_per_s_tx_each']:10,.0f} entries/s")
        print(f"  100 entries per transaction: {appends['append_per_s_batch_100']:9,.0f} entries/s")
        print(f"  one append in an open tx   : {appends['append_us_in_open_tx']:10.1f} us")

        print("join gate over HTTP (8 concurrent clients; SQLite, synchronous=FULL):")
        joins = measure_join_gate(directory, args.join_seconds, args.join_rounds)
        print(
            f"  audit on {joins['join_per_s_audit_on']:.0f} joins/s, off "
            f"{joins['join_per_s_audit_off']:.0f} joins/s: audit_ratio {joins['audit_ratio']:.3f}"
            " (target >= 0.7)"
        )

        path = directory / "verify.db"
        url = f"sqlite:///{path}"
        print(f"building a log of {args.entries:,} entries ...")
        began = time.perf_counter()
        body_bytes = build_log(path, args.entries)
        build_s = time.perf_counter() - began
        database_mb = sum(p.stat().st_size for p in directory.glob("verify.db*")) / 1e6
        print(
            f"  built in {build_s:.1f} s (direct writer, bytes checked against seal()), "
            f"average body {body_bytes} bytes, database {database_mb:,.0f} MB"
        )

        cli_s, cli_output = verify_cli(url)
        single_s = verify_in_process(url, workers=1)
        floor_s = verify_floor(path)
        deep_entries = min(100_000, args.entries)
        deep_s = verify_in_process(url, workers=1, deep=True, until=deep_entries)

    # Figures are per million entries; a smaller --entries run is extrapolated linearly (which
    # flatters the CLI figure a little, as its start-up cost does not grow with the log).
    scale = 1_000_000 / args.entries
    note = "" if args.entries == 1_000_000 else f" (extrapolated from {args.entries:,})"
    workers = (os.cpu_count() or 1) if args.entries >= PARALLEL_MIN_ENTRIES else 1
    print(f"verify over {args.entries:,} entries:")
    print(f"  lexloci audit verify, {workers} process(es): {cli_s:6.2f} s  -> {cli_output}")
    print(f"  verify in one process           : {single_s:6.2f} s")
    overhead = single_s / floor_s
    print(f"  peer: bare sqlite3 read + SHA-256: {floor_s:6.2f} s  (one process: {overhead:.2f}x)")
    print(f"  verify --deep, {deep_entries:,} entries: {deep_s:6.2f} s")
    verdict = "met" if cli_s * scale <= 10 else "NOT met"
    print(f"target verify_1m_s <= 10{note}: {verdict}")
    figures = {
        "join_per_s_audit_on": round(joins["join_per_s_audit_on"], 1),
        "join_per_s_audit_off": round(joins["join_per_s_audit_off"], 1),
        "audit_ratio": round(joins["audit_ratio"], 3),
        "verify_1m_s": round(cli_s * scale, 2),
        "verify_1m_workers": workers,
        "verify_1m_one_process_s": round(single_s * scale, 2),
        "verify_1m_floor_s": round(floor_s * scale, 2),
        "verify_deep_100k_s": round(deep_s * 100_000 / deep_entries, 2),
        "verify_entries": args.entries,
        "body_bytes_avg": body_bytes,
        "append_per_s_tx_each": round(appends["append_per_s_tx_each"]),
        "append_per_s_batch_100": round(appends["append_per_s_batch_100"]),
        "append_us_in_open_tx": round(appends["append_us_in_open_tx"], 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
