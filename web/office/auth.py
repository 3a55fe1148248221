"""Logging in and out of the office pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from dondoc.accounts import authenticate
from web.deps import DB, SESSION_USER, LoginRequiredError, Now, current_user
from web.office.common import Csrf, done, flash, render
from web.security import RateLimiter

router = APIRouter()
HOME = "/office"


def safe_next(url: str | None) -> str:
    """Only a path of the office pages: never another site ('//evil', '/\\evil', 'https:')."""
    if not url or any(c == "\\" or not c.isprintable() for c in url):
        return HOME
    if url != HOME and not url.startswith(HOME + "/"):
        return HOME
    return url


def _limiter(request: Request) -> RateLimiter:
    # Per application: ten attempts at once, then one every ten seconds per client.
    state = request.app.state
    if not hasattr(state, "office_login_limiter"):
        state.office_login_limiter = RateLimiter(rate=0.1, burst=10)
    limiter: RateLimiter = state.office_login_limiter
    return limiter


def _logged_in(request: Request, session: DB) -> bool:
    try:
        current_user(request, session)
    except LoginRequiredError:
        return False
    return True


@router.get("/login")
def login_page(
    request: Request,
    session: DB,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    if _logged_in(request, session):
        return RedirectResponse(safe_next(next_url), status_code=303)
    return render(request, "office/login.html", {"next": safe_next(next_url)})


@router.post("/login")
def login(
    request: Request,
    session: DB,
    now: Now,
    _: Csrf,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_url: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    client = request.client.host if request.client else "unknown"
    if not _limiter(request).allow(client):
        raise HTTPException(status_code=429)
    user = authenticate(session, username.strip(), password, now)
    if user is None:
        context = {
            "next": safe_next(next_url),
            "username": username,
            "error": "Tên đăng nhập hoặc mật khẩu không đúng.",
        }
        return render(request, "office/login.html", context, status_code=400)
    request.session.clear()  # a new session on login: nothing carried over from before
    request.session[SESSION_USER] = user.id
    return done(request, session, safe_next(next_url))


@router.post("/logout")
def logout(request: Request, _: Csrf) -> Response:
    request.session.clear()
    flash(request, "Đã đăng xuất.")
    return RedirectResponse(f"{HOME}/login", status_code=303)
