"""``JanusMediaPlane`` without a Janus: its derivations, its event parser, its configuration,
and the order of a removal against an in-memory model of Janus's admin API.

The model (``FakeJanusAdmin``) keeps tokens, sessions with handles, and rooms with an allowed
list and publishers, and answers the admin requests the plane makes with Janus 1.1's shapes and
error codes. The end-to-end behaviour against a real Janus is in test_janus_media.py; these
tests pin what a real Janus cannot show cheaply: the order of the steps, and what happens when
Janus does not answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lexloci.api.app import create_app
from lexloci.bootstrap import build_container, build_media_plane
from lexloci.config import Settings
from lexloci.errors import ConfigurationError, Conflict, Unavailable
from lexloci.media import MeshMediaPlane
from lexloci.media.janus import EVENT_USER, JanusKeys, JanusMediaPlane, MediaPath
from lexloci.media.janus_deploy import JanusDeployment, render, write
from lexloci.media.janus_events import (
    HandleAttached,
    HandleGone,
    SelectedPair,
    SessionGone,
    parse_batch,
)
from tests.janus.batches import HANDLE_ID, SESSION_ID, event_batch

ADMIN_SECRET = "admin-secret-0123456789"
ROOM_KEY = "room-admin-key-0123456789"
EVENT_SECRET = "event-secret-0123456789"


# -- derived names and credentials -------------------------------------------------------------


def test_tokens_name_their_participant_and_cannot_be_forged() -> None:
    keys = JanusKeys(ADMIN_SECRET)
    token = keys.token("ses_0a1b", "par_2c3d")
    assert keys.owner(token) == ("ses_0a1b", "par_2c3d")
    assert keys.token("ses_0a1b", "par_2c3d") == token  # derivable again after a restart
    forged = token.replace("par_2c3d", "par_ffff")
    assert keys.owner(forged) is None
    assert JanusKeys("another-admin-secret-xyz").owner(token) is None
    assert keys.owner("lx1.ses_0a1b.par_2c3d") is None
    assert keys.owner("tA") is None
    assert ADMIN_SECRET not in token


def test_each_session_has_its_own_room_and_secret() -> None:
    keys = JanusKeys(ADMIN_SECRET)
    rooms = {keys.room_id(f"ses_{i:04x}") for i in range(1000)}
    assert len(rooms) == 1000
    assert all(0 < room < 2**53 for room in rooms)  # exact in JavaScript clients
    assert keys.room_secret("ses_a") != keys.room_secret("ses_b")
    assert keys.room_id("ses_a") == JanusKeys(ADMIN_SECRET).room_id("ses_a")


def test_a_short_admin_secret_or_a_bad_id_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        JanusKeys("short")
    with pytest.raises(ValueError, match="id for Janus"):
        JanusKeys(ADMIN_SECRET).token("ses.a", "par_b")


# -- the event parser --------------------------------------------------------------------------


def test_a_real_batch_gives_the_attach_and_the_selected_pair() -> None:
    facts = parse_batch(event_batch("tok", "223.5.5.5"))
    assert facts == [
        HandleAttached(SESSION_ID, HANDLE_ID, "tok"),
        SelectedPair(SESSION_ID, HANDLE_ID, "223.5.5.5", 33024, "prflx"),
    ]


def test_the_parser_ignores_what_it_does_not_read() -> None:
    (attached, pair) = event_batch("tok", "223.5.5.5")
    hostname = json.loads(json.dumps(pair))
    hostname["event"]["candidates"]["remote"]["address"] = "4c1f2a.local"  # unresolved mDNS
    no_ids = {**pair, "session_id": True}
    batch = [
        "junk",
        {"type": 16},
        no_ids,
        hostname,
        {"type": 64, "session_id": 5, "handle_id": 6, "event": {"plugin": "x", "data": {}}},
        {"type": 1, "session_id": 5, "event": {"name": "created"}},
        {"type": 1, "session_id": 5, "event": {"name": "destroyed"}},
        {"type": 2, "session_id": 5, "handle_id": 6, "event": {"name": "detached"}},
        attached,
    ]
    assert parse_batch(batch) == [
        SessionGone(5),
        HandleGone(5, 6),
        HandleAttached(SESSION_ID, HANDLE_ID, "tok"),
    ]
    assert parse_batch(attached) == [HandleAttached(SESSION_ID, HANDLE_ID, "tok")]
    assert parse_batch(None) == []


# -- an in-memory Janus admin API -------------------------------------------------------------


@dataclass
class FakeHandle:
    token: str
    kind: str  # publisher or subscriber
    room: int
    feed: int


@dataclass
class FakeRoom:
    secret: str
    allowed: set[str] = field(default_factory=set)
    publishers: set[int] = field(default_factory=set)


@dataclass
class FakeJanusAdmin:
    """Janus 1.1's admin API (the requests JanusMediaPlane makes), in memory."""

    secret: str = ADMIN_SECRET
    room_key: str = ROOM_KEY
    tokens: set[str] = field(default_factory=set)
    sessions: dict[int, dict[int, FakeHandle]] = field(default_factory=dict)
    rooms: dict[int, FakeRoom] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    down: bool = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        if body.get("admin_secret") != self.secret:
            return self.error(403, "Unauthorized request (wrong or missing secret/token)")
        path = [int(p) for p in request.url.path.split("/")[2:] if p]
        verb = body["janus"]
        self.log.append(verb if verb != "message_plugin" else body["request"]["request"])
        answer = self.answer(verb, path, body)
        return httpx.Response(200, json={"transaction": body["transaction"], **answer})

    @staticmethod
    def error(code: int, reason: str) -> httpx.Response:
        return httpx.Response(
            200, json={"janus": "error", "error": {"code": code, "reason": reason}}
        )

    def answer(self, verb: str, path: list[int], body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"janus": "success"}
        if verb == "add_token":
            self.tokens.add(body["token"])
            return ok
        if verb == "remove_token":
            if body["token"] not in self.tokens:
                return {"janus": "error", "error": {"code": 490, "reason": "Error removing token"}}
            self.tokens.discard(body["token"])
            return ok
        if verb == "list_tokens":
            return {**ok, "data": {"tokens": [{"token": t} for t in sorted(self.tokens)]}}
        if verb == "list_sessions":
            return {**ok, "sessions": sorted(self.sessions)}
        if path and path[0] not in self.sessions:
            return {"janus": "error", "error": {"code": 458, "reason": "No such session"}}
        if verb == "list_handles":
            return {**ok, "handles": sorted(self.sessions[path[0]])}
        if verb == "handle_info":
            h = self.sessions[path[0]][path[1]]
            specific = {"type": h.kind, "room": h.room, "id": h.feed}
            return {**ok, "info": {"token": h.token, "plugin_specific": specific}}
        if verb == "destroy_session":
            for h in self.sessions.pop(path[0]).values():
                self.rooms[h.room].publishers.discard(h.feed)
            return ok
        if verb == "message_plugin":
            return {**ok, "response": self.videoroom(body["request"])}
        raise AssertionError(f"unexpected admin request {verb}")

    def videoroom(self, request: dict[str, Any]) -> dict[str, Any]:
        what, number = request["request"], request["room"]
        if what == "create":
            if request.get("admin_key") != self.room_key:
                return {"error_code": 429, "error": "Missing mandatory element (admin_key)"}
            if number in self.rooms:
                return {"error_code": 427, "error": "Room already exists"}
            assert request["require_pvtid"] is True
            self.rooms[number] = FakeRoom(request["secret"], set(request["allowed"]))
            return {"videoroom": "created", "room": number}
        room = self.rooms.get(number)
        if room is None:
            return {"error_code": 426, "error": f"No such room ({number})"}
        if what == "listparticipants":
            return {"participants": [{"id": f} for f in sorted(room.publishers)]}
        if request.get("secret") != room.secret:
            return {"error_code": 433, "error": "Unauthorized (wrong secret)"}
        if what == "allowed":
            change = set(request["allowed"])
            room.allowed = (
                room.allowed | change if request["action"] == "add" else room.allowed - change
            )
            return {"videoroom": "success", "allowed": sorted(room.allowed)}
        if what == "kick":
            if request["id"] not in room.publishers:
                return {"error_code": 428, "error": "No such user"}
            room.publishers.discard(request["id"])
            return {"videoroom": "success"}
        if what == "destroy":
            del self.rooms[number]
            return {"videoroom": "destroyed"}
        raise AssertionError(f"unexpected videoroom request {what}")

    def connect(
        self, session: int, handle: int, token: str, kind: str, room: int, feed: int
    ) -> None:
        """A client's handle, as if it had joined (a publisher also appears in the room)."""
        assert token in self.tokens
        if kind == "publisher":
            assert token in self.rooms[room].allowed
            self.rooms[room].publishers.add(feed)
        self.sessions.setdefault(session, {})[handle] = FakeHandle(token, kind, room, feed)


