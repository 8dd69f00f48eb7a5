"""The admin console: in real Chromium (marker ``browser``), and its API additions over HTTP.

The browser tests drive the console as its users would — sign in with a token, file a request
through the intake form, review the impact preview, approve, watch the live meeting lose its CN
participants, download the transparency report, verify the audit log, lift the restriction —
against a live server on loopback, with participants joined "from" their countries through a
trusted X-Forwarded-For and connected over WebSocket. Screenshots of each main page go to
test-artifacts/admin/.

The HTTP tests need no browser and run everywhere: the pages' headers and assets, and each
endpoint of ``lexloci.api.routes.console_api``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from lexloci.api.routes import console_api
from lexloci.api.routes.admin import CAPABILITY_LABELS, CONTENT_SECURITY_POLICY
from lexloci.api.routes.console_api import CAPABILITIES
from lexloci.auth import Role
from lexloci.meetings.signalling import CLOSE_REMOVED
from lexloci.policy import Scope
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import audit_log
from lexloci.transparency import document_digest
from tests.browser.admin_console import Console, chromium
from tests.databases import BACKENDS, fresh_database
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import Platform

CN_AUTHORITY = {
    "name": "Ministry of Public Security",
    "agency": "Cyber Security Bureau",
    "country": "CN",
    "jurisdiction": ["CN"],
}
PAGES = [
    "/admin/",
    "/admin/sign-in",
    "/admin/cases",
    "/admin/cases/new",
    "/admin/cases/case_0123456789abcdef",
    "/admin/sessions",
    "/admin/sessions/ses_0123456789abcdef",
    "/admin/restrictions",
    "/admin/reports",
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """For the HTTP tests: on SQLite, and on PostgreSQL (marker postgres)."""
    with live_server(tmp_path, database_url=database_url) as live:
        yield live


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    """For the browser tests, which are slower: SQLite only (the API below them is the same)."""
    with live_server(tmp_path) as live:
        yield live


class Staff:
    """One token per person and role, as an operator would hand them out."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tokens = {
            "alice-intake": server.staff_token(Role.INTAKE, "alice"),
            "alice-approver": server.staff_token(Role.APPROVER, "alice"),
            "bob-approver": server.staff_token(Role.APPROVER, "bob"),
            "carol-reviewer": server.staff_token(Role.REVIEWER, "carol"),
            "dave-auditor": server.staff_token(Role.AUDITOR, "dave"),
            "root-admin": server.staff_token(Role.ADMIN, "root"),
        }

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.server.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def file(self, meeting_id: str, **fields: Any) -> str:
        body = {
            "authority": CN_AUTHORITY,
            "request_type": "restrict_meeting",
            "legal_process": "administrative_order",
            "legal_basis": "Cybersecurity Law art. 50",
            "targets": [{"kind": "meeting", "ref": meeting_id}],
            "received_at": "2026-06-01T08:00:00Z",
            **fields,
        }
        response = self.call("alice-intake", "POST", "/cases", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.fixture
def staff(server: LiveServer) -> Staff:
    return Staff(server)


# -- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def consoles(browser: Any) -> Iterator[list[Console]]:
    """Consoles a test opens; each must have logged no script error; all closed after."""
    opened: list[Console] = []
    yield opened
    for console in opened:
        console.close()


def _open(consoles: list[Console], browser: Any, server: LiveServer, token: str) -> Console:
    console = Console(browser, server.base, token)
    consoles.append(console)
    return console


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect  # after chromium() checked that playwright exists

    return expect(locator)


@pytest.mark.browser
def test_a_case_filed_and_approved_in_the_console_removes_only_the_cn_participants(
    sqlite_server: LiveServer, browser: Any, consoles: list[Console]
) -> None:
    server, staff = sqlite_server, Staff(sqlite_server)
    platform = Platform.create(server, home_country="HK")
    members = {where: platform.member(where) for where in ("CN", "HK", "US", "TW")}

    # An auditor watches the live meetings before anything is decided.
    watcher = _open(consoles, browser, server, staff.tokens["dave-auditor"])
    watcher.sign_in("/admin/sessions")
    row = watcher.page.locator(f'#sessions-body tr[data-session-id="{platform.session_id}"]')
    for where in ("CN", "HK", "US", "TW"):
        _expect(row.locator(f'li[data-territory="{where}"]')).to_have_attribute("data-count", "1")
    _expect(row.locator("td[data-joined]")).to_have_text("4")
    _expect(watcher.page.locator("#live-state")).to_have_attribute("data-state", "live")
    watcher.screenshot("01-live-meetings-before")

    # The intake user files the request through the form.
    intake = _open(consoles, browser, server, staff.tokens["alice-intake"])
    intake.sign_in("/admin/cases/new")
    form = intake.page
    form.get_by_label("Authority name").fill(CN_AUTHORITY["name"])
    form.get_by_label("Agency or office (optional)").fill(CN_AUTHORITY["agency"])
    form.get_by_label("Requesting country").fill("CN")
    form.get_by_label("Jurisdiction it speaks for").fill("CN")
    form.get_by_label("Request type").select_option("restrict_meeting")
    form.get_by_label("Legal process").select_option("administrative_order")
    form.get_by_label("Legal basis cited").fill("Cybersecurity Law art. 50")
    form.get_by_label("Target 1 id or URL").fill(platform.meeting_id)
    form.get_by_label("The request documents").set_input_files(
        files=[{"name": "order.txt", "mimeType": "text/plain", "buffer": b"Order No. 64"}]
    )
    intake.screenshot("02-intake-form")
    form.get_by_role("button", name="File the request").click()
    form.wait_for_url(re.compile(r"/admin/cases/case_[0-9a-f]+$"))
    case_id = form.url.rsplit("/", 1)[1]
    _expect(form.locator("#intake-by")).to_have_text("alice")
    _expect(form.locator("#case-status")).to_have_text("received")
    _expect(form.locator("#attachment-list")).to_contain_text("order.txt")
    # Intake is not a deciding role: no form, and the page says who can decide instead.
    _expect(form.locator("#decision-form")).to_be_hidden()
    _expect(form.locator("#decision-unavailable")).to_contain_text(
        "An approver other than alice can decide this case"
    )
    intake.screenshot("03-case-as-intake")

    # A different person, an approver, finds it among the cases awaiting a decision.
    approver = _open(consoles, browser, server, staff.tokens["bob-approver"])
    approver.sign_in("/admin/cases")
    page = approver.page
    page.get_by_label("Status").select_option("received")
    page.get_by_label("Requesting country").fill("CN")
    page.get_by_role("button", name="Apply filters").click()
    _expect(page.locator("#cases-body tr")).to_have_count(1)
    _expect(page.locator("#cases-caption")).to_have_text("1 case, newest first")
    approver.screenshot("04-cases")
    page.get_by_role("link", name=case_id).click()
    page.wait_for_url(f"**/admin/cases/{case_id}")

    # The impact preview: CN inside, everyone else outside, as a table and a chart.
    impact = page.locator(".impact-table").first
    _expect(impact.locator('tr[data-territory="CN"] td[data-kind="inside"]')).to_have_text("1")
    for where in ("HK", "US", "TW"):
        cells = impact.locator(f'tr[data-territory="{where}"]')
        _expect(cells.locator('td[data-kind="outside"]')).to_have_text("1")
        _expect(cells.locator('td[data-kind="inside"]')).to_have_text("0")
    _expect(impact.locator('td[data-total="inside"]')).to_have_text("1")
    _expect(impact.locator('td[data-total="outside"]')).to_have_text("3")
    _expect(page.locator("svg.chart .chart-inside")).to_have_count(1)
    _expect(page.locator("svg.chart .chart-outside")).to_have_count(3)
    _expect(page.locator("#decision-consequence")).to_contain_text(
        "1 of them in a live session now would be removed"
    )
    _expect(page.locator("#decision-consequence")).to_contain_text(
        "The 3 participant(s) located outside CN are not affected"
    )
    _expect(page.locator("#rule-decider")).to_have_text(
        "Any approver other than alice may decide it."
    )
    approver.screenshot("05-case-impact-preview")
    page.get_by_label("Approve every planned action").check()
    page.get_by_role("button", name="Record the approval").click()
    _expect(page.locator("#case-status")).to_have_text("approved")
    _expect(page.locator("#rule-decider")).to_contain_text("Decided by bob")
    timeline = page.locator("#timeline li[data-tag]")
    _expect(timeline).to_have_count(4)
    assert timeline.evaluate_all("items => items.map(i => i.dataset.tag)") == [
        "case:case:received",
        "case:attachment:added",
        "policy:restriction:activated",
        "case:case:approved",
    ]
    approver.screenshot("06-case-approved")

    # The live page, never reloaded, loses the CN participant; the others are still there.
    _expect(row.locator('li[data-territory="CN"]')).to_have_count(0)
    for where in ("HK", "US", "TW"):
        _expect(row.locator(f'li[data-territory="{where}"]')).to_have_attribute("data-count", "1")
    _expect(row.locator("td[data-joined]")).to_have_text("3")
    watcher.screenshot("07-live-meetings-after")
    assert members["CN"].closed_code() == CLOSE_REMOVED
    for where in ("HK", "US", "TW"):
        assert members[where].is_open(), where

    # The session's roster, with each participant's evidence.
    watcher.goto(f"/admin/sessions/{platform.session_id}")
    roster = watcher.page.locator("#roster-body")
    cn = roster.locator('tr[data-territory="CN"]')
    _expect(cn).to_have_attribute("data-state", "removed")
    for where in ("HK", "US", "TW"):
        _expect(roster.locator(f'tr[data-territory="{where}"]')).to_have_attribute(
            "data-state", "joined"
        )
    _expect(watcher.page.locator("#joined-count")).to_have_text("3")
    cn.locator("details summary").click()
    _expect(cn.locator("details dl")).to_contain_text("223.5.5.5")
    _expect(cn.locator("details dl")).to_contain_text("client ip says CN")
    _expect(cn).to_contain_text(case_id)  # the removal notice names the case
    watcher.screenshot("08-session-roster")

    # The transparency report for the days around today, downloaded, and its checkpoint verified.
    watcher.goto("/admin/reports")
    reports = watcher.page
    reports.get_by_label("A range of days").check()
    today = dt.datetime.now(dt.UTC).date()
    reports.get_by_label("First day").fill((today - dt.timedelta(days=1)).isoformat())
    reports.get_by_label("Last day").fill((today + dt.timedelta(days=1)).isoformat())
    reports.get_by_label("Format").select_option("json")
    with reports.expect_download() as downloading:
        reports.get_by_role("button", name="Generate and download").click()
    download = downloading.value
    assert download.suggested_filename.startswith("lexloci-transparency-")
    document = json.loads(Path(download.path()).read_text("utf-8"))
    cn_figures = document["countries"]["CN"]
    assert cn_figures["requests"]["received"] == 1
    assert cn_figures["participants"]["removed"]["by_territory"]["CN"] == 1
    _expect(reports.locator("#report-digest")).to_have_text(document_digest(document))
    checkpoint = document["checkpoint"]
    _expect(reports.locator("#report-checkpoint")).to_contain_text(checkpoint["root_hash"])
    reports.get_by_role("button", name="Check the log still has this checkpoint").click()
    _expect(reports.locator("#report-verify-result .outcome")).to_have_attribute(
        "data-status", "intact"
    )
    reports.get_by_role("button", name="Verify the whole log").click()
    _expect(reports.locator("#verify-result .outcome")).to_have_attribute("data-status", "intact")
    _expect(reports.locator("#entries-body tr").first).to_be_visible()
    watcher.screenshot("09-reports-and-audit")

    # The approver lifts the restriction; CN participants may join again.
    approver.goto("/admin/restrictions")
    (restriction_id,) = staff.call("bob-approver", "GET", f"/cases/{case_id}").json()[
        "restriction_ids"
    ]
    active = approver.page.locator(f'tr[data-restriction-id="{restriction_id}"]')
    _expect(active).to_have_attribute("data-status", "active")
    approver.screenshot("10-restrictions-active")
    approver.page.get_by_role("button", name=f"Lift {restriction_id}…").click()
    approver.page.get_by_role("button", name=f"Confirm: lift {restriction_id}").click()
    _expect(approver.page.locator("#restrictions-status")).to_have_text(
        f"{restriction_id} was lifted."
    )
    approver.page.get_by_label("Lifted").check()
    _expect(active).to_have_attribute("data-status", "lifted")
    assert platform.join("CN").status_code == 201

    for console in consoles:
        assert console.console_errors == [], console.page.url


@pytest.mark.browser
def test_whoever_took_a_case_in_cannot_decide_it_and_a_reviewer_gets_no_decision_form(
    sqlite_server: LiveServer, browser: Any, consoles: list[Console]
) -> None:
    server, staff = sqlite_server, Staff(sqlite_server)
    platform = Platform.create(server)
    case_id = staff.file(platform.meeting_id)

    # Alice also holds an approver token: the form is there, but disabled, with the reason.
    own = _open(consoles, browser, server, staff.tokens["alice-approver"])
    own.sign_in(f"/admin/cases/{case_id}")
    page = own.page
    _expect(page.locator("#decision-form")).to_be_visible()
    _expect(page.locator("#decision-fields")).to_have_attribute("disabled", "")
    _expect(page.get_by_label("Approve every planned action")).to_be_disabled()
    _expect(page.get_by_label("Reject the request")).to_be_disabled()
    _expect(page.get_by_role("button", name="Record the approval")).to_be_disabled()
    _expect(page.locator("#decision-unavailable")).to_have_text(
        "You (alice) took this case in, so the two-person rule does not let you decide it. "
        "Another approver must decide it."
    )
    _expect(page.locator("#rule-decider")).to_contain_text("so you cannot decide it")
    own.screenshot("11-case-two-person-rule")

    # A reviewer sees the record and the impact preview, and no decision form at all.
    reviewer = _open(consoles, browser, server, staff.tokens["carol-reviewer"])
    reviewer.sign_in(f"/admin/cases/{case_id}")
    page = reviewer.page
    _expect(page.locator(".impact-table")).to_have_count(1)
    _expect(page.locator("#decision-unavailable")).to_have_text(
        "Deciding needs the approver role; you are signed in as reviewer. "
        "An approver other than alice can decide this case."
    )
    _expect(page.locator("#decision-form")).to_be_hidden()
    assert page.get_by_role("button", name="Record the approval").count() == 0
    reviewer.screenshot("12-case-as-reviewer")

    # The API agrees with what the pages showed: neither of them can decide.
    for who in ("alice-approver", "carol-reviewer"):
        refused = staff.call(who, "POST", f"/cases/{case_id}/decision", json={"decision": "reject"})
        assert refused.status_code == 403, who
    for console in consoles:
        assert console.console_errors == [], console.page.url

    # An API error reaches the page as a sentence that says what to do next.
    reviewer.goto("/admin/cases/case_0000000000000000")
    _expect(page.locator("#case-error")).to_have_text(
        "No case 'case_0000000000000000'. Check the id, or go back to the list it came from."
    )


@pytest.mark.browser
def test_an_approver_approves_part_of_a_request_by_its_action_keys(
    sqlite_server: LiveServer, browser: Any, consoles: list[Console]
) -> None:
    server, staff = sqlite_server, Staff(sqlite_server)
    platform = Platform.create(server)
    platform.member("CN", connect=False)
    case_id = staff.file(
        platform.meeting_id, requested_actions=["block_participants", "disclose_data"]
    )
    approver = _open(consoles, browser, server, staff.tokens["bob-approver"])
    approver.sign_in(f"/admin/cases/{case_id}")
    page = approver.page
    keys = page.locator("#part-checks input[name=approve]")
    _expect(page.locator("#part-actions")).to_be_hidden()
    page.get_by_label("Approve only some actions").check()
    _expect(keys).to_have_count(2)
    _expect(page.locator("#reject-reason-field")).to_be_visible()
    # Nothing ticked: the page says what to do instead of sending a request the API refuses.
    page.get_by_role("button", name="Record the approval").click()
    _expect(page.locator("#decision-error")).to_have_text(
        "Tick at least one action to approve, or choose another decision."
    )
    page.locator('#part-checks input[value="block_participants:0"]').check()
    _expect(page.locator("#decision-error")).to_be_hidden()
    consequence = page.locator("#decision-consequence")
    _expect(consequence).to_contain_text(
        "Approving the ticked actions keeps participants located in CN out"
    )
    _expect(consequence).not_to_contain_text("discloses")
    page.get_by_label("Reason for what is not approved").select_option("overbroad")
    approver.screenshot("14-case-partial-approval")
    page.get_by_role("button", name="Record the approval").click()
    _expect(page.locator("#case-status")).to_have_text("partially approved")
    outcomes = page.locator("#outcomes-body tr")
    _expect(outcomes).to_have_count(2)
    _expect(outcomes.nth(0)).to_contain_text("block participants")
    _expect(outcomes.nth(0)).to_contain_text("complied")
    _expect(outcomes.nth(1)).to_contain_text("disclose data")
    _expect(outcomes.nth(1)).to_contain_text("overbroad")
    _expect(page.locator("#plan")).to_be_hidden()  # the outcomes replace the plan
    decided = staff.call("bob-approver", "GET", f"/cases/{case_id}").json()
    assert [(o["action"], o["outcome"]) for o in decided["outcomes"]] == [
        ("block_participants", "complied"),
        ("disclose_data", "rejected"),
    ]
    assert platform.join("CN").status_code == 403


@pytest.mark.browser
def test_signing_in_works_from_the_keyboard_and_errors_say_what_to_do(
    sqlite_server: LiveServer, browser: Any, consoles: list[Console]
) -> None:
    server, staff = sqlite_server, Staff(sqlite_server)
    admin = _open(consoles, browser, server, staff.tokens["root-admin"])
    page = admin.page
    # A page that needs a token sends the user to sign in, and back afterwards.
    admin.goto("/admin/cases")
    page.wait_for_url(admin.url("/admin/sign-in?next=%2Fadmin%2Fcases"))
    page.keyboard.press("Tab")
    _expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    token_field = page.get_by_label("Access token")
    error = page.locator("#sign-in-error")
    token_field.focus()
    page.keyboard.type("llt_not-a-token")
    page.keyboard.press("Enter")
    _expect(error).to_have_text(
        "This token is unknown or was revoked. Check that you pasted all of it (it starts with "
        "llt_), or ask an administrator for a new one."
    )
    _expect(token_field).to_be_focused()
    _expect(token_field).to_have_attribute("aria-invalid", "true")
    admin.screenshot("13-sign-in-error")

    host = Platform.create(server).host_token
    token_field.fill(host)
    page.keyboard.press("Enter")
    _expect(error).to_contain_text("This is not a staff token")

    token_field.fill(staff.tokens["root-admin"])
    page.keyboard.press("Enter")
    page.wait_for_url(admin.url("/admin/cases"))
    _expect(page.locator("#me-role")).to_have_text("admin")
    # The token is in this tab's sessionStorage, and never in a URL.
    stored = page.evaluate("() => sessionStorage.getItem('lexloci.console.token')")
    assert stored == staff.tokens["root-admin"]
    assert staff.tokens["root-admin"] not in page.url
    # An admin cannot read cases: the section is not offered, and the page says who may use it.
    nav = page.get_by_role("navigation", name="Sections")
    _expect(nav.locator('li[data-capability="cases.read"]')).to_have_count(1)
    _expect(nav.locator('li[data-capability="cases.read"]')).to_be_hidden()
    _expect(nav.get_by_role("link", name="Restrictions")).to_be_visible()
    _expect(page.locator("#not-allowed")).to_have_text(
        "Your role (admin) cannot use this page: it needs one of the roles approver, auditor, "
        "intake, reviewer. Sign in with such a token, or see on the overview what your role can do."
    )
    _expect(page.locator("#cases-table")).to_have_count(0)

    # The sections can be reached from the keyboard alone.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Restrictions":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(admin.url("/admin/restrictions"))
    _expect(page.locator("#restrictions-body")).to_contain_text("Nothing is active.")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/sign-in**")
    _expect(page.locator("#sign-in-notice")).to_have_text("You signed out.")
    assert page.evaluate("() => sessionStorage.length") == 0


# -- over HTTP -----------------------------------------------------------------------------------


class _References:
    """Every src and href of a page, without an HTML parser dependency."""

    PATTERN = re.compile(r'\b(?:src|href)="([^"]+)"')

    @classmethod
    def of(cls, html: str) -> list[str]:
        return cls.PATTERN.findall(html)


def test_every_page_is_same_origin_only_and_loads_only_the_consoles_own_files(
    server: LiveServer,
) -> None:
    assets: set[str] = set()
    for path in PAGES:
        page = server.http.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        for url in _References.of(page.text):
            assert url.startswith(("/admin", "#", "data:")), (path, url)
            if url.startswith("/admin/static/"):
                assets.add(url)
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    # Scripts import each other as modules: follow those imports too.
    pending = list(assets)
    while pending:
        url = pending.pop()
        asset = server.http.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        # No CDN, no other origin. The SVG namespace is a name, never fetched.
        text = asset.text.replace('"http://www.w3.org/2000/svg"', "SVG_NAMESPACE")
        assert not re.search(r"https?://", text), url
        for imported in re.findall(r'from "\./([a-z_]+\.js)"', asset.text):
            if f"/admin/static/{imported}" not in assets:
                assets.add(f"/admin/static/{imported}")
                pending.append(f"/admin/static/{imported}")
    assert "/admin/static/core.js" in assets
    assert "/admin/static/charts.js" in assets


def test_static_files_are_an_allow_list_and_ids_in_paths_are_checked_for_shape_only(
    server: LiveServer,
) -> None:
    for name in ("admin.py", "..%2F..%2Fapi%2Froutes%2Fadmin.py", "core.js.map", "layout.html"):
        missing = server.http.get(f"/admin/static/{name}")
        assert missing.status_code == 404, name
        assert missing.json()["error"]["code"] == "not_found"
    css = server.http.get("/admin/static/admin.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert (
        server.http.get(
            "/admin/static/admin.css", headers={"If-None-Match": css.headers["etag"]}
        ).status_code
        == 304
    )
    assert server.http.get("/admin/cases/not-a-case-id").status_code == 404
    assert server.http.get("/admin/sessions/ses_<script>").status_code == 404
    # A well-formed id gets the page whether or not the case exists: the page's own API call,
    # with a token, is what finds out.
    assert server.http.get("/admin/cases/case_ffffffffffffffff").status_code == 200
    assert server.http.get("/admin", follow_redirects=False).headers["location"] == "/admin/"


def test_whoami_names_the_caller_and_what_the_role_may_do(server: LiveServer, staff: Staff) -> None:
    me = staff.call("bob-approver", "GET", "/whoami")
    assert me.status_code == 200
    body = me.json()
    assert (body["name"], body["role"], body["actor"]) == ("bob", "approver", "approver:bob")
    assert "cases.decide" in body["capabilities"]
    assert "reports.generate" not in body["capabilities"]
    assert server.http.get("/api/v1/whoami").status_code == 401
    wrong = server.http.get("/api/v1/whoami", headers={"Authorization": "Bearer llt_nope"})
    assert wrong.json()["error"]["code"] == "unauthenticated"
    host = Platform.create(server).host
    refused = server.http.get("/api/v1/whoami", headers=host)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert CAPABILITY_LABELS.keys() == CAPABILITIES.keys()


#: For each capability, a request the API answers 403 exactly when the role lacks it (any other
#: status means the role check passed: 404 for an id that does not exist, 422 for a target).
_PROBES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "cases.read": ("GET", "/cases", None),
    "cases.intake": (
        "POST",
        "/cases",
        {
            "authority": CN_AUTHORITY,
            "request_type": "restrict_meeting",
            "legal_process": "court_order",
            "targets": [{"kind": "meeting", "ref": "mtg_0000000000000000"}],
            "received_at": "2026-06-01T08:00:00Z",
        },
    ),
    "cases.attach": (
        "POST",
        "/cases/case_0000000000000000/attachments",
        {"filename": "a.txt", "content_base64": "YQ=="},
    ),
    "cases.decide": ("POST", "/cases/case_0000000000000000/decision", {"decision": "reject"}),
    "sessions.read": ("GET", "/sessions", None),
    "restrictions.read": ("GET", "/restrictions", None),
    "restrictions.lift": ("POST", "/restrictions/res_0000000000000000/lift", None),
    "reports.generate": ("GET", "/reports/transparency", None),
    "audit.read": ("GET", "/audit", None),
    "audit.checkpoint": ("GET", "/audit/checkpoint", None),
    "audit.verify": ("POST", "/audit/verify", None),
}


