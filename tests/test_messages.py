from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from dondoc.rules.deadlines import VN_TZ, parse_deadline
from dondoc.rules.status import Status
from notifications.digestmessages import (
    DigestInput,
    DigestUnit,
    ZaloQuota,
    render_digest,
    render_zalo_group_text,
)
from notifications.messages import (
    KIND_LABELS_VI,
    SUBJECT_MAX,
    ZALO_LIMITS,
    AttachedFile,
    Kind,
    MessageContext,
    MessageError,
    Rendered,
    render_email,
    zalo_params,
)

# The seed: CĐCS report "đến hết ngày thứ ba 24/11/2015", plan 95/KH-LĐLĐ of LĐLĐ quận 1.
DUE = parse_deadline("từ nay đến hết ngày thứ ba 24/11/2015").ends_at(VN_TZ)
DEADLINE_TEXT = "23:59 thứ Ba, ngày 24/11/2015"
LINK = "https://dondoc.example.invalid/u/Q1-CD001.s3cr3t"
PHONE = "0900 001 302"
EMAIL = "vanphong.ldld-q1@example.invalid"
OFFICE = "Văn phòng Liên đoàn Lao động quận 1"
BEN_NGHE = "CĐCS Ủy ban nhân dân phường Bến Nghé"
RECEIVED = datetime(2015, 11, 24, 16, 30, tzinfo=VN_TZ)

SEED = MessageContext(
    unit_name=BEN_NGHE,
    unit_code="Q1-CD001",
    requirement_title=(
        "Báo cáo sơ kết nửa nhiệm kỳ thực hiện Nghị quyết Đại hội Công đoàn quận 1 "
        "lần thứ XI của CĐCS"
    ),
    issuing_body="Ban Thường vụ Liên đoàn Lao động quận 1",
    plan_number="95/KH-LĐLĐ",
    plan_title=(
        "Sơ kết nửa nhiệm kỳ thực hiện Nghị quyết Đại hội Công đoàn quận 1 lần thứ XI "
        "nhiệm kỳ 2012-2017"
    ),
    due_at=DUE,
    working_days_left=3,
    link=LINK,
    office_name=OFFICE,
    office_phone=PHONE,
    office_email=EMAIL,
    tz=VN_TZ,
)

# One context per kind, with the values that kind is sent with.
CASES: dict[Kind, MessageContext] = {
    Kind.BEFORE: SEED,
    Kind.DUE_TODAY: replace(SEED, working_days_left=0),
    Kind.OVERDUE: replace(SEED, working_days_left=-2, overdue_count=1),
    Kind.ESCALATION: replace(SEED, working_days_left=-3, overdue_count=2),
    Kind.RECEIPT: replace(
        SEED,
        working_days_left=0,
        version=1,
        receipt_number="BC-1-000042",
        received_at=RECEIVED,
        files=(AttachedFile("bao-cao-so-ket.pdf", 182_000),),
        figures_count=15,
    ),
    Kind.RETURNED: replace(
        SEED,
        working_days_left=1,
        version=1,
        received_at=RECEIVED,
        return_reason="Đề nghị bổ sung số liệu đoàn viên nữ (mục I).",
    ),
}


def _nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_the_seed_values(kind: Kind) -> None:
    message = render_email(kind, CASES[kind])
    lines = message.body.splitlines()
    assert DEADLINE_TEXT in message.body
    assert "95/KH-LĐLĐ" in message.body and "95/KH-LĐLĐ" in message.subject
    # The link stands alone on its line, followed by the note not to forward it.
    assert LINK in lines
    assert "không chuyển tiếp" in lines[lines.index(LINK) + 1]
    # The office's contact closes the message.
    assert lines[-3:] == [OFFICE, f"Điện thoại: {PHONE}", f"Thư điện tử: {EMAIL}"]
    assert "Trân trọng." in lines[-6:]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_is_clean_text(kind: Kind) -> None:
    message = render_email(kind, CASES[kind])
    for text in (message.subject, message.body):
        assert _nfc(text)
        assert not re.search(r"\{\{|\}\}|\{%|%\}|\bNone\b", text)
    assert "\n" not in message.subject and len(message.subject) < 120
    assert message.body.endswith("\n") and "\n\n\n" not in message.body