def make_plane(fake: FakeJanusAdmin, **options: Any) -> JanusMediaPlane:
    return JanusMediaPlane(
        url="http://127.0.0.1:8088/janus",
        admin_url="http://janus.invalid/admin",
        admin_secret=ADMIN_SECRET,
        room_admin_key=ROOM_KEY,
        event_secret=EVENT_SECRET,
        transport=fake.transport(),
        **options,
    )


def test_admit_issues_a_token_and_allows_it_in_the_sessions_room() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> dict[str, Any]:
        plane = make_plane(fake)
        await plane.start_session("ses_a")
        try:
            return await plane.admit("ses_a", "par_1")
        finally:
            await plane.close()

    media = asyncio.run(scenario())
    room = fake.rooms[media["room"]]
    assert media["kind"] == "janus"
    assert media["token"] in fake.tokens
    assert room.allowed == {media["token"]}
    assert room.secret not in json.dumps(media)


def test_admit_recreates_a_room_janus_lost() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> dict[str, Any]:
        plane = make_plane(fake)
        try:
            return await plane.admit("ses_a", "par_1")  # no start_session: Janus restarted
        finally:
            await plane.close()

    media = asyncio.run(scenario())
    assert fake.rooms[media["room"]].allowed == {media["token"]}


def test_a_removal_revokes_first_then_kicks_then_destroys_every_session_then_confirms() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        plane = make_plane(fake)
        await plane.start_session("ses_a")
        cn = await plane.admit("ses_a", "par_cn")
        de = await plane.admit("ses_a", "par_de")
        room = cn["room"]
        fake.connect(11, 111, cn["token"], "publisher", room, 901)
        fake.connect(12, 121, cn["token"], "subscriber", room, 0)  # a second session (tab)
        fake.connect(12, 122, cn["token"], "subscriber", room, 0)
        fake.connect(21, 211, de["token"], "publisher", room, 902)
        fake.log.clear()
        try:
            await plane.remove("ses_a", "par_cn")
            with pytest.raises(Conflict):
                await plane.admit("ses_a", "par_cn")  # never again, even if asked
        finally:
            await plane.close()
        return cn, de

    cn, de = asyncio.run(scenario())
    room = fake.rooms[cn["room"]]
    assert cn["token"] not in fake.tokens
    assert cn["token"] not in room.allowed
    assert set(fake.sessions) == {21}  # both CN sessions destroyed, DE's untouched
    assert room.publishers == {902}
    assert de["token"] in fake.tokens
    assert de["token"] in room.allowed
    log = fake.log
    first_scan = log.index("list_sessions")
    assert {"remove_token", "allowed"} <= set(log[:first_scan])
    assert log.index("kick") < log.index("destroy_session")
    assert log[-1] == "listparticipants"
    assert log.count("destroy_session") == 2