@pytest.mark.parametrize("role", list(Role))
def test_each_capability_whoami_reports_is_exactly_what_the_api_allows(
    server: LiveServer, role: Role
) -> None:
    assert _PROBES.keys() == CAPABILITIES.keys()
    token = server.staff_token(role, f"someone-{role.value}")
    headers = {"Authorization": f"Bearer {token}"}
    claimed = set(server.http.get("/api/v1/whoami", headers=headers).json()["capabilities"])
    allowed = set()
    for capability, (method, path, body) in _PROBES.items():
        response = server.http.request(method, f"/api/v1{path}", headers=headers, json=body)
        assert response.status_code in {200, 403, 404, 422}, (capability, response.text)
        if response.status_code != 403:
            allowed.add(capability)
    assert claimed == allowed


def test_sessions_are_counted_by_territory_and_state(server: LiveServer, staff: Staff) -> None:
    platform = Platform.create(server)
    for where in ("CN", "HK", "HK", "US"):
        platform.member(where, connect=False)
    assert platform.join("CN", name="refused later").status_code == 201
    ended = Platform.create(server)
    ended_session = server.http.post(f"/api/v1/sessions/{ended.session_id}/end", headers=ended.host)
    assert ended_session.status_code == 200

    live = staff.call("carol-reviewer", "GET", "/sessions", params={"live": "true"}).json()
    (session,) = live["sessions"]
    assert session["id"] == platform.session_id
    assert session["topic"] == "June 4 vigil"
    assert session["participants"]["by_territory"] == {"CN": 2, "HK": 2, "US": 1}
    assert session["participants"]["joined"] == 5

    platform.restrict(Scope.meeting(platform.meeting_id))
    assert platform.join("CN").status_code == 403
    (session,) = staff.call("carol-reviewer", "GET", "/sessions", params={"live": "true"}).json()[
        "sessions"
    ]
    counts = session["participants"]
    assert counts["by_territory"] == {"HK": 2, "US": 1}
    assert counts["removed_by_territory"] == {"CN": 2}
    assert counts["by_state"] == {"joined": 3, "left": 0, "removed": 2, "blocked": 1}
    everything = staff.call("carol-reviewer", "GET", "/sessions").json()["sessions"]
    assert {s["id"] for s in everything} == {platform.session_id, ended.session_id}
    host = server.http.get("/api/v1/sessions", headers=platform.host)
    assert host.status_code == 403


