"""The office dashboard (/office/…): login required on every page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
