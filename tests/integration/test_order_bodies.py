"""Removal order bodies are stored as each order's own text plus the parts many orders share
(``order_parts``), and every read gives back exactly the bytes that were made.

A real container on each backend sweeps a platform's live roster; the orders a sweep makes are
captured as made (before storage) by a courier that takes the sweep's handovers — the port the
delivery worker implements — and compared byte for byte with what the store reads back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from lexloci.bootstrap import Container, build_container
from lexloci.config import Settings
from lexloci.geo import ClientAddress
from lexloci.jurisdictions import Jurisdiction
from lexloci.platforms import EventKind, RemovalOrder, RosterEvent
from lexloci.platforms.ports import Handover
from lexloci.policy import Enforcement, Restriction, Scope
from lexloci.storage import schema
from lexloci.storage.records import order_parts, removal_orders
from tests.databases import BACKENDS, fresh_database

CN = ("223.5.5.5", "180.76.76.76")


class Keeper:
    """Takes every handover and keeps the orders exactly as they were made."""

    def __init__(self) -> None:
        self.orders: dict[str, RemovalOrder] = {}

    def reserve(self, platform: str, count: int) -> Handover:
        return Handover(platform, "keeper", dt.datetime.now(dt.UTC), count)

    def hand_over(self, handover: Handover, orders: Sequence[RemovalOrder]) -> None:
        self.orders.update((o.id, o) for o in orders)


@pytest.fixture(params=BACKENDS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    with fresh_database(request.param, tmp_path) as url:
        made = build_container(Settings(database_url=url))
        try:
            yield made
        finally:
            made.close()


def _sweep(container: Container) -> tuple[list[str], Keeper]:
    """Sweep 60 CN participants of ``acme``; the order ids, and the orders as made."""
    platforms = container.platforms
    keeper = Keeper()
    platforms.hand_orders_to(keeper)
    platforms.register("acme", None)
    acme = platforms.platform("acme")
    languages = ("en", "de", "zh")
    platforms.apply_events(
        acme,
        [
            RosterEvent(
                f"e{i}",
                EventKind.JOINED,
                f"p-{i}",
                "room-1",
                account_ref="host-1",
                client=ClientAddress(CN[i % 2], "platform"),
                language=languages[i % 3],
            )
            for i in range(60)
        ],
    )
    now = container.clock.now()
    restriction = Restriction.new(
        id="res_bodies",
        case_ref="CASE-BODIES",
        jurisdiction=Jurisdiction.of("CN"),
        scope=Scope.meeting("acme:room-1"),
        effects=frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE}),
        valid_from=now - dt.timedelta(minutes=1),
    )
    container.policy.apply(restriction)
    made = platforms.sweep(restriction)
    assert len(made) == 60
    assert set(keeper.orders) == set(made)

    return made, keeper


def test_order_bodies_read_back_byte_for_byte_as_made(container: Container) -> None:
    made, keeper = _sweep(container)
    platforms = container.platforms
    store = platforms.store
    read = {o.id: o for o in store.orders_by_id(made)}
    assert {oid: o.body for oid, o in read.items()} == {
        oid: o.body for oid, o in keeper.orders.items()
    }
    listed = {o.id: o.body for o in store.orders("acme", limit=100)}
    assert listed == {oid: o.body for oid, o in keeper.orders.items()}
    body = json.loads(keeper.orders[made[0]].body)
    assert body["type"] == "participant.removal_ordered"
    assert set(body["data"]["notice"]["texts"]) >= {"en", "de", "zh"}
    assert body["data"]["evidence"]["territory"] == "CN"

    with container.engine.connect() as conn:
        parts = conn.execute(sa.select(sa.func.count()).select_from(order_parts)).scalar()
        stored = conn.execute(sa.select(removal_orders.c.body, removal_orders.c.parts)).all()
    # One set of shared parts per notice language (the locator shares one Location per
    # territory), each stored once; each row holds only its order's own text and names its parts.
    assert parts == 3
    assert all(digest is not None for _, digest in stored)
    assert all(len(own) < len(keeper.orders[made[0]].body) / 2 for own, _ in stored)


def test_a_downgrade_puts_every_body_back_whole(container: Container) -> None:
    made, keeper = _sweep(container)
    container.engine.dispose()
    with container.engine.begin() as conn:
        command.downgrade(schema._config(conn), "0003")
    with container.engine.connect() as conn:
        bodies = dict(conn.execute(sa.text("SELECT id, body FROM removal_orders")).all())
    assert bodies == {oid: o.body for oid, o in keeper.orders.items()}
    schema.upgrade(container.engine)
    assert schema.current_revision(container.engine) == schema.head_revision()
    assert {o.id: o.body for o in container.platforms.store.orders_by_id(made)} == bodies
