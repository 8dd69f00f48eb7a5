"""A scripted half-year of government requests, driven through the real services.

The container (SQLite in a temp folder) runs on a ``FixedClock`` the script moves, so every
audit entry has a known time and the figures of 2026-H1 and 2026-H2 are known exactly. The
expected figures are written out in the tests, not computed here.

The script, in order (H1 = before 2026-07-01, H2 = 2026-07-01 to 2026-12-31):

- H1, 2026-06-20: hosts in US, CN and DE; a vigil (US host) with 2 participants in CN and one
  each in HK and US; case A (CN, restrict_meeting, administrative order) is received.
- H2, from 2026-07-02: A approved (the 2 CN participants removed); 3 joins from CN blocked;
  HK and TW join; B (CN, suspend the US host) partially approved: refused outside the
  jurisdiction, converted to a restriction on the account's meetings; C (CN, suspend the CN
  host) approved; D (CN, user data of the vigil) partially approved, 2 records disclosed;
  E (DE with EU jurisdiction, a series, non-disclosure order to 2027-03-01) approved, a DE
  join blocked; F (US, preservation) approved; G (US, user data) rejected as overbroad;
  H (CN, two meetings) approved in part; I (DE, an invitation URL) left pending; C appealed (CN host
  reinstated); B's restriction lifted; A's restriction expires; J (CN, emergency,
  non-disclosure order to 2026-12-01) rejected: nobody of the meeting was in CN.
- After the period, 2027-01-03: a CN join blocked by H's restriction; K (US) received.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lexloci.auth import Principal, Role
from lexloci.bootstrap import Container, build_container
from lexloci.cases.service import CaseIntake, DecisionInput
from lexloci.clock import FixedClock
from lexloci.config import Settings
from lexloci.geo import ClientAddress
from lexloci.meetings.service import JoinRequest

ADDRESS = {
    "CN": "223.5.5.5",
    "CN2": "180.76.76.76",
    "HK": "202.45.84.58",
    "TW": "168.95.1.1",
    "US": "8.8.4.4",
    "DE": "5.9.0.1",
}
INTAKE = Principal("tok_intake", "alice", Role.INTAKE)
APPROVER = Principal("tok_approver", "bob", Role.APPROVER)
CN = ("Ministry of Public Security", "Cyber Security Bureau", "CN", ["CN"])
DE_EU = ("Bundeskriminalamt", "Cybercrime unit", "DE", ["EU"])
DE = ("Staatsanwaltschaft Berlin", "", "DE", ["DE"])
US = ("Federal Bureau of Investigation", "Cyber Division", "US", ["US"])


def at(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@dataclass
class Script:
    container: Container
    clock: FixedClock
    cases: dict[str, str] = field(default_factory=dict)  # letter -> case id
    sessions: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    meetings: dict[str, str] = field(default_factory=dict)
    restrictions: dict[str, str] = field(default_factory=dict)  # letter -> restriction id

    def when(self, moment: dt.datetime) -> None:
        self.clock.set(moment)

    def join(self, session: str, where: str) -> bool:
        """Join ``session`` from ``where``; whether the participant was admitted."""
        result = self.container.meetings.join(
            JoinRequest(
                self.sessions[session], f"from {where}", ClientAddress(ADDRESS[where], "peer")
            )
        )
        return result.notice is None

    def file(
        self,
        letter: str,
        authority: tuple[str, str, str, list[str]],
        request_type: str,
        legal_process: str,
        targets: list[tuple[str, str]],
        *,
        order_until: dt.datetime | None = None,
    ) -> str:
        name, agency, country, jurisdiction = authority
        case = self.container.cases.intake(
            CaseIntake(
                authority_name=name,
                agency=agency,
                country=country,
                jurisdiction=jurisdiction,
                request_type=request_type,
                legal_process=legal_process,
                legal_basis="the law cited in the order",
                targets=targets,
                received_at=self.clock.now() - dt.timedelta(days=1),
                non_disclosure_until=order_until,
            ),
            INTAKE,
        )
        self.cases[letter] = case.id
        return case.id

    def decide(
        self,
        letter: str,
        decision: str = "approve_all",
        *,
        approve: tuple[str, ...] = (),
        rejection_reason: str = "declined_by_reviewer",
        valid_until: dt.datetime | None = None,
    ) -> None:
        result = self.container.cases.decide(
            self.cases[letter],
            DecisionInput(
                decision,
                approve=approve,
                rejection_reason=rejection_reason,
                valid_until=valid_until,
            ),
            APPROVER,
        )
        for restriction in result.restrictions:
            self.restrictions[letter] = restriction.id
            self.container.meetings.apply_change(restriction)

    def setup(self) -> None:
        meetings = self.container.meetings
        for key, country in (("us_host", "US"), ("cn_host", "CN"), ("de_host", "DE")):
            self.accounts[key] = meetings.create_account(key, country, "admin:root").id
        for key, host, recurrence in (
            ("vigil", "us_host", None),
            ("cn_meet", "cn_host", None),
            ("de_series", "de_host", "weekly"),
        ):
            meeting = meetings.create_meeting(key, self.accounts[host], "admin:root", recurrence)
            self.meetings[key] = meeting.id
            self.sessions[key] = meetings.start_session(meeting.id, "admin:root").id


def run_script(tmp_path: Path) -> Script:
    clock = FixedClock(at(2026, 6, 20))
    container = build_container(
        Settings(database_url=f"sqlite:///{tmp_path / 'lexloci.db'}"), clock=clock
    )
    script = Script(container, clock)
    try:
        _h1(script)
        _h2(script)
        _after(script)
    except BaseException:
        container.close()
        raise
    return script


def _h1(s: Script) -> None:
    s.setup()
    for where in ("CN", "CN2", "HK", "US"):
        assert s.join("vigil", where)
    s.file("A", CN, "restrict_meeting", "administrative_order", [("meeting", s.meetings["vigil"])])


def _h2(s: Script) -> None:
    s.when(at(2026, 7, 2))
    s.decide("A")  # 90 days by default: ends 2026-09-30
    for _ in range(3):
        assert not s.join("vigil", "CN")
    assert s.join("vigil", "HK")
    assert s.join("vigil", "TW")
    s.when(at(2026, 7, 10))
    s.file("B", CN, "restrict_account", "court_order", [("account", s.accounts["us_host"])])
    s.decide("B")
    s.file("C", CN, "restrict_account", "court_order", [("account", s.accounts["cn_host"])])
    s.decide("C")
    s.when(at(2026, 7, 20))
    s.file("D", CN, "user_data", "warrant", [("meeting", s.meetings["vigil"])])
    s.decide("D")
    s.when(at(2026, 8, 1))
    s.file(
        "E",
        DE_EU,
        "restrict_meeting",
        "court_order",
        [("series", s.meetings["de_series"])],
        order_until=at(2027, 3, 1),
    )
    s.decide("E", valid_until=at(2027, 6, 1))
    assert not s.join("de_series", "DE")
    assert s.join("de_series", "US")
    s.when(at(2026, 8, 10))
    s.file("F", US, "preservation", "subpoena", [("meeting", s.meetings["cn_meet"])])
    s.decide("F")
    s.file("G", US, "user_data", "subpoena", [("meeting", s.meetings["vigil"])])
    s.decide("G", "reject", rejection_reason="overbroad")
    s.when(at(2026, 8, 20))
    s.file(
        "H",
        CN,
        "restrict_meeting",
        "other",
        [("meeting", s.meetings["cn_meet"]), ("meeting", s.meetings["vigil"])],
    )
    s.decide("H", "approve_part", approve=("block_participants:0",), valid_until=at(2027, 2, 1))
    invitation = f"https://meet.example.org/j/{s.sessions['vigil']}?pwd=s3cret"
    s.file("I", DE, "restrict_meeting", "administrative_order", [("invitation_url", invitation)])
    s.when(at(2026, 9, 1))
    _, lift, _ = s.container.cases.appeal(s.cases["C"], "the court overturned it", APPROVER)
    assert lift == []  # C suspended an account; it made no restriction
    s.when(at(2026, 10, 1))
    s.container.meetings.lift(s.restrictions["B"], APPROVER.actor)
    s.when(at(2026, 10, 15))
    assert [r.id for r in s.container.meetings.expire()] == [s.restrictions["A"]]
    s.when(at(2026, 11, 5))
    s.file(
        "J",
        CN,
        "emergency",
        "other",
        [("meeting", s.meetings["cn_meet"])],
        order_until=at(2026, 12, 1),
    )
    s.decide("J")


def _after(s: Script) -> None:
    s.when(at(2027, 1, 3))
    assert not s.join("cn_meet", "CN")
    s.file("K", US, "user_data", "warrant", [("meeting", s.meetings["vigil"])])
