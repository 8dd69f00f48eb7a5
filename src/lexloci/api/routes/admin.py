"""The admin console: ``GET /admin/...`` pages and ``GET /admin/static/{name}``.

How it works, and why:

- The pages are server-rendered shells (Jinja2): headings, labels, forms, and the choices every
  select offers, taken from the same enums the API validates against. The data comes from the
  public ``/api/v1`` API, called by the page's own script with the signed-in user's bearer
  token. The server cannot render data into a page because a page request carries no token:
  the token lives in the tab's ``sessionStorage`` and is only ever sent as an
  ``Authorization`` header, never in a URL or a cookie, so it cannot leak through history,
  logs or a cross-site request. So the console has no privileges of its own: whatever it shows
  or does, the API allowed that token to see or do.
- What a page offers depends on the caller's role, from ``GET /api/v1/whoami``
  (``CAPABILITIES``); the API enforces the same rules regardless.
- Nothing comes from another origin: scripts, styles and the charts (inline SVG drawn by the
  script) are files of this package, and the Content-Security-Policy allows this origin only.
- Static files are an allow-list read once at import; any other name is 404.
- Ids in page paths are checked for shape only, not looked up: an unauthenticated visitor must
  not learn whether a case exists. The page's script asks the API, which answers 404 or 403.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath
from typing import Any, Final

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from lexloci.api.deps import container_of
from lexloci.api.routes.console_api import CAPABILITIES
from lexloci.audit.tags import AuditTag
from lexloci.cases.model import (
    CaseStatus,
    LegalProcess,
    RejectionReason,
    RequestedAction,
    RequestType,
    TargetKind,
)
from lexloci.cases.service import MAX_ATTACHMENT
from lexloci.errors import NotFound
from lexloci.transparency import current_half_year

__all__ = ["CAPABILITY_LABELS", "CONTENT_SECURITY_POLICY", "PAGES", "router"]

router = APIRouter(include_in_schema=False)

_ADMIN = files("lexloci.web") / "admin"

#: Same origin only; no inline script or style. ``connect-src 'self'`` also admits this
#: origin's ws:// for the live-meetings socket (CSP level 3). ``blob:`` images are not needed:
#: downloads are object URLs followed by an anchor, which CSP does not govern.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",  # case and session ids in URLs must not leak onward
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
#: Case ids are ``case_`` and hex digits, session ids ``ses_`` and hex digits.
_ID: Final = re.compile(r"^[a-z]{2,8}_[0-9a-f]{1,48}$")

#: What each capability lets the user do, in the words the home page shows.
CAPABILITY_LABELS: Final = {
    "cases.read": "read cases, their impact previews and timelines",
    "cases.intake": "take in new requests",
    "cases.attach": "attach documents to cases",
    "cases.decide": "decide cases that someone else took in",
    "sessions.read": "watch live meetings and their rosters with location evidence",
    "restrictions.read": "see restrictions and account suspensions",
    "restrictions.lift": "lift restrictions and account suspensions",
    "reports.generate": "generate and download transparency reports",
    "audit.read": "read the audit log",
    "audit.checkpoint": "see the audit log's checkpoint",
    "audit.verify": "verify the audit log's hash chain",
}
if CAPABILITY_LABELS.keys() != CAPABILITIES.keys():  # pragma: no cover - a programming error
    raise RuntimeError("every console capability needs a label, and only those")


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    href: str
    capability: str


#: The sections, each shown only to roles with its capability.
PAGES: Final = (
    NavItem("cases", "Cases", "/admin/cases", "cases.read"),
    NavItem("sessions", "Live meetings", "/admin/sessions", "sessions.read"),
    NavItem("restrictions", "Restrictions", "/admin/restrictions", "restrictions.read"),
    NavItem("reports", "Reports and audit", "/admin/reports", "audit.checkpoint"),
)


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


def _load_assets() -> dict[str, _Asset]:
    assets: dict[str, _Asset] = {}
    for entry in (_ADMIN / "static").iterdir():
        media_type = _MEDIA_TYPES.get(PurePosixPath(entry.name).suffix)
        if not entry.is_file() or media_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[entry.name] = _Asset(body, media_type, etag)
    return assets


_ASSETS: Final = _load_assets()
_TEMPLATES: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("lexloci.web", "admin/templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a missing value fails the render, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def _choices(values: Any) -> list[tuple[str, str]]:
    """(value, label) for each member of an enum, the label in plain words."""
    return [(v.value, v.value.replace("_", " ")) for v in values]


def _render(
    template: str,
    section: str,
    status: int = 200,
    *,
    requires: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page; ``requires`` names the capability without which the page only says which roles
    may use it (the page's script checks, since only it knows the token)."""
    script = template.replace(".html", ".js")
    roles = ", ".join(sorted(r.value for r in CAPABILITIES[requires])) if requires else ""
    html = _TEMPLATES.get_template(template).render(
        nav=PAGES,
        section=section,
        script=script if script in _ASSETS else None,
        requires=requires,
        requires_roles=roles,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _max_attachment() -> int:
    """The largest file a page can upload: the app's body limit (not the case service's larger
    one) bounds it, base64 makes a file 4/3 larger, and the JSON around it needs a little room."""
    from lexloci.api.app import MAX_BODY  # here, not at the top: app.py imports this module

    return min(MAX_ATTACHMENT, (MAX_BODY - 2048) * 3 // 4)


def _not_found(what: str) -> HTMLResponse:
    return _render("not_found.html", "", 404, what=what)


@router.get("/admin", response_class=HTMLResponse)
def admin_root() -> RedirectResponse:
    return RedirectResponse("/admin/", status_code=308)


@router.get("/admin/", response_class=HTMLResponse)
def home() -> HTMLResponse:
    return _render("home.html", "home", capability_labels=CAPABILITY_LABELS)


@router.get("/admin/sign-in", response_class=HTMLResponse)
def sign_in() -> HTMLResponse:
    return _render("sign_in.html", "sign-in")


@router.get("/admin/cases", response_class=HTMLResponse)
def cases() -> HTMLResponse:
    return _render(
        "cases.html",
        "cases",
        requires="cases.read",
        statuses=_choices(CaseStatus),
        request_types=_choices(RequestType),
    )


@router.get("/admin/cases/new", response_class=HTMLResponse)
def new_case() -> HTMLResponse:
    return _render(
        "intake.html",
        "cases",
        requires="cases.intake",
        request_types=_choices(RequestType),
        legal_processes=_choices(LegalProcess),
        target_kinds=_choices(TargetKind),
        actions=_choices(RequestedAction),
        max_attachment=_max_attachment(),
    )


@router.get("/admin/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str) -> HTMLResponse:
    if not _ID.match(case_id):
        return _not_found("case")
    return _render(
        "case.html",
        "cases",
        requires="cases.read",
        case_id=case_id,
        rejection_reasons=_choices(RejectionReason),
        max_attachment=_max_attachment(),
    )


@router.get("/admin/sessions", response_class=HTMLResponse)
def sessions() -> HTMLResponse:
    return _render("sessions.html", "sessions", requires="sessions.read")


@router.get("/admin/sessions/{session_id}", response_class=HTMLResponse)
def session_page(session_id: str) -> HTMLResponse:
    if not _ID.match(session_id):
        return _not_found("session")
    return _render("session.html", "sessions", requires="sessions.read", session_id=session_id)


@router.get("/admin/restrictions", response_class=HTMLResponse)
def restrictions() -> HTMLResponse:
    return _render("restrictions.html", "restrictions", requires="restrictions.read")


@router.get("/admin/reports", response_class=HTMLResponse)
def reports(request: Request) -> HTMLResponse:
    period = current_half_year(container_of(request).clock.now())
    return _render(
        "reports.html",
        "reports",
        requires="audit.checkpoint",
        default_period=period.label,
        tags=sorted(tag.value for tag in AuditTag),
    )


@router.api_route("/admin/static/{name}", methods=["GET", "HEAD"])
def static_file(request: Request, name: str) -> Response:
    """One of the console's files, revalidated by ETag on every use (``no-cache``)."""
    asset = _ASSETS.get(name)
    if asset is None:
        raise NotFound(f"no console file {name!r}")
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
