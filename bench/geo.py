"""Geolocation speed: lexloci's locate next to the raw sources it is built on, in one run.

Same 1,000,000 random global IPv4 addresses for every contender:

- ``iptocc.country_code`` one address at a time, and on the whole list (its native batch);
- lexloci's ``Locator.locate_ip`` (single) and ``Locator.locate_ips`` (batch);
- the ``maxminddb`` C reader on a country mmdb built here from the same RIR data (per /16,
  merged), for the reader speed an operator's database would have.

Rounds alternate between contenders and the median is reported, because these machines are
shared and noisy. The last line is one JSON object.

    python bench/geo.py [--count 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import iptocc

from lexloci.geo import Locator


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def random_global_ipv4(count: int, seed: int = 2020) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast:
            out.append(str(address))
        if len(out) % 200_000 == 0 and out:
            progress(f"  generated {len(out):,} addresses")
    return out


def build_country_mmdb(path: Path) -> Path:
    """A GeoLite2-style country database with iptocc's answer for every /16, merged."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPNetwork, IPSet, cidr_merge

    by_country: dict[str, list[IPNetwork]] = {}
    probes = [f"{a}.{b}.0.1" for a in range(1, 224) for b in range(256)]
    for probe, code in zip(probes, iptocc.country_code(probes), strict=True):
        if code:
            by_country.setdefault(code, []).append(IPNetwork(probe.rsplit(".", 2)[0] + ".0.0/16"))
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="Bench-Country")
    for code, networks in sorted(by_country.items()):
        writer.insert_network(IPSet(cidr_merge(networks)), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path


def per_call_ns(fn: Callable[[str], object], items: list[str]) -> float:
    start = time.perf_counter_ns()
    for item in items:
        fn(item)
    return (time.perf_counter_ns() - start) / len(items)


def batch_per_s(fn: Callable[[list[str]], object], items: list[str]) -> float:
    start = time.perf_counter()
    fn(items)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    progress(f"generating {args.count:,} random global IPv4 addresses")
    ips = random_global_ipv4(args.count)
    locator = Locator()
    import maxminddb

    with tempfile.TemporaryDirectory() as tmp:
        progress("building a country mmdb from the same RIR data (per /16)")
        built = time.perf_counter()
        mmdb_path = build_country_mmdb(Path(tmp) / "country.mmdb")
        progress(f"  built in {time.perf_counter() - built:.1f}s")
        reader = maxminddb.open_database(str(mmdb_path), maxminddb.MODE_MMAP_EXT)

        # warm up every path once (first-call costs are not what we measure)
        locator.locate_ips(ips[:10_000])
        per_call_ns(locator.locate_ip, ips[:10_000])
        per_call_ns(reader.get, ips[:10_000])

        results: dict[str, list[float]] = {
            k: [] for k in ("iptocc_single_ns", "lexloci_single_ns", "mmdb_single_ns",
                            "iptocc_batch_per_s", "lexloci_batch_per_s")
        }  # fmt: skip
        for round_no in range(1, args.rounds + 1):
            results["iptocc_single_ns"].append(per_call_ns(iptocc.country_code, ips))
            results["lexloci_single_ns"].append(per_call_ns(locator.locate_ip, ips))
            results["iptocc_batch_per_s"].append(batch_per_s(iptocc.country_code, ips))
            results["lexloci_batch_per_s"].append(batch_per_s(locator.locate_ips, ips))
            results["mmdb_single_ns"].append(per_call_ns(reader.get, ips))
            progress(
                f"round {round_no}/{args.rounds}: "
                + ", ".join(f"{k}={v[-1]:,.0f}" for k, v in results.items())
            )
        reader.close()

    median = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "count": args.count,
        "rounds": args.rounds,
        "iptocc_version": iptocc_version(),
        "python": platform.python_version(),
        "iptocc_single_ns": round(median["iptocc_single_ns"], 1),
        "lexloci_single_ns": round(median["lexloci_single_ns"], 1),
        "single_overhead": round(median["lexloci_single_ns"] / median["iptocc_single_ns"], 3),
        "iptocc_batch_per_s": round(median["iptocc_batch_per_s"]),
        "lexloci_batch_per_s": round(median["lexloci_batch_per_s"]),
        "batch_ratio": round(median["lexloci_batch_per_s"] / median["iptocc_batch_per_s"], 3),
        "mmdb_single_ns": round(median["mmdb_single_ns"], 1),
        "targets": {"single_overhead": "<= 3", "batch_ratio": ">= 0.5"},
    }
    print()
    print(f"{'contender':<28}{'single ns':>12}{'batch /s':>14}")
    print(
        f"{'iptocc (raw)':<28}{summary['iptocc_single_ns']:>12}{summary['iptocc_batch_per_s']:>14,}"
    )
    lex_single, lex_batch = summary["lexloci_single_ns"], summary["lexloci_batch_per_s"]
    print(f"{'lexloci locate':<28}{lex_single:>12}{lex_batch:>14,}")
    print(f"{'maxminddb C reader (mmdb)':<28}{summary['mmdb_single_ns']:>12}{'-':>14}")
    print(f"single_overhead = {summary['single_overhead']} (target <= 3), "
          f"batch_ratio = {summary['batch_ratio']} (target >= 0.5)")  # fmt: skip
    print(json.dumps(summary))


def iptocc_version() -> str:
    from importlib.metadata import version

    return version("iptocc")


if __name__ == "__main__":
    main()
