"""The office dashboard (/office/…): login required on every page."""

from __future__ import annotations

from fastapi import APIRouter

from web.office import (
    actions,
    auth,
    campaigns,
    consolidations,
    deliveries,
    exports,
    recording,
    reminders,
    units,
)

router = APIRouter()
for module in (
    auth,
    campaigns,
    units,
    recording,
    actions,
    exports,
    consolidations,
    reminders,
    deliveries,
):
    router.include_router(module.router, prefix="/office")
