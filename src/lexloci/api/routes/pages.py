"""Browser pages: ``GET /meet/{session_id}`` (the meeting client) and ``GET /static/{name}``.

Invariants:

- The page needs nothing from another origin. Its script, style and interface strings come from
  ``lexloci.web`` in this package — the Janus client library too (``static/vendor/``, copied
  from npm by ``scripts/vendor-js``) — and the Content-Security-Policy allows this origin only:
  no CDN, no inline script (the strings travel as an inert JSON block), media only from the
  page's own peer connections. The one exception is ``connect-src``, which also allows the
  media plane's ``client_origins`` (Janus's public API, in Janus mode), and nothing else.
- Static files are an allow-list read from the package once, at import: any other path is 404,
  so no request path can reach outside ``lexloci/web/static``.
- The page is in the language a join notice would be in (``pick_language`` on Accept-Language),
  so the interface and a ``geo_restricted`` notice speak the same language.
- The page tells no more than the join URL itself: whether the session exists and is live.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath
from typing import Any, Final

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from lexloci.api.deps import container_of
from lexloci.errors import NotFound
from lexloci.meetings.model import SessionState
from lexloci.meetings.notices import LANGUAGES, pick_language

__all__ = ["CONTENT_SECURITY_POLICY", "STRINGS", "content_security_policy", "router"]

router = APIRouter(include_in_schema=False)

_WEB = files("lexloci.web")


def content_security_policy(media_origins: tuple[str, ...] = ()) -> str:
    """The page's policy; ``media_origins`` are added to connect-src only (the media plane's)."""
    # 'self' in connect-src also admits the page's own ws:// and wss:// origin (CSP level 3).
    connect = " ".join(("'self'", *media_origins))
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self' blob: mediastream:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


#: The policy with the mesh, which needs nothing but lexloci's own origin.
CONTENT_SECURITY_POLICY: Final = content_security_policy()
_PAGE_HEADERS: Final = {
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
    "Referrer-Policy": "no-referrer",  # the session id in the URL must not leak onward
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Vary": "Accept-Language",
}
_MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",  # the vendored libraries' licences
}
#: Session ids are short (``ses_`` and 16 hex digits); anything far longer is not one.
_MAX_ID: Final = 64


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


def _load_assets(folder: Traversable | None = None, prefix: str = "") -> dict[str, _Asset]:
    """Every servable file under ``static/``, by its path there (``vendor/janus.es.js``)."""
    assets: dict[str, _Asset] = {}
    for entry in (folder or _WEB / "static").iterdir():
        if entry.is_dir():
            assets.update(_load_assets(entry, f"{prefix}{entry.name}/"))
            continue
        media_type = _MEDIA_TYPES.get(PurePosixPath(entry.name).suffix)
        if not entry.is_file() or media_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[prefix + entry.name] = _Asset(body, media_type, etag)
    return assets


def _load_strings() -> dict[str, dict[str, str]]:
    strings: dict[str, dict[str, str]] = json.loads((_WEB / "strings.json").read_text("utf-8"))
    missing = [lang for lang in LANGUAGES if lang not in strings]
    if missing:
        raise RuntimeError(f"lexloci/web/strings.json lacks the languages {missing}")
    return strings


_ASSETS: Final = _load_assets()
#: The interface strings by language; every notice language has every key (a unit test checks).
STRINGS: Final = _load_strings()
_TEMPLATES: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("lexloci.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a missing string fails the render, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def _page(
    template: str,
    language: str,
    status: int,
    *,
    policy: str = CONTENT_SECURITY_POLICY,
    **context: Any,
) -> HTMLResponse:
    strings = STRINGS[language]
    html = _TEMPLATES.get_template(template).render(lang=language, t=strings, **context)
    headers = {
        **_PAGE_HEADERS,
        "Content-Security-Policy": policy,
        "Content-Language": language,
    }
    return HTMLResponse(html, status_code=status, headers=headers)


@router.get("/meet/{session_id}", response_class=HTMLResponse)
def meeting_page(request: Request, session_id: str) -> HTMLResponse:
    """The meeting client for one session; 404 or 410 pages when it cannot be joined."""
    language = pick_language(None, request.headers.get("accept-language"))
    strings = STRINGS[language]
    container = container_of(request)
    try:
        if len(session_id) > _MAX_ID:
            raise NotFound("not a session id")
        session = container.meetings.session(session_id)
    except NotFound:
        return _page(
            "message.html",
            language,
            404,
            heading=strings["not_found_heading"],
            message=strings["not_found"],
        )
    if session.state is not SessionState.LIVE:
        return _page(
            "message.html",
            language,
            410,
            heading=strings["ended_heading"],
            message=strings["ended_page"],
        )
    policy = content_security_policy(container.media.client_origins)
    return _page("meet.html", language, 200, policy=policy, session_id=session.id)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static_file(request: Request, name: str) -> Response:
    """One of the client's files (``vendor/…`` included), revalidated by ETag on every use."""
    asset = _ASSETS.get(name)
    if asset is None:
        raise NotFound(f"no static file {name!r}")
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
