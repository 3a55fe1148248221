"""Field types shared by plan files and unit lists; each parses the way offices write."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from dondoc.rules.deadlines import Deadline, parse_deadline, parse_local_date
from dondoc.rules.docnumber import parse_doc_number

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
_PHONE_JUNK = re.compile(r"[\s.\-()]")
# Vietnamese mobile numbers: 0 + 9 digits with a 3/5/7/8/9 prefix, or the same after +84.
# The leading 0 may be missing: spreadsheets store phone numbers as numbers and drop it.
_MOBILE = re.compile(r"^(?:\+?84|0)?([35789]\d{8})$")


def _date_text(value: Any) -> Any:
    # YAML turns 2015-11-24 into a date object; offices write 24/11/2015 (a string).
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return value


def _to_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a date like 24/11/2015")
    return parse_local_date(value)


def _to_deadline(value: Any) -> Deadline:
    value = _date_text(value)
    if not isinstance(value, str):
        raise ValueError("expected a deadline like 'đến hết ngày 24/11/2015'")
    return parse_deadline(value)


def _doc_number(value: str) -> str:
    return str(parse_doc_number(value))


def normalize_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value.lower()


def normalize_phone(value: str) -> str:
    """'0912 345 678' / '+84 912.345.678' -> '84912345678'."""
    compact = _PHONE_JUNK.sub("", str(value))
    match = _MOBILE.match(compact)
    if not match:
        raise ValueError(f"{value!r} is not a Vietnamese mobile number (e.g. 0912 345 678)")
    return "84" + match.group(1)


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_nfc), StringConstraints(min_length=1, max_length=2000)]


# Bounded texts: the same limits as the database columns, so that a long value is refused
# with its file and line instead of failing on PostgreSQL at write time.
def _at_most(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters (this one has {len(value)})")
        return value

    return check


Text32 = Annotated[
    str, BeforeValidator(_nfc), StringConstraints(min_length=1), AfterValidator(_at_most(32))
]
Text120 = Annotated[
    str, BeforeValidator(_nfc), StringConstraints(min_length=1), AfterValidator(_at_most(120))
]
Text255 = Annotated[
    str, BeforeValidator(_nfc), StringConstraints(min_length=1), AfterValidator(_at_most(255))
]
Code = Annotated[
    str,
    BeforeValidator(_nfc),
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"),
]
LocalDate = Annotated[date, BeforeValidator(_to_date)]
DeadlineText = Annotated[Deadline, BeforeValidator(_to_deadline)]
DocNumberText = Annotated[str, BeforeValidator(_nfc), AfterValidator(_doc_number)]
Email = Annotated[
    str, BeforeValidator(_nfc), AfterValidator(_at_most(254)), AfterValidator(normalize_email)
]
Phone = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
    AfterValidator(normalize_phone),
]