def test_a_case_timeline_holds_its_own_audit_entries_in_order(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server)
    mine = staff.file(platform.meeting_id)
    other = staff.file(platform.meeting_id)
    decided = staff.call(
        "bob-approver", "POST", f"/cases/{mine}/decision", json={"decision": "approve_all"}
    )
    assert decided.status_code == 200, decided.text
    (restriction_id,) = decided.json()["restriction_ids"]
    lifted = staff.call("bob-approver", "POST", f"/restrictions/{restriction_id}/lift")
    assert lifted.status_code == 200

    timeline = staff.call("carol-reviewer", "GET", f"/cases/{mine}/timeline").json()
    assert [e["tag"] for e in timeline["entries"]] == [
        "case:case:received",
        "policy:restriction:activated",
        "case:case:approved",
        "policy:restriction:lifted",
    ]
    assert [e["actor"] for e in timeline["entries"]] == [
        "intake:alice",
        "approver:bob",
        "approver:bob",
        "approver:bob",
    ]
    assert all(e["payload"]["case_id"] == mine for e in timeline["entries"])
    seqs = [e["seq"] for e in timeline["entries"]]
    assert seqs == sorted(seqs)
    assert timeline["truncated"] is False
    theirs = staff.call("dave-auditor", "GET", f"/cases/{other}/timeline").json()["entries"]
    assert [e["tag"] for e in theirs] == ["case:case:received"]
    missing = staff.call("carol-reviewer", "GET", "/cases/case_0000000000000000/timeline")
    assert missing.status_code == 404
    assert staff.call("root-admin", "GET", f"/cases/{mine}/timeline").status_code == 403