def test_a_removal_janus_does_not_confirm_is_logged_and_retried_in_the_background(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> None:
        plane = make_plane(fake, retry_for=0.2)
        media = await plane.admit("ses_a", "par_1")
        fake.connect(11, 111, media["token"], "publisher", media["room"], 901)
        fake.down = True
        try:
            await plane.remove("ses_a", "par_1")  # returns: the control plane must go on
            assert len(plane._tasks) == 1  # the background retry
        finally:
            await plane.close()
        assert not plane._tasks

    with caplog.at_level(logging.ERROR, logger="lexloci.media.janus"):
        asyncio.run(scenario())
    (record,) = caplog.records
    assert "not confirmed" in record.getMessage()
    assert ADMIN_SECRET not in caplog.text
    assert ROOM_KEY not in caplog.text


def test_admit_when_janus_is_down_is_unavailable_and_leaves_no_token() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> None:
        plane = make_plane(fake)
        await plane.start_session("ses_a")
        fake.rooms.clear()
        fake.room_key = "not-the-key-lexloci-has"  # the room cannot be recreated
        try:
            with pytest.raises(Unavailable):
                await plane.admit("ses_a", "par_1")
        finally:
            await plane.close()

    asyncio.run(scenario())
    assert fake.tokens == set()


def test_ending_a_session_revokes_its_participants_and_destroys_the_room() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> dict[str, Any]:
        plane = make_plane(fake)
        await plane.start_session("ses_a")
        media = await plane.admit("ses_a", "par_1")
        fake.connect(11, 111, media["token"], "publisher", media["room"], 901)
        try:
            await plane.end_session("ses_a")
        finally:
            await plane.close()
        return media

    media = asyncio.run(scenario())
    assert fake.rooms == {}
    assert fake.sessions == {}
    assert fake.tokens == set()
    assert media["room"] not in fake.rooms


# -- media-path facts --------------------------------------------------------------------------


def test_ingest_attributes_a_selected_pair_to_its_participant_once() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> tuple[list[MediaPath], list[MediaPath], list[MediaPath]]:
        plane = make_plane(fake)
        media = await plane.admit("ses_a", "par_1")
        try:
            first = await plane.ingest(event_batch(media["token"], "223.5.5.5"))
            again = await plane.ingest(event_batch(media["token"], "223.5.5.5"))
            relay = await plane.ingest(event_batch(media["token"], "5.9.0.1", "relay"))
        finally:
            await plane.close()
        return first, again, relay

    first, again, relay = asyncio.run(scenario())
    assert first == [MediaPath("ses_a", "par_1", "223.5.5.5", "prflx")]
    assert again == []  # the same address twice is one fact
    assert relay == []  # a TURN relay's address is not the participant's


def test_ingest_asks_janus_about_a_handle_whose_attach_event_it_missed() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> list[MediaPath]:
        plane = make_plane(fake)
        media = await plane.admit("ses_a", "par_1")
        fake.connect(SESSION_ID, HANDLE_ID, media["token"], "publisher", media["room"], 901)
        _, pair = event_batch(media["token"], "223.5.5.5")
        try:
            return await plane.ingest([pair])
        finally:
            await plane.close()

    assert asyncio.run(scenario()) == [MediaPath("ses_a", "par_1", "223.5.5.5", "prflx")]
    assert "handle_info" in fake.log


def test_ingest_ignores_tokens_lexloci_did_not_issue() -> None:
    fake = FakeJanusAdmin()

    async def scenario() -> list[MediaPath]:
        plane = make_plane(fake)
        try:
            return await plane.ingest(
                event_batch("lx1.ses_a.par_1.AAAAAAAAAAAAAAAAAAAAAAAA", "223.5.5.5")
            )
        finally:
            await plane.close()

    assert asyncio.run(scenario()) == []


def test_event_credentials_are_http_basic_with_the_event_secret() -> None:
    plane = make_plane(FakeJanusAdmin())

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert plane.events_authenticated(basic(EVENT_USER, EVENT_SECRET))
    assert not plane.events_authenticated(basic(EVENT_USER, "wrong"))
    assert not plane.events_authenticated(basic("admin", EVENT_SECRET))
    assert not plane.events_authenticated(f"Bearer {EVENT_SECRET}")
    assert not plane.events_authenticated("Basic !!!not-base64")
    assert not plane.events_authenticated(None)
    without = JanusMediaPlane(
        url="u", admin_url="a", admin_secret=ADMIN_SECRET, room_admin_key=ROOM_KEY
    )
    assert not without.events_authenticated(basic(EVENT_USER, ""))  # no secret: nobody


# -- configuration -----------------------------------------------------------------------------


def janus_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'lexloci.db'}",
        "media": "janus",
        "janus_url": "http://127.0.0.1:8088/janus",
        "janus_admin_url": "http://127.0.0.1:9/admin",  # nothing listens: refused at once
        "janus_admin_secret": ADMIN_SECRET,
        "janus_room_admin_key": ROOM_KEY,
        "janus_event_token": EVENT_SECRET,
    }
    return Settings(**{**values, **overrides})


