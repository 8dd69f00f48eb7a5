"""Janus removal speed: restriction to the removed peer's last connection closed, in one run.

The lab of tests/janus (a network namespace of its own with Janus 1.1, lexloci in this process,
and aiortc peers as separate processes) hosts one meeting per run with two participants: one
joined "from" CN (the victim), one "from" DE (the witness). Each publishes synthetic audio and
160×120 video and subscribes to the other, from a second Janus session as a second browser tab
would. When the victim receives the witness's media, the run starts the clock and:

- **lexloci**: a CN restriction on the meeting is activated through the domain API
  (``LiveMeetings.activate``: store and audit it, sweep, record the removal, then
  ``JanusMediaPlane.remove``: revoke token and room permission, find the victim's handles,
  kick, destroy its Janus sessions, confirm);
- **peer** (the floor, every other run): the bench itself calls Janus's admin
  ``destroy_session`` on the victim's two sessions, whose ids it already knows — the least any
  removal through Janus can cost, with no decision, audit, revocation or search.

The time is read from the victim's side: each of its aiortc connections records
``time.monotonic()`` (one clock for every process of the machine) when it changes to closed, and
a run's figure is the latest of them minus the start. The witness must still be connected at the
end of a lexloci run (else the run is an error, not a data point).

Needs root (network namespaces), ``janus`` and ``aiortc``. The last line is one JSON object.

    python bench/janus.py [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the lab lives with the tests

# Imports after the path set-up above, so that ``python bench/janus.py`` finds the lab.
from lexloci.jurisdictions import Jurisdiction  # noqa: E402 - see above
from lexloci.media.janus import JanusMediaPlane  # noqa: E402 - see above
from lexloci.meetings.service import new_id  # noqa: E402 - see above
from lexloci.policy import Enforcement, Restriction, Scope  # noqa: E402 - see above
from tests.functional.live_server import LiveServer, live_server  # noqa: E402 - see above
from tests.functional.meeting_clients import Platform  # noqa: E402 - see above
from tests.janus.lab import (  # noqa: E402 - see above
    JANUS_URL,
    Lab,
    PeerProcess,
    all_closed,
    connections,
    frames,
    lab_unavailable,
    wait_for,
)

TARGET_P99_S = 1.0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p90": nearest_rank(values, 0.90),
        "p99": nearest_rank(values, 0.99),
        "min": min(values),
        "max": max(values),
    }


class Run:
    """One meeting with a victim (CN) and a witness (DE), media flowing both ways."""

    def __init__(self, server: LiveServer, victim: PeerProcess, witness: PeerProcess) -> None:
        self.server = server
        self.victim = victim
        self.witness = witness
        self.platform = Platform.create(server)
        cn = self.platform.join("CN").json()
        de = self.platform.join("DE").json()
        self.victim_id = cn["participant_id"]
        media = cn["media"]
        published = victim.checked(
            "publish", janus=media["url"], token=media["token"], room=media["room"],
            display="victim (CN)",
        )  # fmt: skip
        self.witness_feed = witness.publish(de["media"], "witness (DE)")
        subscribed = victim.checked("subscribe", feeds=[self.witness_feed])
        witness.subscribe([published["feed"]])
        # The victim's two Janus sessions: what the peer (floor) runs destroy directly.
        self.victim_sessions = [published["session"], subscribed["session"]]
        wait_for(
            lambda: frames(victim.status(), self.witness_feed, "video") >= 5,
            "the victim to receive the witness",
        )

    def restrict(self) -> None:
        now = self.server.container.clock.now()
        restriction = Restriction.new(
            id=new_id("res"),
            case_ref="BENCH-JANUS",
            jurisdiction=Jurisdiction.of("CN"),
            scope=Scope.meeting(self.platform.meeting_id),
            effects=frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE}),
            valid_from=now - dt.timedelta(minutes=1),
        )
        self.server.run(self.server.container.live.activate(restriction, "bench:janus"))

    def destroy_directly(self) -> None:
        media = self.server.container.media
        assert isinstance(media, JanusMediaPlane)
        admin = media.admin

        async def destroy() -> None:
            for session in self.victim_sessions:
                await admin.call("destroy_session", f"/{session}")

        self.server.run(destroy())

    def closed(self) -> dict[str, Any]:
        status: dict[str, Any] = wait_for(
            lambda: all_closed(s := self.victim.status()) and s,
            "the victim's connections to close",
        )
        return status


def janus_sessions(server: LiveServer) -> int:
    """How many sessions Janus holds (left-over ones of earlier runs time out after 60 s)."""
    media = server.container.media
    assert isinstance(media, JanusMediaPlane)
    return len(server.run(media.admin.call("list_sessions"))["sessions"])


def measure(run: Run, how: str) -> dict[str, float]:
    sessions = janus_sessions(run.server)
    start = time.monotonic()
    if how == "lexloci":
        run.restrict()
    else:
        run.destroy_directly()
    returned = time.monotonic() - start
    status = run.closed()
    closes = [c["closed_at"] - start for c in connections(status)]
    figures = {
        "closed_s": max(closes),
        "publisher_s": status["publisher"]["closed_at"] - start,
        "subscriber_s": max(c["closed_at"] for c in status["subscribers"]) - start,
        "call_s": returned,
        "janus_sessions": sessions,
    }
    if how == "lexloci":
        witness = run.witness.status()
        if {c["state"] for c in connections(witness)} != {"connected"}:
            raise RuntimeError("the witness lost a connection: the run is not a data point")
        if run.platform.roster()[run.victim_id] != "removed":
            raise RuntimeError("the roster does not show the victim removed")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="removals through lexloci")
    args = parser.parse_args()
    reason = lab_unavailable()
    if reason is not None:
        progress(f"error: cannot run the Janus lab here: {reason}")
        return 2
    results: dict[str, list[dict[str, float]]] = {"lexloci": [], "peer": []}
    folder = Path(tempfile.mkdtemp(prefix="bench-janus-"))
    started = time.monotonic()
    with Lab(folder) as lab, live_server(folder, **lab.secrets.settings()) as server:
        lab.start_janus(f"{server.base}/api/v1/media/janus/events")
        info = server.http.get(f"{JANUS_URL}/info").json()
        victim, witness = lab.peer(), lab.peer()
        progress(f"Janus {info['version_string']} in netns {lab.namespace.name}; {folder}")
        progress(
            f"{'run':>4}  {'how':8} {'closed':>8} {'publisher':>10} {'subscriber':>11} "
            f"{'Janus sessions':>15}"
        )
        schedule = [how for _ in range(args.runs) for how in ("lexloci", "peer")]
        for number, how in enumerate(schedule, 1):
            run = Run(server, victim, witness)
            figures = measure(run, how)
            results[how].append(figures)
            progress(
                f"{number:>4}  {how:8} {figures['closed_s'] * 1000:>6.0f}ms "
                f"{figures['publisher_s'] * 1000:>8.0f}ms {figures['subscriber_s'] * 1000:>9.0f}ms "
                f"{figures['janus_sessions']:>15.0f}"
            )
            victim.checked("reset")
            witness.checked("reset")
    elapsed = time.monotonic() - started
    lexloci = summary([r["closed_s"] for r in results["lexloci"]])
    floor = summary([r["closed_s"] for r in results["peer"]])
    publisher = summary([r["publisher_s"] for r in results["lexloci"]])
    subscriber = summary([r["subscriber_s"] for r in results["lexloci"]])
    call = summary([r["call_s"] for r in results["lexloci"]])
    print()
    print(
        f"restriction -> victim's last connection closed, {args.runs} runs each ({elapsed:.0f} s)"
    )
    print(f"{'':28} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    for label, figures in (
        ("lexloci (all connections)", lexloci),
        ("  publisher connection", publisher),
        ("  subscriber connections", subscriber),
        ("  activate() returned", call),
        ("peer: destroy_session only", floor),
    ):
        print(
            f"{label:28} {figures['median'] * 1000:>6.0f}ms {figures['p90'] * 1000:>6.0f}ms "
            f"{figures['p99'] * 1000:>6.0f}ms {figures['max'] * 1000:>6.0f}ms"
        )
    ratio = lexloci["median"] / floor["median"]
    verdict = "meets" if lexloci["p99"] <= TARGET_P99_S else "MISSES"
    print(f"lexloci / peer (median): {ratio:.1f}x; p99 {verdict} the {TARGET_P99_S:.1f} s target")
    print(
        json.dumps(
            {
                "removal_median_s": round(lexloci["median"], 4),
                "removal_p90_s": round(lexloci["p90"], 4),
                "removal_p99_s": round(lexloci["p99"], 4),
                "removal_max_s": round(lexloci["max"], 4),
                "publisher_closed_median_s": round(publisher["median"], 4),
                "subscribers_closed_median_s": round(subscriber["median"], 4),
                "peer_destroy_session_median_s": round(floor["median"], 4),
                "peer_destroy_session_p99_s": round(floor["p99"], 4),
                "lexloci_over_peer_median": round(ratio, 2),
                "janus_sessions_median": statistics.median(
                    r["janus_sessions"] for r in results["lexloci"]
                ),
                "runs": args.runs,
                "peer_runs": len(results["peer"]),
                "target_p99_s": TARGET_P99_S,
                "meets_target": lexloci["p99"] <= TARGET_P99_S,
                "janus": info["version_string"],
                "machine": f"{platform.machine()} {platform.system()} {platform.release()}",
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
