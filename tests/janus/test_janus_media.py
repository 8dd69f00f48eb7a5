"""End to end through Janus: aiortc peers, a real Janus 1.1 VideoRoom, lexloci over HTTP.

Everything runs in the lab's network namespace (tests/janus/lab.py). Participants join over
HTTP "from" a country through a trusted X-Forwarded-For on the namespace's loopback, get their
Janus credential in the join response, and publish synthetic audio and video (160×120) to Janus
from their own address. Nothing here sleeps for a fixed time: every wait is for a condition,
with a generous timeout; how fast a removal is lives in bench/janus.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lexloci.auth import Role
from lexloci.media.janus import EVENT_USER, JanusMediaPlane
from lexloci.policy import Scope
from tests.functional.meeting_clients import ADDRESS, Platform
from tests.janus.batches import event_batch
from tests.janus.conftest import JanusLab
from tests.janus.lab import (
    PeerProcess,
    all_closed,
    connections,
    frames,
    wait_for,
)

pytestmark = pytest.mark.janus


def plane(janus: JanusLab) -> JanusMediaPlane:
    media = janus.server.container.media
    assert isinstance(media, JanusMediaPlane)
    return media


def room_feeds(janus: JanusLab, room: int) -> set[int]:
    """The publisher ids Janus lists in a room (VideoRoom ``listparticipants``)."""
    answer = janus.server.run(
        plane(janus).admin.videoroom({"request": "listparticipants", "room": room})
    )
    return {p["id"] for p in answer["participants"]}


def janus_tokens(janus: JanusLab) -> set[str]:
    answer = janus.server.run(plane(janus).admin.call("list_tokens"))
    return {t["token"] for t in answer["data"]["tokens"]}


def admitted(platform: Platform, where: str) -> dict[str, Any]:
    response = platform.join(where)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["media"]["kind"] == "janus"
    return body


def restrict_meeting(platform: Platform) -> None:
    """A CN restriction on this meeting through the domain API (block joins, remove live)."""
    platform.restrict(Scope.meeting(platform.meeting_id), ("CN",))


def receiving(peer: PeerProcess, feed: int, at_least: int) -> bool:
    status = peer.status()
    return frames(status, feed, "video") >= at_least and frames(status, feed, "audio") >= at_least


def test_two_peers_exchange_audio_and_video_through_janus(janus: JanusLab) -> None:
    platform = Platform.create(janus.server)
    de, us = admitted(platform, "DE"), admitted(platform, "US")
    assert de["media"]["room"] == us["media"]["room"]
    assert de["media"]["token"] != us["media"]["token"]
    peer_de, peer_us = janus.lab.peer(), janus.lab.peer()
    feed_de = peer_de.publish(de["media"], "from DE")
    feed_us = peer_us.publish(us["media"], "from US")
    peer_de.subscribe([feed_us])
    peer_us.subscribe([feed_de])

    wait_for(lambda: receiving(peer_de, feed_us, 20), "DE to receive US's audio and video")
    wait_for(lambda: receiving(peer_us, feed_de, 20), "US to receive DE's audio and video")
    assert room_feeds(janus, de["media"]["room"]) == {feed_de, feed_us}


def test_a_cn_restriction_cuts_the_cn_peer_off_while_the_others_keep_receiving(
    janus: JanusLab,
) -> None:
    platform = Platform.create(janus.server, home_country="HK")
    joined = {where: admitted(platform, where) for where in ("CN", "DE", "US")}
    peers = {where: janus.lab.peer() for where in joined}
    feeds = {where: peers[where].publish(joined[where]["media"], where) for where in joined}
    for where, peer in peers.items():
        peer.subscribe([feed for other, feed in feeds.items() if other != where])
    for where, peer in peers.items():
        for other, feed in feeds.items():
            if other != where:
                wait_for(lambda p=peer, f=feed: receiving(p, f, 10), f"{where} to receive {other}")
    room = joined["CN"]["media"]["room"]
    cn_token = joined["CN"]["media"]["token"]
    assert room_feeds(janus, room) == set(feeds.values())

    restrict_meeting(platform)

    cn = wait_for(lambda: all_closed(s := peers["CN"].status()) and s, "CN's connections to close")
    assert len(cn["subscribers"]) == 2
    # No frame reached the CN peer after its connections closed ...
    closed_at = max(c["closed_at"] for c in connections(cn))
    assert all(r["last_at"] <= closed_at for r in cn["received"].values())
    # ... while DE and US keep receiving each other, over connections that stay up.
    before = {w: peers[w].status() for w in ("DE", "US")}
    wait_for(
        lambda: (
            frames(peers["DE"].status(), feeds["US"], "video")
            >= frames(before["DE"], feeds["US"], "video") + 30
        ),
        "DE to keep receiving US",
    )
    wait_for(
        lambda: (
            frames(peers["US"].status(), feeds["DE"], "video")
            >= frames(before["US"], feeds["DE"], "video") + 30
        ),
        "US to keep receiving DE",
    )
    for where in ("DE", "US"):
        status = peers[where].status()
        assert {c["state"] for c in connections(status)} == {"connected"}
        assert feeds["CN"] in status["kicked"]  # the others were told
    assert peers["CN"].status()["received"] == cn["received"]  # still nothing new

    assert room_feeds(janus, room) == {feeds["DE"], feeds["US"]}
    roster = platform.roster()
    assert roster[joined["CN"]["participant_id"]] == "removed"
    assert (
        roster[joined["DE"]["participant_id"]] == roster[joined["US"]["participant_id"]] == "joined"
    )

    # Kick is not a ban: the old token opens nothing, and a new join is refused with no token.
    assert cn_token not in janus_tokens(janus)
    retry = peers["CN"].checked("try_join", token=cn_token, room=room)
    assert retry["joined"] is False
    assert retry["error"].startswith("403")
    again = platform.join("CN")
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "geo_restricted"
    assert "media" not in again.json()["error"]


def removal_evidence(janus: JanusLab, participant_id: str) -> dict[str, Any]:
    admin = janus.server.staff_token(Role.AUDITOR, "auditor")
    response = janus.server.http.get(
        "/api/v1/audit",
        params={"tag": "meeting:participant:removed", "limit": 1000},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 200, response.text
    (entry,) = [
        e for e in response.json()["entries"] if e["payload"]["participant_id"] == participant_id
    ]
    evidence: dict[str, Any] = entry["payload"]["evidence"]
    return evidence


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def test_an_event_batch_counts_only_when_the_event_handler_authenticated(janus: JanusLab) -> None:
    platform = Platform.create(janus.server)
    restrict_meeting(platform)
    de = admitted(platform, "DE")
    batch = event_batch(de["media"]["token"], ADDRESS["CN"])
    secret = janus.lab.secrets.event_token

    for headers in ({}, basic(EVENT_USER, "not-the-secret"), basic("someone", secret)):
        refused = janus.server.http.post(janus.events_url, json=batch, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthenticated"
    assert platform.roster()[de["participant_id"]] == "joined"

    accepted = janus.server.http.post(
        janus.events_url, json=batch, headers=basic(EVENT_USER, secret)
    )
    assert accepted.status_code == 204
    assert platform.roster()[de["participant_id"]] == "removed"
    assert removal_evidence(janus, de["participant_id"])["territory"] == "CN"
    assert de["media"]["token"] not in janus_tokens(janus)


def test_a_relayed_media_path_is_not_evidence(janus: JanusLab) -> None:
    platform = Platform.create(janus.server)
    restrict_meeting(platform)
    de = admitted(platform, "DE")
    # A TURN relay in CN says where the relay is, not where the participant is (I1).
    batch = event_batch(de["media"]["token"], ADDRESS["CN"], candidate_type="relay")
    headers = basic(EVENT_USER, janus.lab.secrets.event_token)
    assert janus.server.http.post(janus.events_url, json=batch, headers=headers).status_code == 204
    assert platform.roster()[de["participant_id"]] == "joined"
    # The same address as a peer-reflexive candidate is the participant's own: removed.
    batch = event_batch(de["media"]["token"], ADDRESS["CN"], candidate_type="prflx")
    assert janus.server.http.post(janus.events_url, json=batch, headers=headers).status_code == 204
    assert platform.roster()[de["participant_id"]] == "removed"


def test_a_host_removal_cuts_the_media_too(janus: JanusLab) -> None:
    platform = Platform.create(janus.server)
    de = admitted(platform, "DE")
    peer = janus.lab.peer()
    feed = peer.publish(de["media"], "from DE")
    peer.subscribe([feed])  # its own feed: a subscriber connection to cut as well
    response = janus.server.http.request(
        "DELETE",
        f"/api/v1/sessions/{platform.session_id}/participants/{de['participant_id']}",
        headers=platform.host,
        json={"reason": "disruptive"},
    )
    assert response.status_code == 204, response.text
    wait_for(lambda: all_closed(peer.status()), "the host-removed peer's connections to close")
    assert room_feeds(janus, de["media"]["room"]) == set()
    assert de["media"]["token"] not in janus_tokens(janus)


def test_ending_the_session_destroys_its_room(janus: JanusLab) -> None:
    platform = Platform.create(janus.server)
    de = admitted(platform, "DE")
    room = de["media"]["room"]
    assert room_feeds(janus, room) == set()  # the room exists (listing it succeeds)
    response = janus.server.http.post(
        f"/api/v1/sessions/{platform.session_id}/end", headers=platform.host
    )
    assert response.status_code == 200, response.text
    rooms = janus.server.run(plane(janus).admin.videoroom({"request": "list"}))
    assert room not in {r["room"] for r in rooms["list"]}
    assert de["media"]["token"] not in janus_tokens(janus)


def test_a_cn_restriction_leaves_the_media_of_participants_outside_cn_untouched(
    janus: JanusLab,
) -> None:
    platform = Platform.create(janus.server)
    joined = {where: admitted(platform, where) for where in ("DE", "HK", "TW")}
    peers = {where: janus.lab.peer() for where in joined}
    feeds = {where: peers[where].publish(joined[where]["media"], where) for where in joined}
    restrict_meeting(platform)  # nobody here is in CN: nobody may be touched (I1)
    for where, peer in peers.items():
        assert peer.status()["publisher"]["state"] == "connected", where
    assert room_feeds(janus, joined["DE"]["media"]["room"]) == set(feeds.values())
    tokens = janus_tokens(janus)
    assert all(j["media"]["token"] in tokens for j in joined.values())
    assert set(platform.roster().values()) == {"joined"}
