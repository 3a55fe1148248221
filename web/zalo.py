"""Zalo's delivery webhook (POST /zalo/webhook): Zalo tells which template messages reached a
phone, which settles the rows whose outcome was unknown (dondoc.reconcile). Signed by Zalo
(X-ZEvent-Signature); anything else changes nothing, yet is answered 200 (see `webhook`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from dondoc.db import get_engine
from dondoc.reconcile import WebhookError, WebhookNotConfiguredError, accept_delivery_event
from dondoc.settings import get_settings
from web.deps import Now

log = logging.getLogger(__name__)
router = APIRouter()
MAX_EVENT_BYTES = 64 * 1024  # a delivery event is a few hundred bytes


@router.post("/zalo/webhook")
async def webhook(request: Request, now: Now) -> Response:
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return Response(status_code=413)
    mac = request.headers.get("x-zevent-signature", "")
    try:
        state = await run_in_threadpool(
            accept_delivery_event, get_engine(), body, mac, settings=get_settings(), now=now
        )
    except WebhookNotConfiguredError as exc:
        # Said plainly so that registering the URL fails until the secret is set.
        log.warning("zalo webhook unavailable: %s", exc)
        return Response(status_code=503)
    except WebhookError as exc:
        # Zalo's check when the office registers the URL is a POST that has to get a 200, and a
        # webhook answering anything else is retried for hours, then switched off. So an event
        # we cannot verify is ignored, not refused: it settles nothing, and an unknown message
        # is still settled by Zalo's status endpoint (dondoc.reconcile.reconcile_unknown).
        # A wrong OA secret shows up here, in the log, for every event.
        log.warning("zalo webhook event ignored: %s", exc)
        return JSONResponse({"ok": False, "state": "ignored"})
    # Zalo wants a quick 200 (it retries otherwise); the state is for our own logs and tests.
    return JSONResponse({"ok": True, "state": state})
