"""The web application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dondoc.settings import get_settings
from dondoc.storage import sweep_temporary
from web import intake, office, zalo
from web.deps import LoginRequiredError
from web.templating import make_templates

STATIC_DIR = Path(__file__).parent / "static"
SESSION_HOURS = 8
# An upload still being written touches its temporary file far more often than this.
STALE_UPLOAD = timedelta(hours=1)
log = logging.getLogger(__name__)


class SecurityHeaders:
    """Headers on every response. `Referrer-Policy: no-referrer` matters most: a unit's secret
    link is in its URL and must not leak to any site a page links to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start: remove the temporary files of uploads a killed server never finished."""
    root = get_settings().effective_storage_dir
    for path in sweep_temporary(root, STALE_UPLOAD):
        log.warning("removed an unfinished upload's temporary file %s", path)
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="dondoc", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan
    )
    app.state.templates = make_templates()
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret().decode(),
        session_cookie="dondoc_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.public_base_url.startswith("https://"),
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(intake.router)
    app.include_router(office.router)
    app.include_router(zalo.router)
    _error_pages(app)
    return app


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/office/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        templates = request.app.state.templates
        page = {403: "errors/403.html", 404: "errors/404.html", 429: "errors/429.html"}
        name = page.get(exc.status_code, "errors/error.html")
        return templates.TemplateResponse(  # type: ignore[no-any-return]
            request, name, {"status": exc.status_code}, status_code=exc.status_code
        )

    @app.get("/healthz", include_in_schema=False)
    def _health() -> dict[str, str]:
        return {"status": "ok"}
