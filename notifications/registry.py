"""The channels configured on this installation, by name (an explicit registry)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from dondoc.settings import Settings, SettingsError
from notifications.base import Channel
from notifications.email import EmailChannel

if TYPE_CHECKING:
    from notifications.zalo import ZaloConfig

log = logging.getLogger(__name__)


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"email": EmailChannel(settings)}
    zalo = zalo_channel(settings)
    if zalo is not None:
        channels["zalo"] = zalo
    if settings.alert_urls:
        channels["apprise"] = alert_channel(settings)
    return channels


def alert_channel(settings: Settings) -> Channel:
    """The office's extra alert URLs (DONDOC_ALERT_URLS), checked now: a wrong one stops."""
    from notifications.apprise_alerts import AlertUrlError, AppriseChannel

    try:
        return AppriseChannel(url.get_secret_value() for url in settings.alert_urls)
    except AlertUrlError as exc:
        raise SettingsError(f"invalid settings: DONDOC_ALERT_URLS: {exc}") from exc


def zalo_channel(settings: Settings) -> Channel | None:
    """Zalo only where an Official Account is configured (DONDOC_ZALO_CONFIG and
    DONDOC_ZALO_SECRET_KEY; the tokens are seeded with `dondoc zalo tokens`)."""
    config = zalo_config(settings)
    if config is None:
        return None
    from dondoc.db import get_engine
    from dondoc.zalotokens import DatabaseTokenStore
    from notifications.zalo import ZaloClient
    from notifications.zalochannel import ZaloChannel

    tokens = DatabaseTokenStore(get_engine(), config.app_id)
    return ZaloChannel(ZaloClient(config, tokens), quota=tokens.note_quota)


def zalo_config(settings: Settings) -> ZaloConfig | None:
    if settings.zalo_config is None or settings.zalo_secret_key is None:
        return None
    from notifications.zalo import ZaloConfig

    raw = json.loads(settings.zalo_config.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise SettingsError(f"invalid settings: DONDOC_ZALO_CONFIG: {settings.zalo_config} "
                            "must hold a JSON object")  # fmt: skip
    return ZaloConfig.model_validate(raw | {"secret_key": settings.zalo_secret_key})


def readable_zalo_config(settings: Settings, *, purpose: str) -> ZaloConfig | None:
    """The Zalo config, or None when there is none or it cannot be read (logged, with what is
    done without it): for work that must never fail on it (a submission, the digest). The
    dispatcher reads it with zalo_config and stops, saying why."""
    try:
        return zalo_config(settings)
    except (OSError, ValueError, TypeError, SettingsError) as exc:
        log.warning("Zalo config unreadable (%s): %s", type(exc).__name__, purpose)
        return None
