"""What a Zalo template message carries, checked before it leaves: the phone (84 + 9 digits,
masked in logs), the tracking id (letters and digits, at most 48) and the template's values
(NFC, measured in code points; parameters a template lists in `shorten` are cut at a word
boundary with "…", any other value over its limit is refused: a cut date, code or link would
mislead)."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dondoc.plans.fields import normalize_phone
from notifications.zaloerrors import ZaloError


class ZaloTemplate(BaseModel):
    """An approved template: its id, each parameter's registered maximum length, and the
    parameters (names) that may be shortened with "…" instead of refused."""

    model_config = ConfigDict(frozen=True)

    template_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9]+$")
    params: dict[str, int] = Field(min_length=1)
    shorten: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _consistent(self) -> ZaloTemplate:
        if unknown := self.shorten - self.params.keys():
            raise ValueError(f"shorten names unknown parameters: {sorted(unknown)}")
        if any(limit < 2 for limit in self.params.values()):
            raise ValueError("every parameter's maximum length must be at least 2")
        return self


def mask_phone(phone: str) -> str:
    """'84912345678' -> '84912***678' for logs and errors (personal data)."""
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:5]}***{digits[-3:]}" if len(digits) >= 9 else "***"


def normalise_phone(phone: str) -> str:
    """'0912 345 678' / '+84 912.345.678' -> '84912345678'."""
    with contextlib.suppress(ValueError):  # its message holds the whole number: not kept
        return normalize_phone(phone)
    message = f"{mask_phone(phone)} is not a Vietnamese mobile number"
    raise ZaloError("bad-phone", message, "permanent", fallback_to_email=True)


TRACKING = re.compile(r"^[A-Za-z0-9]{1,48}$")


def tracking_id(delivery_id: int, attempt: int | None = None) -> str:
    """'dondoc17' (or 'dondoc17a2'): letters and digits, at most 48, echoed by the webhook."""
    if delivery_id < 1 or (attempt is not None and attempt < 1):
        raise ValueError("delivery id and attempt are positive")
    value = f"dondoc{delivery_id}" + (f"a{attempt}" if attempt is not None else "")
    if not TRACKING.match(value):
        raise ValueError("tracking id longer than 48 characters")
    return value


def delivery_of(tracking: str) -> int | None:
    """The outbox row a tracking id names ('dondoc17', 'dondoc17a2' -> 17), or None."""
    match = _OURS.match(tracking)
    return int(match["id"]) if match else None


_OURS = re.compile(r"^dondoc(?P<id>[1-9][0-9]*)(a[1-9][0-9]*)?$")


def template_data(template: ZaloTemplate, values: Mapping[str, object]) -> dict[str, str]:
    """The template's parameters as NFC strings within their limits, or a permanent error."""
    missing, extra = template.params.keys() - values.keys(), values.keys() - template.params.keys()
    if missing or extra:
        raise bad_data(
            f"template {template.template_id}: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    return {name: _fit(template, name, values[name]) for name in template.params}


def _fit(template: ZaloTemplate, name: str, value: object) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise bad_data(f"parameter {name} must be text, not {type(value).__name__}")
    text = " ".join(unicodedata.normalize("NFC", str(value)).split())
    limit = template.params[name]
    if not text:
        raise bad_data(f"parameter {name} is empty")
    if len(text) <= limit:
        return text
    if name not in template.shorten:
        raise bad_data(f"parameter {name} has {len(text)} characters (at most {limit})")
    return shorten(text, limit)


def shorten(text: str, limit: int) -> str:
    """Cut to `limit` characters, "…" included, at a word boundary when one is near."""
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


def bad_data(message: str) -> ZaloError:
    return ZaloError("bad-data", message, "permanent", alert_office=True)
