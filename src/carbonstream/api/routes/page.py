"""The live page: one HTML file and its script and style, served without a key.

The files hold no data; the page reads the live stream with the viewer key the
user gives it (see docs/demo.md). A strict Content-Security-Policy keeps the
page to this origin: no CDN, no inline script, no third-party requests.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from carbonstream.api.deps import ReaderLocale
from carbonstream.i18n import LOCALES, catalogue

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    html = resources.files("carbonstream.api").joinpath("static/index.html").read_text("utf-8")
    return HTMLResponse(html, headers=HEADERS)


@router.get("/i18n/live.json")
async def live_messages(locale: ReaderLocale) -> JSONResponse:
    """The page's messages in both locales, and the locale the server would choose for this
    reader (Accept-Language, else the plant's locale); the page's switch overrides it."""
    body = {
        "locale": str(locale),
        "locales": [str(loc) for loc in LOCALES],
        "messages": {str(loc): catalogue().section("live", loc) for loc in LOCALES},
    }
    return JSONResponse(body, headers=HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("carbonstream.api", "static")]), name="static")