@pytest.mark.parametrize(
    ("kind", "days", "phrase"),
    [
        (Kind.BEFORE, 3, "còn 3 ngày làm việc"),
        (Kind.BEFORE, 1, "còn 1 ngày làm việc"),
        (Kind.DUE_TODAY, 0, "hôm nay là ngày cuối cùng"),
        (Kind.OVERDUE, -2, "đã quá hạn 2 ngày làm việc"),
        (Kind.ESCALATION, -2, "đã quá hạn 2 ngày làm việc"),
        # A deadline with a time of day ("trước 16 giờ") has passed on its own day.
        (Kind.OVERDUE, 0, "đã hết hạn"),
        (Kind.RETURNED, 2, "còn 2 ngày làm việc"),
        # The first version counts: a corrected report is not "late", its deadline has passed.
        (Kind.RETURNED, -2, "thời hạn đã qua"),
    ],
)
def test_days_left_read_right_at_each_count(kind: Kind, days: int, phrase: str) -> None:
    ctx = replace(CASES[kind], working_days_left=days)
    body = render_email(kind, ctx).body
    assert f"Hạn nộp: {DEADLINE_TEXT} ({phrase})" in body
    assert zalo_params(kind, ctx)["days_left"] == phrase


@pytest.mark.parametrize(
    ("kind", "days", "expected"),
    [
        (Kind.BEFORE, 3, "còn 3 ngày làm việc"),
        (Kind.DUE_TODAY, 0, "(24/11/2015)"),
        (Kind.OVERDUE, -2, "đã quá hạn 2 ngày làm việc"),
        (Kind.ESCALATION, -3, BEN_NGHE),
        (Kind.RECEIPT, 0, "BC-1-000042"),
        (Kind.RETURNED, 1, "lần nộp 1"),
    ],
)
def test_subjects_say_what_the_message_is_about(kind: Kind, days: int, expected: str) -> None:
    subject = render_email(kind, replace(CASES[kind], working_days_left=days)).subject
    assert expected in subject


@pytest.mark.parametrize(
    ("kind", "days"),
    [
        (Kind.BEFORE, 0),
        (Kind.BEFORE, -1),
        (Kind.DUE_TODAY, 1),
        (Kind.DUE_TODAY, -1),
        (Kind.OVERDUE, 1),
        (Kind.ESCALATION, 2),
    ],
)
def test_it_refuses_a_count_that_contradicts_the_kind(kind: Kind, days: int) -> None:
    ctx = replace(CASES[kind], working_days_left=days)
    with pytest.raises(MessageError, match="working days"):
        render_email(kind, ctx)
    with pytest.raises(MessageError, match="working days"):
        zalo_params(kind, ctx)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        (Kind.RECEIPT, "receipt_number"),
        (Kind.RECEIPT, "received_at"),
        (Kind.RECEIPT, "version"),
        (Kind.RETURNED, "return_reason"),
        (Kind.RETURNED, "received_at"),
    ],
)
def test_a_missing_value_fails_loudly(kind: Kind, missing: str) -> None:
    left_out: dict[str, Any] = {missing: None}
    with pytest.raises(MessageError, match=missing):
        render_email(kind, replace(CASES[kind], **left_out))


def test_a_blank_return_reason_is_missing() -> None:
    with pytest.raises(MessageError, match="return_reason"):
        render_email(Kind.RETURNED, replace(CASES[Kind.RETURNED], return_reason="  \n "))


def test_units_are_addressed_through_their_committee() -> None:
    assert render_email(Kind.BEFORE, SEED).body.startswith(f"Kính gửi: Ban Chấp hành {BEN_NGHE}\n")
    department = replace(SEED, unit_name="Ban Tổ chức Liên đoàn Lao động quận 1")
    assert render_email(Kind.BEFORE, department).body.startswith(
        "Kính gửi: Ban Tổ chức Liên đoàn Lao động quận 1\n"
    )


