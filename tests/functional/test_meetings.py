"""The meeting service end to end: real HTTP and WebSocket over loopback, no mocks.

Participants join "from" CN, HK, MO, TW, US and DE through a trusted X-Forwarded-For; a CN
restriction removes exactly the CN participants while everyone else stays connected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lexloci.meetings.signalling import CLOSE_REMOVED
from lexloci.policy import Scope
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import Member, Platform

COUNTRIES = ("CN", "HK", "MO", "TW", "US", "DE")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, database_url=database_url) as live:
        yield live


@pytest.fixture
def platform(server: LiveServer) -> Platform:
    return Platform.create(server)


def test_a_cn_restriction_removes_exactly_the_cn_participants(platform: Platform) -> None:
    members = {where: platform.member(where) for where in (*COUNTRIES, "CN2")}
    assert set(platform.roster().values()) == {"joined"}

    platform.restrict(Scope.meeting(platform.meeting_id))

    for where in ("CN", "CN2"):
        assert members[where].closed_code() == CLOSE_REMOVED
        removed = next(m for m in members[where].inbox if m["type"] == "removed")
        assert removed["notice"]["territory"] == "CN"
        assert "CASE-TEST-1" in removed["notice"]["text"]
    survivors = [members[w] for w in ("HK", "MO", "TW", "US", "DE")]
    for member in survivors:
        notice = member.expect("host_notice")
        assert notice["count"] == 2
        assert notice["territory"] == "CN"
        assert (
            "2 participant(s) located in China were removed under case CASE-TEST-1"
            in notice["text"]
        )
        assert set(notice["texts"]) == {"en", "de", "zh"}
        assert notice["texts"]["en"] == notice["text"]
        assert "CASE-TEST-1" in notice["texts"]["zh"]
        assert member.is_open()
    roster = platform.roster()
    assert {roster[members[w].participant_id] for w in ("CN", "CN2")} == {"removed"}
    assert {roster[m.participant_id] for m in survivors} == {"joined"}
    session = platform.server.http.get(f"/api/v1/sessions/{platform.session_id}").json()
    assert session["state"] == "live"  # I2: the session goes on

    # the others keep signalling with each other
    hk, us = members["HK"], members["US"]
    hk.send({"type": "signal", "to": us.participant_id, "data": {"sdp": "offer"}})
    assert us.expect("signal")["from"] == hk.participant_id


def test_cn_rejoin_is_refused_with_a_notice_and_others_are_admitted(platform: Platform) -> None:
    platform.restrict(Scope.meeting(platform.meeting_id))
    refused = platform.join("CN", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "geo_restricted"
    assert error["territory"] == "CN"
    assert error["case_refs"] == ["CASE-TEST-1"]
    assert error["notice"]["language"] == "zh"
    assert "中国" in error["notice"]["text"]
    assert set(error["notice"]["texts"]) == {"en", "de", "zh"}
    for where in ("HK", "MO", "TW", "US", "DE"):
        assert platform.join(where).status_code == 201, where
    blocked = [p for p in platform.roster().values() if p == "blocked"]
    assert len(blocked) == 1


def test_lifting_the_restriction_lets_them_in_again(platform: Platform) -> None:
    restriction = platform.restrict(Scope.meeting(platform.meeting_id))
    assert platform.join("CN").status_code == 403
    platform.server.container.meetings.lift(restriction.id, "test:domain-api")
    assert platform.join("CN").status_code == 201


def test_series_scope_covers_every_meeting_of_the_series(server: LiveServer) -> None:
    platform = Platform.create(server, recurrence="weekly")
    follow_up = server.http.post(
        "/api/v1/meetings",
        json={
            "topic": "vigil, part 2",
            "host_account_id": platform.account_id,
            "series_of": platform.meeting_id,
        },
        headers=platform.host,
    ).json()
    other = server.http.post(
        "/api/v1/meetings",
        json={"topic": "unrelated", "host_account_id": platform.account_id},
        headers=platform.host,
    ).json()
    assert follow_up["series_id"] == platform.meeting_id
    second = server.http.post(
        f"/api/v1/meetings/{follow_up['id']}/sessions", headers=platform.host
    ).json()
    third = server.http.post(
        f"/api/v1/meetings/{other['id']}/sessions", headers=platform.host
    ).json()
    in_series = platform.member("CN", session_id=second["id"])
    outside_series = platform.member("CN", session_id=third["id"])

    platform.restrict(Scope.series(platform.meeting_id))

    assert in_series.closed_code() == CLOSE_REMOVED
    assert outside_series.is_open()
    assert platform.join("CN", session_id=platform.session_id).status_code == 403
    assert platform.join("CN", session_id=third["id"]).status_code == 201


def test_account_scope_covers_every_meeting_of_the_host(server: LiveServer) -> None:
    first = Platform.create(server)
    other_host = Platform.create(server)
    second_meeting = server.http.post(
        "/api/v1/meetings",
        json={"topic": "another", "host_account_id": first.account_id},
        headers=first.host,
    ).json()
    second = server.http.post(
        f"/api/v1/meetings/{second_meeting['id']}/sessions", headers=first.host
    ).json()
    a = first.member("CN")
    b = first.member("CN", session_id=second["id"])
    c = other_host.member("CN")

    first.restrict(Scope.account(first.account_id))

    assert a.closed_code() == CLOSE_REMOVED
    assert b.closed_code() == CLOSE_REMOVED
    assert c.is_open()


def test_dial_in_participants_pass_the_gate_by_phone_number(platform: Platform) -> None:
    # The dial-in gateway calls from loopback: the phone number is the only evidence.
    hk_caller = platform.join("gateway", phone="+85221234567")
    cn_caller = platform.join("gateway", phone="+8613123456789")
    assert hk_caller.status_code == 201
    assert cn_caller.status_code == 201
    assert cn_caller.json()["territory"] == "CN"
    platform.restrict(Scope.meeting(platform.meeting_id))
    roster = platform.roster()
    assert roster[cn_caller.json()["participant_id"]] == "removed"
    assert roster[hk_caller.json()["participant_id"]] == "joined"
    again = platform.join("gateway", phone="+8613123456789")
    assert again.status_code == 403
    us_caller = platform.join("gateway", phone="+12025550100")  # +1 is shared: uncertain, allowed
    assert us_caller.status_code == 201


def test_connected_clients_equal_the_roster_at_every_step(platform: Platform) -> None:
    hub = platform.server.container.hub

    def check() -> None:
        roster = {pid for pid, state in platform.roster().items() if state == "joined"}
        assert hub.connected(platform.session_id) == roster

    members: dict[str, Member] = {}
    for where in COUNTRIES:
        members[where] = platform.member(where)
        check()
    members["DE"].send({"type": "leave"})
    assert members["DE"].closed_code() is not None
    check()
    platform.server.http.request(
        "DELETE",
        f"/api/v1/sessions/{platform.session_id}/participants/{members['US'].participant_id}",
        json={"reason": "spamming"},
        headers=platform.host,
    ).raise_for_status()
    assert members["US"].closed_code() == CLOSE_REMOVED
    check()
    platform.restrict(Scope.meeting(platform.meeting_id))
    assert members["CN"].closed_code() == CLOSE_REMOVED
    members["HK"].expect("host_notice")
    check()
    members["HK"].inbox.clear()
    members["TW"].close()
    while any(
        p["id"] == members["TW"].participant_id
        for p in members["HK"].expect("roster")["participants"]
    ):
        pass
    check()


def test_relay_only_between_roster_members(platform: Platform) -> None:
    hk = platform.member("HK")
    cn = platform.member("CN")
    platform.restrict(Scope.meeting(platform.meeting_id))
    assert cn.closed_code() == CLOSE_REMOVED
    hk.send({"type": "signal", "to": cn.participant_id, "data": {"sdp": "x"}})
    error = hk.expect("error")
    assert error["code"] == "not_in_roster"
    assert error["to"] == cn.participant_id  # which of its signals the sender should drop


def test_removed_participants_token_no_longer_opens_a_signalling_channel(
    platform: Platform,
) -> None:
    cn = platform.member("CN")
    platform.restrict(Scope.meeting(platform.meeting_id))
    assert cn.closed_code() == CLOSE_REMOVED
    retry = Member(platform.server, platform.session_id, "CN", cn.participant_id, cn.token)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the server closes the socket after the error
        retry.connect()


def test_host_can_lock_unlock_and_end_but_others_cannot(platform: Platform) -> None:
    hk = platform.member("HK")
    http = platform.server.http
    assert http.post(f"/api/v1/sessions/{platform.session_id}/lock").status_code == 401
    assert (
        http.post(
            f"/api/v1/sessions/{platform.session_id}/lock",
            headers={"Authorization": f"Bearer {hk.token}"},
        ).status_code
        == 401
    )
    assert http.post(f"/api/v1/sessions/{platform.session_id}/lock", headers=platform.host).json()[
        "locked"
    ]
    locked = platform.join("DE")
    assert locked.status_code == 409
    assert locked.json()["error"]["reason"] == "session_locked"
    http.post(
        f"/api/v1/sessions/{platform.session_id}/unlock", headers=platform.host
    ).raise_for_status()
    assert platform.join("DE").status_code == 201
    ended = http.post(f"/api/v1/sessions/{platform.session_id}/end", headers=platform.host)
    assert ended.json()["state"] == "ended"
    assert hk.closed_code() == 4410
    assert platform.join("DE").status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"display_name": ""}, 422, "invalid_input"),
        ({"display_name": "x" * 101}, 422, "invalid_input"),
        ({"display_name": "ok", "surprise": 1}, 422, "invalid_input"),
        ({"display_name": "bell\x07"}, 422, "invalid_input"),
        ({"display_name": "ok", "phone": "12345"}, 422, "invalid_phone_number"),
        ({}, 422, "invalid_input"),
    ],
)
def test_bad_join_input_gets_a_clear_error(
    platform: Platform, body: dict[str, object], status: int, code: str
) -> None:
    response = platform.server.http.post(f"/api/v1/sessions/{platform.session_id}/join", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_unknown_session_and_oversized_payload(platform: Platform) -> None:
    http = platform.server.http
    missing = http.post("/api/v1/sessions/ses_nope/join", json={"display_name": "a"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    huge = http.post(
        f"/api/v1/sessions/{platform.session_id}/join",
        content=b'{"display_name": "' + b"a" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"
    not_json = http.post(
        f"/api/v1/sessions/{platform.session_id}/join",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 422


def test_malformed_websocket_messages_and_forged_tokens_disturb_nobody(platform: Platform) -> None:
    hk = platform.member("HK")
    us = platform.member("US")
    assert hk.ws is not None
    hk.ws.send("not json")
    assert hk.expect("error")["code"] == "invalid_message"
    hk.ws.send(b"\x00binary")
    assert hk.expect("error")["code"] == "invalid_message"
    hk.send({"type": "signal", "to": 5, "data": "x"})
    assert hk.expect("error")["code"] == "invalid_message"
    forged = Member(platform.server, platform.session_id, "forged", "par_forged", "llt_forged")
    with pytest.raises(Exception):  # noqa: B017, PT011 - closed with 4401 after the error
        forged.connect()
    hk.send({"type": "signal", "to": us.participant_id, "data": {"sdp": "still fine"}})
    assert us.expect("signal")["data"] == {"sdp": "still fine"}
    assert us.is_open()
