"""The units' pages behind their secret links (/u/{token})."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