def test_the_escalation_goes_to_the_chair_and_counts_the_reminders() -> None:
    body = render_email(Kind.ESCALATION, CASES[Kind.ESCALATION]).body
    assert body.startswith(f"Kính gửi: Đồng chí Chủ tịch {BEN_NGHE}\n")
    assert "đã quá hạn 3 ngày làm việc" in body
    assert "dù đã 2 lần gửi tin nhắc" in body
    department = replace(CASES[Kind.ESCALATION], unit_name="Ủy ban Kiểm tra LĐLĐ quận 1")
    head = render_email(Kind.ESCALATION, department).body.splitlines()[0]
    assert head == "Kính gửi: Đồng chí phụ trách Ủy ban Kiểm tra LĐLĐ quận 1"


def test_the_receipt_says_everything_the_web_receipt_said() -> None:
    body = render_email(Kind.RECEIPT, CASES[Kind.RECEIPT]).body
    for line in [
        "- Số tiếp nhận: BC-1-000042",
        "- Lần nộp: 1",
        "- Thời điểm nhận: 16:30 thứ Ba, ngày 24/11/2015",
        f"- Hạn nộp: {DEADLINE_TEXT} (nộp đúng hạn)",
        "    + bao-cao-so-ket.pdf (178 KB)",
        "- Số liệu: đã nhận 15 chỉ tiêu",
    ]:
        assert line in body.splitlines()
    assert "mỗi lần nộp được lưu thành một phiên bản mới" in body.lower()
    late = replace(CASES[Kind.RECEIPT], received_at=DUE + timedelta(hours=9))
    assert "(nộp sau hạn)" in render_email(Kind.RECEIPT, late).body


def test_the_return_notice_says_what_to_correct_and_by_when() -> None:
    body = render_email(Kind.RETURNED, CASES[Kind.RETURNED]).body
    assert "Đề nghị bổ sung số liệu đoàn viên nữ (mục I)." in body.splitlines()
    assert "lần nộp 1, nhận lúc 16:30 thứ Ba, ngày 24/11/2015" in body
    assert "gửi lại báo cáo đã chỉnh sửa" in body


def test_a_missing_office_contact_leaves_no_empty_line_behind() -> None:
    body = render_email(Kind.BEFORE, replace(SEED, office_phone=None, office_email=None)).body
    assert body.endswith(f"Trân trọng.\n\n{OFFICE}\n")
    assert "Điện thoại" not in body and "thông tin dưới đây" not in body


def test_decomposed_input_comes_out_composed() -> None:
    nfd = replace(SEED, unit_name=unicodedata.normalize("NFD", BEN_NGHE))
    message = render_email(Kind.BEFORE, nfd)
    assert _nfc(message.body) and f"Ban Chấp hành {BEN_NGHE}" in message.body


def test_a_too_long_subject_is_cut() -> None:
    long_number = replace(SEED, plan_number="95/KH-LĐLĐ" + "-X" * 60, working_days_left=-1)
    subject = render_email(Kind.ESCALATION, long_number).subject
    assert len(subject) <= SUBJECT_MAX and subject.endswith("…")


# --- Zalo template parameters ---

LONG_NAME = "CĐCS Công ty TNHH Một thành viên Quản lý Kinh doanh Nhà Gia Định"


@pytest.mark.parametrize("kind", list(Kind))
def test_zalo_params_fit_their_limits(kind: Kind) -> None:
    params = zalo_params(kind, replace(CASES[kind], unit_name=LONG_NAME))
    assert params["deadline"] == "23:59 24/11/2015"
    assert params["plan_number"] == "95/KH-LĐLĐ"
    assert params["office_phone"] == PHONE and params["link"] == LINK
    for key, value in params.items():
        assert len(value) <= ZALO_LIMITS[key], key
        assert _nfc(value) and "\n" not in value


def test_a_long_unit_name_is_cut_with_an_ellipsis() -> None:
    unit = zalo_params(Kind.BEFORE, replace(SEED, unit_name=LONG_NAME))["unit"]
    assert unit == "CĐCS Công ty TNHH Một thành…"
    assert len(unit) <= 30


