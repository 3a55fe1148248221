"""Artifact keys shared by the flows."""

from __future__ import annotations

import re


def artifact_key(*parts: str) -> str:
    """Prefect accepts lowercase letters, digits and dashes only."""
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)