def _tamper(url: str, seq: int) -> None:
    """Rewrite one entry's body in place, as someone who owns the database file could."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            else:
                conn.exec_driver_sql("DROP TRIGGER audit_log_no_change ON audit_log")
            body = conn.execute(
                sa.select(audit_log.c.body).where(audit_log.c.seq == seq)
            ).scalar_one()
            forged = body.replace(b'"home_country":"US"', b'"home_country":"CN"')
            assert forged != body
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(body=forged))
    finally:
        engine.dispose()


def test_audit_verification_reports_intact_a_mismatched_checkpoint_and_a_rewritten_entry(
    server: LiveServer, staff: Staff
) -> None:
    Platform.create(server)
    intact = staff.call("dave-auditor", "POST", "/audit/verify")
    assert intact.status_code == 200
    body = intact.json()
    assert body["status"] == "intact"
    assert body["breakage"] is None
    assert body["verified"] == body["head"]

    checkpoint = staff.call("dave-auditor", "GET", "/audit/checkpoint").json()
    against = staff.call(
        "root-admin", "POST", "/audit/verify", json={"checkpoint": checkpoint}
    ).json()
    assert (against["status"], against["compared_with"]) == ("intact", checkpoint)

    forged = {**checkpoint, "root_hash": "0" * 64}
    mismatch = staff.call("dave-auditor", "POST", "/audit/verify", json={"checkpoint": forged})
    assert mismatch.json()["status"] == "broken"
    assert mismatch.json()["breakage"]["problem"] == "checkpoint_mismatch"
    ahead = {**checkpoint, "size": checkpoint["size"] + 10_000}
    truncated = staff.call("dave-auditor", "POST", "/audit/verify", json={"checkpoint": ahead})
    assert truncated.json()["breakage"]["problem"] == "log_truncated"
    other = staff.call(
        "dave-auditor",
        "POST",
        "/audit/verify",
        json={"checkpoint": {**checkpoint, "origin": "elsewhere"}},
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "invalid_input"
    assert staff.call("carol-reviewer", "POST", "/audit/verify").status_code == 403

    created = staff.call(
        "dave-auditor", "GET", "/audit", params={"tag": "meeting:account:created"}
    ).json()["entries"]
    seq = created[0]["seq"]
    _tamper(str(server.container.settings.database_url), seq)
    broken = staff.call("dave-auditor", "POST", "/audit/verify").json()
    assert broken["status"] == "broken"
    assert broken["breakage"]["seq"] == seq
    assert broken["breakage"]["problem"] == "hash_mismatch"
    assert broken["verified"]["size"] == seq - 1


def _hello(server: LiveServer, token: str, session_id: str | None = None) -> ClientConnection:
    ws = connect(f"{server.ws_base}/api/v1/watch/sessions", legacy=True)
    hello: dict[str, Any] = {"type": "hello", "token": token}
    if session_id is not None:
        hello["session_id"] = session_id
    ws.send(json.dumps(hello))
    return ws


def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of ``kind``; waits for it (a wait, not a timing assertion)."""
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=20))
        if message["type"] == kind:
            return message