def test_the_media_setting_picks_the_plane(tmp_path: Path) -> None:
    assert isinstance(build_media_plane(Settings()), MeshMediaPlane)
    plane = build_media_plane(janus_settings(tmp_path))
    assert isinstance(plane, JanusMediaPlane)
    assert ADMIN_SECRET not in repr(plane)
    assert ROOM_KEY not in repr(plane)
    with pytest.raises(ConfigurationError, match="LEXLOCI_JANUS_ADMIN_SECRET"):
        build_media_plane(janus_settings(tmp_path, janus_admin_secret=None))
    with pytest.raises(ConfigurationError, match="LEXLOCI_JANUS_URL, LEXLOCI_JANUS_ADMIN_URL"):
        build_media_plane(janus_settings(tmp_path, janus_url=None, janus_admin_url=None))


def test_the_settings_never_show_the_janus_secrets(tmp_path: Path) -> None:
    text = repr(janus_settings(tmp_path)) + str(janus_settings(tmp_path).model_dump())
    assert ADMIN_SECRET not in text
    assert ROOM_KEY not in text
    assert EVENT_SECRET not in text


def test_the_event_endpoint_refuses_batches_without_the_credentials(tmp_path: Path) -> None:
    client = TestClient(create_app(build_container(janus_settings(tmp_path))))
    url = "/api/v1/media/janus/events"
    batch = event_batch("lx1.ses_a.par_1.AAAAAAAAAAAAAAAAAAAAAAAA", "223.5.5.5")
    refused = client.post(url, json=batch)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    auth = base64.b64encode(f"{EVENT_USER}:{EVENT_SECRET}".encode()).decode()
    accepted = client.post(url, json=batch, headers={"Authorization": f"Basic {auth}"})
    assert accepted.status_code == 204  # a token lexloci never issued: nothing to do
    not_json = client.post(url, content=b"{", headers={"Authorization": f"Basic {auth}"})
    assert not_json.status_code == 422


