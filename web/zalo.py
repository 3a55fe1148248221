"""Zalo's delivery webhook (POST /zalo/webhook): Zalo tells which template messages reached a
phone, which settles the rows whose outcome was unknown (dondoc.reconcile). Signed by Zalo
(X-ZEvent-Signature); anything else is refused with 403 and changes nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from dondoc.db import get_engine
from dondoc.reconcile import WebhookError, accept_delivery_event
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
    except WebhookError as exc:
        log.warning("zalo webhook refused: %s", exc)
        return Response(status_code=403)
    # Zalo wants a quick 200 (it retries otherwise); the state is for our own logs and tests.
    return JSONResponse({"ok": True, "state": state})
