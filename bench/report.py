"""Transparency report performance: generation (and verification) over 100,000 and 1,000,000
audit entries.

Usage: python bench/report.py [--small N] [--large N] [--data DIR]

One SQLite log (WAL, synchronous=FULL, as in production) is built with
``SqlAuditLog.append_many`` in transactions of ``BATCH`` entries, with a clock that spreads the
entries over 2026; a copy is taken when it has ``--small`` entries, and it grows on to
``--large``. The mix is realistic for a busy platform: mostly ``join_allowed`` decisions (about
1 KB each, with their geo evidence), 4 % refused joins and 1 % live removals under restrictions,
participants leaving, and a government request every 3,300 entries (about 300 in a million)
with its decision, restriction, account actions, disclosures and lifts, from ten countries. The
shapes are those the meeting and case services write. The logs go to a temporary directory, or
to ``--data DIR`` (e.g. bench/data, ignored by git), where the next run reuses them.

Measured on each of the two logs:

- ``ReportService.transparency`` for 2026 as JSON: checkpoint, computation, rendering and the
  appended generation entry, wall and CPU seconds (``report_s_*``, ``report_cpu_s_*``); the
  same report as HTML (``report_html_s_*``);
- ``verify_report``: the chain verified up to the checkpoint (one process per CPU for long logs,
  ``verify_chain_s_*``) plus the recomputation (``verify_s_*`` for both);
- the peer, a floor: the bare sqlite3 module reading the bodies of the same tags through the
  same index and parsing each with ``json.loads``, counting nothing (``floor_s_*``);
- ``lexloci report transparency`` as an operator runs it, once, on the small log, to show its
  progress display.

The generator counts what it writes; the report's totals must equal those counts, or the bench
fails. Human-readable output first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lexloci.audit import AuditTag, Checkpoint, NewEntry, VerifyResult
from lexloci.clock import FixedClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import create_tables
from lexloci.transparency import ReportService, parse_period, read_report, verify_report

BATCH = 50_000
YEAR = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PERIOD = parse_period("2026")
REPORTED_AT = dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC)  # after every entry of the logs
ENTRIES_PER_CASE = 3_300
COUNTRIES = ("CN", "CN", "CN", "RU", "TR", "IN", "DE", "US", "BR", "HK")
ADDRESS = {"CN": "223.5.5.5", "RU": "77.88.8.8", "TR": "195.175.39.39", "IN": "49.44.0.1",
           "DE": "5.9.0.1", "US": "8.8.4.4", "BR": "200.160.2.3", "HK": "202.45.84.58"}  # fmt: skip
TYPES = ("restrict_meeting", "restrict_meeting", "user_data", "restrict_account", "recording",
         "preservation", "meeting_content", "emergency")  # fmt: skip
PROCESSES = ("court_order", "administrative_order", "warrant", "subpoena", "other")
REPORT_TAGS = (
    "case:case:received", "case:case:approved", "case:case:partially_approved",
    "case:case:rejected", "case:case:appealed", "case:action:converted",
    "case:account:suspended", "case:account:reinstated", "case:account:action_refused",
    "case:disclosure:created", "policy:restriction:activated", "policy:restriction:lifted",
    "policy:restriction:expired", "meeting:participant:join_denied", "meeting:participant:removed",
)  # fmt: skip


class SpreadClock:
    """Readings ``step`` apart from 2026-01-01: the log spans the year whatever its size."""

    def __init__(self, step: dt.timedelta, start_reading: int = 0) -> None:
        self._step = step
        self.readings = start_reading

    def now(self) -> dt.datetime:
        self.readings += 1
        return YEAR + self._step * self.readings


def evidence(territory: str) -> dict[str, Any]:
    version = "iptocc 3.3.170 (RIR delegation data)"
    return {
        "territory": territory,
        "disagreements": [],
        "flags": [],
        "signals": [
            {
                "signal": "client_ip",
                "territory": territory,
                "candidates": [territory],
                "flags": [],
                "sources": [{"source": "iptocc", "territory": territory, "version": version}],
            }
        ],
        "sources": [
            {"signal": "client_ip", "source": "iptocc", "territory": territory, "version": version}
        ],
    }


def context(n: int) -> dict[str, str]:
    return {
        "session_id": f"ses_{n % 5_000:016x}",
        "meeting_id": f"mtg_{n % 2_000:016x}",
        "series_id": f"mtg_{n % 2_000:016x}",
        "account_id": f"acc_{n % 500:016x}",
    }


def join_payload(n: int, territory: str, case: tuple[str, str] | None) -> dict[str, Any]:
    """``meeting:participant:join_allowed`` / ``join_denied`` as the join gate writes them."""
    payload: dict[str, Any] = {
        "participant_id": f"par_{n:016x}",
        "session_id": f"ses_{n % 5_000:016x}",
        "context": context(n),
        "territory": territory,
        "evidence": evidence(territory),
        "client_ip": ADDRESS.get(territory, "8.8.4.4"),
        "client_address_via": "x-forwarded-for",
        "phone": None,
        "decision_id": f"{n:012x}-7",
        "policy_version": 7,
        "effect": "allow" if case is None else "deny",
        "reasons": [],
        "restriction_ids": [],
        "case_ids": [],
    }
    if case is not None:
        restriction_id, case_id = case
        payload["reasons"] = [
            {
                "code": "located_inside",
                "effect": "deny",
                "case_ref": case_id,
                "restriction_id": restriction_id,
                "restriction_version": 1,
                "message": f"participant located inside {territory}: restriction "
                f"{restriction_id} v1 of case {case_id}",
            }
        ]
        payload["restriction_ids"] = [restriction_id]
        payload["case_ids"] = [case_id]
        payload["notice"] = (
            f"You cannot join this meeting from {territory}: an authority of {territory} has "
            f"demanded that participants located there be blocked (case {case_id})."
        )
    return payload


def removed_payload(n: int, territory: str, case: tuple[str, str]) -> dict[str, Any]:
    restriction_id, case_id = case
    return {
        "participant_id": f"par_{n:016x}",
        "session_id": f"ses_{n % 5_000:016x}",
        "context": context(n),
        "restriction_id": restriction_id,
        "restriction_version": 1,
        "case_ref": case_id,
        "restriction_ids": [restriction_id],
        "case_ids": [case_id],
        "reason": {"code": "located_inside", "case_ref": case_id, "restriction_id": restriction_id},
        "territory": territory,
        "evidence": evidence(territory),
        "automated": True,
        "policy_version": 7,
        "notice": f"You were removed from this meeting because you are located in {territory}.",
        "node": "local",
    }


@dataclass
class Mix:
    """Writes the log and counts what it wrote in ``PERIOD`` (all of it: the log is in 2026)."""

    written: int = 0
    received: Counter[str] = field(default_factory=Counter)
    blocked: int = 0
    removed: int = 0
    decided: int = 0
    active: list[tuple[str, str, str]] = field(default_factory=list)  # (restriction, case, country)

    def written_counts(self) -> dict[str, int]:
        return {
            "received": sum(self.received.values()),
            "decided": self.decided,
            "blocked": self.blocked,
            "removed": self.removed,
        }

    def case_entries(self, number: int, clock: SpreadClock) -> list[NewEntry]:
        """One government request, its decision and what the decision carries out."""
        country = COUNTRIES[number % len(COUNTRIES)]
        case_id = f"case_{number:016x}"
        request_type = TYPES[number % len(TYPES)]
        at = clock.now() + dt.timedelta(seconds=1)  # payload dates; the entry's time is the log's
        target = {"kind": "meeting", "ref": f"mtg_{number % 2_000:016x}"}
        received: dict[str, Any] = {
            "case_id": case_id,
            "authority": {
                "name": f"Authority {number}",
                "agency": "",
                "country": country,
                "jurisdiction": {"territories": [country], "groups": []},
            },
            "requesting_country": country,
            "jurisdiction": [country],
            "request_type": request_type,
            "legal_process": PROCESSES[number % len(PROCESSES)],
            "legal_basis": "the law cited in the order",
            "targets": [target],
            "requested_actions": ["block_participants"],
            "received_at": at.isoformat(),
            "deadline": None,
            "non_disclosure_until": (at + dt.timedelta(days=120)).isoformat()
            if number % 7 == 0
            else None,
        }
        out = [NewEntry(AuditTag.CASE_CASE_RECEIVED, "intake:alice", received)]
        self.received[country] += 1
        if number % 9 == 8:
            return out  # still pending
        outcome = ("complied", "partially", "rejected")[number % 3]
        restriction_id = f"res_{number:016x}"
        actions = [
            {
                "action": "block_participants",
                "target": target,
                "outcome": outcome,
                "applied": None if outcome == "rejected" else f"restriction {restriction_id}",
                "reasons": [] if outcome == "complied" else ["outside_jurisdiction"],
                "message": "",
                "restriction_ids": [] if outcome == "rejected" else [restriction_id],
            }
        ]
        if outcome != "rejected":
            out.append(
                NewEntry(
                    AuditTag.POLICY_RESTRICTION_ACTIVATED,
                    "approver:bob",
                    {
                        "case_id": case_id,
                        "restriction_id": restriction_id,
                        "version": 1,
                        "jurisdiction": [country],
                        "scope": f"meeting:mtg_{number % 2_000:016x}",
                        "valid_from": at.isoformat(),
                        "valid_until": (at + dt.timedelta(days=90)).isoformat(),
                        "lifted_at": None,
                    },
                )
            )
            self.active.append((restriction_id, case_id, country))
        if request_type == "restrict_account":
            out.append(
                NewEntry(
                    AuditTag.CASE_ACCOUNT_ACTION_REFUSED,
                    "approver:bob",
                    {
                        "case_id": case_id,
                        "account_id": f"acc_{number:016x}",
                        "account_territory": "US",
                        "requested_action": "suspend_account",
                        "reason": ["outside_jurisdiction"],
                    },
                )
            )
        if request_type == "user_data" and outcome != "rejected":
            out.append(
                NewEntry(
                    AuditTag.CASE_DISCLOSURE_CREATED,
                    "approver:bob",
                    {"case_id": case_id, "records": 3, "accounts": 1, "participant_ids": []},
                )
            )
        tag = {
            "complied": AuditTag.CASE_CASE_APPROVED,
            "partially": AuditTag.CASE_CASE_PARTIALLY_APPROVED,
            "rejected": AuditTag.CASE_CASE_REJECTED,
        }[outcome]
        decision = {
            "case_id": case_id,
            "requesting_country": country,
            "request_type": request_type,
            "legal_process": received["legal_process"],
            "status": tag.value.rsplit(":", 1)[1],
            "actions": actions,
            "restriction_ids": actions[0]["restriction_ids"],
            "intake_by": "alice",
            "decided_by": "bob",
        }
        out.append(NewEntry(tag, "approver:bob", decision))
        self.decided += 1
        if number % 11 == 5 and outcome != "rejected":
            out.append(
                NewEntry(
                    AuditTag.POLICY_RESTRICTION_LIFTED,
                    "approver:bob",
                    {"case_id": case_id, "restriction_id": restriction_id, "version": 2},
                )
            )
            self.active.pop()
        return out

    def entries(self, count: int, clock: SpreadClock) -> Iterator[NewEntry]:
        for _ in range(count):
            n = self.written
            self.written += 1
            if n % ENTRIES_PER_CASE == 0:
                # A whole case in a row counts as one entry of the mix; its entries follow.
                yield from self.case_entries(n // ENTRIES_PER_CASE, clock)
                continue
            roll = n % 100
            if self.active and roll < 4:  # 4 %: joins refused under an active restriction
                restriction_id, case_id, country = self.active[n % len(self.active)]
                self.blocked += 1
                yield NewEntry(
                    AuditTag.MEETING_PARTICIPANT_JOIN_DENIED,
                    f"participant:par_{n:016x}",
                    join_payload(n, country, (restriction_id, case_id)),
                )
            elif self.active and roll == 4:  # 1 %: live participants removed by a sweep
                restriction_id, case_id, country = self.active[n % len(self.active)]
                self.removed += 1
                yield NewEntry(
                    AuditTag.MEETING_PARTICIPANT_REMOVED,
                    "system:enforcement",
                    removed_payload(n, country, (restriction_id, case_id)),
                )
            elif roll < 10:  # participants leaving
                yield NewEntry(
                    AuditTag.MEETING_PARTICIPANT_LEFT,
                    f"participant:par_{n:016x}",
                    {"participant_id": f"par_{n:016x}", "session_id": f"ses_{n % 5_000:016x}"},
                )
            else:  # the rest: admitted joins, from everywhere
                territory = ("HK", "US", "DE", "TW", "CN", "BR", "IN", "JP")[n % 8]
                yield NewEntry(
                    AuditTag.MEETING_PARTICIPANT_JOIN_ALLOWED,
                    f"participant:par_{n:016x}",
                    join_payload(n, territory, None),
                )


def grow(log: SqlAuditLog, mix: Mix, clock: SpreadClock, target: int) -> float:
    """Append until the mix has ``target`` entries; seconds taken (with progress on stderr)."""
    began, first = time.perf_counter(), mix.written
    while mix.written < target:
        batch = min(BATCH, target - mix.written)
        with log.engine.begin() as conn:
            log.append_many(conn, mix.entries(batch, clock))
        done = mix.written
        rate = (done - first) / max(time.perf_counter() - began, 1e-9)
        sys.stderr.write(f"\r  building: {done:,} / {target:,} ({rate:,.0f} per s)")
        sys.stderr.flush()
    sys.stderr.write("\n")
    return time.perf_counter() - began


def timed_report(log: SqlAuditLog, fmt: str) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one report generation (it runs in this one thread)."""
    service = ReportService(log, log.engine.begin, FixedClock(REPORTED_AT))
    wall, cpu = time.perf_counter(), time.process_time()
    generated = service.transparency(PERIOD, actor="bench:report", fmt=fmt)
    return time.perf_counter() - wall, time.process_time() - cpu, generated