def test_the_event_endpoint_does_not_exist_for_the_mesh(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lexloci.db'}")
    client = TestClient(create_app(build_container(settings)))
    response = client.post("/api/v1/media/janus/events", json=[])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def fake_library(tmp_path: Path) -> Path:
    library = tmp_path / "janus-lib"
    names = {
        "plugins": ["libjanus_videoroom.so", "libjanus_echotest.so", "libjanus_sip.so"],
        "transports": ["libjanus_http.so", "libjanus_websockets.so"],
        "events": ["libjanus_sampleevh.so", "libjanus_gelfevh.so"],
        "loggers": ["libjanus_jsonlog.so"],
    }
    for kind, files in names.items():
        (library / kind).mkdir(parents=True)
        for name in files:
            (library / kind / name).touch()
    return library


def deployment(tmp_path: Path, **overrides: Any) -> JanusDeployment:
    values: dict[str, Any] = {
        "admin_secret": ADMIN_SECRET,
        "room_admin_key": ROOM_KEY,
        "event_url": "http://127.0.0.1:8000/api/v1/media/janus/events",
        "event_secret": EVENT_SECRET,
        "ice_interfaces": ("eth1",),
        "library_dir": fake_library(tmp_path),
    }
    return JanusDeployment(**{**values, **overrides})


def test_the_generated_janus_configuration_keeps_only_what_lexloci_uses(tmp_path: Path) -> None:
    files = render(deployment(tmp_path), tmp_path / "conf")
    core = files["janus.jcfg"]
    assert "token_auth = true" in core
    assert f'admin_secret = "{ADMIN_SECRET}"' in core
    assert 'ice_enforce_list = "eth1"' in core
    assert 'disable = "libjanus_echotest.so,libjanus_sip.so"' in core
    assert 'disable = "libjanus_websockets.so"' in core
    assert 'disable = "libjanus_gelfevh.so"' in core
    assert 'disable = "libjanus_jsonlog.so"' in core
    assert f'admin_key = "{ROOM_KEY}"' in files["janus.plugin.videoroom.jcfg"]
    events = files["janus.eventhandler.sampleevh.jcfg"]
    assert f'backend_user = "{EVENT_USER}"' in events
    assert f'backend_pwd = "{EVENT_SECRET}"' in events
    assert 'admin_ip = "127.0.0.1"' in files["janus.transport.http.jcfg"]
    without_events = render(deployment(tmp_path / "b", event_url=None), tmp_path / "conf")
    assert "janus.eventhandler.sampleevh.jcfg" not in without_events
    assert "broadcast = false" in without_events["janus.jcfg"]


@pytest.mark.parametrize(
    "override",
    [
        {"admin_secret": "short"},
        {"room_admin_key": 'has"quote-0123456789'},
        {"event_secret": None},
        {"ice_interfaces": ('eth0" debug_level = 7 "',)},
        {"rtp_ports": (80, 90)},
    ],
)
def test_an_unsafe_janus_configuration_is_refused(tmp_path: Path, override: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        render(deployment(tmp_path, **override), tmp_path / "conf")


def test_the_configuration_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    written = write(deployment(tmp_path), folder)
    assert len(written) == 4
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o600}


def test_serve_refuses_the_janus_plane_without_its_secrets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lexloci.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'lexloci.db'}",
            "--media",
            "janus",
            "--janus-url",
            "http://127.0.0.1:8088/janus",
            "--janus-admin-url",
            "http://127.0.0.1:7088/admin",
        ],
        env={"LEXLOCI_JANUS_ADMIN_SECRET": ADMIN_SECRET},
    )
    assert result.exit_code == 2
    assert "LEXLOCI_JANUS_ROOM_ADMIN_KEY" in result.output
    assert ADMIN_SECRET not in result.output
