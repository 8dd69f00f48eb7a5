"""Build small MaxMind-format databases for tests, with mmdb-writer (no network, no fixtures)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_mmdb(path: Path, networks: Mapping[str, Mapping[str, Any]], db_type: str) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=db_type)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), dict(record))
    writer.to_db_file(str(path))
    return path


def country(code: str, subdivision: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"country": {"iso_code": code}}
    if subdivision is not None:
        record["subdivisions"] = [{"iso_code": subdivision}]
    return record
