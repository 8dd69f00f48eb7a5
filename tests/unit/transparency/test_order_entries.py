"""Platform removal orders audited many to an entry (``platform:orders:issued``) count exactly as
one ``meeting:participant:removed`` entry per order would.

A real container (SQLite in a temp folder, a fixed clock) registers a platform, reports its
live roster through roster events, approves a CN request against its meeting through the case
workflow and sweeps it; a CN participant who joins afterwards gets an order through the event
path. The log is then rewritten the old way — every order of every ``platform:orders:issued``
entry as its own ``meeting:participant:removed`` entry (``expand``), at the same time — and
the report and the case's public notice must come out the same from both logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lexloci.audit import AuditTag, VerifyStatus
from lexloci.audit.removals import GROUP_FIELDS, ORDER_FIELDS, expand
from lexloci.bootstrap import Container, build_container
from lexloci.cases.service import CaseIntake, DecisionInput
from lexloci.clock import FixedClock
from lexloci.config import Settings
from lexloci.geo import ClientAddress
from lexloci.platforms import EventKind, RosterEvent
from lexloci.platforms.service import SWEEP_CHUNK
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import create_tables
from lexloci.transparency.computation import compute_report
from lexloci.transparency.notices import public_notice
from lexloci.transparency.period import parse_period
from tests.unit.transparency.scripted import APPROVER, INTAKE

CN_ADDRESSES = ("223.5.5.5", "180.76.76.76")  # two CN networks: more than one evidence group
ELSEWHERE = ("202.45.84.58", "8.8.4.4")  # HK, US: never removed
SWEPT_CN = SWEEP_CHUNK * 2 + 300  # three transactions, so three entries
PERIOD = parse_period("2026-H2")


@dataclass
class Swept:
    container: Container
    clock: FixedClock
    case_id: str


def _event(number: int, address: str, language: str = "en") -> RosterEvent:
    return RosterEvent(
        f"e{number}",
        EventKind.JOINED,
        f"p{number}",
        "room-1",
        account_ref="host-1",
        client=ClientAddress(address, "platform"),
        language=language,
    )


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    folder = tmp_path_factory.mktemp("orders")
    clock = FixedClock(dt.datetime(2026, 8, 3, 9, tzinfo=dt.UTC))
    container = build_container(Settings(database_url=f"sqlite:///{folder / 'l.db'}"), clock)
    try:
        platforms = container.platforms
        platforms.register("acme", None)
        acme = platforms.platform("acme")
        events = [
            _event(i, CN_ADDRESSES[i % 2], ("en", "de", "zh")[i % 3]) for i in range(SWEPT_CN)
        ] + [_event(SWEPT_CN + i, ELSEWHERE[i % 2]) for i in range(50)]
        for start in range(0, len(events), 1000):
            platforms.apply_events(acme, events[start : start + 1000])
        case = container.cases.intake(
            CaseIntake(
                authority_name="Ministry of Public Security",
                agency="Cyber Security Bureau",
                country="CN",
                jurisdiction=["CN"],
                request_type="restrict_meeting",
                legal_process="administrative_order",
                legal_basis="Cybersecurity Law art. 50",
                targets=[("meeting", "acme:room-1")],
                received_at=clock.now() - dt.timedelta(days=1),
            ),
            INTAKE,
        )
        clock.advance(dt.timedelta(hours=1))
        result = container.cases.decide(case.id, DecisionInput("approve_all"), APPROVER)
        for restriction in result.restrictions:
            container.meetings.apply_change(restriction)
            assert len(platforms.sweep(restriction)) == SWEPT_CN
        clock.advance(dt.timedelta(minutes=5))
        (late,) = platforms.apply_events(acme, [_event(10**6, CN_ADDRESSES[0])])
        assert len(late.orders) == 1  # the event path: an entry of one order
        yield Swept(container, clock, case.id)
    finally:
        container.close()


def _rewritten(swept: Swept, folder: Path) -> SqlAuditLog:
    """The same log with one ``meeting:participant:removed`` entry per order, each at the time
    of the entry it came from."""
    clock = FixedClock(swept.clock.now())
    engine = make_engine(f"sqlite:///{folder / 'per-order.db'}")
    create_tables(engine)
    log = SqlAuditLog(engine, clock)
    with log.engine.begin() as conn:
        for entry in swept.container.audit_log.iter_entries():
            clock.set(entry.at)
            if entry.tag == AuditTag.PLATFORM_ORDERS_ISSUED:
                for removal in expand(entry.payload):
                    log.append(conn, AuditTag.MEETING_PARTICIPANT_REMOVED, entry.actor, removal)
            else:
                log.append(conn, AuditTag(entry.tag), entry.actor, entry.payload)
    return log


def _figures(log: SqlAuditLog, now: dt.datetime) -> dict[str, object]:
    report = compute_report(log, PERIOD, log.checkpoint(), generated_at=now).document()
    return {key: report[key] for key in ("totals", "countries", "unattributed")}


def test_a_report_counts_every_order_of_a_sweep_as_a_removal_by_territory_and_case(
    swept: Swept,
) -> None:
    log = swept.container.audit_log
    figures = _figures(log, swept.clock.now())
    removed = {"total": SWEPT_CN + 1, "by_territory": {"CN": SWEPT_CN + 1}}
    countries = figures["countries"]
    assert isinstance(countries, dict)
    assert countries["CN"]["participants"]["removed"] == removed
    totals = figures["totals"]
    assert isinstance(totals, dict)
    assert totals["participants"]["removed"] == removed
    notice = public_notice(log, swept.case_id, checkpoint=log.checkpoint(), now=swept.clock.now())
    enforcement = notice.document["enforcement"]
    assert isinstance(enforcement, dict)
    assert enforcement["participants_removed"] == removed


def test_order_entries_give_the_figures_one_entry_per_order_would(
    swept: Swept, tmp_path: Path
) -> None:
    log = swept.container.audit_log
    per_order = _rewritten(swept, tmp_path)
    try:
        assert per_order.checkpoint().size > log.checkpoint().size  # really one per order
        now = swept.clock.now()
        assert _figures(per_order, now) == _figures(log, now)
        ours = public_notice(log, swept.case_id, checkpoint=log.checkpoint(), now=now)
        theirs = public_notice(per_order, swept.case_id, checkpoint=per_order.checkpoint(), now=now)
        assert ours.document["enforcement"] == theirs.document["enforcement"]
    finally:
        per_order.engine.dispose()


def test_each_order_in_an_entry_stands_for_one_full_removal_record(swept: Swept) -> None:
    log = swept.container.audit_log
    entries = list(log.iter_entries(tags=(AuditTag.PLATFORM_ORDERS_ISSUED.value,)))
    assert [len(e.payload["orders"]) for e in entries] == [  # type: ignore[arg-type]
        SWEEP_CHUNK,
        SWEEP_CHUNK,
        300,
        1,
    ]
    removals = [removal for entry in entries for removal in expand(entry.payload)]
    stored = {o.id for o in swept.container.platforms.store.orders("acme", limit=10**6)}
    assert {r["order_id"] for r in removals} == stored
    assert len(removals) == len(stored) == SWEPT_CN + 1
    for removal in removals:
        assert set(removal) == set(GROUP_FIELDS) | set(ORDER_FIELDS)
        assert removal["territory"] == "CN"
        assert removal["case_ids"] == [swept.case_id]
        evidence = removal["evidence"]
        assert isinstance(evidence, dict)
        assert evidence["territory"] == "CN"
    # Several groups (two networks, three notice languages), each written once per entry.
    assert all(len(e.payload["groups"]) > 1 for e in entries[:3])  # type: ignore[arg-type]
    assert log.verify(deep=True).status is VerifyStatus.INTACT
