"""The investigator's workspace: HTML pages served by the API's process.

Each page is a small Jinja2 template plus one JavaScript module that reads the REST API
(`/api/v1`) with the session cookie. The pages themselves hold no data: every figure
comes from the API, which checks the caller's role and audits reads of personal data.
The server still checks each page against the caller (the same cookie): no session
sends the browser to the login page, and a role that may not see a page (a liaison
officer on the alert queue) gets a short notice, no navigation to it, and no script
that would ask for personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from moneytrail.opstore.users import can
from moneytrail.web.auth import Caller
from moneytrail.web.deps import current_caller

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
VENDOR_FILES = ("cytoscape.esm.min.js", "echarts.esm.min.js", "world-110m.geojson")

templates = Jinja2Templates(directory=HERE / "templates")
ui_router = APIRouter(include_in_schema=False)

# Subject ids, case refs and community ids are short words; anything else is not a page.
_ID = re.compile(r"^[A-Za-z0-9_.:@+-]{1,120}$")


SHARED = ("read_shared", "read_personal")  # aggregate views every role may read


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    needs: tuple[str, ...]  # any of these permissions shows the page


NAV = (
    NavItem("/", "Alerts", ("read_personal",)),
    NavItem("/cases", "Cases", ("read_cases",)),
    NavItem("/network", "Network", ("read_personal",)),
    NavItem("/corridors", "Corridors & places", SHARED),
    NavItem("/trends", "Trends", SHARED),
)


def _caller(request: Request) -> Caller | None:
    """The signed-in user of this request (cookie or bearer token), else None."""
    try:
        return current_caller(request)
    except HTTPException:
        return None


def _allowed(caller: Caller, needs: tuple[str, ...]) -> bool:
    return not needs or any(can(caller.role, p) for p in needs)


def home(caller: Caller) -> str:
    """Where a role lands: the alert queue, or the shared views for a liaison officer."""
    return "/" if can(caller.role, "read_personal") else "/corridors"


def _page(request: Request, template: str, *, title: str, needs: tuple[str, ...], **context: object) -> Response:
    """The page for a signed-in user whose role may see it; else the login page or a notice."""
    caller = _caller(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    allowed = _allowed(caller, needs)
    if not allowed and request.url.path == "/":
        return RedirectResponse(home(caller), status_code=303)
    return templates.TemplateResponse(
        request,
        template if allowed else "forbidden.html",
        {
            "title": title if allowed else "Not for your role",
            "user": caller,
            "home": home(caller),
            "nav": [item for item in NAV if _allowed(caller, item.needs)],
            "vendor_missing": _vendor_missing(),
            **context,
        },
        status_code=200 if allowed else 403,
        headers={"Cache-Control": "no-store"},
    )


def _vendor_missing() -> list[str]:
    return [name for name in VENDOR_FILES if not (VENDOR_DIR / name).is_file()]


def _checked(value: str) -> str:
    if not _ID.match(value):
        raise HTTPException(status_code=404, detail="no such page")
    return value


@ui_router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    caller = _caller(request)
    if caller is not None:
        return RedirectResponse(home(caller), status_code=303)
    return templates.TemplateResponse(
        request, "login.html", {"title": "Sign in", "user": None, "nav": [], "vendor_missing": []},
        headers={"Cache-Control": "no-store"},
    )


@ui_router.get("/", response_class=HTMLResponse)
def queue_page(request: Request) -> Response:
    return _page(request, "queue.html", title="Alert queue", needs=("read_personal",))


@ui_router.get("/alerts")
def alerts_redirect() -> Response:
    return RedirectResponse("/", status_code=307)


@ui_router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(request: Request, subject_id: str) -> Response:
    return _page(
        request, "subject.html", title=f"Subject {subject_id}", needs=("read_personal",),
        subject_id=_checked(subject_id),
    )


@ui_router.get("/subjects/{subject_id}/timeline", response_class=HTMLResponse)
def timeline_page(request: Request, subject_id: str) -> Response:
    return _page(
        request, "timeline.html", title=f"Timeline {subject_id}", needs=("read_personal",),
        subject_id=_checked(subject_id),
    )


@ui_router.get("/network", response_class=HTMLResponse)
def network_page(request: Request) -> Response:
    """`?subject=S…` (a neighbourhood) or `?community=…` (a whole community)."""
    return _page(request, "network.html", title="Network", needs=("read_personal",))


@ui_router.get("/corridors", response_class=HTMLResponse)
def corridors_page(request: Request) -> Response:
    return _page(request, "corridors.html", title="Corridors and places", needs=SHARED)


@ui_router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request) -> Response:
    return _page(request, "cases.html", title="Cases", needs=("read_cases",))


@ui_router.get("/cases/{ref}", response_class=HTMLResponse)
def case_page(request: Request, ref: str) -> Response:
    return _page(request, "case.html", title=f"Case {ref}", needs=("read_cases",), ref=_checked(ref))


@ui_router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request) -> Response:
    return _page(request, "trends.html", title="Trends", needs=SHARED)


def mount_ui(app: FastAPI) -> None:
    """Add the workspace's pages and its static files (own JS/CSS and vendored libraries)."""
    app.include_router(ui_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
