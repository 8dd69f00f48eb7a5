"""Platform integration over real HTTP: a loopback receiver started here plays the platform.

It registers with lexloci, asks for join decisions, reports its roster, receives removal orders
as Standard Webhooks POSTs (verified with the ``standardwebhooks`` library) or over
server-sent events, and acknowledges them. Restrictions come from cases approved over HTTP.
Waits poll for an outcome with a generous deadline; nothing asserts on how long anything took.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from lexloci.audit import VerifyStatus
from lexloci.audit.removals import expand
from lexloci.auth import Role
from lexloci.bootstrap import build_container
from lexloci.config import Settings
from lexloci.integrations import (
    BATCH_TYPE,
    Delivery,
    InvalidWebhook,
    LexlociClient,
    LexlociRequestError,
    WebhookVerifier,
)
from lexloci.jurisdictions import Jurisdiction
from lexloci.platforms.model import order_id
from lexloci.policy import Enforcement, Restriction, Scope
from lexloci.storage.records import removal_orders
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import ADDRESS, Platform

CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}
ROOM = "room-1"


def wait_for(predicate: Callable[[], Any], what: str, deadline_s: float = 60.0) -> Any:
    """Poll until ``predicate`` returns something truthy (a wait, not a timing assertion)."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


# -- the platform's webhook receiver --------------------------------------------------------


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    body: bytes
    verified: bool
    error: str | None
    status: int
    agent: str

    def headers(self, secret: str) -> dict[str, str]:
        """This request's Standard Webhooks headers, signed again here with ``secret``."""
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": self.timestamp,
            "webhook-signature": Webhook(secret).sign(
                self.webhook_id,
                dt.datetime.fromtimestamp(int(self.timestamp), dt.UTC),
                self.body.decode(),
            ),
        }


@dataclass
class Receiver:
    """A real HTTP server on loopback that verifies and acts on removal orders.

    ``fail_first`` answers 500 to the first N attempts of every webhook id; ``silent`` never
    answers. It acts (``effects``) once per webhook id, as docs/integration.md tells
    integrators to."""

    secret: str = ""
    fail_first: int = 0
    silent: bool = False
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    effects: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/lexloci/orders"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.silent:
            self.released.wait()
            return 503
        if self.delay:
            time.sleep(self.delay)
        webhook_id = headers.get("webhook-id", "")
        verified, error = True, None
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            verified, error = False, str(exc)
        with self.lock:
            attempt = sum(1 for r in self.requests if r.webhook_id == webhook_id) + 1
            if not verified:
                status = 400
            elif attempt <= self.fail_first:
                status = 500
            else:
                status = 204
                if webhook_id not in self.effects:  # act once per idempotency key
                    self.effects[webhook_id] += 1
            self.requests.append(
                Received(
                    webhook_id,
                    headers.get("webhook-timestamp", ""),
                    body,
                    verified,
                    error,
                    status,
                    headers.get("user-agent", ""),
                )
            )
        return status

    def orders(self) -> dict[str, dict[str, Any]]:
        """The verified orders acted on, by id, as their JSON bodies."""
        with self.lock:
            return {
                r.webhook_id: json.loads(r.body)
                for r in self.requests
                if r.verified and r.status == 204
            }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()


# -- lexloci's side -------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, database_url=database_url) as live:
        yield live


