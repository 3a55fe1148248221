"""The channels configured on this installation, by name (an explicit registry)."""

from __future__ import annotations

from dondoc.settings import Settings
from notifications.base import Channel
from notifications.email import EmailChannel


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"email": EmailChannel(settings)}
    zalo = zalo_channel(settings)
    if zalo is not None:
        channels["zalo"] = zalo
    return channels


def zalo_channel(settings: Settings) -> Channel | None:
    """Zalo only where an Official Account is configured (DONDOC_ZALO_*)."""
    return None