@pytest.mark.parametrize(
    ("name", "short", "expected"),
    [
        (BEN_NGHE, "UBND P. Bến Nghé", "UBND P. Bến Nghé"),  # 36 characters: the short name
        ("CĐCS Trường Mầm non Hoa Sen", "MN Hoa Sen", "CĐCS Trường Mầm non Hoa Sen"),
        (LONG_NAME, None, "CĐCS Công ty TNHH Một thành…"),
        (unicodedata.normalize("NFD", BEN_NGHE), None, "CĐCS Ủy ban nhân dân phường…"),
    ],
)
def test_zalo_unit_prefers_the_full_name(name: str, short: str | None, expected: str) -> None:
    ctx = replace(SEED, unit_name=name, unit_short_name=short)
    assert zalo_params(Kind.BEFORE, ctx)["unit"] == expected


def test_zalo_link_and_phone_are_left_out_rather_than_cut() -> None:
    assert "link" not in zalo_params(Kind.BEFORE, SEED, with_link=False)
    too_long = replace(SEED, link=LINK + "x" * 200, office_phone="028 3829 0000 máy lẻ 12")
    params = zalo_params(Kind.BEFORE, too_long)
    assert "link" not in params and "office_phone" not in params
    assert "office_phone" not in zalo_params(Kind.BEFORE, replace(SEED, office_phone=None))


def test_zalo_receipt_params_carry_the_receipt() -> None:
    params = zalo_params(Kind.RECEIPT, CASES[Kind.RECEIPT])
    assert params["receipt_number"] == "BC-1-000042"
    assert params["received_at"] == "16:30 24/11/2015"
    assert "days_left" not in params
    with pytest.raises(MessageError, match="receipt_number"):
        zalo_params(Kind.RECEIPT, replace(CASES[Kind.RECEIPT], receipt_number=None))


# --- The office's digest and the text for its Zalo group ---

NOW = datetime(2015, 11, 25, 17, 0, tzinfo=VN_TZ)
REMINDED = datetime(2015, 11, 25, 8, 0, tzinfo=VN_TZ)
EXTENDED = DUE + timedelta(days=3)  # end of Fri 27/11/2015


def _unit(
    code: str, name: str, status: Status, *, due: datetime = DUE, sent: int = 0, nc: bool = False
) -> DigestUnit:
    return DigestUnit(code, name, status, due, REMINDED if sent else None, sent, nc)


UNITS = [
    _unit("Q1-CD031", "CĐCS Công ty Dịch vụ Công ích Bến Sen", Status.LATE, sent=2),
    _unit("Q1-CD017", "CĐCS Trường Mầm non Hoa Sen", Status.RETURNED, sent=1),
    _unit("Q1-CD005", "CĐCS Ủy ban nhân dân phường Cô Giang", Status.OVERDUE, nc=True),
    _unit("Q1-CD001", BEN_NGHE, Status.OVERDUE, sent=3),
    _unit("Q1-CD002", "CĐCS Ủy ban nhân dân phường Bến Thành", Status.ON_TIME),
    _unit("Q1-CD013", "CĐCS Phòng Giáo dục và Đào tạo quận 1", Status.PENDING, due=EXTENDED),
    _unit("Q1-CD060", "CĐCS Công ty đang giải thể", Status.EXEMPT, nc=True),
]
MISSING = {
    BEN_NGHE,
    "CĐCS Ủy ban nhân dân phường Cô Giang",
    "CĐCS Trường Mầm non Hoa Sen",
    "CĐCS Phòng Giáo dục và Đào tạo quận 1",
}
DIGEST = DigestInput(
    campaign_title=SEED.plan_title,
    plan_number="95/KH-LĐLĐ",
    office_name=OFFICE,
    now=NOW,
    tz=VN_TZ,
    requirement_lines=[
        (
            SEED.requirement_title,
            {
                Status.OVERDUE: 2,
                Status.RETURNED: 1,
                Status.LATE: 1,
                Status.ON_TIME: 1,
                Status.PENDING: 1,
                Status.EXEMPT: 1,
            },
        )
    ],
    units=UNITS,
    sent_today=[
        (BEN_NGHE, KIND_LABELS_VI[Kind.OVERDUE], "email"),
        (BEN_NGHE, KIND_LABELS_VI[Kind.OVERDUE], "zalo"),
        ("CĐCS Trường Mầm non Hoa Sen", KIND_LABELS_VI[Kind.RETURNED], "email"),
    ],
)