def timed_verify(log: SqlAuditLog, content: str) -> tuple[float, float]:
    """Seconds for the whole verification, and for its chain check alone."""
    stated = read_report(content)
    chain_s = 0.0

    def chain_check(checkpoint: Checkpoint) -> VerifyResult:
        nonlocal chain_s
        began = time.perf_counter()
        result = log.verify(until_seq=checkpoint.size, checkpoints=[checkpoint])
        chain_s = time.perf_counter() - began
        return result

    began = time.perf_counter()
    result = verify_report(stated, log, origin=log.origin, chain_check=chain_check)
    elapsed = time.perf_counter() - began
    if result.verdict.value != "confirmed":
        raise SystemExit(f"verification failed: {result}")
    return elapsed, chain_s


def floor(path: Path, size: int) -> float:
    """The peer: read and parse the same entries with nothing else (no counting, no ORM)."""
    began = time.perf_counter()
    with sqlite3.connect(path) as db:
        for tag in REPORT_TAGS:
            rows = db.execute(
                "SELECT body FROM audit_log WHERE tag = ? AND seq <= ? ORDER BY seq", (tag, size)
            )
            for (body,) in rows:
                json.loads(body)
    return time.perf_counter() - began


def check_counts(generated: Any, written: dict[str, int]) -> None:
    totals = generated.report.totals
    found = {
        "received": totals.get("requests", "received"),
        "decided": totals.get("outcomes", "decided"),
        "blocked": totals.get("participants", "blocked", "total"),
        "removed": totals.get("participants", "removed", "total"),
    }
    wanted = {key: written[key] for key in found}
    if found != wanted:
        raise SystemExit(f"the report's totals {found} are not what was written {wanted}")


