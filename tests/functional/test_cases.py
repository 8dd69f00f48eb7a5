"""The case workflow over HTTP with tokens of each role, against a live server and live sessions."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lexloci.auth import Role
from lexloci.meetings.signalling import CLOSE_REMOVED
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import Platform

CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, database_url=database_url, expiry_interval=0.2) as live:
        yield live


class Staff:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tokens = {
            "alice-intake": server.staff_token(Role.INTAKE, "alice"),
            "alice-approver": server.staff_token(Role.APPROVER, "alice"),
            "bob-approver": server.staff_token(Role.APPROVER, "bob"),
            "carol-reviewer": server.staff_token(Role.REVIEWER, "carol"),
            "dave-auditor": server.staff_token(Role.AUDITOR, "dave"),
        }

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.server.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def file(self, targets: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
        body = {
            "authority": CN_AUTHORITY,
            "request_type": "restrict_meeting",
            "legal_process": "administrative_order",
            "legal_basis": "Cybersecurity Law art. 50",
            "targets": targets,
            "received_at": "2026-06-01T08:00:00Z",
            **fields,
        }
        response = self.call("alice-intake", "POST", "/cases", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def staff(server: LiveServer) -> Staff:
    return Staff(server)


def test_end_these_meetings_becomes_a_cn_only_restriction_and_the_session_goes_on(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server, home_country="HK")
    members = {w: platform.member(w) for w in ("CN", "HK", "US", "TW")}
    case = staff.file(
        [{"kind": "meeting", "ref": platform.meeting_id}], requested_actions=["end_meetings"]
    )
    impact = staff.call("carol-reviewer", "GET", f"/cases/{case['id']}/impact").json()
    (target,) = impact["targets"]
    assert target["participants"]["inside"]["by_territory"] == {"CN": 1}
    assert target["participants"]["outside"]["total"] == 3
    assert target["live_participants"]["inside"] == 1
    assert impact["actions"][0]["outcome"] == "partially"

    decided = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "partially_approved"
    assert body["restrictions"][0]["jurisdiction"]["territories"] == ["CN"]
    assert members["CN"].closed_code() == CLOSE_REMOVED
    for where in ("HK", "US", "TW"):
        assert members[where].is_open()
    session = server.http.get(f"/api/v1/sessions/{platform.session_id}").json()
    assert session["state"] == "live"
    assert platform.join("CN").status_code == 403
    assert platform.join("DE").status_code == 201


def test_two_person_rule(server: LiveServer, staff: Staff) -> None:
    platform = Platform.create(server)
    case = staff.file([{"kind": "meeting", "ref": platform.meeting_id}])
    own = staff.call(
        "alice-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    )
    assert own.status_code == 403
    assert own.json()["error"]["reason"] == "two_person_rule"
    reviewer = staff.call(
        "carol-reviewer", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    )
    assert reviewer.status_code == 403
    nobody = server.http.post(
        f"/api/v1/cases/{case['id']}/decision", json={"decision": "approve_all"}
    )
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "unauthenticated"
    ok = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    )
    assert ok.status_code == 200
    again = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "reject"}
    )
    assert again.status_code == 409


def test_suspending_a_us_based_account_is_refused_outside_jurisdiction(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server, home_country="US")
    case = staff.file(
        [{"kind": "account", "ref": platform.account_id}],
        request_type="restrict_account",
    )
    decided = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    ).json()
    (outcome,) = decided["outcomes"]
    assert outcome["action"] == "suspend_account"
    assert "outside_jurisdiction" in outcome["reasons"]
    assert decided["suspensions"] == []
    account = server.http.get(
        f"/api/v1/accounts/{platform.account_id}", headers=platform.host
    ).json()
    assert account["status"] == "active"
    # what was applied instead: CN participants are kept out of this account's meetings
    assert [r["scope"] for r in decided["restrictions"]] == [
        {"kind": "account", "ref": platform.account_id}
    ]
    assert platform.join("CN").status_code == 403
    assert platform.join("US").status_code == 201


def test_suspending_a_cn_based_account_is_carried_out_and_reinstated_on_appeal(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server, home_country="CN")
    case = staff.file(
        [{"kind": "account", "ref": platform.account_id}], request_type="restrict_account"
    )
    decided = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    ).json()
    assert decided["status"] == "approved"
    assert len(decided["suspensions"]) == 1
    account = server.http.get(
        f"/api/v1/accounts/{platform.account_id}", headers=platform.host
    ).json()
    assert account["status"] == "suspended"
    appeal = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/appeal", json={"reason": "court overturned"}
    )
    assert appeal.status_code == 200, appeal.text
    assert appeal.json()["status"] == "appealed"
    assert appeal.json()["reinstated"] == [platform.account_id]
    account = server.http.get(
        f"/api/v1/accounts/{platform.account_id}", headers=platform.host
    ).json()
    assert account["status"] == "active"


def test_disclosure_holds_only_participants_inside_the_jurisdiction(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server)
    for where in ("CN", "CN2", "HK", "US"):
        platform.member(where, connect=False)
    case = staff.file([{"kind": "meeting", "ref": platform.meeting_id}], request_type="user_data")
    decided = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    ).json()
    assert decided["status"] == "partially_approved"
    package = staff.call("dave-auditor", "GET", f"/cases/{case['id']}/disclosure").json()
    assert sorted(r["territory"] for r in package["records"]) == ["CN", "CN"]
    assert all(r["client_ip"] in {"223.5.5.5", "180.76.76.76"} for r in package["records"])
    assert staff.call("carol-reviewer", "GET", f"/cases/{case['id']}/disclosure").status_code == 403


def test_approve_part_rejects_the_rest_with_a_reason(server: LiveServer, staff: Staff) -> None:
    a, b = Platform.create(server), Platform.create(server)
    case = staff.file(
        [{"kind": "meeting", "ref": a.meeting_id}, {"kind": "meeting", "ref": b.meeting_id}]
    )
    keys = [
        x["key"]
        for x in staff.call("carol-reviewer", "GET", f"/cases/{case['id']}/impact").json()[
            "actions"
        ]
    ]
    decided = staff.call(
        "bob-approver",
        "POST",
        f"/cases/{case['id']}/decision",
        json={"decision": "approve_part", "approve": keys[:1], "rejection_reason": "overbroad"},
    ).json()
    assert decided["status"] == "partially_approved"
    assert [o["outcome"] for o in decided["outcomes"]] == ["complied", "rejected"]
    assert decided["outcomes"][1]["reasons"] == ["overbroad"]
    assert a.join("CN").status_code == 403
    assert b.join("CN").status_code == 201


def test_lift_and_expiry_end_restrictions(server: LiveServer, staff: Staff) -> None:
    platform = Platform.create(server)
    case = staff.file([{"kind": "meeting", "ref": platform.meeting_id}])
    decided = staff.call(
        "bob-approver", "POST", f"/cases/{case['id']}/decision", json={"decision": "approve_all"}
    ).json()
    rid = decided["restrictions"][0]["id"]
    assert platform.join("CN").status_code == 403
    lifted = staff.call("bob-approver", "POST", f"/restrictions/{rid}/lift")
    assert lifted.status_code == 200
    assert platform.join("CN").status_code == 201
    listed = staff.call("dave-auditor", "GET", "/restrictions").json()["restrictions"]
    assert [r["status"] for r in listed if r["id"] == rid] == ["lifted"]

    second = staff.file([{"kind": "meeting", "ref": platform.meeting_id}])
    until = (server.container.clock.now() + dt.timedelta(seconds=1)).isoformat()
    staff.call(
        "bob-approver",
        "POST",
        f"/cases/{second['id']}/decision",
        json={"decision": "approve_all", "valid_until": until},
    )
    assert platform.join("CN").status_code == 403
    deadline = time.monotonic() + 15
    while platform.join("CN").status_code == 403:
        assert time.monotonic() < deadline, "the restriction did not end on time"
        time.sleep(0.2)
    expired = staff.call(
        "dave-auditor", "GET", "/audit", params={"tag": "policy:restriction:expired"}
    ).json()["entries"]
    deadline = time.monotonic() + 15
    while not expired and time.monotonic() < deadline:
        time.sleep(0.2)
        expired = staff.call(
            "dave-auditor", "GET", "/audit", params={"tag": "policy:restriction:expired"}
        ).json()["entries"]
    assert len(expired) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"authority": {**CN_AUTHORITY, "jurisdiction": ["UK"]}}, "invalid_territory"),
        ({"authority": {**CN_AUTHORITY, "jurisdiction": ["CN-HK"]}}, "invalid_territory"),
        ({"request_type": "shutdown"}, "invalid_input"),
        ({"legal_process": "phone call"}, "invalid_input"),
        ({"targets": []}, "invalid_input"),
        ({"targets": [{"kind": "meeting", "ref": "mtg_0000000000000000"}]}, "invalid_input"),
        (
            {"targets": [{"kind": "invitation_url", "ref": "https://example.org/nothing"}]},
            "invalid_input",
        ),
        ({"received_at": "yesterday"}, "invalid_input"),
        ({"received_at": "2026-06-01T08:00:00"}, "invalid_input"),
        ({"requested_actions": ["nuke"]}, "invalid_input"),
    ],
)
def test_intake_validation(
    server: LiveServer, staff: Staff, change: dict[str, Any], code: str
) -> None:
    platform = Platform.create(server)
    body = {
        "authority": CN_AUTHORITY,
        "request_type": "restrict_meeting",
        "legal_process": "court_order",
        "legal_basis": "art. 1",
        "targets": [{"kind": "meeting", "ref": platform.meeting_id}],
        "received_at": "2026-06-01T08:00:00Z",
        **change,
    }
    response = staff.call("alice-intake", "POST", "/cases", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_invitation_url_targets_and_attachments(server: LiveServer, staff: Staff) -> None:
    platform = Platform.create(server)
    case = staff.file(
        [
            {
                "kind": "invitation_url",
                "ref": f"https://meet.example.org/meet/{platform.session_id}?pwd=x",
            }
        ]
    )
    assert case["targets"][0] == {
        "kind": "meeting",
        "ref": platform.meeting_id,
        "url": f"https://meet.example.org/meet/{platform.session_id}?pwd=x",
    }
    pdf = b"%PDF-1.4 the order"
    added = staff.call(
        "alice-intake",
        "POST",
        f"/cases/{case['id']}/attachments",
        json={
            "filename": "order.pdf",
            "media_type": "application/pdf",
            "content_base64": base64.b64encode(pdf).decode(),
        },
    ).json()
    import hashlib

    assert added["sha256"] == hashlib.sha256(pdf).hexdigest()
    got = staff.call("carol-reviewer", "GET", f"/cases/{case['id']}/attachments/{added['sha256']}")
    assert got.content == pdf
    bad = staff.call(
        "alice-intake",
        "POST",
        f"/cases/{case['id']}/attachments",
        json={"filename": "x", "content_base64": "%%%"},
    )
    assert bad.status_code == 422


def test_roles_are_checked_on_every_case_endpoint(server: LiveServer, staff: Staff) -> None:
    platform = Platform.create(server)
    case = staff.file([{"kind": "meeting", "ref": platform.meeting_id}])
    assert staff.call("carol-reviewer", "POST", "/cases", json={}).status_code in {403, 422}
    assert server.http.get("/api/v1/cases").status_code == 401
    assert server.http.get("/api/v1/cases", headers=platform.host).status_code == 403
    assert (
        server.http.get("/api/v1/audit", headers={"Authorization": "Bearer llt_wrong"}).status_code
        == 401
    )
    assert staff.call("carol-reviewer", "GET", "/audit").status_code == 403
    assert staff.call("dave-auditor", "GET", f"/cases/{case['id']}").status_code == 200
    used = staff.call("dave-auditor", "GET", "/audit", params={"tag": "auth:token:used"}).json()[
        "entries"
    ]
    assert used, "privileged token use is audited"
    assert all("llt_" not in str(e) for e in used), "tokens never reach the log"