class Staff:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tokens = {
            "admin": server.staff_token(Role.ADMIN, "root"),
            "intake": server.staff_token(Role.INTAKE, "alice"),
            "reviewer": server.staff_token(Role.REVIEWER, "carol"),
            "approver": server.staff_token(Role.APPROVER, "bob"),
            "auditor": server.staff_token(Role.AUDITOR, "dave"),
        }

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.server.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def register(self, name: str, webhook_url: str | None, **delivery: Any) -> dict[str, Any]:
        body = {"name": name, "webhook_url": webhook_url, **delivery}
        response = self.call("admin", "POST", "/platforms", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

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
        response = self.call("intake", "POST", "/cases", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def approve(self, case_id: str) -> dict[str, Any]:
        response = self.call(
            "approver", "POST", f"/cases/{case_id}/decision", json={"decision": "approve_all"}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def restrict(self, ref: str, kind: str = "meeting") -> dict[str, Any]:
        """A CN restriction on ``ref`` through the case workflow: filed, then approved."""
        case = self.file([{"kind": kind, "ref": ref}])
        return self.approve(case["id"])

    def platform_removals(self, platform: str) -> list[dict[str, Any]]:
        """Each order in the ``platform:orders:issued`` entries, as the removal payload it
        stands for (``lexloci.audit.removals.expand``), for one platform."""
        return [
            removal
            for entry in self.audit("platform:orders:issued")
            for removal in expand(entry["payload"])
            if removal["platform"] == platform
        ]

    def audit(self, tag: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.call(
                "auditor", "GET", "/audit", params={"tag": tag, "after_seq": after, "limit": 500}
            ).json()
            entries += page["entries"]
            if not page["entries"] or page["next_after_seq"] is None:
                return entries
            after = page["next_after_seq"]


@pytest.fixture
def staff(server: LiveServer) -> Staff:
    return Staff(server)


@dataclass
class Acme:
    """A registered platform, seen through lexloci's own integration client."""

    name: str
    secret: str
    token: str
    client: LexlociClient
    serial: int = 0

    def join(self, where: str, ref: str | None = None, meeting: str = ROOM) -> dict[str, Any]:
        self.serial += 1
        return self.client.joined(
            f"evt-{self.name}-{self.serial}",
            meeting,
            ref or f"{where.lower()}-{self.serial}",
            client_ip=ADDRESS[where],
            account_ref="host-1",
        )


@pytest.fixture
def platforms(staff: Staff) -> Iterator[Callable[..., Acme]]:
    """Registers platforms over the admin API; their clients close after the test."""
    made: list[Acme] = []

    def register(name: str, webhook_url: str | None = None, **delivery: Any) -> Acme:
        registered = staff.register(name, webhook_url, **delivery)
        client = LexlociClient(staff.server.base, registered["token"], name)
        made.append(Acme(name, registered["signing_secret"], registered["token"], client))
        return made[-1]

    yield register
    for platform in made:
        platform.client.close()


@pytest.fixture
def acme(platforms: Callable[..., Acme], receiver: Receiver) -> Acme:
    return platforms("acme", receiver.url, max_attempts=3, retry_base_s=0.05, timeout_s=0.5)


@pytest.fixture
def armed(acme: Acme, receiver: Receiver) -> Receiver:
    receiver.secret = acme.secret
    return receiver


# -- decisions -------------------------------------------------------------------------------


def test_decisions_deny_only_participants_inside_the_restricted_jurisdiction(
    server: LiveServer, staff: Staff, acme: Acme
) -> None:
    before = acme.client.decide_join(ROOM, "cn-1", client_ip=ADDRESS["CN"])
    assert before.allowed
    restricted = staff.restrict(f"acme:{ROOM}")
    (restriction,) = restricted["restrictions"]
    assert restriction["scope"] == {"kind": "meeting", "ref": f"acme:{ROOM}"}

    answers = {
        where: acme.client.decide_join(ROOM, f"p-{where}", client_ip=ADDRESS[where])
        for where in ("CN", "CN2", "HK", "MO", "TW", "US", "DE")
    }
    assert {w for w, d in answers.items() if not d.allowed} == {"CN", "CN2"}
    denied = answers["CN"]
    assert denied.effect == "deny"
    assert denied.restriction_ids == (restriction["id"],)
    assert denied.territory == "CN"
    assert denied.notice is not None
    assert set(denied.notice["texts"]) >= {"en", "de", "zh"}
    assert all(restricted["id"] in text for text in denied.notice["texts"].values())
    assert denied.raw["evidence"]["territory"] == "CN"
    assert denied.policy_version >= 1
    assert denied.decision_id
    assert answers["HK"].notice is None
    assert answers["HK"].restriction_ids == ()
    # Another meeting of the same platform, and the same meeting of lexloci itself, are free.
    assert acme.client.decide_join("room-2", "cn-2", client_ip=ADDRESS["CN"]).allowed


def test_a_decision_is_audited_exactly_like_a_join_to_a_lexloci_session(
    server: LiveServer, staff: Staff, acme: Acme
) -> None:
    own = Platform.create(server)
    assert own.join("US").status_code == 201
    decision = acme.client.decide_join(
        ROOM, "us-1", client_ip=ADDRESS["US"], account_ref="host-1", phone=None
    )
    entries = staff.audit("meeting:participant:join_allowed")
    native = next(e for e in entries if "platform" not in e["payload"])
    foreign = next(e for e in entries if e["payload"].get("platform") == "acme")
    assert set(foreign["payload"]) == set(native["payload"]) | {"platform", "participant_ref"}
    payload = foreign["payload"]
    assert payload["decision_id"] == decision.decision_id
    assert payload["participant_id"] == "acme:us-1"
    assert payload["context"] == {
        "session_id": f"acme:{ROOM}",
        "meeting_id": f"acme:{ROOM}",
        "series_id": f"acme:{ROOM}",
        "account_id": "acme:host-1",
    }
    assert payload["client_ip"] == ADDRESS["US"]
    assert foreign["actor"] == "participant:acme:us-1"


def test_forwarding_headers_are_believed_only_from_the_platforms_trusted_proxies(
    server: LiveServer, staff: Staff
) -> None:
    registered = staff.register("edge", None, trusted_proxies=["10.0.0.0/8"])
    with LexlociClient(server.base, registered["token"], "edge") as edge:
        chain = [("X-Forwarded-For", f"{ADDRESS['TW']}, 10.1.2.3")]
        trusted = edge.decide_join(ROOM, "a", peer="10.9.9.9", forwarded_headers=chain)
        assert trusted.territory == "TW"
        assert trusted.raw["client_address"] == {
            "address": ADDRESS["TW"],
            "via": "x-forwarded-for",
            "reason": None,
        }
        # From a peer outside its proxies the headers are ignored: the peer is the client.
        spoofed = edge.decide_join(ROOM, "b", peer=ADDRESS["DE"], forwarded_headers=chain)
        assert spoofed.territory == "DE"
        assert spoofed.raw["client_address"]["via"] == "peer"
        with pytest.raises(LexlociRequestError) as both:
            edge.decide_join(ROOM, "c", client_ip=ADDRESS["DE"], peer="10.9.9.9")
        assert both.value.status == 422
        dial_in = edge.decide_join(ROOM, "d", phone="+85221234567")
        assert dial_in.territory == "HK"


# -- roster events ---------------------------------------------------------------------------


def test_roster_events_are_idempotent_by_event_id(
    server: LiveServer, staff: Staff, acme: Acme
) -> None:
    event = {
        "id": "evt-1",
        "type": "participant.joined",
        "meeting_ref": ROOM,
        "participant_ref": "hk-1",
        "client_ip": ADDRESS["HK"],
    }
    (first,) = acme.client.send_events([event])
    assert first["outcome"] == "applied"
    assert first["state"] == "joined"
    assert first["territory"] == "HK"
    (again,) = acme.client.send_events([event])
    assert again["outcome"] == "duplicate"
    assert again["participant_id"] == first["participant_id"]
    (reused,) = acme.client.send_events([{**event, "client_ip": ADDRESS["CN"]}])
    assert reused["outcome"] == "conflict"
    roster = staff.call("auditor", "GET", "/platforms/acme/participants").json()["participants"]
    assert [(p["participant_ref"], p["territory"]) for p in roster] == [("hk-1", "HK")]

    moved = acme.client.address_changed("evt-2", ROOM, "hk-1", client_ip=ADDRESS["TW"])
    assert moved["outcome"] == "applied"
    assert moved["territory"] == "TW"
    left = acme.client.left("evt-3", ROOM, "hk-1")
    assert left["outcome"] == "applied"
    assert left["state"] == "left"
    assert acme.client.left("evt-3", ROOM, "hk-1")["outcome"] == "duplicate"
    assert acme.client.left("evt-4", ROOM, "hk-1")["outcome"] == "not_live"
    rejoined = acme.join("HK", ref="hk-1")
    assert rejoined["participant_id"] != first["participant_id"]  # a new presence
    live = staff.call("admin", "GET", "/platforms/acme/participants?state=joined").json()
    assert [p["id"] for p in live["participants"]] == [rejoined["participant_id"]]


def test_malformed_events_unknown_platforms_and_foreign_tokens_are_refused(
    server: LiveServer, staff: Staff, acme: Acme
) -> None:
    auth = {"Authorization": f"Bearer {acme.token}"}
    post = server.http.post
    cases = {
        "unknown type": {"events": [{"id": "e", "type": "participant.waved", "meeting_ref": "r",
                                     "participant_ref": "p"}]},
        "no address": {"events": [{"id": "e", "type": "participant.joined", "meeting_ref": "r",
                                   "participant_ref": "p"}]},
        "spaces in a ref": {"events": [{"id": "e", "type": "participant.left",
                                        "meeting_ref": "a room", "participant_ref": "p"}]},
        "bad address": {"events": [{"id": "e", "type": "participant.joined", "meeting_ref": "r",
                                    "participant_ref": "p", "client_ip": "not-an-ip"}]},
        "no events": {"events": []},
        "unknown field": {"events": [], "extra": 1},
    }  # fmt: skip
    for what, body in cases.items():
        response = post("/api/v1/platforms/acme/events", json=body, headers=auth)
        assert response.status_code == 422, what
        error = response.json()["error"]
        assert error["code"] in {"invalid_input", "invalid_address"}, what
        assert error["message"], what
    assert (
        acme.client.send_events(
            [{"id": "e", "type": "participant.left", "meeting_ref": "r", "participant_ref": "p"}]
        )[0]["outcome"]
        == "not_live"
    )  # the malformed batches above recorded nothing

    left = {"id": "e", "type": "participant.left", "meeting_ref": "r", "participant_ref": "p"}
    unknown = post("/api/v1/platforms/nosuch/events", json={"events": [left]}, headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "nosuch" in unknown.json()["error"]["message"]
    for path in ("/platforms/nosuch/orders", "/platforms/nosuch/dead-letters"):
        response = staff.call("admin", "GET", path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    other = staff.register("other", None)
    mine = {"Authorization": f"Bearer {other['token']}"}
    assert server.http.get("/api/v1/platforms/acme/orders", headers=mine).status_code == 403
    assert server.http.get("/api/v1/platforms/acme/participants", headers=mine).status_code == 403
    refused = post("/api/v1/platforms/acme/events", json={"events": [left]}, headers=mine)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert staff.call("intake", "GET", "/platforms/acme/orders").status_code == 403
    # A staff token is not a platform: it cannot ask for decisions.
    asked = staff.call(
        "admin", "POST", "/decisions/join", json={"meeting_ref": "r", "participant_ref": "p",
                                                  "client_ip": ADDRESS["US"]}
    )  # fmt: skip
    assert asked.status_code == 403
    question = {"meeting_ref": "r", "participant_ref": "p", "client_ip": ADDRESS["US"]}
    anonymous = server.http.post("/api/v1/decisions/join", json=question)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"


# -- enforcement -----------------------------------------------------------------------------


def test_a_cn_restriction_orders_the_removal_of_the_receivers_cn_participants_only(
    server: LiveServer, staff: Staff, acme: Acme, armed: Receiver
) -> None:
    people = {where: acme.join(where) for where in ("CN", "CN2", "HK", "US", "TW")}
    elsewhere = acme.join("CN", meeting="room-2")  # same platform, another meeting
    case = staff.file([{"kind": "meeting", "ref": f"acme:{ROOM}"}])
    impact = staff.call("reviewer", "GET", f"/cases/{case['id']}/impact").json()
    (target,) = impact["targets"]
    assert target["platform_participants"] == 5
    assert target["live_participants"] == {"inside": 2, "outside": 3, "uncertain": 0}
    assert target["participants"]["inside"]["by_territory"] == {"CN": 2}

    decided = staff.approve(case["id"])
    (restriction,) = decided["restrictions"]
    cn_ids = {people["CN"]["participant_id"], people["CN2"]["participant_id"]}
    expected = {order_id(pid, restriction["id"]) for pid in cn_ids}
    wait_for(lambda: set(armed.orders()) >= expected, "the two CN orders")
    assert set(armed.orders()) == expected
    assert all(r.verified for r in armed.requests)
    for body in armed.orders().values():
        data = body["data"]
        assert body["type"] == "participant.removal_ordered"
        assert data["participant_id"] in cn_ids
        assert data["territory"] == "CN"
        assert data["meeting_ref"] == ROOM
        assert data["session_ref"] == ROOM
        assert data["restriction"]["id"] == restriction["id"]
        assert data["restriction"]["case_ref"] == case["id"]
        assert set(data["notice"]["texts"]) >= {"en", "de", "zh"}
        assert data["refuse_new_tokens"] is True

    orders = wait_for(
        lambda: len(acme.client.orders("acknowledged")) == 2 and acme.client.orders("acknowledged"),
        "both orders acknowledged",
    )
    assert {o["id"] for o in orders} == expected
    assert {o["acked_via"] for o in orders} == {"webhook"}
    roster = {
        p["id"]: p["state"]
        for p in staff.call("auditor", "GET", "/platforms/acme/participants").json()["participants"]
    }
    assert {pid for pid, state in roster.items() if state == "removed"} == cn_ids
    assert roster[elsewhere["participant_id"]] == "joined"  # room-2 is not restricted

    removed = staff.platform_removals("acme")
    assert sorted(p["order_id"] for p in removed) == sorted(expected)
    assert {p["territory"] for p in removed} == {"CN"}

    # Someone inside the jurisdiction who joins now gets an order at once; others do not.
    late = acme.join("CN")
    assert late["state"] == "removed"
    assert len(late["orders"]) == 1
    assert acme.join("DE")["orders"] == []
    wait_for(lambda: late["orders"][0] in armed.orders(), "the late joiner's order")

    # The transparency report counts platform removals like lexloci's own.
    report = staff.call("auditor", "GET", "/reports/transparency")  # the current half-year
    assert report.status_code == 200, report.text
    removals = report.json()["countries"]["CN"]["participants"]["removed"]
    assert removals["by_territory"] == {"CN": 3}


def test_a_receiver_that_fails_twice_gets_the_order_once_in_effect(
    server: LiveServer, staff: Staff, acme: Acme, armed: Receiver
) -> None:
    armed.fail_first = 2
    person = acme.join("CN")
    staff.restrict(f"acme:{ROOM}")
    (order,) = wait_for(lambda: acme.client.orders("acknowledged"), "the order acknowledged")
    attempts = [r for r in armed.requests if r.webhook_id == order["id"]]
    assert [r.status for r in attempts] == [500, 500, 204]
    assert all(r.verified for r in attempts)
    assert {r.body for r in attempts} == {attempts[0].body}  # the same bytes each time
    assert armed.effects == Counter({order["id"]: 1})
    assert order["attempts"] == 3
    assert order["participant_id"] == person["participant_id"]
    assert order["last_error"] == "HTTP 500"


def test_a_receiver_that_never_answers_ends_in_the_dead_letter_list(
    server: LiveServer, staff: Staff, acme: Acme, armed: Receiver
) -> None:
    armed.silent = True
    acme.join("CN")
    staff.restrict(f"acme:{ROOM}")
    (dead,) = wait_for(
        lambda: acme.client._call("GET", "/platforms/acme/dead-letters")["orders"],
        "the order dead-lettered",
    )
    assert dead["state"] == "dead"
    assert dead["attempts"] == 3
    assert dead["last_error"].startswith("no answer within")
    unacked = acme.client.orders("unacknowledged")
    assert [o["id"] for o in unacked] == [dead["id"]]
    assert staff.call("auditor", "GET", "/platforms/acme/dead-letters").status_code == 200

    armed.silent = False
    armed.released.set()
    again = staff.call("admin", "POST", f"/platforms/acme/orders/{dead['id']}/redeliver")
    assert again.status_code == 200
    assert again.json()["state"] == "pending"
    wait_for(lambda: acme.client.orders("acknowledged"), "the redelivered order acknowledged")
    assert acme.client._call("GET", "/platforms/acme/dead-letters")["orders"] == []
    twice = staff.call("admin", "POST", f"/platforms/acme/orders/{dead['id']}/redeliver")
    assert twice.status_code == 409


def test_the_event_stream_delivers_the_same_orders_until_acknowledged(
    server: LiveServer, staff: Staff, platforms: Callable[..., Acme]
) -> None:
    pull = platforms("pull")  # no webhook: it pulls
    for where in ("CN", "CN2", "US"):
        pull.join(where)
    staff.restrict(f"pull:{ROOM}")
    listed = wait_for(lambda: pull.client.orders("unacknowledged"), "two orders")
    stream = pull.client.stream_orders(read_timeout=30)
    streamed = [next(stream), next(stream)]
    assert {o.order_id for o in streamed} == {o["id"] for o in listed}
    for order in streamed:
        assert order.idempotency_key == order.order_id
        assert order.territory == "CN"
        assert order.raw == next(o["order"] for o in listed if o["id"] == order.order_id)
    stream.close()

    # Unacknowledged orders come again on the same stream.
    seen: Counter[str] = Counter()
    with server.http.stream(
        "GET",
        "/api/v1/platforms/pull/orders/stream",
        params={"resend_after": 0.1},
        headers={"Authorization": f"Bearer {pull.token}"},
    ) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        for line in events.iter_lines():
            if line.startswith("id: "):
                seen[line[4:]] += 1
            if seen and min(seen.values()) >= 2 and len(seen) == 2:
                break
    assert set(seen) == {o["id"] for o in listed}

    acked = pull.client.ack(*seen)
    assert {o["state"] for o in acked} == {"acknowledged"}
    assert {o["acked_via"] for o in acked} == {"api"}
    assert pull.client.ack(*seen)[0]["state"] == "acknowledged"  # idempotent
    late = pull.join("CN")
    (first,) = [next(pull.client.stream_orders(read_timeout=30))]
    assert first.order_id == late["orders"][0]  # acknowledged orders are not sent again
    with pytest.raises(LexlociRequestError) as missing:
        pull.client.ack("ord_doesnotexist")
    assert missing.value.status == 404


def test_a_batch_receiver_gets_signed_batches_that_acknowledge_every_order_inside(
    server: LiveServer, staff: Staff, platforms: Callable[..., Acme], receiver: Receiver
) -> None:
    bulk = platforms("bulk", receiver.url, batch_size=50, timeout_s=5)
    receiver.secret = bulk.secret
    assert staff.call("admin", "GET", "/platforms/bulk").json()["delivery"]["batch_size"] == 50
    events = [
        {
            "id": f"b{i}",
            "type": "participant.joined",
            "meeting_ref": ROOM,
            "participant_ref": f"p-{i}",
            "client_ip": ADDRESS["CN" if i % 4 else "HK"],
        }
        for i in range(160)
    ]
    bulk.client.send_events(events)
    staff.restrict(f"bulk:{ROOM}")
    wait_for(lambda: len(bulk.client.orders("acknowledged")) == 120, "120 orders acknowledged")
    listed = {o["id"]: o for o in bulk.client.orders("all")}
    assert len(listed) == 120

    verifier = WebhookVerifier(bulk.secret)
    carried: Counter[str] = Counter()
    for request in receiver.requests:
        assert request.verified, request.error
        assert request.webhook_id.startswith("bat_")
        body = json.loads(request.body)
        assert body["type"] == BATCH_TYPE
        assert 1 <= body["data"]["count"] == len(body["data"]["orders"]) <= 50
        headers = request.headers(bulk.secret)
        received = verifier.verify_all(request.body, headers)
        for item, inner in zip(received, body["data"]["orders"], strict=True):
            assert item.delivery is Delivery.FIRST
            assert item.webhook_id == item.order.idempotency_key == item.order.order_id
            # Each order inside is the single-order message, byte for byte as listed.
            assert inner == listed[item.order.order_id]["order"]
            assert inner["type"] == "participant.removal_ordered"
            carried[item.order.order_id] += 1
            verifier.done(item)
        assert all(
            r.delivery is Delivery.REPEAT for r in verifier.verify_all(request.body, headers)
        )
        with pytest.raises(InvalidWebhook, match="verify_all"):
            verifier.verify(request.body, headers)
    assert set(carried) == set(listed)
    assert set(carried.values()) == {1}
    assert {o["acked_via"] for o in listed.values()} == {"webhook"}
    assert {o["attempts"] for o in listed.values()} == {1}


def test_a_sweeps_orders_are_written_claimed_by_this_nodes_worker_and_sent_once(
    server: LiveServer, staff: Staff, platforms: Callable[..., Acme], receiver: Receiver
) -> None:
    edge = platforms("edge", receiver.url, retry_base_s=0.05, timeout_s=5)
    receiver.secret = edge.secret
    receiver.silent = True  # holds every request until released: the orders stay in flight
    delivery = server.container.delivery
    wait_for(lambda: delivery.serves("edge"), "the delivery worker's senders for edge")
    for _ in range(7):
        edge.join("CN")
    staff.restrict(f"edge:{ROOM}")
    store = server.container.platforms.store
    wait_for(lambda: len(store.orders("edge")) == 7, "7 orders")
    engine = server.container.engine
    with engine.connect() as conn:
        holders = set(conn.execute(sa.select(removal_orders.c.claimed_by)).scalars())
    # Handed over as they were written: held by this node's worker, due for nobody else.
    assert holders == {delivery.worker}
    now = server.container.clock.now()
    assert store.due("edge", now, 100) == 0
    assert store.claim("edge", "another-worker", now, 100, dt.timedelta(minutes=1)) == []
    receiver.silent = False
    receiver.released.set()  # the held requests fail (503) and are retried
    wait_for(lambda: len(edge.client.orders("acknowledged")) == 7, "7 orders acknowledged")
    assert sum(receiver.effects.values()) == 7
    assert set(receiver.effects.values()) == {1}


# -- exactly once, across nodes and processes --------------------------------------------------


def test_every_node_sweeps_but_each_removal_is_ordered_and_audited_once(
    server: LiveServer, staff: Staff, platforms: Callable[..., Acme], database_url: str
) -> None:
    edge = platforms("edge")
    people = [edge.join("CN") for _ in range(20)] + [edge.join("HK") for _ in range(5)]
    other = build_container(Settings(database_url=database_url, node="node-b"))
    try:
        restricted = staff.restrict(f"edge:{ROOM}")
        (restriction,) = restricted["restrictions"]
        held = server.container.policy.get(restriction["id"])
        # node-b applies the same committed version, as the fleet bus would deliver it.
        other.meetings.apply_change(held)
        assert other.platforms.sweep(held) == []
        assert server.container.platforms.sweep(held) == []
    finally:
        other.close()
    orders = edge.client.orders()
    assert len(orders) == 20
    assert {o["participant_id"] for o in orders} == {p["participant_id"] for p in people[:20]}
    removed = staff.platform_removals("edge")
    assert sorted(p["order_id"] for p in removed) == sorted(o["id"] for o in orders)
    # Order entries are written from pre-encoded parts (ChainWriter.append_encoded): each body
    # must still be exactly the canonical encoding of what it says.
    checked = server.container.audit_log.verify(deep=True)
    assert checked.status is VerifyStatus.INTACT, checked
    first = removed[0]
    assert first["evidence"]["territory"] == "CN"
    assert first["reason"]["restriction_id"] == restriction["id"]
    assert first["context"]["meeting_id"] == f"edge:{ROOM}"


def test_concurrent_sweeps_on_two_nodes_make_each_order_once(
    server: LiveServer, staff: Staff, platforms: Callable[..., Acme], database_url: str
) -> None:
    edge = platforms("edge")
    for _ in range(40):
        edge.join("CN")
    other = build_container(Settings(database_url=database_url, node="node-b"))
    try:
        # Both nodes hold the committed version before either sweeps; then both sweep at once.
        now = server.container.clock.now()
        restriction = Restriction.new(
            id="res_race",
            case_ref="CASE-RACE",
            jurisdiction=Jurisdiction.of("CN"),
            scope=Scope.meeting(f"edge:{ROOM}"),
            effects=frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE}),
            valid_from=now - dt.timedelta(minutes=1),
        )
        server.container.policy.apply(restriction)
        other.policy.apply(restriction)
        made: list[list[str]] = []
        barrier = threading.Barrier(2)

        def sweep(container: Any) -> None:
            barrier.wait()
            made.append(container.platforms.sweep(restriction))

        threads = [threading.Thread(target=sweep, args=(c,)) for c in (server.container, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # The orders table refuses a second order for the same presence and restriction.
        (first, *_) = other.platforms.store.orders_by_id(made[0] or made[1])
        with other.platforms.store.transaction() as tx:
            assert tx.insert_orders([first]) == set()
    finally:
        other.close()
    assert sum(len(m) for m in made) == 40  # between them, each presence once
    assert len(set(made[0]) | set(made[1])) == 40
    assert set(made[0]).isdisjoint(made[1])
    assert len(edge.client.orders()) == 40
    removed = staff.platform_removals("edge")
    assert len(removed) == 40
    assert len({p["order_id"] for p in removed}) == 40


def test_two_delivery_processes_never_send_an_order_twice(
    server: LiveServer, staff: Staff, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    registered = staff.register("busy", receiver.url, concurrency=4)
    receiver.secret = registered["signing_secret"]
    # Slow enough answers that the delivery runs for a while: both workers then get a share
    # while the other is busy (at 0.01 s the first worker often sent everything alone).
    receiver.delay = 0.03
    busy = LexlociClient(server.base, registered["token"], "busy")
    with (tmp_path / "deliver.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "lexloci", "platform", "deliver", "--db", database_url,
             "--poll", "0.05"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
        try:
            wait_for(
                lambda: "delivering removal orders" in (tmp_path / "deliver.log").read_text(),
                "the second delivery process",
            )
            events = [
                {
                    "id": f"e{i}",
                    "type": "participant.joined",
                    "meeting_ref": ROOM,
                    "participant_ref": f"cn-{i}",
                    "client_ip": ADDRESS["CN"],
                }
                for i in range(200)
            ]
            busy.send_events(events)
            staff.restrict(f"busy:{ROOM}")
            wait_for(lambda: len(busy.orders("acknowledged")) == 200, "200 orders acknowledged")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            busy.close()
    per_id = Counter(r.webhook_id for r in receiver.requests)
    assert len(per_id) == 200
    assert set(per_id.values()) == {1}, per_id.most_common(3)
    assert len({r.agent for r in receiver.requests}) == 2  # both processes delivered


# -- the receiver's side: signatures and replays ----------------------------------------------


def test_bad_and_replayed_signatures_are_refused_by_the_receiver(
    server: LiveServer, staff: Staff, acme: Acme, armed: Receiver
) -> None:
    acme.join("CN")
    staff.restrict(f"acme:{ROOM}")
    wait_for(armed.orders, "an order")
    genuine = next(r for r in armed.requests if r.status == 204)
    headers = genuine.headers(acme.secret)
    verifier = WebhookVerifier(acme.secret)
    first = verifier.verify(genuine.body, headers)
    assert first.delivery is Delivery.FIRST
    assert first.order.territory == "CN"
    verifier.done(first)
    # The same request again (a retry, or someone replaying it): recognised, not acted on.
    assert verifier.verify(genuine.body, headers).delivery is Delivery.REPEAT

    tampered = genuine.body.replace(b'"CN"', b'"HK"')
    with pytest.raises(InvalidWebhook, match="No matching signature"):
        verifier.verify(tampered, headers)
    with pytest.raises(InvalidWebhook, match="No matching signature"):
        WebhookVerifier("whsec_" + "A" * 43 + "=").verify(genuine.body, headers)
    with pytest.raises(InvalidWebhook, match="Missing required headers"):
        verifier.verify(genuine.body, {"webhook-id": genuine.webhook_id})
    # A request captured ten minutes ago is refused for its timestamp, whatever its id.
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    stale = {
        "webhook-id": genuine.webhook_id,
        "webhook-timestamp": str(int(old.timestamp())),
        "webhook-signature": Webhook(acme.secret).sign(
            genuine.webhook_id, old, genuine.body.decode()
        ),
    }
    with pytest.raises(InvalidWebhook, match="too old"):
        WebhookVerifier(acme.secret).verify(genuine.body, stale)

    # Over the wire: the loopback receiver answers 400 to a forgery and does not act.
    forged = httpx.post(armed.url, content=tampered, headers=headers)
    assert forged.status_code == 400
    assert armed.effects[genuine.webhook_id] == 1


# -- registration from the command line ---------------------------------------------------------


def test_platform_add_prints_the_secret_and_a_working_token(
    server: LiveServer, staff: Staff, database_url: str, tmp_path: Path
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lexloci", "platform", *args, "--db", database_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )

    added = cli(
        "add", "jitsi", "--webhook-url", "https://jitsi.example/lexloci", "--max-attempts", "5"
    )
    assert added.returncode == 0, added.stderr
    secret, token = added.stdout.split()
    assert secret.startswith("whsec_")
    assert token.startswith("llt_")
    assert "registered platform jitsi" in added.stderr
    Webhook(secret).sign("x", dt.datetime.now(dt.UTC), "{}")  # a usable Standard Webhooks key
    with LexlociClient(server.base, token, "jitsi") as jitsi:
        assert jitsi.decide_join(ROOM, "p", client_ip=ADDRESS["US"]).allowed
        assert jitsi.orders() == []
    shown = staff.call("admin", "GET", "/platforms/jitsi").json()
    assert shown["webhook_url"] == "https://jitsi.example/lexloci"
    assert shown["delivery"]["max_attempts"] == 5
    assert "secret" not in json.dumps(shown)

    again = cli("add", "jitsi", "--webhook-url", "https://jitsi.example/lexloci")
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "registered already" in again.stderr
    bad = cli("add", "Jitsi:2", "--webhook-url", "ftp://x")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    listed = cli("list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("jitsi\thttps://jitsi.example")
