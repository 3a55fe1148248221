"""Contact data is personal data (Decree 13/2023): never shown or logged in full."""

from __future__ import annotations


def mask_contact(address: str) -> str:
    """'chutich.q1@example.invalid' -> 'ch***@example.invalid'; '84900001102' -> '84900***102'."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:2]}***@{domain}"
    return f"{address[:5]}***{address[-3:]}"