def _positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(n) for n in needles]
    assert -1 not in found, dict(zip(needles, found, strict=True))
    return found


def test_the_digest_puts_missing_and_late_units_first() -> None:
    digest = render_digest(DIGEST)
    order = [
        "Quá hạn, chưa nộp (2):",
        f"1. Q1-CD001 – {BEN_NGHE}: hạn {DEADLINE_TEXT}; đã nhắc 3 lần, lần gần nhất "
        "08:00 thứ Tư, ngày 25/11/2015.",
        "2. Q1-CD005 – CĐCS Ủy ban nhân dân phường Cô Giang: hạn",
        "Trả lại, chờ bổ sung (1):",
        "1. Q1-CD017 – CĐCS Trường Mầm non Hoa Sen",
        "Nộp trễ hạn (1):",
        "1. Q1-CD031 – CĐCS Công ty Dịch vụ Công ích Bến Sen",
        "II. SỐ LIỆU THEO TỪNG BÁO CÁO",
        f"{SEED.requirement_title} (tổng số 7 đơn vị):",
        "- Đã nộp đúng hạn: 1",
        "III. TIN NHẮC ĐÃ GỬI HÔM NAY (3)",
        "- Nhắc quá hạn – Thư điện tử: 1",
        "3. CĐCS Trường Mầm non Hoa Sen – Đề nghị bổ sung – Thư điện tử",
        "IV. ĐƠN VỊ CHƯA CÓ THÔNG TIN LIÊN LẠC DÙNG ĐƯỢC (1)",
        "1. Q1-CD005 – CĐCS Ủy ban nhân dân phường Cô Giang (Quá hạn, chưa nộp)",
    ]
    positions = _positions(digest.body, order)
    assert positions == sorted(positions)
    assert "Q1-CD060" not in digest.body  # exempt: neither a problem nor someone to reach
    assert "Q1-CD002" not in digest.body  # on time: only counted


def test_the_digest_names_the_units_still_missing_after_their_chair_was_written_to() -> None:
    assert "Ban Thường vụ" not in render_digest(DIGEST).body  # nobody escalated: no such part
    escalated = datetime(2015, 11, 27, 8, 0, tzinfo=VN_TZ)
    units = [
        replace(u, escalated_at=escalated) if u.code in {"Q1-CD001", "Q1-CD031"} else u
        for u in UNITS
    ]  # Q1-CD031 submitted (late) after its chair was written to: nothing more to report
    body = render_digest(replace(DIGEST, units=units)).body
    order = [
        "Quá hạn, chưa nộp (2):",
        "Nộp trễ hạn (1):",
        "Trong đó, đơn vị chưa nộp dù đã báo lãnh đạo đơn vị, đề nghị báo cáo Ban Thường vụ (1):",
        f"1. Q1-CD001 – {BEN_NGHE}: hạn {DEADLINE_TEXT}; đã báo lãnh đạo đơn vị "
        "08:00 thứ Sáu, ngày 27/11/2015.",
        "II. SỐ LIỆU THEO TỪNG BÁO CÁO",
    ]
    positions = _positions(body, order)
    assert positions == sorted(positions)
    section = body[positions[2] : positions[-1]]
    assert "Q1-CD031" not in section and "Q1-CD005" not in section


