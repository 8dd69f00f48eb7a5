"""The meeting page in real Chromium: WebRTC video between pages, and a live CN removal.

Everything runs inside a network namespace the test creates (see tests/netns.py):
``lexloci serve`` and Chromium with fake camera and microphone. Each page joins "from" a
country through a trusted X-Forwarded-For, in its own language. Screenshots of each state go
to test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lexloci.api.routes.pages import STRINGS
from lexloci.meetings.notices import host_notice
from tests.browser.meeting_pages import (
    WAIT_MS,
    MeetingStack,
    Participant,
    join_in_turn,
    meeting_stack,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingStack]:
    with meeting_stack(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def people(stack: MeetingStack) -> Iterator[dict[str, Participant]]:
    """Browser contexts opened by a test; closed after it."""
    opened: dict[str, Participant] = {}
    yield opened
    for participant in opened.values():
        participant.close()


def test_two_pages_in_one_session_receive_each_others_video_and_audio(
    stack: MeetingStack, people: dict[str, Participant]
) -> None:
    meeting = stack.meeting("Two pages")
    people["de"] = de = stack.participant("DE", "de-DE")
    people["us"] = us = stack.participant("US", "en-US")
    de.open(meeting)
    de.screenshot("01-join-form-de")
    de.join("Anna")
    de.wait_in_meeting()
    us.open(meeting)
    us.join("Sam")
    us.wait_in_meeting()

    roster = stack.roster(meeting)
    anna, sam = roster["Anna"]["id"], roster["Sam"]["id"]
    de.wait_playing(sam)
    us.wait_playing(anna)
    # Playing means time advances: a second more than now, on both sides.
    de.wait_playing(sam, after=de.remote_time(sam) + 1.0)
    us.wait_playing(anna, after=us.remote_time(anna) + 1.0)
    # Audio travels too: each side receives the other's microphone track.
    for page, peer in ((de, sam), (us, anna)):
        kinds = page.page.evaluate(
            '(peer) => document.querySelector(`video[data-peer="${peer}"]`)'
            ".srcObject.getTracks().map((t) => t.kind).sort()",
            peer,
        )
        assert kinds == ["audio", "video"]

    # The roster shows each participant's territory and that media is connected.
    de_roster = de.page.locator("#roster li")
    assert de_roster.count() == 2
    sam_item = de.page.locator(f'#roster li[data-participant-id="{sam}"]')
    assert sam_item.get_attribute("data-territory") == "US"
    assert STRINGS["de"]["media_connected"] in sam_item.inner_text()
    de.screenshot("02-in-call-de")


def test_a_cn_restriction_removes_the_cn_page_while_the_others_keep_playing(
    stack: MeetingStack, people: dict[str, Participant]
) -> None:
    meeting = stack.meeting("June 4 vigil")
    people["cn"] = cn = stack.participant("CN", "zh-CN")
    people["de"] = de = stack.participant("DE", "de-DE")
    people["hk"] = hk = stack.participant("HK", "en-GB")
    join_in_turn(meeting, (cn, "Wei"), (de, "Anna"), (hk, "Ka-ming"))
    roster = stack.roster(meeting)
    wei, anna, kaming = (roster[n]["id"] for n in ("Wei", "Anna", "Ka-ming"))
    assert roster["Wei"]["territory"] == "CN"
    assert roster["Ka-ming"]["territory"] == "HK"
    for page, peers in ((cn, (anna, kaming)), (de, (wei, kaming)), (hk, (wei, anna))):
        for peer in peers:
            page.wait_playing(peer)
    de.screenshot("03-three-in-call-de")

    decided = stack.restrict_cn_through_a_case(meeting)
    assert [r["jurisdiction"]["territories"] for r in decided["restrictions"]] == [["CN"]]
    case_id = decided["id"]

    # The CN page: the removal notice in Chinese, naming the case; no camera, no peers left.
    notice = cn.page.locator("#notice")
    notice.wait_for(state="visible", timeout=WAIT_MS)
    assert cn.page.locator("#notice-heading").inner_text() == STRINGS["zh"]["removed_heading"]
    text = cn.page.locator("#notice-text").inner_text()
    assert "中国" in text
    assert case_id in text
    assert cn.page.locator("#room").is_hidden()
    assert cn.page.evaluate("document.getElementById('local-video').srcObject") is None
    assert cn.page.locator("video[data-peer]").count() == 0
    cn.screenshot("04-removed-cn")

    # The DE page: the host notice, CN's tile and roster entry gone, HK still playing.
    banner = de.page.locator(".banner", has_text=case_id)
    banner.wait_for(timeout=WAIT_MS)
    # English until the server sends host notices in every language, German after that.
    assert banner.inner_text().split(":", 1)[1].strip() in {
        host_notice(1, "CN", case_id, "en"),
        host_notice(1, "CN", case_id, "de"),
    }
    de.page.locator(f'video[data-peer="{wei}"]').wait_for(state="detached", timeout=WAIT_MS)
    assert de.page.locator(f'#roster li[data-participant-id="{wei}"]').count() == 0
    assert de.page.locator("#roster li").count() == 2
    de.wait_playing(kaming, after=de.remote_time(kaming) + 1.0)
    hk.wait_playing(anna, after=hk.remote_time(anna) + 1.0)
    de.screenshot("05-after-removal-de")

    server_roster = stack.roster(meeting)
    assert server_roster["Wei"]["state"] == "removed"
    assert {server_roster[n]["state"] for n in ("Anna", "Ka-ming")} == {"joined"}

    # Joining again from CN is refused at the gate, with the notice in Chinese.
    cn.page.get_by_role("button", name=STRINGS["zh"]["rejoin"]).click()
    cn.join("Wei")
    cn.page.get_by_text(STRINGS["zh"]["blocked_heading"]).wait_for(timeout=WAIT_MS)
    blocked = cn.page.locator("#notice-text").inner_text()
    assert "您无法从中国加入此会议" in blocked
    assert case_id in blocked
    cn.screenshot("06-blocked-rejoin-cn")
    # ... while a new participant from elsewhere is let in and sees the others.
    people["us"] = us = stack.participant("US", "en-US")
    us.open(meeting)
    us.join("Sam")
    us.wait_in_meeting()
    us.wait_playing(kaming)


def test_a_participant_who_leaves_disappears_from_the_other_pages(
    stack: MeetingStack, people: dict[str, Participant]
) -> None:
    meeting = stack.meeting("Leaving")
    people["de"] = de = stack.participant("DE", "de-DE")
    people["hk"] = hk = stack.participant("HK", "en-GB")
    join_in_turn(meeting, (de, "Anna"), (hk, "Ka-ming"))
    kaming = stack.roster(meeting)["Ka-ming"]["id"]
    de.wait_playing(kaming)

    hk.page.get_by_role("button", name=STRINGS["en"]["leave"]).click()
    hk.page.locator("#notice-heading", has_text=STRINGS["en"]["left"]).wait_for(timeout=WAIT_MS)
    assert hk.page.locator("video[data-peer]").count() == 0

    de.page.locator(f'video[data-peer="{kaming}"]').wait_for(state="detached", timeout=WAIT_MS)
    de.page.locator(f'#roster li[data-participant-id="{kaming}"]').wait_for(
        state="detached", timeout=WAIT_MS
    )
    assert stack.roster(meeting)["Ka-ming"]["state"] == "left"
