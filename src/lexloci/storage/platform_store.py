"""``SqlPlatformStore``: platform registrations, rosters, roster events and removal orders on
SQLAlchemy Core (SQLite or PostgreSQL); the SQL adapter of ``lexloci.platforms.ports``.

How the port's invariants are kept:

- **one order per (presence, restriction)**: ``removal_orders`` has that unique pair (and an id
  derived from it); ``insert_orders`` skips the ids already stored and inserts the rest while
  the caller holds the presences (``lock_live``: SQLite's write lock, or ``FOR UPDATE`` on
  PostgreSQL, where a second sweeper waits and then finds them no longer live), so an order
  and its audit entry are written once; a conflict that slipped through fails the primary key
  and rolls the whole transaction back;
- **claims**: a claim is one write transaction that selects due rows and stamps them with the
  worker and a lease. On SQLite every write transaction holds the database's write lock from
  ``BEGIN IMMEDIATE``; on PostgreSQL the select is ``FOR UPDATE SKIP LOCKED``, so two claimers
  never get the same row and never wait for each other;
- **acknowledgements win**: ``record`` writes only rows still claimed by the worker and not
  acknowledged; ``acknowledge`` sets the state whoever holds the claim.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lexloci.audit.model import NewEntry
from lexloci.audit.tags import AuditTag
from lexloci.platforms.model import (
    DeliveryPolicy,
    LivePresence,
    OrderState,
    Platform,
    PlatformParticipant,
    PresenceState,
    RemovalOrder,
)
from lexloci.platforms.orders import BodyParts, assemble
from lexloci.platforms.ports import ClaimedEvent, Handover, OrderUpdate
from lexloci.policy import Scope, ScopeKind, SessionContext
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.driver_sql import marks, placeholder, render, time_binder
from lexloci.storage.engine import READ_ONLY_OPTION
from lexloci.storage.records import (
    order_parts,
    platform_events,
    platform_participants,
    platforms,
    removal_orders,
)

__all__ = ["SqlPlatformStore", "SqlPlatformTx"]

_PARTS_KEPT = 1000  # body parts remembered by digest (a sweep has one per territory and language)
_IN_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
# Driver SQL for bulk writes (lexloci.storage.driver_sql); see remove_presences.
_REMOVE_SQL = (
    "UPDATE platform_participants SET state = {p}, live_key = NULL, left_at = {p}, "
    "updated_at = {p}, reason = {json} WHERE id = {p} AND state = {p}"
)
_INSERT_ORDER_SQL = (
    "INSERT INTO removal_orders (id, platform, participant_id, restriction_id, "
    "restriction_version, case_ref, territory, body, state, attempts, next_attempt_at, "
    "created_at, claimed_by, claimed_until, parts) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
)
_INSERT_PARTS_SQL = (
    "INSERT INTO order_parts (digest, parts) VALUES ({p}, {p}) ON CONFLICT (digest) DO NOTHING"
)
# The last failure stays on record after a later success: it is history (last_error).
# COALESCE cannot infer an untyped parameter's type from NULL: {time} and {text} name it.
_RECORD_SQL = (
    "UPDATE removal_orders SET state = {p}, attempts = {p}, next_attempt_at = {p}, "
    "last_attempt_at = COALESCE({time}, last_attempt_at), "
    "delivered_at = COALESCE({time}, delivered_at), acked_at = {p}, acked_via = {p}, "
    "dead_at = {p}, last_error = COALESCE({text}, last_error), claimed_by = NULL, "
    "claimed_until = NULL WHERE id = {p} AND claimed_by = {p} AND state != {p}"
)
_ACKNOWLEDGED = OrderState.ACKNOWLEDGED.value
_UNACKNOWLEDGED = [OrderState.PENDING.value, OrderState.DELIVERED.value, OrderState.DEAD.value]


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    items = list(ids)
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


class SqlPlatformTx:
    def __init__(self, conn: sa.Connection, audit_log: SqlAuditLog) -> None:
        self.conn = conn
        self.audit_log = audit_log
        self._postgres = conn.dialect.name == "postgresql"

    def insert_platform(self, platform: Platform) -> None:
        policy = platform.delivery
        self.conn.execute(
            platforms.insert().values(
                name=platform.name,
                webhook_url=platform.webhook_url,
                secret=platform.secret,
                trusted_proxies=list(platform.trusted_proxies),
                max_attempts=policy.max_attempts,
                retry_base_ms=_ms(policy.retry_base),
                retry_max_ms=_ms(policy.retry_max),
                timeout_ms=_ms(policy.timeout),
                ack_timeout_ms=_ms(policy.ack_timeout),
                concurrency=policy.concurrency,
                batch_size=policy.batch_size,
                created_at=platform.created_at,
            )
        )

    def claim_event(
        self, platform: str, event_id: str, kind: str, digest: str, at: dt.datetime
    ) -> ClaimedEvent:
        row = {
            "platform": platform,
            "event_id": event_id,
            "kind": kind,
            "digest": digest,
            "received_at": at,
        }
        insert = (
            self._insert(platform_events)
            .values(row)
            .on_conflict_do_nothing()
            .returning(platform_events.c.event_id)
        )
        if self.conn.execute(insert).first() is not None:
            return ClaimedEvent(True)
        first = self.conn.execute(
            sa.select(platform_events.c.digest, platform_events.c.result)
            .where(platform_events.c.platform == platform)
            .where(platform_events.c.event_id == event_id)
        ).one()
        return ClaimedEvent(False, first.digest, first.result)

    def set_event_result(self, platform: str, event_id: str, result: Mapping[str, Any]) -> None:
        self.conn.execute(
            platform_events.update()
            .where(platform_events.c.platform == platform)
            .where(platform_events.c.event_id == event_id)
            .values(result=dict(result))
        )

    def live_presence(self, key: str) -> PlatformParticipant | None:
        statement = sa.select(platform_participants).where(platform_participants.c.live_key == key)
        if self._postgres:
            statement = statement.with_for_update()
        row = self.conn.execute(statement).first()
        return _presence(row) if row else None

    def insert_presence(self, participant: PlatformParticipant, key: str) -> None:
        self.conn.execute(
            platform_participants.insert().values(live_key=key, **_presence_row(participant))
        )

    def update_presence(self, participant: PlatformParticipant) -> None:
        row = _presence_row(participant)
        del row["id"]
        self.conn.execute(
            platform_participants.update()
            .where(platform_participants.c.id == participant.id)
            .values(row)
        )

    def lock_live(self, ids: Sequence[str]) -> set[str]:
        # Driver SQL: compiling an expanding IN of hundreds of ids cost more than the query.
        live: set[str] = set()
        joined = PresenceState.JOINED.value
        lock = " FOR UPDATE" if self._postgres else ""
        dialect = self.conn.dialect
        for chunk in _chunks(ids):
            listed, mark = marks(dialect, len(chunk)), placeholder(dialect)
            sql = f"SELECT id FROM platform_participants WHERE id IN ({listed}) AND state = {mark}"  # noqa: S608 - placeholders only
            sql += lock
            live.update(row[0] for row in self.conn.exec_driver_sql(sql, (*chunk, joined)))
        return live

    def end_presences(
        self,
        ids: Sequence[str],
        state: PresenceState,
        at: dt.datetime,
        reasons: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        if not ids:
            return 0
        statement = (
            platform_participants.update()
            .where(platform_participants.c.id == sa.bindparam("pid"))
            .where(platform_participants.c.state == PresenceState.JOINED.value)
            .values(
                state=state.value,
                live_key=None,
                left_at=at,
                updated_at=at,
                reason=sa.bindparam("new_reason"),
            )
        )
        result = self.conn.execute(
            statement,
            [{"pid": pid, "new_reason": dict(reasons[pid]) if reasons else None} for pid in ids],
        )
        return int(result.rowcount or 0)

    def remove_presences(self, reasons: Sequence[tuple[str, str]], at: dt.datetime) -> int:
        if not reasons:
            return 0
        # Plain driver SQL: a sweep removes thousands at once, and SQLAlchemy's per-row
        # parameter processing (and JSON encoding) cost more than the update itself.
        sql = render(_REMOVE_SQL, self.conn.dialect)
        when = time_binder(self.conn.dialect)(at)
        removed, joined = PresenceState.REMOVED.value, PresenceState.JOINED.value
        result = self.conn.exec_driver_sql(
            sql, [(removed, when, when, text, pid, joined) for pid, text in reasons]
        )
        return int(result.rowcount or 0)

    def insert_orders(
        self,
        orders: Sequence[RemovalOrder],
        claims: Mapping[str, Handover] | None = None,
        bodies: Mapping[str, tuple[str, BodyParts]] | None = None,
    ) -> set[str]:
        if not orders:
            return set()
        wanted = {order.id: order for order in orders}
        stored: set[str] = set()
        for chunk in _chunks(list(wanted)):
            listed = marks(self.conn.dialect, len(chunk))
            sql = f"SELECT id FROM removal_orders WHERE id IN ({listed})"  # noqa: S608 - placeholders only
            stored.update(row[0] for row in self.conn.exec_driver_sql(sql, tuple(chunk)))
        new = [order for oid, order in wanted.items() if oid not in stored]
        if not new:
            return set()
        # The id is a pure function of the (participant, restriction) pair, so the ids read
        # above are every stored pair; an order for a presence is only ever inserted in the
        # transaction that ends it, and the caller holds the presences (lock_live), so no other
        # transaction can insert one of these meanwhile. Should that ever fail, the primary
        # key refuses the insert and the whole transaction — orders, removals, audit entries —
        # rolls back: never a second order, never an order without its entry.
        sql = render(_INSERT_ORDER_SQL, self.conn.dialect)
        bind_time = time_binder(self.conn.dialect)
        times: dict[dt.datetime, Any] = {}

        def when(moment: dt.datetime) -> Any:
            bound = times.get(moment)
            if bound is None:
                bound = times[moment] = bind_time(moment)
            return bound

        unclaimed = (None, None)
        held = {
            handover: (handover.worker, when(handover.until))
            for handover in set((claims or {}).values())
        }
        claims = claims or {}
        bodies = bodies or {}
        parts = {
            split[1].digest: split[1].text for o in new if (split := bodies.get(o.id)) is not None
        }
        if parts:  # before the orders: their foreign key needs the parts
            self.conn.exec_driver_sql(
                render(_INSERT_PARTS_SQL, self.conn.dialect), list(parts.items())
            )
        rows = []
        for o in new:
            split = bodies.get(o.id)
            body, digest = (split[0], split[1].digest) if split is not None else (o.body, None)
            rows.append(
                (o.id, o.platform, o.participant_id, o.restriction_id, o.restriction_version,
                 o.case_ref, o.territory, body, o.state.value, o.attempts,
                 when(o.next_attempt_at or o.created_at), when(o.created_at),
                 *(held[claims[o.id]] if o.id in claims else unclaimed), digest)
            )  # fmt: skip
        self.conn.exec_driver_sql(sql, rows)
        return {order.id for order in new}

    def audit(self, tag: AuditTag, actor: str, payload: Mapping[str, Any]) -> int:
        return self.audit_log.append(self.conn, tag, actor, payload).seq

    def audit_many(self, entries: Sequence[tuple[AuditTag, str, Mapping[str, Any]]]) -> list[int]:
        appended = self.audit_log.append_many(
            self.conn, [NewEntry(tag, actor, payload) for tag, actor, payload in entries]
        )
        return [e.seq for e in appended]

    def audit_encoded(self, entries: Sequence[tuple[AuditTag, str, str]]) -> list[int]:
        if not entries:
            return []
        writer = self.audit_log.writer(self.conn)
        seqs = [writer.append_encoded(tag, actor, payload) for tag, actor, payload in entries]
        writer.flush()
        return seqs

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing``."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)


class SqlPlatformStore:
    def __init__(self, engine: sa.Engine, audit_log: SqlAuditLog) -> None:
        self.engine = engine
        self.audit_log = audit_log
        self._parts: dict[str, BodyParts] = {}  # by digest; a sweep has a handful

    @contextmanager
    def transaction(self) -> Iterator[SqlPlatformTx]:
        with self.engine.begin() as conn:
            yield SqlPlatformTx(conn, self.audit_log)

    def _read(self) -> sa.Connection:
        """A connection for reads: on SQLite it begins DEFERRED (never takes the write lock).

        Unlike ``connect_read_only`` it does not make PostgreSQL transactions READ ONLY: the
        delivery worker and event streams read here every second in background tasks, and with
        that session characteristic (set on checkout, reset on checkin) connections checked in
        around a node's shutdown were seen to outlive ``engine.dispose()`` (psycopg's
        ResourceWarning in the functional tests)."""
        return self.engine.connect().execution_options(**{READ_ONLY_OPTION: True})

    # -- registrations ------------------------------------------------------------------------

    def platform(self, name: str) -> Platform | None:
        with self._read() as conn:
            row = conn.execute(sa.select(platforms).where(platforms.c.name == name)).first()
        return _platform(row) if row else None

    def platforms(self) -> list[Platform]:
        with self._read() as conn:
            rows = conn.execute(sa.select(platforms).order_by(platforms.c.name)).all()
        return [_platform(row) for row in rows]

    # -- rosters ------------------------------------------------------------------------------

    def live_in_scope(self, scope: Scope) -> list[LivePresence]:
        c = platform_participants.c
        statement = _in_scope(
            scope,
            c.id, c.platform, c.participant_ref, c.session_id, c.meeting_id, c.series_id,
            c.account_id, c.client_ip, c.phone, c.language,
        ).where(c.state == PresenceState.JOINED.value)  # fmt: skip
        with self._read() as conn:
            return [
                LivePresence(
                    row.id,
                    row.platform,
                    row.participant_ref,
                    SessionContext(row.session_id, row.meeting_id, row.series_id, row.account_id),
                    row.client_ip,
                    row.phone,
                    row.language,
                )
                for row in conn.execute(statement)
            ]

    def participants_in_scope(self, scope: Scope) -> list[PlatformParticipant]:
        with self._read() as conn:
            return [_presence(row) for row in conn.execute(_in_scope(scope))]

    def participants(
        self, platform: str, state: PresenceState | None = None, limit: int = 1000
    ) -> list[PlatformParticipant]:
        statement = (
            sa.select(platform_participants)
            .where(platform_participants.c.platform == platform)
            .order_by(platform_participants.c.joined_at, platform_participants.c.id)
            .limit(limit)
        )
        if state is not None:
            statement = statement.where(platform_participants.c.state == state.value)
        with self._read() as conn:
            return [_presence(row) for row in conn.execute(statement)]

    # -- orders -------------------------------------------------------------------------------

    def orders(
        self, platform: str, states: Sequence[OrderState] | None = None, limit: int = 1000
    ) -> list[RemovalOrder]:
        statement = (
            sa.select(removal_orders)
            .where(removal_orders.c.platform == platform)
            .order_by(removal_orders.c.created_at, removal_orders.c.id)
            .limit(limit)
        )
        if states is not None:
            statement = statement.where(removal_orders.c.state.in_([s.value for s in states]))
        with self._read() as conn:
            return self._orders(conn, conn.execute(statement).all())

    def order(self, platform: str, order_id: str) -> RemovalOrder | None:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(removal_orders)
                .where(removal_orders.c.platform == platform)
                .where(removal_orders.c.id == order_id)
            ).all()
            found = self._orders(conn, rows)
        return found[0] if found else None

    def orders_by_id(self, ids: Sequence[str]) -> list[RemovalOrder]:
        found: dict[str, RemovalOrder] = {}
        with self._read() as conn:
            for chunk in _chunks(ids):
                rows = conn.execute(sa.select(removal_orders).where(removal_orders.c.id.in_(chunk)))
                found.update((o.id, o) for o in self._orders(conn, rows.all()))
        return [found[i] for i in ids if i in found]

    def _orders(self, conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[RemovalOrder]:
        """Orders from their rows, each body put together from its own text and the parts it
        shares (read once per digest: parts are content-addressed, so never change)."""
        known = self._parts
        wanted = {row.parts for row in rows if row.parts is not None}
        have = {digest: known[digest] for digest in wanted if digest in known}
        for chunk in _chunks(list(wanted - have.keys())):
            statement = sa.select(order_parts.c.digest, order_parts.c.parts)
            for digest, text in conn.execute(statement.where(order_parts.c.digest.in_(chunk))):
                have[digest] = BodyParts.parse(digest, text)
        if len(known) + len(have) > _PARTS_KEPT:
            known.clear()
        known.update(have)
        return [
            _order(row, row.body if row.parts is None else assemble(row.body, have[row.parts]))
            for row in rows
        ]

    def unacknowledged_ids(self, platform: str) -> list[str]:
        with self._read() as conn:
            return list(
                conn.execute(
                    sa.select(removal_orders.c.id)
                    .where(removal_orders.c.platform == platform)
                    .where(removal_orders.c.state.in_(_UNACKNOWLEDGED))
                    .order_by(removal_orders.c.created_at, removal_orders.c.id)
                ).scalars()
            )

    def acknowledge(
        self, platform: str, ids: Sequence[str], at: dt.datetime, via: str
    ) -> list[str]:
        done: list[str] = []
        with self.engine.begin() as conn:
            for chunk in _chunks(ids):
                result = conn.execute(
                    removal_orders.update()
                    .where(removal_orders.c.platform == platform)
                    .where(removal_orders.c.id.in_(chunk))
                    .where(removal_orders.c.state != OrderState.ACKNOWLEDGED.value)
                    .values(state=OrderState.ACKNOWLEDGED.value, acked_at=at, acked_via=via)
                    .returning(removal_orders.c.id)
                )
                done += list(result.scalars())
        return done

    def redeliver(self, platform: str, order_id: str, at: dt.datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                removal_orders.update()
                .where(removal_orders.c.platform == platform)
                .where(removal_orders.c.id == order_id)
                .where(removal_orders.c.state == OrderState.DEAD.value)
                .values(
                    state=OrderState.PENDING.value,
                    attempts=0,
                    next_attempt_at=at,
                    dead_at=None,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        return bool(result.rowcount)

    # -- the delivery queue -------------------------------------------------------------------

    def due(self, platform: str, now: dt.datetime, limit: int) -> int:
        with self._read() as conn:
            found = conn.execute(
                sa.select(sa.func.count()).select_from(_due(platform, now, limit).subquery())
            ).scalar()
        return int(found or 0)

    def claim(
        self, platform: str, worker: str, now: dt.datetime, limit: int, lease: dt.timedelta
    ) -> list[RemovalOrder]:
        """Up to ``limit`` due orders of ``platform``, claimed by ``worker`` until now + lease."""
        c = removal_orders.c
        due = _due(platform, now, limit)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            conn.execute(
                removal_orders.update()
                .where(c.id.in_(ids))
                .values(claimed_by=worker, claimed_until=now + lease)
            )
            rows = conn.execute(
                sa.select(removal_orders).where(c.id.in_(ids)).order_by(c.next_attempt_at, c.id)
            ).all()
            return self._orders(conn, rows)

    def record(self, worker: str, updates: Sequence[OrderUpdate]) -> int:
        if not updates:
            return 0
        with self.engine.begin() as conn:
            # Plain driver SQL, as in insert_orders: a sweep's orders come back thousands at a
            # time, and SQLAlchemy's per-row parameter processing cost more than the update.
            sql = render(_RECORD_SQL, conn.dialect)
            bind_time = time_binder(conn.dialect)
            times: dict[dt.datetime, Any] = {}

            def when(moment: dt.datetime | None) -> Any:
                if moment is None:
                    return None
                bound = times.get(moment)
                if bound is None:
                    bound = times[moment] = bind_time(moment)
                return bound

            rows = [
                (u.state.value, u.attempts, when(u.next_attempt_at), when(u.last_attempt_at),
                 when(u.delivered_at), when(u.acked_at), u.acked_via, when(u.dead_at),
                 (u.last_error or None) and u.last_error[:500], u.order_id, worker, _ACKNOWLEDGED)
                for u in updates
            ]  # fmt: skip
            result = conn.exec_driver_sql(sql, rows)
        return int(result.rowcount or 0)


def _due(platform: str, now: dt.datetime, limit: int) -> sa.Select[Any]:
    """The ids of ``platform``'s orders due at ``now`` and claimed by nobody, oldest first."""
    c = removal_orders.c
    return (
        sa.select(c.id)
        .where(c.platform == platform)
        .where(c.state.in_([OrderState.PENDING.value, OrderState.DELIVERED.value]))
        .where(c.next_attempt_at <= now)
        .where(sa.or_(c.claimed_until.is_(None), c.claimed_until < now))
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )


