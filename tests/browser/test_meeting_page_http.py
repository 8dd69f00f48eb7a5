"""The meeting page over plain HTTP (no browser needed): language, headers, assets, errors.

These need no Chromium, so they are not marked ``browser`` and run everywhere; they sit next to
the browser tests because they pin the same page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest

from lexloci.api.routes.pages import CONTENT_SECURITY_POLICY, STRINGS, content_security_policy
from lexloci.meetings.notices import LANGUAGES
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import Platform
from tests.functional.servers import free_port

WEB = files("lexloci.web")


class _References(HTMLParser):
    """Every URL an HTML document makes the browser load (src and href attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path) as live:
        yield live


def test_the_page_speaks_the_callers_language_under_a_same_origin_only_policy(
    server: LiveServer,
) -> None:
    platform = Platform.create(server)
    page = server.http.get(
        f"/meet/{platform.session_id}", headers={"Accept-Language": "de-CH, en;q=0.5"}
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "de"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<html lang="de">' in page.text
    assert f'data-session-id="{platform.session_id}"' in page.text
    assert f'<label for="display-name">{STRINGS["de"]["name_label"]}</label>' in page.text
    chinese = server.http.get(f"/meet/{platform.session_id}", headers={"Accept-Language": "zh-TW"})
    assert '<html lang="zh">' in chinese.text
    assert STRINGS["zh"]["join"] in chinese.text
    fallback = server.http.get(f"/meet/{platform.session_id}", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in fallback.text


def test_every_asset_of_the_page_comes_from_the_server_itself(server: LiveServer) -> None:
    platform = Platform.create(server)
    page = server.http.get(f"/meet/{platform.session_id}")
    parser = _References()
    parser.feed(page.text)
    local = [u for u in parser.urls if not u.startswith("data:")]
    assert sorted(local) == ["/static/meet.css", "/static/meet.js"]
    for url in local:
        asset = server.http.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        # No absolute URL at all in a script or style: nothing is fetched from a CDN.
        assert not re.search(r"https?://", asset.text), url
    assert server.http.get("/static/meet.js").headers["content-type"].startswith("text/javascript")
    assert server.http.get("/static/meet.css").headers["content-type"].startswith("text/css")


def test_the_interface_strings_travel_as_inert_json_not_as_script(server: LiveServer) -> None:
    platform = Platform.create(server)
    page = server.http.get(f"/meet/{platform.session_id}").text
    match = re.search(r'<script type="application/json" id="strings">(.*?)</script>', page)
    assert match is not None
    assert json.loads(match.group(1)) == STRINGS["en"]
    assert "<script>" not in page  # the CSP forbids inline script; the page has none


def test_an_unknown_session_gets_a_not_found_page_and_an_ended_one_a_gone_page(
    server: LiveServer,
) -> None:
    unknown = server.http.get("/meet/ses_0000000000000000", headers={"Accept-Language": "de"})
    assert unknown.status_code == 404
    assert STRINGS["de"]["not_found_heading"] in unknown.text
    assert "/static/meet.js" not in unknown.text
    assert server.http.get("/meet/" + "x" * 500).status_code == 404

    platform = Platform.create(server)
    ended = server.http.post(f"/api/v1/sessions/{platform.session_id}/end", headers=platform.host)
    assert ended.status_code == 200, ended.text
    gone = server.http.get(f"/meet/{platform.session_id}")
    assert gone.status_code == 410
    assert STRINGS["en"]["ended_heading"] in gone.text


@pytest.mark.parametrize(
    "name", ["pages.py", "__init__.py", "..%2F..%2Fapi%2Froutes%2Fpages.py", "meet.js.map", ""]
)
def test_only_the_clients_own_files_are_served_from_static(server: LiveServer, name: str) -> None:
    response = server.http.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_static_file_is_revalidated_by_its_etag(server: LiveServer) -> None:
    first = server.http.get("/static/meet.js")
    assert first.headers["cache-control"] == "no-cache"
    again = server.http.get("/static/meet.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    stale = server.http.get("/static/meet.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == first.content


def test_every_language_has_every_interface_string_the_client_uses() -> None:
    keys = set(STRINGS["en"])
    for language in LANGUAGES:
        assert set(STRINGS[language]) == keys, language
        assert all(value.strip() for value in STRINGS[language].values()), language
    script = (WEB / "static" / "meet.js").read_text("utf-8")
    used = set(re.findall(r"\bt\.(\w+)", script))
    used |= {f"media_{state}" for state in ("waiting", "connecting", "connected", "failed")}
    templates = "".join(
        (WEB / "templates" / name).read_text("utf-8")
        for name in ("base.html", "meet.html", "message.html")
    )
    used |= set(re.findall(r"\bt\.(\w+)", templates))
    assert used <= keys, used - keys


def test_in_janus_mode_the_page_may_also_connect_to_janus_and_nowhere_else(
    tmp_path: Path,
) -> None:
    # Nothing listens on the port: the page is all this looks at (a room is created on join).
    janus_port = free_port()
    settings = {
        "media": "janus",
        "janus_url": f"http://127.0.0.1:{janus_port}/janus",
        "janus_admin_url": f"http://127.0.0.1:{free_port()}/admin",
        "janus_admin_secret": "a-test-admin-secret-of-enough-length",
        "janus_room_admin_key": "a-test-room-key",
    }
    with live_server(tmp_path, **settings) as server:
        platform = Platform.create(server)
        policy = server.http.get(f"/meet/{platform.session_id}").headers["content-security-policy"]
    assert policy == content_security_policy((f"http://127.0.0.1:{janus_port}",))
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["connect-src"] == f"'self' http://127.0.0.1:{janus_port}"
    assert {k: v for k, v in directives.items() if k != "connect-src"} == {
        k: v
        for k, v in (d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
        if k != "connect-src"
    }


def test_the_janus_client_library_is_served_from_lexloci_itself(server: LiveServer) -> None:
    manifest = json.loads((WEB / "static" / "vendor" / "vendor.json").read_text("utf-8"))
    for name in manifest["files"]:
        response = server.http.get(f"/static/vendor/{name}")
        assert response.status_code == 200, name
        assert response.content == (WEB / "static" / "vendor" / name).read_bytes()
        kind = "text/plain" if name.endswith(".txt") else "text/javascript"
        assert response.headers["content-type"].startswith(kind), name
    for name in ("vendor.json", "vendor/", "vendor/..%2F..%2Fpages.py", "vendor/nothing.js"):
        assert server.http.get(f"/static/{name}").status_code == 404, name
