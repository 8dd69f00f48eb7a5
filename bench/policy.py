"""Policy engine speed: join decisions and live sweeps, next to a linear scan, in one run.

Participants are pre-located: random global IPv4 addresses go through ``Locator.locate_ips``
(the geo fast path shares one Location per territory), then a pool is drawn with 15 % of
participants in CN and the rest across every other territory the data names; 1 % carry
synthetic multi-signal evidence (media path elsewhere, a dial-in number, sources that disagree,
an anonymizer flag), which takes the engine's slow path.

Decisions: the same 200,000 (session, location) pairs in 1,000 meetings are decided against
10, 10,000 and 100,000 active restrictions. The first 10 concern those meetings (a platform-wide
CN restriction, a series, an account and seven meetings); the others are spread over 100,000
other meetings, series and accounts. ``index_ratio`` (100k / 10) is therefore the cost of
restrictions that do not concern the meeting, which the index is meant to make nil. A second
figure decides participants of the restricted meetings themselves (every decision finds a
meeting-scoped restriction), and a linear scan over all 10,000 restrictions is the peer.

Sweeps: 1,000,000 live participants over 100,000 sessions (10 each); a platform-wide CN
restriction sweeps the first 10,000, 100,000 and all of them, and a meeting-scoped one sweeps
all of them (it concerns one session).

Rounds alternate between the configurations and the median is reported, because these machines
are shared and noisy; objects built during set-up are moved out of the garbage collector's way
with ``gc.freeze()`` so its full collections time the engine, not the fixture. The last line is
one JSON object.

    python bench/policy.py [--decisions 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import ipaddress
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from lexloci.geo import Flag, Location, Locator, Signal, SignalLocation, SourceAnswer
from lexloci.jurisdictions import GroupRegistry, Jurisdiction
from lexloci.policy import (
    DecisionIdSource,
    Enforcement,
    LiveParticipant,
    PolicyEngine,
    Restriction,
    Scope,
    ScopeKind,
    SessionContext,
    UnknownLocationPolicy,
    classify_location,
)

NOW = dt.datetime(2026, 6, 4, 12, 0, tzinfo=dt.UTC)
CN_SHARE = 0.15
HOT_MEETINGS = 1_000
SESSIONS = 100_000
PER_SESSION = 10
GROUPS = GroupRegistry()
JURISDICTIONS = [
    Jurisdiction.of(*codes)
    for codes in (
        ["CN"],
        ["HK"],
        ["TW"],
        ["RU"],
        ["IR"],
        ["TR"],
        ["IN"],
        ["UA-43"],
        ["UA-40", "UA-43"],
        ["DE"],
        ["US-CA"],
        ["CN", "HK"],
        ["BY"],
        ["VN"],
    )
] + [GROUPS.parse("EU")]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def random_global_ipv4(rng: random.Random, count: int) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast:
            out.append(str(address))
    return out


def synthetic(rng: random.Random) -> Location:
    """Evidence the fast path never produces: several signals, disagreement, flags."""

    def sig(kind: Signal, *codes: str, flags: frozenset[Flag] = frozenset()) -> SignalLocation:
        answers = tuple(SourceAnswer(f"src{i}", "bench", c) for i, c in enumerate(codes))
        if len(codes) == 1:
            return SignalLocation(kind, codes[0], frozenset(codes), answers, flags)
        return SignalLocation(kind, None, frozenset(codes), answers, flags)

    choice = rng.randrange(4)
    signals: tuple[SignalLocation, ...]
    if choice == 0:
        signals = (sig(Signal.MEDIA_IP, "CN"), sig(Signal.CLIENT_IP, "US"))
    elif choice == 1:
        signals = (sig(Signal.CLIENT_IP, "HK", "CN"),)
    elif choice == 2:
        signals = (SignalLocation(Signal.CLIENT_IP, None), sig(Signal.PHONE, "CN"))
    else:
        signals = (sig(Signal.CLIENT_IP, "CN", "SG", flags=frozenset({Flag.VPN})),)
    best = next((s.territory for s in signals if s.territory), None)
    return Location(best, signals)


def location_pool(rng: random.Random, count: int) -> tuple[list[Location], list[Location]]:
    progress(f"locating {count:,} random global IPv4 addresses ...")
    located = Locator().locate_ips(random_global_ipv4(rng, count))
    inside = [loc for loc in located if loc.territory == "CN"]
    outside = [loc for loc in located if loc.territory != "CN"]
    territories = {loc.territory for loc in located}
    progress(f"  {len(inside):,} in CN, {len(outside):,} elsewhere, {len(territories)} territories")
    return inside, outside


def draw_locations(
    rng: random.Random, inside: list[Location], outside: list[Location], count: int
) -> list[Location]:
    out: list[Location] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            out.append(synthetic(rng))
        elif roll < 0.01 + CN_SHARE:
            out.append(rng.choice(inside))
        else:
            out.append(rng.choice(outside))
    return out


def hot_context(meeting: int, n: int) -> SessionContext:
    return SessionContext(
        f"hs{meeting}-{n}", f"hm{meeting}", f"hser{meeting // 3}", f"ha{meeting % 400}"
    )


def base_restrictions() -> list[Restriction]:
    """The ten restrictions that concern the decided meetings."""
    start = NOW - dt.timedelta(days=1)

    def make(
        i: int,
        jurisdiction: Jurisdiction,
        scope: Scope,
        unknown_location: UnknownLocationPolicy = UnknownLocationPolicy.ALLOW,
    ) -> Restriction:
        return Restriction.new(
            id=f"base-{i}",
            case_ref=f"case-base-{i}",
            jurisdiction=jurisdiction,
            scope=scope,
            valid_from=start,
            unknown_location=unknown_location,
        )

    out = [
        make(0, Jurisdiction.of("CN"), Scope.platform()),
        make(1, Jurisdiction.of("HK"), Scope.series("hser0")),
        make(2, GROUPS.parse("EU"), Scope.account("ha0")),
    ]
    for i in range(7):
        out.append(
            make(
                3 + i,
                JURISDICTIONS[i % len(JURISDICTIONS)],
                Scope.meeting(f"hm{i}"),
                unknown_location=UnknownLocationPolicy.DENY
                if i == 3
                else UnknownLocationPolicy.ALLOW,
            )
        )
    return out


def spread_restrictions(rng: random.Random, count: int) -> list[Restriction]:
    """Restrictions on other meetings, series and accounts: none concerns a decided meeting."""
    start = NOW - dt.timedelta(days=1)
    kinds = [ScopeKind.MEETING] * 8 + [ScopeKind.SERIES, ScopeKind.ACCOUNT]
    out = []
    for i in range(count):
        kind = rng.choice(kinds)
        out.append(
            Restriction.new(
                id=f"spread-{i}",
                case_ref=f"case-{i}",
                jurisdiction=rng.choice(JURISDICTIONS),
                scope=Scope(kind, f"other-{kind.value}-{i}"),
                valid_from=start,
            )
        )
    return out


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds(contenders: dict[str, Callable[[], object]], count: int) -> dict[str, list[float]]:
    """Alternate contenders for ``count`` rounds; seconds per run of each."""
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(count):
        order = list(contenders.items())
        if r % 2:
            order.reverse()
        for name, fn in order:
            out[name].append(timed(fn))
        progress(f"  round {r + 1}/{count}: " + ", ".join(f"{n} {out[n][-1]:.3f}s" for n in out))
    return out


def decide_all(
    engine: PolicyEngine, work: Sequence[tuple[SessionContext, Location]]
) -> Callable[[], object]:
    def run() -> object:
        decide = engine.decide
        now = NOW
        last = None
        for context, location in work:
            last = decide(context, location, now)
        return last

    return run


def linear_scan(
    restrictions: Sequence[Restriction], work: Sequence[tuple[SessionContext, Location]]
) -> Callable[[], object]:
    """The peer: every restriction checked for every decision, no index."""

    def concerns(r: Restriction, c: SessionContext) -> bool:
        ref = r.scope.ref
        kind = r.scope.kind
        return (
            kind is ScopeKind.PLATFORM
            or (kind is ScopeKind.MEETING and ref == c.meeting_id)
            or (kind is ScopeKind.SERIES and ref == c.series_id)
            or (kind is ScopeKind.ACCOUNT and ref == c.account_id)
        )

    def run() -> object:
        denied = 0
        for context, location in work:
            for r in restrictions:
                if (
                    r.is_active(NOW)
                    and Enforcement.BLOCK_JOIN in r.effects
                    and concerns(r, context)
                    and classify_location(location, r.jurisdiction).value == "inside"
                ):
                    denied += 1
                    break
        return denied

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--participants", type=int, default=SESSIONS * PER_SESSION)
    args = parser.parse_args()
    rng = random.Random(1989)

    inside, outside = location_pool(rng, 300_000)

    progress(f"building {args.decisions:,} decision inputs in {HOT_MEETINGS:,} meetings ...")
    hot_locations = draw_locations(rng, inside, outside, args.decisions)
    hot_work = [
        (hot_context(rng.randrange(HOT_MEETINGS), i), location)
        for i, location in enumerate(hot_locations)
    ]

    progress("building 10 / 10,000 / 100,000 restriction sets ...")
    base = base_restrictions()
    spread = spread_restrictions(rng, 100_000 - len(base))
    engines: dict[str, PolicyEngine] = {}
    build_s: dict[str, float] = {}
    for label, size in (("10", 10), ("10k", 10_000), ("100k", 100_000)):
        start = time.perf_counter()
        engines[label] = PolicyEngine(
            base + spread[: size - len(base)], decision_ids=DecisionIdSource("bench")
        )
        build_s[label] = time.perf_counter() - start
        progress(f"  {size:,} restrictions compiled in {build_s[label]:.2f}s")

    start = time.perf_counter()
    for i in range(20):
        engines["100k"].apply(
            Restriction.new(
                id=f"late-{i}",
                case_ref=f"case-late-{i}",
                jurisdiction=Jurisdiction.of("CN"),
                scope=Scope.meeting(f"late-{i}"),
                valid_from=NOW - dt.timedelta(days=1),
            )
        )
    change_ms_100k = (time.perf_counter() - start) / 20 * 1000
    progress(f"  one change with 100,000 restrictions held: {change_ms_100k:.1f} ms")

    # Decisions for participants of meetings that do have their own restriction.
    restricted_meetings = [
        r.scope.ref for r in spread if r.scope.kind is ScopeKind.MEETING and r.scope.ref
    ]
    restricted_work = [
        (SessionContext(f"rs{i}", ref, ref, f"ra{i % 997}"), location)
        for i, (ref, location) in enumerate(
            zip(
                (rng.choice(restricted_meetings) for _ in hot_locations),
                hot_locations,
                strict=False,
            )
        )
    ]

    progress(f"building {args.participants:,} live participants in {SESSIONS:,} sessions ...")
    live_locations = draw_locations(rng, inside, outside, args.participants)
    contexts = [
        SessionContext(f"ls{s}", f"lm{s}", f"lm{s}", f"la{s % 20_000}") for s in range(SESSIONS)
    ]
    live = [
        LiveParticipant(f"p{i}", contexts[i // PER_SESSION % SESSIONS], location)
        for i, location in enumerate(live_locations)
    ]
    sweeper = engines["100k"]
    platform_cn = Restriction.new(
        id="sweep-platform-cn",
        case_ref="case-sweep",
        jurisdiction=Jurisdiction.of("CN"),
        scope=Scope.platform(),
        effects=frozenset({Enforcement.REMOVE_LIVE}),
        valid_from=NOW - dt.timedelta(hours=1),
    )
    meeting_cn = Restriction.new(
        id="sweep-meeting-cn",
        case_ref="case-sweep",
        jurisdiction=Jurisdiction.of("CN"),
        scope=Scope.meeting("lm42"),
        valid_from=NOW - dt.timedelta(hours=1),
    )
    gc.freeze()  # set-up objects (1M participants, 100k restrictions) leave the GC's scans

    progress(f"deciding {len(hot_work):,} joins x {args.rounds} rounds ...")
    decisions = rounds(
        {
            "10": decide_all(engines["10"], hot_work),
            "10k": decide_all(engines["10k"], hot_work),
            "100k": decide_all(engines["100k"], hot_work),
            "100k_restricted": decide_all(engines["100k"], restricted_work),
        },
        args.rounds,
    )
    rate = {k: len(hot_work) / statistics.median(v) for k, v in decisions.items()}
    best = {k: len(hot_work) / min(v) for k, v in decisions.items()}

    progress("peer: linear scan over 10,000 restrictions, 100 decisions ...")
    scan_work = hot_work[:100]
    scan = rounds({"scan": linear_scan(base + spread[: 10_000 - len(base)], scan_work)}, 3)
    scan_rate = len(scan_work) / statistics.median(scan["scan"])

    # Installed only now, so that every decision above ran against the restriction sets named.
    sweeper.apply_many([platform_cn, meeting_cn])
    progress(f"sweeping {args.participants:,} live participants x 3 rounds ...")
    sizes = {"10k": 10_000, "100k": 100_000, "1m": args.participants}
    removed: dict[str, int] = {}

    def sweep(r: Restriction, n: int, label: str) -> Callable[[], object]:
        part = live[:n]

        def run() -> object:
            removed[label] = len(sweeper.sweep(r, part, NOW))
            return None

        return run

    sweeps = rounds(
        {
            **{f"platform_{k}": sweep(platform_cn, n, f"platform_{k}") for k, n in sizes.items()},
            "meeting_1m": sweep(meeting_cn, args.participants, "meeting_1m"),
        },
        3,
    )
    sweep_s = {k: statistics.median(v) for k, v in sweeps.items()}

    result = {
        "decisions_per_s_10": round(rate["10"]),
        "decisions_per_s_10k": round(rate["10k"]),
        "decisions_per_s_100k": round(rate["100k"]),
        "decisions_per_s_100k_restricted_meetings": round(rate["100k_restricted"]),
        "decisions_per_s_10k_linear_scan": round(scan_rate),
        "index_ratio": round(rate["100k"] / rate["10"], 3),
        "index_vs_linear_scan_10k": round(rate["10k"] / scan_rate, 1),
        "decide_us_100k": round(1e6 / rate["100k"], 2),
        "sweep_s_10k": round(sweep_s["platform_10k"], 4),
        "sweep_s_100k": round(sweep_s["platform_100k"], 4),
        "sweep_s_1m": round(sweep_s["platform_1m"], 4),
        "sweep_s_1m_meeting_scoped": round(sweep_s["meeting_1m"], 4),
        "sweep_growth_1m_over_100k": round(sweep_s["platform_1m"] / sweep_s["platform_100k"], 2),
        "removed_1m": removed["platform_1m"],
        "removed_1m_meeting_scoped": removed["meeting_1m"],
        "build_s_100k": round(build_s["100k"], 2),
        "change_ms_100k": round(change_ms_100k, 1),
        "cn_share": CN_SHARE,
        "rounds": args.rounds,
        "statistic": "median",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }

    print("policy engine (median of alternating rounds; best round in brackets)")
    for label, key in (("10", "10"), ("10,000", "10k"), ("100,000", "100k")):
        print(
            f"  decide, {label:>7} restrictions : {rate[key]:>10,.0f} /s  "
            f"[{best[key]:,.0f}]  {1e6 / rate[key]:.2f} µs each"
        )
    print(
        f"  decide, 100,000, participants of restricted meetings: {rate['100k_restricted']:,.0f} /s"
    )
    print(f"  peer: linear scan over 10,000 restrictions : {scan_rate:,.0f} /s")
    print(f"  index ratio (100k / 10)             : {result['index_ratio']}")
    for key, n in sizes.items():
        print(
            f"  sweep platform-wide CN, {n:>9,} live : {sweep_s[f'platform_{key}']:.3f} s "
            f"({removed[f'platform_{key}']:,} removed)"
        )
    print(
        f"  sweep one meeting,      {args.participants:>9,} live : {sweep_s['meeting_1m']:.3f} s "
        f"({removed['meeting_1m']:,} removed)"
    )
    print(f"  compile 100,000 restrictions: {build_s['100k']:.2f} s")
    print(f"  one change with 100,000 held: {change_ms_100k:.1f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