def _in_scope(scope: Scope, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    statement = sa.select(*columns) if columns else sa.select(platform_participants)
    if scope.kind is ScopeKind.MEETING:
        statement = statement.where(platform_participants.c.meeting_id == scope.ref)
    elif scope.kind is ScopeKind.SERIES:
        statement = statement.where(platform_participants.c.series_id == scope.ref)
    elif scope.kind is ScopeKind.ACCOUNT:
        statement = statement.where(platform_participants.c.account_id == scope.ref)
    return statement.order_by(platform_participants.c.joined_at, platform_participants.c.id)


def _ms(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def _platform(row: sa.Row[Any]) -> Platform:
    def ms(value: int) -> dt.timedelta:
        return dt.timedelta(milliseconds=value)

    return Platform(
        name=row.name,
        webhook_url=row.webhook_url,
        secret=row.secret,
        trusted_proxies=tuple(row.trusted_proxies or ()),
        delivery=DeliveryPolicy(
            max_attempts=row.max_attempts,
            retry_base=ms(row.retry_base_ms),
            retry_max=ms(row.retry_max_ms),
            timeout=ms(row.timeout_ms),
            ack_timeout=ms(row.ack_timeout_ms),
            concurrency=row.concurrency,
            batch_size=row.batch_size,
        ),
        created_at=row.created_at,
    )


def _presence_row(p: PlatformParticipant) -> dict[str, Any]:
    return {
        "id": p.id,
        "platform": p.platform,
        "participant_ref": p.participant_ref,
        "session_id": p.context.session_id,
        "meeting_id": p.context.meeting_id,
        "series_id": p.context.series_id,
        "account_id": p.context.account_id,
        "state": p.state.value,
        "territory": p.territory,
        "location": p.location,
        "client_ip": p.client_ip,
        "client_via": p.client_via,
        "phone": p.phone,
        "language": p.language,
        "decision_id": p.decision_id,
        "reason": p.reason,
        "joined_at": p.joined_at,
        "updated_at": p.updated_at,
        "left_at": p.left_at,
    }


def _presence(row: sa.Row[Any]) -> PlatformParticipant:
    return PlatformParticipant(
        id=row.id,
        platform=row.platform,
        participant_ref=row.participant_ref,
        context=SessionContext(row.session_id, row.meeting_id, row.series_id, row.account_id),
        state=PresenceState(row.state),
        territory=row.territory,
        location=row.location,
        client_ip=row.client_ip,
        client_via=row.client_via,
        phone=row.phone,
        language=row.language,
        joined_at=row.joined_at,
        updated_at=row.updated_at,
        left_at=row.left_at,
        decision_id=row.decision_id,
        reason=row.reason,
    )


def _order_row(order: RemovalOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "platform": order.platform,
        "participant_id": order.participant_id,
        "restriction_id": order.restriction_id,
        "restriction_version": order.restriction_version,
        "case_ref": order.case_ref,
        "territory": order.territory,
        "body": order.body,
        "state": order.state.value,
        "attempts": order.attempts,
        "next_attempt_at": order.next_attempt_at or order.created_at,
        "created_at": order.created_at,
    }


def _order(row: sa.Row[Any], body: str) -> RemovalOrder:
    return RemovalOrder(
        id=row.id,
        platform=row.platform,
        participant_id=row.participant_id,
        restriction_id=row.restriction_id,
        restriction_version=row.restriction_version,
        case_ref=row.case_ref,
        territory=row.territory,
        body=body,
        created_at=row.created_at,
        state=OrderState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        acked_at=row.acked_at,
        acked_via=row.acked_via,
        dead_at=row.dead_at,
        last_error=row.last_error,
    )