def _closed(ws: ClientConnection) -> tuple[int | None, list[dict[str, Any]]]:
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=20)))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), received


def test_the_watch_socket_pushes_counts_and_the_roster_as_they_change(
    server: LiveServer, staff: Staff
) -> None:
    platform = Platform.create(server)
    platform.member("HK", connect=False)
    with _hello(server, staff.tokens["carol-reviewer"], platform.session_id) as ws:
        (first,) = _next(ws, "sessions")["sessions"]
        assert first["participants"]["by_territory"] == {"HK": 1}
        roster = _next(ws, "roster")
        assert roster["session"]["id"] == platform.session_id
        (hk,) = roster["participants"]
        assert hk["location"]["territory"] == "HK"  # staff see the evidence
        assert hk["client_ip"] == "202.45.84.58"
        platform.member("CN", connect=False)
        (updated,) = _next(ws, "sessions")["sessions"]
        assert updated["participants"]["by_territory"] == {"CN": 1, "HK": 1}
        assert len(_next(ws, "roster")["participants"]) == 2
    used = staff.call(
        "dave-auditor", "GET", "/audit", params={"tag": "auth:token:used", "limit": 1000}
    ).json()["entries"]
    assert any(e["payload"]["path"] == "/api/v1/watch/sessions" for e in used)