def cli_once(url: str) -> None:
    """``lexloci report transparency`` as an operator runs it (its progress goes to stderr)."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lexloci", "report", "transparency", "--period", "2026",
         "--db", url, "-o", os.devnull],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    print(f"  lexloci report transparency (own process, start-up included): {elapsed:.2f} s")
    for line in done.stderr.splitlines():
        print(f"    | {line}")
    if done.returncode != 0:
        raise SystemExit("lexloci report transparency failed")


def measure(label: str, path: Path, written: dict[str, int]) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{path}")
    log = SqlAuditLog(engine, FixedClock(REPORTED_AT))
    size = log.checkpoint().size
    report_s, report_cpu_s, generated = timed_report(log, "json")
    check_counts(generated, written)
    html_s, _, _ = timed_report(log, "html")
    verify_s, chain_s = timed_verify(log, generated.content)
    engine.dispose()
    floor_s = floor(path, size)
    with sqlite3.connect(path) as db:
        marks = ",".join("?" * len(REPORT_TAGS))
        query = f"SELECT count(*) FROM audit_log WHERE tag IN ({marks}) AND seq <= ?"  # noqa: S608 - placeholders only
        (read,) = db.execute(query, (*REPORT_TAGS, size)).fetchone()
    print(f"log of {size:,} entries ({read:,} of them read by the report):")
    print(f"  report, JSON              : {report_s:6.2f} s  (CPU {report_cpu_s:.2f} s)")
    print(f"  report, HTML              : {html_s:6.2f} s")
    print(f"  verify (chain + recompute): {verify_s:6.2f} s  (the chain check: {chain_s:.2f} s)")
    print(f"  peer: bare sqlite3 read + json.loads of the same entries: {floor_s:6.2f} s "
          f"(report / peer: {report_s / floor_s:.2f}x)")  # fmt: skip
    totals = generated.report.totals
    print(
        f"  totals: {totals.get('requests', 'received')} requests, "
        f"{totals.get('participants', 'blocked', 'total'):,} blocked, "
        f"{totals.get('participants', 'removed', 'total'):,} removed, "
        f"{len(generated.report.countries)} countries"
    )
    return {
        f"report_s_{label}": round(report_s, 2),
        f"report_cpu_s_{label}": round(report_cpu_s, 2),
        f"report_html_s_{label}": round(html_s, 2),
        f"verify_s_{label}": round(verify_s, 2),
        f"verify_chain_s_{label}": round(chain_s, 2),
        f"floor_s_{label}": round(floor_s, 2),
        f"entries_read_{label}": read,
    }


def build(directory: Path, small: int, large: int) -> dict[str, Any]:
    """The two logs (the large one grown from a copy of the small one) and what was written;
    reused from ``directory`` when a previous run left them there."""
    counts_path = directory / "counts.json"
    small_db, large_db = directory / "report-small.db", directory / "report-large.db"
    if counts_path.exists() and small_db.exists() and large_db.exists():
        counts: dict[str, Any] = json.loads(counts_path.read_text())
        if (counts["small"]["target"], counts["large"]["target"]) == (small, large):
            print(f"reusing the logs built in {directory} (build took {counts['build_s']} s)")
            return counts
        raise SystemExit(f"{directory} holds logs of other sizes; remove them first")
    for stale in directory.glob("report-*.db*"):
        stale.unlink()
    engine = make_engine(f"sqlite:///{large_db}")
    create_tables(engine)
    # Spread the large log over 2026 (a few readings more go to payload dates).
    clock = SpreadClock(dt.timedelta(days=360) / large)
    log = SqlAuditLog(engine, clock)
    mix = Mix()
    print(f"building {small:,} entries (append_many, {BATCH:,} per transaction) ...")
    build_small = grow(log, mix, clock, small)
    print(f"  built in {build_small:.1f} s")
    with sqlite3.connect(large_db) as source, sqlite3.connect(small_db) as copy:
        source.backup(copy)
    counts = {"small": {"target": small, **mix.written_counts()}}
    print(f"growing the log to {large:,} entries ...")
    build_large = grow(log, mix, clock, large)
    engine.dispose()
    print(f"  built in {build_large:.1f} s; database {large_db.stat().st_size / 1e6:,.0f} MB")
    counts["large"] = {"target": large, **mix.written_counts()}
    counts["build_s"] = round(build_small + build_large, 1)
    counts_path.write_text(json.dumps(counts))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--data", type=Path, default=None, help="build the logs here and reuse them next time"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory(prefix="lexloci-bench-report-") as tmp:
        directory = args.data or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        counts = build(directory, args.small, args.large)
        figures: dict[str, Any] = {}
        figures |= measure("100k", directory / "report-small.db", counts["small"])
        cli_once(f"sqlite:///{directory / 'report-small.db'}")
        figures |= measure("1m", directory / "report-large.db", counts["large"])
    growth = figures["report_s_1m"] / max(figures["report_s_100k"], 1e-9)
    cpu_growth = figures["report_cpu_s_1m"] / max(figures["report_cpu_s_100k"], 1e-9)
    print(f"growth 100k -> 1m: {growth:.1f}x wall, {cpu_growth:.1f}x CPU, for 10x the entries")
    verdict = "met" if figures["report_s_1m"] <= 10 else "NOT met"
    print(f"target report_s_1m <= 10: {verdict}")
    figures |= {
        "growth_1m_over_100k": round(growth, 2),
        "cpu_growth_1m_over_100k": round(cpu_growth, 2),
        "entries_small": args.small,
        "entries_large": args.large,
        "build_s": counts["build_s"],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