def test_the_digest_subject_counts_the_problems() -> None:
    subject = render_digest(DIGEST).subject
    assert subject == (
        "Tình hình nộp báo cáo đến 25/11/2015 – Kế hoạch số 95/KH-LĐLĐ: "
        "2 quá hạn, 1 chờ bổ sung, 1 nộp trễ"
    )
    quiet = render_digest(replace(DIGEST, units=UNITS[4:], sent_today=[]))
    assert quiet.subject.endswith(": không có đơn vị quá hạn")
    assert "Hôm nay chưa gửi tin nhắc nào." in quiet.body


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (2500, "còn 2500/5000 tin, theo Zalo lúc 08:05 thứ Tư, ngày 25/11/2015."),
        (499, "còn 499/5000 tin, theo Zalo lúc 08:05 thứ Tư, ngày 25/11/2015 (sắp hết: tin "
              "nhắn vượt hạn mức sẽ chờ đến 08:00 ngày hôm sau)."),
        (500, "còn 500/5000 tin, theo Zalo lúc 08:05 thứ Tư, ngày 25/11/2015."),
    ],
)  # fmt: skip
def test_the_digest_shows_the_zalo_quota_left_today(remaining: int, expected: str) -> None:
    read = datetime(2015, 11, 25, 8, 5, tzinfo=VN_TZ)  # the digest's day (NOW)
    body = render_digest(replace(DIGEST, zalo_quota=ZaloQuota(remaining, 5000, read))).body
    line = "Hạn mức gửi tin Zalo trong ngày của Official Account: " + expected
    positions = _positions(body, ["III. TIN NHẮC ĐÃ GỬI HÔM NAY", line, "IV. ĐƠN VỊ CHƯA CÓ"])
    assert positions == sorted(positions)
    assert "Hạn mức gửi tin Zalo" not in render_digest(DIGEST).body  # no Zalo, or not read
    assert "\n\n\n" not in body


def test_a_zalo_quota_read_on_an_earlier_day_is_shown_as_that_days_use() -> None:
    read = datetime(2015, 11, 24, 16, 40, tzinfo=VN_TZ)  # the day before, nearly spent
    body = render_digest(replace(DIGEST, zalo_quota=ZaloQuota(12, 5000, read))).body
    assert (
        "Hạn mức gửi tin Zalo trong ngày của Official Account: 5000 tin, cấp lại mỗi ngày; "
        "lần gần nhất Zalo báo còn 12 tin, lúc 16:40 thứ Ba, ngày 24/11/2015."
    ) in body
    assert "sắp hết" not in body  # renewed since: nothing is about to run out


def test_the_digest_is_clean_text() -> None:
    digest = render_digest(DIGEST)
    assert isinstance(digest, Rendered) and len(digest.subject) < 120
    assert _nfc(digest.body) and "{{" not in digest.body and "\n\n\n" not in digest.body


def _listed(text: str) -> list[tuple[int, str]]:
    return [
        (int(m["n"]), m["name"])
        for m in re.finditer(r"^(?P<n>\d+)\. (?P<name>.+?)(?: \(chờ bản bổ sung\))?$", text, re.M)
    ]


def test_the_zalo_group_text_lists_exactly_the_missing_units() -> None:
    text = render_zalo_group_text(DIGEST)
    listed = _listed(text)
    assert {name for _, name in listed} == MISSING
    assert [n for n, _ in listed] == list(range(1, len(MISSING) + 1))
    assert f"Hạn nộp {DEADLINE_TEXT} (đã quá hạn):" in text
    assert "Hạn nộp 23:59 thứ Sáu, ngày 27/11/2015:" in text
    assert "3. CĐCS Trường Mầm non Hoa Sen (chờ bản bổ sung)" in text.splitlines()


def test_the_zalo_group_text_carries_no_link_and_no_personal_data() -> None:
    text = render_zalo_group_text(DIGEST)
    assert _nfc(text) and "{{" not in text
    assert not re.search(r"https?://|@|Q1-CD|\d{3} ?\d{3} ?\d{3}", text)
    assert text.startswith("Kính gửi các đơn vị,") and text.endswith(f"Trân trọng.\n{OFFICE}\n")


def test_the_zalo_group_text_thanks_everyone_when_nothing_is_missing() -> None:
    submitted = {Status.ON_TIME, Status.LATE, Status.EXEMPT}
    done = replace(DIGEST, units=[u for u in UNITS if u.status in submitted])
    text = render_zalo_group_text(done)
    assert _listed(text) == []
    assert "đã nhận đủ báo cáo" in text