def test_the_watch_socket_refuses_bad_hellos_other_roles_and_revoked_tokens(
    server: LiveServer, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = Platform.create(server)
    with connect(f"{server.ws_base}/api/v1/watch/sessions", legacy=True) as ws:
        ws.send("not json")
        code, messages = _closed(ws)
        assert code == console_api.CLOSE_UNAUTHENTICATED
        assert messages[0]["code"] == "unauthenticated"
    code, _ = _closed(_hello(server, "llt_unknown"))
    assert code == console_api.CLOSE_UNAUTHENTICATED
    code, messages = _closed(_hello(server, platform.host_token))
    assert code == console_api.CLOSE_FORBIDDEN
    assert messages[0]["code"] == "forbidden"
    code, _ = _closed(_hello(server, staff.tokens["dave-auditor"], "ses_0000000000000000"))
    assert code == console_api.CLOSE_NOT_FOUND

    # A token revoked while it watches is noticed at the next check (made immediate here).
    monkeypatch.setattr(console_api, "RECHECK_TOKEN_EVERY", 0.0)
    token_id, token = server.container.tokens.create(
        "erin", server.container.clock.now(), role=Role.AUDITOR
    )
    with _hello(server, token) as ws:
        _next(ws, "sessions")
        server.container.tokens.revoke(token_id, server.container.clock.now())
        code, messages = _closed(ws)
    assert code == console_api.CLOSE_UNAUTHENTICATED
    assert messages[-1] == {"type": "error", "code": "unauthenticated", "message": "token revoked"}
