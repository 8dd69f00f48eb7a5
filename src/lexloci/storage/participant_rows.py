"""A participant row as the join path writes it, shared by the meeting store's writer thread
and the gate's writer process (``lexloci.storage.gate_writer``), which receives participants in
this form."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from lexloci.meetings.model import Participant

__all__ = [
    "INSERT_PARTICIPANT_SQL",
    "ParticipantFields",
    "participant_fields",
    "participant_params",
]

# Driver SQL for the group commit's batches (lexloci.storage.driver_sql); the columns in
# SqlTx._participant_row's order.
INSERT_PARTICIPANT_SQL = (
    "INSERT INTO participants (id, session_id, display_name, user_id, client_ip, phone, "
    "territory, location, state, reason, language, decision_id, token_hash, joined_at, "
    "left_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {json}, {p}, {json}, {p}, {p}, {p}, "
    "{p}, {p})"
)


#: A participant's columns in ``INSERT_PARTICIPANT_SQL``'s order, with the location and reason
#: as objects and the times as datetimes (``participant_fields``); ``participant_params``
#: binds them. Also the form in which the gate's writer process receives a participant.
ParticipantFields = tuple[Any, ...]


def participant_fields(participant: Participant, token_hash: str | None) -> ParticipantFields:
    p = participant
    return (
        p.id,
        p.session_id,
        p.display_name,
        p.user_id,
        p.client_ip,
        p.phone,
        p.territory,
        p.location,
        p.state.value,
        p.reason,
        p.language,
        p.decision_id,
        token_hash,
        p.joined_at,
        p.left_at,
    )


def participant_params(
    fields: ParticipantFields,
    bind_time: Callable[[dt.datetime], Any],
    json_texts: dict[int, tuple[object, str]],
) -> tuple[Any, ...]:
    """A participant as driver parameters for ``INSERT_PARTICIPANT_SQL``.

    Driver SQL, not SQLAlchemy's executemany: per-row parameter processing cost more than
    the insert itself on the join path. The JSON and time columns are bound as their
    column types would bind them; a batch's joins mostly share one evidence snapshot per
    territory (``Locator.snapshot``), whose JSON text is made once per batch (``json_texts``:
    id of a location -> (that location, its text), for as long as the batch lasts)."""
    location = fields[7]
    held = json_texts.get(id(location))
    if held is None or held[0] is not location:
        held = json_texts[id(location)] = (location, json.dumps(location))
    reason, left_at = fields[9], fields[14]
    return (
        *fields[:7],
        held[1],
        fields[8],
        None if reason is None else json.dumps(reason),
        *fields[10:13],
        bind_time(fields[13]),
        None if left_at is None else bind_time(left_at),
    )
