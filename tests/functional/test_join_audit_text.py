"""A join's audit payload is written from its members into one template, with the parts joins
share kept as text (``MeetingService._audit_text``): for every kind of decision — no
restriction in scope, allowed outside a restriction's jurisdiction, refused inside it, an
unknown address, a dial-in number — and any participant id, address text and phone number,
the text is exactly the canonical encoding of ``GateResult.audit_entry``'s payload
(``canonical_text``), as sealing the payload whole would have written it. Members the
template does not take (a ``str`` subclass, an integer too large for the encoding) are
encoded from the payload, with the same result or the same refusal."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexloci.audit.encoding import AuditEncodingError, canonical_text
from lexloci.bootstrap import Container
from lexloci.geo import ClientAddress, Evidence
from lexloci.jurisdictions import Jurisdiction
from lexloci.meetings import service as service_module
from lexloci.meetings.service import GateResult, MeetingService
from lexloci.policy import Restriction, Scope, UnknownLocationPolicy

ADDRESSES = ["223.5.5.5", "202.45.84.58", "5.9.0.1", "8.8.4.4", "10.0.0.1", "2400:dd01::1"]


@pytest.fixture
def sessions(container: Container) -> tuple[str, str]:
    """A session under a CN restriction (unknown locations refused too), and a free one."""
    meetings = container.meetings
    account = meetings.create_account("Host", "DE", "admin")
    restricted = meetings.create_meeting("Restricted", account.id, "admin")
    free = meetings.create_meeting("Free", account.id, "admin")
    meetings.activate(
        Restriction.new(
            id="r-cn",
            case_ref="case-1",
            jurisdiction=Jurisdiction.of("CN"),
            scope=Scope.meeting(restricted.id),
            valid_from=container.clock.now() - dt.timedelta(hours=1),
            unknown_location=UnknownLocationPolicy.DENY,
        ),
        "admin",
    )
    return (
        meetings.start_session(restricted.id, "admin").id,
        meetings.start_session(free.id, "admin").id,
    )


def gates(meetings: MeetingService, session_id: str) -> list[tuple[GateResult, ClientAddress]]:
    context = meetings.context(session_id)
    out = []
    for address in [*ADDRESSES, None]:
        client = ClientAddress(address, "x-forwarded-for" if address else "none", "no header")
        for phone in (None, "+85366123456"):
            for language in ("en", "zh"):
                out.append((meetings.gate(context, client, phone, language), client))
    return out


def test_every_kind_of_decision_is_written_as_its_canonical_text(
    container: Container, sessions: tuple[str, str]
) -> None:
    meetings = container.meetings
    effects = set()
    for session_id in sessions:
        for _ in range(2):  # the shared texts are made, then kept
            for gate, client in gates(meetings, session_id):
                _, payload = gate.audit_entry("par_1", session_id, client, None)
                text = meetings._audit_text(gate, "par_1", session_id, client, None)
                assert text == canonical_text(payload)
                effects.add((gate.decision.effect, gate.notice is not None))
    assert len(effects) == 2  # refusals with their notices, and admissions


def test_the_kept_session_texts_stay_bounded(
    container: Container, sessions: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One kept context text per session joined, for months of sessions: the memo starts
    over at its bound, and the texts stay exact."""
    monkeypatch.setattr(service_module, "_CONTEXT_TEXTS_LIMIT", 1)
    meetings = container.meetings
    for session_id in (*sessions, *sessions):
        for gate, client in gates(meetings, session_id)[:2]:
            _, payload = gate.audit_entry("par_1", session_id, client, None)
            text = meetings._audit_text(gate, "par_1", session_id, client, None)
            assert text == canonical_text(payload)
            assert len(meetings._context_texts) == 1


_TEXT = st.text(st.characters(), max_size=20)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    participant_id=_TEXT,
    address=st.none() | _TEXT,
    via=_TEXT,
    phone=st.none() | _TEXT,
    which=st.integers(0, 10**6),
)
def test_any_participant_text_is_written_as_its_canonical_text(
    container: Container,
    sessions: tuple[str, str],
    participant_id: str,
    address: str | None,
    via: str,
    phone: str | None,
    which: int,
) -> None:
    meetings = container.meetings
    session_id = sessions[which % 2]
    choices = gates(meetings, session_id)
    gate, _ = choices[which % len(choices)]
    client = ClientAddress(address, via)
    _, payload = gate.audit_entry(participant_id, session_id, client, phone)
    text = meetings._audit_text(gate, participant_id, session_id, client, phone)
    assert text == canonical_text(payload)


class Tagged(str):
    """A str subclass whose text is not its value: the template must not take it."""

    def __str__(self) -> str:
        return "tagged"


class Via(enum.StrEnum):
    FORWARDED = "forwarded"


def test_members_the_template_does_not_take_are_encoded_from_the_payload(
    container: Container, sessions: tuple[str, str]
) -> None:
    meetings = container.meetings
    restricted = sessions[0]
    for session_id in sessions:
        for gate, client in gates(meetings, session_id):
            odd_clients = [
                ClientAddress(client.address, Via.FORWARDED),
                ClientAddress(Tagged(client.address or "x"), client.via),
            ]
            for odd in odd_clients:
                _, payload = gate.audit_entry("par_1", session_id, odd, None)
                text = meetings._audit_text(gate, "par_1", session_id, odd, None)
                assert text == canonical_text(payload)
            for participant_id, phone in [(Tagged("par_1"), None), ("par_1", Tagged("+1"))]:
                _, payload = gate.audit_entry(participant_id, session_id, client, phone)
                text = meetings._audit_text(gate, participant_id, session_id, client, phone)
                assert text == canonical_text(payload)
    gate, client = gates(meetings, restricted)[0]
    huge = replace(gate, decision=gate.decision._replace(policy_version=2**60))
    with pytest.raises(AuditEncodingError):
        canonical_text(huge.audit_entry("par_1", restricted, client, None)[1])
    with pytest.raises(AuditEncodingError):
        meetings._audit_text(huge, "par_1", restricted, client, None)


def test_the_gate_locates_as_locate_does(container: Container, sessions: tuple[str, str]) -> None:
    """The gate asks ``locate_ip`` for a lone client address: the same Location as ``locate``
    for that evidence, as the gate asked before; without any evidence, the unknown client."""
    meetings = container.meetings
    locator = meetings.locator
    context = meetings.context(sessions[0])
    for address in [*ADDRESSES, None]:
        client = ClientAddress(address, "x-forwarded-for" if address else "none", "no header")
        for phone in (None, "+85366123456"):
            location = meetings.gate(context, client, phone, "en").location
            if address is None and phone is None:
                assert location == locator.unknown_client("no header")
            else:
                assert location == locator.locate(Evidence(client_ip=address, phone=phone))
