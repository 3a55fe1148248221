"""Document numbers (số, ký hiệu) as Vietnamese offices write them: 78/KH-LĐLĐ, 243/LĐLĐ,
09/2019/NĐ-CP, 79-KL/TW."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Style = Literal["standard", "dispatch", "legal", "party"]

EXPECTED = "expected a number and symbol like 78/KH-LĐLĐ, 243/LĐLĐ or 09/2019/NĐ-CP"

# Type abbreviations of Decree 30/2020 (appendix III), legal texts and Party documents. Only a
# known type turns "78/KH-LĐLĐ" into type + issuer; otherwise "243/LĐLĐ-TC" is a công văn whose
# issuer names the drafting department.
DOC_TYPES: dict[str, str] = {
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "QC": "Quy chế",
    "QyĐ": "Quy định",
    "TC": "Thông cáo",
    "TB": "Thông báo",
    "HD": "Hướng dẫn",
    "CTr": "Chương trình",
    "KH": "Kế hoạch",
    "PA": "Phương án",
    "ĐA": "Đề án",
    "DA": "Dự án",
    "BC": "Báo cáo",
    "BB": "Biên bản",
    "TTr": "Tờ trình",
    "HĐ": "Hợp đồng",
    "CĐ": "Công điện",
    "BGN": "Bản ghi nhớ",
    "BTT": "Bản thỏa thuận",
    "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời",
    "GGT": "Giấy giới thiệu",
    "GNP": "Giấy nghỉ phép",
    "PG": "Phiếu gửi",
    "PC": "Phiếu chuyển",
    "PB": "Phiếu báo",
    "NĐ": "Nghị định",
    "TT": "Thông tư",
    "TTLT": "Thông tư liên tịch",
    "NQLT": "Nghị quyết liên tịch",
    "KL": "Kết luận",
    "CV": "Công văn",
    "SY": "Bản sao y",
    "TS": "Bản trích sao",
    "SL": "Bản sao lục",
}
# Issuer codes that are officially written in mixed case (Thủ tướng Chính phủ).
_MIXED_CASE_ISSUERS = frozenset({"TTg"})
_DIGITS = "0123456789"
_NUMBER = re.compile(r"^(?P<digits>[0-9]+)(?P<suffix>[a-z]?)$")
# Word turns "-" into an en dash or a non-breaking hyphen; offices do not mean anything by it.
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"})
_SPACED_SEPARATOR = re.compile(r"\s*([/-])\s*")
_MIN_YEAR, _MAX_YEAR = 1945, 2100


class DocNumberError(ValueError):
    pass


@dataclass(frozen=True)
class DocNumber:
    number: str
    doc_type: str | None
    issuer: str
    year: int | None
    style: Style

    def __str__(self) -> str:
        symbol = f"{self.doc_type}-{self.issuer}" if self.doc_type else self.issuer
        if self.style == "party":
            return f"{self.number}-{self.doc_type}/{self.issuer}"
        if self.style == "legal":
            return f"{self.number}/{self.year}/{symbol}"
        return f"{self.number}/{symbol}"


def parse_doc_number(text: str) -> DocNumber:
    compact = _compact(text)
    try:
        return _parse(compact)
    except DocNumberError:
        _raise_if_only_case_is_wrong(compact)
        raise


def _compact(text: str) -> str:
    text = unicodedata.normalize("NFC", text).strip().translate(_DASHES)
    compact = _SPACED_SEPARATOR.sub(r"\1", text)
    if not compact or any(c.isspace() for c in compact):
        raise DocNumberError(EXPECTED)
    return compact


def _parse(compact: str) -> DocNumber:
    parts = compact.split("/")
    if len(parts) == 2 and "-" in parts[0]:
        return _party(parts[0], parts[1], compact)
    if len(parts) == 2:
        doc_type, issuer = _symbol(parts[1])
        style: Style = "standard" if doc_type else "dispatch"
        return DocNumber(_number(parts[0], compact), doc_type, issuer, None, style)
    if len(parts) == 3:
        doc_type, issuer = _symbol(parts[2])
        return DocNumber(_number(parts[0], compact), doc_type, issuer, _year(parts[1]), "legal")
    raise DocNumberError(EXPECTED)


def _party(head: str, issuer: str, compact: str) -> DocNumber:
    number, _, doc_type = head.partition("-")
    if not (doc_type in DOC_TYPES or _is_code(doc_type, letters_only=True)):
        raise DocNumberError(f"expected a Party document number like 79-KL/TW, got {compact}")
    return DocNumber(_number(number, compact), doc_type, _issuer(issuer.split("-")), None, "party")


def _symbol(symbol: str) -> tuple[str | None, str]:
    """'KH-LĐLĐ' -> ('KH', 'LĐLĐ'); 'LĐLĐ-TC' (công văn) -> (None, 'LĐLĐ-TC')."""
    segments = symbol.split("-")
    if segments[0] in DOC_TYPES:
        if len(segments) == 1:
            raise DocNumberError(f"expected the issuer after the type, like 78/{segments[0]}-LĐLĐ")
        return segments[0], _issuer(segments[1:])
    return None, _issuer(segments)


def _issuer(segments: list[str]) -> str:
    if not all(_is_code(s) for s in segments):
        raise DocNumberError(EXPECTED)
    return "-".join(segments)


def _is_code(segment: str, *, letters_only: bool = False) -> bool:
    if segment in _MIXED_CASE_ISSUERS and not letters_only:
        return True
    allowed = "" if letters_only else _DIGITS + "."
    return (
        segment[:1].isupper()
        and all(c.isupper() or c in allowed for c in segment)
        and ".." not in segment
        and not segment.endswith(".")
    )


def _number(number: str, compact: str) -> str:
    match = _NUMBER.match(number) or _NUMBER.match(number.lower())
    if not match:
        raise DocNumberError(EXPECTED)
    if int(match["digits"]) == 0:
        raise DocNumberError("expected a number from 01 up, 0 is not a document number")
    canonical = f"{int(match['digits']):02d}{match['suffix']}"
    if canonical == number:
        return number
    fixed = _swap(compact, canonical)
    if number.lower() != number:
        raise DocNumberError(f"write {fixed}: a letter after the number is lower case")
    # Decree 30/2020: numbers below 10 take one leading zero, larger ones none.
    if int(match["digits"]) < 10:
        raise DocNumberError(f"write {fixed}: numbers below 10 take one leading zero")
    raise DocNumberError(f"write {fixed}: numbers from 10 up take no leading zero")


def _swap(compact: str, number: str) -> str:
    """The same text with its leading number replaced, to show what to write instead."""
    return number + compact[len(re.split(r"[/-]", compact, maxsplit=1)[0]) :]


def _year(text: str) -> int:
    if not (len(text) == 4 and all(c in _DIGITS for c in text)):
        raise DocNumberError(f"expected a 4-digit year like 09/2019/NĐ-CP, got {text}")
    year = int(text)
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise DocNumberError(f"expected a year between {_MIN_YEAR} and {_MAX_YEAR}, got {year}")
    return year


def _raise_if_only_case_is_wrong(compact: str) -> None:
    """'78/kh-lđlđ' gets a precise hint instead of the generic message."""
    head, sep, tail = compact.partition("/")
    number, dash, party_type = head.partition("-")
    fixed = number + dash + party_type.upper() + sep + tail.upper()
    if fixed == compact:
        return
    try:
        correct = _parse(fixed)
    except DocNumberError:
        return
    raise DocNumberError(f"the symbol is written in capitals: {correct}")
