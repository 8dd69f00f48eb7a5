"""``kill -9`` of the server in the middle of a burst of audited writes loses no acknowledged
entry and corrupts nothing (issue 5)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from lexloci.clock import SystemClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from tests.functional.meeting_clients import ADDRESS
from tests.functional.servers import free_port
from tests.integration.fleet import Node, wait_for


def _cli(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "lexloci", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_kill_9_during_a_burst_of_joins_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    node = Node(
        "crash",
        free_port(),
        ["--db", url, "--trust-proxy", "127.0.0.1/32", "--log-level", "warning"],
        {},
        tmp_path / "crash.log",
    )
    node.start()
    wait_for(node.ready, 60, what="server")
    token = _cli("token", "create", "--role", "admin", "--name", "root", "--db", url)
    admin = {"Authorization": f"Bearer {token}"}
    account = httpx.post(
        f"{node.url}/api/v1/accounts", json={"name": "h", "home_country": "DE"}, headers=admin
    ).json()
    host = {"Authorization": f"Bearer {account['host_token']}"}
    meeting = httpx.post(
        f"{node.url}/api/v1/meetings",
        json={"topic": "t", "host_account_id": account["id"]},
        headers=host,
    ).json()
    session = httpx.post(
        f"{node.url}/api/v1/meetings/{meeting['id']}/sessions", headers=host
    ).json()

    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                where = ("CN", "DE", "US", "HK")[(worker + i) % 4]
                try:
                    response = client.post(
                        f"{node.url}/api/v1/sessions/{session['id']}/join",
                        json={"display_name": f"w{worker}-{i}"},
                        headers={"X-Forwarded-For": ADDRESS[where]},
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acknowledged.append(response.json()["participant_id"])

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 150, 120, interval=0.01, what="a burst of joins")
    assert node.process is not None
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(30)

    verify = subprocess.run(
        [sys.executable, "-m", "lexloci", "audit", "verify", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    engine = make_engine(url)
    log = SqlAuditLog(engine, SystemClock())
    recorded = {
        e.payload["participant_id"]
        for e in log.iter_entries(tags=["meeting:participant:join_allowed"])
    }
    engine.dispose()
    missing = set(acknowledged) - recorded
    assert not missing, f"{len(missing)} acknowledged joins have no audit entry"
    # and the server starts again on the same file
    node.start()
    wait_for(node.ready, 60, what="restart")
    node.stop()
