"""The meeting page in Janus mode: real Chromium pages, a real Janus, and a live CN removal.

One network namespace of the test's own holds everything (the Janus lab, tests/janus/lab.py,
whose veth pair Janus's ICE needs): Janus, ``lexloci serve --media janus`` and Chromium with a
fake camera and microphone. Pages join "from" a country through a trusted X-Forwarded-For
carrying a real public address of it; no interface has such an address, and nothing is sent to
one. The page loads janus.js from lexloci itself (static/vendor/).

What the page's connections are is read two ways, neither of which changes them: Janus's admin
API lists the handles each participant's token holds, and a script added before the page's own
records every RTCPeerConnection the page creates, so the test can see them closed.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lexloci.api.routes.pages import STRINGS
from tests.browser.meeting_pages import (
    PORT,
    WAIT_MS,
    MeetingStack,
    Participant,
    browser_unavailable,
    join_in_turn,
    meeting_stack,
)
from tests.janus.lab import Lab, lab_unavailable, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.janus]

WAIT_S = WAIT_MS / 1000

# Keeps a reference to every peer connection the page makes (observation only: each one is the
# browser's own, constructed with the page's own arguments).
RECORD_PEER_CONNECTIONS = """(() => {
    const Original = window.RTCPeerConnection;
    const made = [];
    function Recorded(...args) {
        const pc = new Original(...args);
        made.push(pc);
        return pc;
    }
    Recorded.prototype = Original.prototype;
    Object.setPrototypeOf(Recorded, Original);
    window.RTCPeerConnection = Recorded;
    window.__peerConnections = made;
})();"""

_CONNECTIONS = """() => (window.__peerConnections || []).map(
    (pc) => ({signaling: pc.signalingState, connection: pc.connectionState}))"""


@dataclass
class JanusStack:
    pages: MeetingStack
    lab: Lab


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusStack]:
    for reason in (lab_unavailable(), browser_unavailable()):
        if reason is not None:
            pytest.skip(reason)
    folder = tmp_path_factory.mktemp("browser-janus")
    with Lab(folder) as lab:
        lab.start_janus(f"http://127.0.0.1:{PORT}/api/v1/media/janus/events")
        with meeting_stack(
            folder, lab.namespace, lab.secrets.serve_args(), lab.secrets.environment()
        ) as pages:
            yield JanusStack(pages, lab)


@pytest.fixture
def people(stack: JanusStack) -> Iterator[dict[str, Participant]]:
    opened: dict[str, Participant] = {}
    yield opened
    for participant in opened.values():
        participant.close()


def enter(stack: JanusStack, where: str, locale: str) -> Participant:
    participant = stack.pages.participant(where, locale)
    participant.page.add_init_script(RECORD_PEER_CONNECTIONS)
    return participant


def connections(participant: Participant) -> list[dict[str, str]]:
    states: list[dict[str, str]] = participant.page.evaluate(_CONNECTIONS)
    return states


def test_two_pages_in_janus_mode_receive_each_others_video_through_janus(
    stack: JanusStack, people: dict[str, Participant]
) -> None:
    meeting = stack.pages.meeting("Two pages through Janus")
    people["de"] = de = enter(stack, "DE", "de-DE")
    people["us"] = us = enter(stack, "US", "en-US")
    join_in_turn(meeting, (de, "Anna"), (us, "Sam"))
    roster = stack.pages.roster(meeting)
    anna, sam = roster["Anna"]["id"], roster["Sam"]["id"]

    de.wait_playing(sam)
    us.wait_playing(anna)
    de.wait_playing(sam, after=de.remote_time(sam) + 1.0)
    us.wait_playing(anna, after=us.remote_time(anna) + 1.0)

    # The media went through Janus: each page holds a publisher and a subscriber handle there,
    # and made exactly those two peer connections (no mesh connection to the other page).
    assert stack.lab.handles_by_participant() == {anna: 2, sam: 2}
    for page in (de, us):
        assert [c["connection"] for c in connections(page)] == ["connected", "connected"]
    sam_item = de.page.locator(f'#roster li[data-participant-id="{sam}"]')
    assert sam_item.get_attribute("data-territory") == "US"
    assert STRINGS["de"]["media_connected"] in sam_item.inner_text()
    de.screenshot("janus-01-in-call-de")


def test_a_cn_restriction_cuts_the_cn_page_off_janus_while_the_others_keep_playing(
    stack: JanusStack, people: dict[str, Participant]
) -> None:
    meeting = stack.pages.meeting("June 4 vigil through Janus")
    people["cn"] = cn = enter(stack, "CN", "zh-CN")
    people["de"] = de = enter(stack, "DE", "de-DE")
    people["hk"] = hk = enter(stack, "HK", "en-GB")
    join_in_turn(meeting, (cn, "Wei"), (de, "Anna"), (hk, "Ka-ming"))
    roster = stack.pages.roster(meeting)
    wei, anna, kaming = (roster[n]["id"] for n in ("Wei", "Anna", "Ka-ming"))
    assert roster["Wei"]["territory"] == "CN"
    for page, peers in ((cn, (anna, kaming)), (de, (wei, kaming)), (hk, (wei, anna))):
        for peer in peers:
            page.wait_playing(peer)
    assert stack.lab.handles_by_participant()[wei] == 3  # a publisher and two subscribers
    assert len(connections(cn)) == 3

    decided = stack.pages.restrict_cn_through_a_case(meeting)
    case_id = decided["id"]

    # The CN page shows lexloci's removal notice, whatever Janus said when it cut the page off.
    cn.page.locator("#notice").wait_for(state="visible", timeout=WAIT_MS)
    assert cn.page.locator("#notice-heading").inner_text() == STRINGS["zh"]["removed_heading"]
    text = cn.page.locator("#notice-text").inner_text()
    assert "中国" in text
    assert case_id in text
    assert cn.page.locator("#media-warning").is_hidden()
    assert cn.page.locator("#room").is_hidden()
    assert cn.page.locator("video[data-peer]").count() == 0
    assert cn.page.evaluate("document.getElementById('local-video').srcObject") is None
    # Its Janus connections are gone: every peer connection of the page is closed, and Janus
    # holds no handle of its token any more.
    assert all(c["signaling"] == "closed" for c in connections(cn)), connections(cn)
    wait_for(
        lambda: wei not in stack.lab.handles_by_participant(),
        "Janus to drop every handle of the removed participant",
        timeout=WAIT_S,
        every=0.2,
    )
    cn.screenshot("janus-02-removed-cn")

    # The others: CN's tile gone, and each still receives the other, time advancing.
    for page in (de, hk):
        page.page.locator(f'video[data-peer="{wei}"]').wait_for(state="detached", timeout=WAIT_MS)
    de.wait_playing(kaming, after=de.remote_time(kaming) + 1.0)
    hk.wait_playing(anna, after=hk.remote_time(anna) + 1.0)
    assert stack.pages.roster(meeting)["Wei"]["state"] == "removed"
    # DE's publisher and its subscription to HK stay up; only the one to CN's feed closed.
    assert [c["connection"] for c in connections(de)].count("connected") == 2
    de.screenshot("janus-03-after-removal-de")
