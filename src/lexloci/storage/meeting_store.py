"""``SqlStore``: the meeting service's ``Store`` on SQLAlchemy Core (SQLite or PostgreSQL).

Each ``transaction()`` is one database transaction on one connection; audit entries are
appended to the same connection through ``SqlAuditLog``, so a state change and its entry
commit together (I4). Reads use short separate connections (SQLite WAL and PostgreSQL MVCC let
them proceed while a writer is busy).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from lexloci.audit.model import NewEntry
from lexloci.audit.tags import AuditTag
from lexloci.cases.model import Attachment, Case, case_from_dict
from lexloci.cases.ports import AccountSuspension
from lexloci.meetings.model import (
    Account,
    AccountStatus,
    Meeting,
    MeetingSession,
    Participant,
    ParticipantState,
    SessionState,
)
from lexloci.meetings.ports import GateRecord, StateChange
from lexloci.policy import Restriction, Scope, ScopeKind
from lexloci.policy.codec import restriction_from_dict, restriction_to_dict
from lexloci.storage.audit import ChainWriter, SqlAuditLog
from lexloci.storage.driver_sql import render, time_binder
from lexloci.storage.engine import connect_read_only
from lexloci.storage.gate_writer import GateWriter
from lexloci.storage.group_commit import GroupCommitter
from lexloci.storage.participant_rows import (
    INSERT_PARTICIPANT_SQL,
    ParticipantFields,
    participant_fields,
    participant_params,
)
from lexloci.storage.records import (
    account_suspensions,
    accounts,
    attachments,
    cases,
    disclosures,
    meetings,
    nodes,
    participants,
    restrictions,
    sessions,
)

__all__ = ["SqlStore", "SqlTx"]

T = TypeVar("T")


_INSERT_PARTICIPANT = participants.insert()


class SqlTx:
    def __init__(self, conn: sa.Connection, audit_log: SqlAuditLog) -> None:
        self.conn = conn
        self.audit_log = audit_log
        self._writer: ChainWriter | None = None
        self._participants: list[tuple[Any, ...]] | None = None
        self._json: dict[int, tuple[object, str]] = {}  # id -> (value, its JSON), per batch

    def buffered(self) -> SqlTx:
        """Buffer participant inserts and audit entries until ``flush`` (group commit's fast
        path: one ``executemany`` per table for a whole batch). Other writes still run at once,
        so only units that write nothing else may run on a buffered transaction."""
        self._writer = self.audit_log.writer(self.conn)
        self._participants = []
        return self

    def flush(self) -> None:
        if self._participants:
            rows, self._participants = self._participants, []
            self.conn.exec_driver_sql(render(INSERT_PARTICIPANT_SQL, self.conn.dialect), rows)
        if self._writer is not None:
            self._writer.flush()

    def buffer_participant(self, fields: ParticipantFields) -> None:
        """A participant, given as its insert's fields, into a buffered transaction's batch
        (the gate's writer process receives participants in this form)."""
        assert self._participants is not None, "only on a buffered transaction"
        self._participants.append(
            participant_params(fields, time_binder(self.conn.dialect), self._json)
        )

    def insert_account(self, account: Account) -> None:
        self.conn.execute(accounts.insert().values(_account_row(account)))

    def update_account(self, account: Account) -> None:
        self.conn.execute(
            accounts.update().where(accounts.c.id == account.id).values(_account_row(account))
        )

    def insert_meeting(self, meeting: Meeting) -> None:
        self.conn.execute(
            meetings.insert().values(
                id=meeting.id,
                topic=meeting.topic,
                host_account_id=meeting.host_account_id,
                series_id=meeting.series_id,
                recurrence=meeting.recurrence,
                created_at=meeting.created_at,
            )
        )

    def insert_session(self, session: MeetingSession) -> None:
        self.conn.execute(sessions.insert().values(_session_row(session)))

    def update_session(self, session: MeetingSession) -> None:
        self.conn.execute(
            sessions.update().where(sessions.c.id == session.id).values(_session_row(session))
        )

    def insert_participant(self, participant: Participant, token_hash: str | None) -> None:
        if self._participants is not None:
            self.buffer_participant(participant_fields(participant, token_hash))
            return
        # A prebuilt statement with parameters: compiled once, not once per join.
        row = {
            "id": participant.id,
            "session_id": participant.session_id,
            "display_name": participant.display_name,
            "user_id": participant.user_id,
            "client_ip": participant.client_ip,
            "phone": participant.phone,
            "territory": participant.territory,
            "location": participant.location,
            "state": participant.state.value,
            "reason": participant.reason,
            "language": participant.language,
            "decision_id": participant.decision_id,
            "token_hash": token_hash,
            "joined_at": participant.joined_at,
            "left_at": participant.left_at,
        }
        self.conn.execute(_INSERT_PARTICIPANT, row)

    def record_gate(self, record: GateRecord) -> None:
        if record.participant is not None:
            self.insert_participant(record.participant, record.token_hash)
        for entry in record.entries:
            self.audit_encoded(entry.tag, entry.actor, entry.payload)

    def set_states(self, changes: Sequence[StateChange]) -> int:
        if not changes:
            return 0
        statement = (
            participants.update()
            .where(participants.c.id == sa.bindparam("pid"))
            .where(participants.c.state == ParticipantState.JOINED.value)
            .values(
                state=sa.bindparam("new_state"),
                reason=sa.bindparam("new_reason"),
                left_at=sa.bindparam("new_left_at"),
                token_hash=None,
            )
        )
        result = self.conn.execute(
            statement,
            [
                {
                    "pid": c.participant_id,
                    "new_state": c.state.value,
                    "new_reason": c.reason,
                    "new_left_at": c.at,
                }
                for c in changes
            ],
        )
        return int(result.rowcount or 0)

    def save_restriction(self, restriction: Restriction, at: dt.datetime) -> None:
        row = {
            "version": restriction.version,
            "case_ref": restriction.case_ref,
            "body": restriction_to_dict(restriction),
            "valid_from": restriction.valid_from,
            "valid_until": restriction.valid_until,
            "lifted_at": restriction.lifted_at,
        }
        updated = self.conn.execute(
            restrictions.update().where(restrictions.c.id == restriction.id).values(row)
        )
        if not updated.rowcount:
            self.conn.execute(restrictions.insert().values(id=restriction.id, created_at=at, **row))

    def mark_expired(self, restriction_id: str, at: dt.datetime) -> bool:
        result = self.conn.execute(
            restrictions.update()
            .where(restrictions.c.id == restriction_id)
            .where(restrictions.c.expired_at.is_(None))
            .values(expired_at=at)
        )
        return bool(result.rowcount)

    # -- cases ----------------------------------------------------------------------------------

    def insert_case(self, case: Case) -> None:
        self.conn.execute(cases.insert().values(_case_row(case)))

    def update_case(self, case: Case) -> None:
        self.conn.execute(cases.update().where(cases.c.id == case.id).values(_case_row(case)))

    def insert_attachment(self, attachment: Attachment, case_id: str, content: bytes) -> bool:
        exists = self.conn.execute(
            sa.select(attachments.c.sha256).where(attachments.c.sha256 == attachment.sha256)
        ).first()
        if exists is not None:
            return False
        self.conn.execute(
            attachments.insert().values(
                sha256=attachment.sha256,
                filename=attachment.filename,
                media_type=attachment.media_type,
                size=attachment.size,
                first_case_id=case_id,
                content=content,
                added_at=attachment.added_at,
            )
        )
        return True

    def save_suspension(self, suspension: AccountSuspension) -> None:
        row = {
            "case_id": suspension.case_id,
            "account_id": suspension.account_id,
            "valid_from": suspension.valid_from,
            "valid_until": suspension.valid_until,
            "lifted_at": suspension.lifted_at,
            "ended_at": suspension.ended_at,
        }
        updated = self.conn.execute(
            account_suspensions.update()
            .where(account_suspensions.c.id == suspension.id)
            .values(row)
        )
        if not updated.rowcount:
            self.conn.execute(account_suspensions.insert().values(id=suspension.id, **row))

    def save_disclosure(self, case_id: str, package: Mapping[str, Any]) -> None:
        self.conn.execute(disclosures.insert().values(case_id=case_id, package=dict(package)))

    def audit(self, tag: AuditTag, actor: str, payload: Mapping[str, Any]) -> int:
        if self._writer is not None:
            return self._writer.append(tag, actor, payload).seq
        return self.audit_log.append(self.conn, tag, actor, payload).seq

    def audit_encoded(self, tag: AuditTag, actor: str, payload: str) -> int:
        if self._writer is not None:
            return self._writer.append_encoded(tag, actor, payload)
        writer = self.audit_log.writer(self.conn)
        seq = writer.append_encoded(tag, actor, payload)
        writer.flush()
        return seq

    def audit_many(self, entries: Sequence[tuple[AuditTag, str, Mapping[str, Any]]]) -> list[int]:
        if self._writer is not None:
            return [self._writer.append(tag, actor, payload).seq for tag, actor, payload in entries]
        appended = self.audit_log.append_many(
            self.conn, [NewEntry(tag, actor, payload) for tag, actor, payload in entries]
        )
        return [e.seq for e in appended]


class SqlStore:
    """The meeting store on SQLAlchemy. ``gate_writer=True`` writes the gate's records from
    an event loop in a process of their own (``lexloci.storage.gate_writer``); otherwise, and
    for every other write, the writer thread's group commit writes them in this process."""

    def __init__(self, engine: sa.Engine, audit_log: SqlAuditLog, *, gate_writer: bool = False):
        self.engine = engine
        self.audit_log = audit_log
        self._committer: GroupCommitter[SqlTx] = GroupCommitter(
            engine,
            lambda conn: SqlTx(conn, self.audit_log),
            buffered=self._buffered_tx,
        )
        self._gate_writer = (
            GateWriter(
                engine.url.render_as_string(hide_password=False),
                origin=audit_log.origin,
                fallback=self._record_gate_here,
            )
            if gate_writer
            else None
        )

    def _buffered_tx(self, conn: sa.Connection) -> tuple[SqlTx, Callable[[], None]]:
        tx = SqlTx(conn, self.audit_log).buffered()
        return tx, tx.flush

    def group_commit_stats(self) -> tuple[int, int]:
        """Batches and units the group commit has written so far."""
        return self._committer.batches, self._committer.units

    def run_in_batch(self, work: Callable[[SqlTx], T]) -> T:
        """Run a small write (with its audit entries) in a transaction shared with other
        callers' writes; returns once it is durable (see ``lexloci.storage.group_commit``)."""
        return self._committer.run(work)

    def submit_in_batch(self, work: Callable[[SqlTx], Any]) -> Future[Any]:
        """``run_in_batch`` without blocking: a future that completes once it is durable."""
        return self._committer.submit(work)

    def submit_in_batch_async(self, work: Callable[[SqlTx], Any]) -> asyncio.Future[Any]:
        """``submit_in_batch`` from a coroutine: a future of the running event loop."""
        return self._committer.submit_async(work)

    def record_gate(self, record: GateRecord) -> None:
        self._committer.run(_gate_work(record))

    def record_gate_async(self, record: GateRecord) -> asyncio.Future[None]:
        if self._gate_writer is not None:
            return self._gate_writer.submit(record)
        return self._record_gate_here(record)

    def _record_gate_here(self, record: GateRecord) -> asyncio.Future[None]:
        return self._committer.submit_async(_gate_work(record))

    @property
    def gate_writer(self) -> GateWriter | None:
        return self._gate_writer

    def start_gate_writer(self) -> None:
        """Start the gate's writer process for the running loop (else it starts at the first
        join); ``lexloci serve`` does so at start-up, so the first join does not wait for it."""
        if self._gate_writer is not None:
            self._gate_writer.start()

    def close_gate_writer(self) -> None:
        """Stop the gate's writer process (after it wrote what it was sent); later records are
        written in this process."""
        if self._gate_writer is not None:
            self._gate_writer.close()

    def close(self) -> None:
        self.close_gate_writer()
        self._committer.close()

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        with self.engine.begin() as conn:
            yield SqlTx(conn, self.audit_log)

    def _read(self) -> sa.Connection:
        """A read-only connection: it never takes SQLite's write lock, so reads made while a
        write transaction is open (even by the same thread) never wait for it."""
        return connect_read_only(self.engine)

    def _one(self, statement: sa.Select[Any]) -> sa.Row[Any] | None:
        with self._read() as conn:
            return conn.execute(statement).first()

    def account(self, account_id: str) -> Account | None:
        row = self._one(sa.select(accounts).where(accounts.c.id == account_id))
        return _account(row) if row else None

    def meeting(self, meeting_id: str) -> Meeting | None:
        row = self._one(sa.select(meetings).where(meetings.c.id == meeting_id))
        if row is None:
            return None
        return Meeting(
            id=row.id,
            topic=row.topic,
            host_account_id=row.host_account_id,
            series_id=row.series_id,
            created_at=row.created_at,
            recurrence=row.recurrence,
        )

    def session(self, session_id: str) -> MeetingSession | None:
        row = self._one(sa.select(sessions).where(sessions.c.id == session_id))
        return _session(row) if row else None

    def sessions(
        self, meeting_id: str | None = None, live_only: bool = False
    ) -> list[MeetingSession]:
        statement = sa.select(sessions).order_by(sessions.c.started_at)
        if meeting_id is not None:
            statement = statement.where(sessions.c.meeting_id == meeting_id)
        if live_only:
            statement = statement.where(sessions.c.state == SessionState.LIVE.value)
        with self._read() as conn:
            return [_session(row) for row in conn.execute(statement)]

    def participant(self, participant_id: str) -> Participant | None:
        row = self._one(sa.select(participants).where(participants.c.id == participant_id))
        return _participant(row) if row else None

    def participants(
        self, session_id: str, states: Sequence[ParticipantState] | None = None
    ) -> list[Participant]:
        statement = (
            sa.select(participants)
            .where(participants.c.session_id == session_id)
            .order_by(participants.c.joined_at, participants.c.id)
        )
        if states is not None:
            statement = statement.where(participants.c.state.in_([s.value for s in states]))
        with self._read() as conn:
            return [_participant(row) for row in conn.execute(statement)]

    def live_participants(self, node: str) -> Iterator[tuple[Participant, str | None]]:
        statement = (
            sa.select(participants)
            .join(sessions, sessions.c.id == participants.c.session_id)
            .where(sessions.c.state == SessionState.LIVE.value)
            .where(sessions.c.node == node)
            .where(participants.c.state == ParticipantState.JOINED.value)
        )
        with self._read() as conn:
            rows = conn.execute(statement).all()
        for row in rows:
            yield _participant(row), row.token_hash

    def restriction_rows(self) -> list[tuple[Restriction, dt.datetime | None]]:
        """Every stored restriction with the time its expiry was recorded (if it was)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(restrictions.c.body, restrictions.c.expired_at).order_by(
                    restrictions.c.created_at, restrictions.c.id
                )
            ).all()
        return [(restriction_from_dict(row.body), row.expired_at) for row in rows]

    # -- cases ----------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case | None:
        row = self._one(sa.select(cases.c.body).where(cases.c.id == case_id))
        return case_from_dict(row.body) if row else None

    def cases(
        self, status: str | None = None, country: str | None = None, request_type: str | None = None
    ) -> list[Case]:
        statement = sa.select(cases.c.body).order_by(cases.c.received_at.desc(), cases.c.id)
        if status:
            statement = statement.where(cases.c.status == status)
        if country:
            statement = statement.where(cases.c.country == country)
        if request_type:
            statement = statement.where(cases.c.request_type == request_type)
        with self._read() as conn:
            return [case_from_dict(row.body) for row in conn.execute(statement)]

    def attachment(self, sha256: str) -> tuple[str, bytes] | None:
        row = self._one(
            sa.select(attachments.c.media_type, attachments.c.content).where(
                attachments.c.sha256 == sha256
            )
        )
        return (row.media_type, bytes(row.content)) if row else None

    def sessions_in_scope(self, scope: Scope) -> list[MeetingSession]:
        statement = sa.select(sessions).join(meetings, meetings.c.id == sessions.c.meeting_id)
        if scope.kind is ScopeKind.MEETING:
            statement = statement.where(meetings.c.id == scope.ref)
        elif scope.kind is ScopeKind.SERIES:
            statement = statement.where(meetings.c.series_id == scope.ref)
        elif scope.kind is ScopeKind.ACCOUNT:
            statement = statement.where(meetings.c.host_account_id == scope.ref)
        with self._read() as conn:
            return [
                _session(row) for row in conn.execute(statement.order_by(sessions.c.started_at))
            ]

    def participants_of(self, session_ids: Sequence[str]) -> list[Participant]:
        out: list[Participant] = []
        ids = list(session_ids)
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                statement = (
                    sa.select(participants)
                    .where(participants.c.session_id.in_(ids[start : start + 500]))
                    .order_by(participants.c.joined_at, participants.c.id)
                )
                out += [_participant(row) for row in conn.execute(statement)]
        return out

    def disclosure(self, case_id: str) -> dict[str, Any] | None:
        row = self._one(sa.select(disclosures.c.package).where(disclosures.c.case_id == case_id))
        return dict(row.package) if row else None

    def suspensions(self, case_id: str | None = None) -> list[AccountSuspension]:
        statement = sa.select(account_suspensions).order_by(account_suspensions.c.valid_from)
        if case_id is not None:
            statement = statement.where(account_suspensions.c.case_id == case_id)
        with self._read() as conn:
            return [
                AccountSuspension(
                    r.id,
                    r.case_id,
                    r.account_id,
                    r.valid_from,
                    r.valid_until,
                    r.lifted_at,
                    r.ended_at,
                )
                for r in conn.execute(statement)
            ]

    # -- the fleet: outbox and node registry ----------------------------------------------------

    def pending_publications(self) -> list[Restriction]:
        """Restrictions whose current version has not been published to the bus yet."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(restrictions.c.body)
                .where(restrictions.c.published_version < restrictions.c.version)
                .order_by(restrictions.c.created_at, restrictions.c.id)
            ).all()
        return [restriction_from_dict(row.body) for row in rows]

    def mark_published(self, restriction_id: str, version: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                restrictions.update()
                .where(restrictions.c.id == restriction_id)
                .where(restrictions.c.published_version < version)
                .values(published_version=version)
            )

    def heartbeat(self, name: str, url: str, accepts_sessions: bool, now: dt.datetime) -> None:
        """Register this node, or say it is still alive."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                nodes.update()
                .where(nodes.c.name == name)
                .values(url=url, accepts_sessions=accepts_sessions, last_seen=now)
            )
            if not updated.rowcount:
                conn.execute(
                    nodes.insert().values(
                        name=name,
                        url=url,
                        accepts_sessions=accepts_sessions,
                        started_at=now,
                        last_seen=now,
                    )
                )

    def nodes(self, seen_since: dt.datetime | None = None) -> list[dict[str, Any]]:
        statement = sa.select(nodes).order_by(nodes.c.name)
        if seen_since is not None:
            statement = statement.where(nodes.c.last_seen >= seen_since)
        with self._read() as conn:
            return [
                {
                    "name": r.name,
                    "url": r.url,
                    "accepts_sessions": bool(r.accepts_sessions),
                    "last_seen": r.last_seen,
                }
                for r in conn.execute(statement)
            ]

    def restrictions(self) -> list[Restriction]:
        with self._read() as conn:
            rows = conn.execute(sa.select(restrictions.c.body).order_by(restrictions.c.id)).all()
        return [restriction_from_dict(row.body) for row in rows]


def _account_row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "home_country": account.home_country,
        "status": account.status.value,
        "created_at": account.created_at,
    }


def _account(row: sa.Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        home_country=row.home_country,
        created_at=row.created_at,
        status=AccountStatus(row.status),
    )


def _gate_work(record: GateRecord) -> Callable[[SqlTx], None]:
    return lambda tx: tx.record_gate(record)


def _session_row(session: MeetingSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "meeting_id": session.meeting_id,
        "state": session.state.value,
        "locked": session.locked,
        "node": session.node,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
    }


def _session(row: sa.Row[Any]) -> MeetingSession:
    return MeetingSession(
        id=row.id,
        meeting_id=row.meeting_id,
        started_at=row.started_at,
        state=SessionState(row.state),
        locked=bool(row.locked),
        ended_at=row.ended_at,
        node=row.node or "local",
    )


def _participant(row: sa.Row[Any]) -> Participant:
    return Participant(
        id=row.id,
        session_id=row.session_id,
        display_name=row.display_name,
        state=ParticipantState(row.state),
        joined_at=row.joined_at,
        territory=row.territory,
        location=row.location,
        client_ip=row.client_ip,
        phone=row.phone,
        user_id=row.user_id,
        language=row.language,
        reason=row.reason,
        left_at=row.left_at,
        decision_id=row.decision_id,
    )


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "status": case.status.value,
        "country": case.authority.country,
        "request_type": case.request_type.value,
        "received_at": case.received_at,
        "deadline": case.deadline,
        "intake_by": case.intake_by,
        "body": case.to_dict(),
        "created_at": case.created_at,
    }
