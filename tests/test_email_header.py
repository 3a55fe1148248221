"""The Subject header Apprise's email plugin writes through `Utf8Header`: RFC 2047 base64 words
of at most 42 bytes of UTF-8, never splitting a character, that a mail reader decodes back to
the exact subject; lines of at most 78 characters; anything but a plain UTF-8 text is the
standard library's encoding."""

from __future__ import annotations

import base64
import email
import email.policy
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import apprise.plugins.email.base
import pytest
from pydantic import SecretStr

from dondoc.settings import Settings
from models import Delivery
from notifications.email import EmailChannel, Utf8Header, install_hooks
from tests.support.smtp import Inbox, serving

REMINDER = "[01/KH-LĐLĐ] Nhắc nộp Báo cáo sơ kết — hạn 23:59 thứ Ba, ngày 24/11/2015"
LONG = (
    "Kính gửi Ban Chấp hành Công đoàn cơ sở: đề nghị các đồng chí hoàn thành và gửi Báo cáo "
    "sơ kết công tác sáu tháng đầu năm, kèm danh sách đoàn viên được khen thưởng, trước hạn "
    "cuối cùng 23:59 thứ Ba, ngày 24/11/2015; quá hạn, Liên đoàn Lao động quận sẽ tổng hợp "
    "thiếu số liệu của đơn vị và báo cáo Thường trực — trân trọng cảm ơn các đồng chí."
)
# A character whose bytes sit on both sides of byte 42, where the first word must end.
STRADDLING = {
    "2-byte": "a" * 41 + "đ" + "ường",  # bytes 41-42
    "3-byte, one byte before": "a" * 41 + "ế" + "t",  # bytes 41-43
    "3-byte, two bytes before": "ư" * 20 + "ế" + "ộ",  # bytes 40-42
    "4-byte": "a" * 40 + "😀" + "ạ",  # bytes 40-43
}
# Words end and start with spaces: "  " + 38 + "  " is exactly 42 bytes.
SPACES = "  " + "a" * 38 + "    " + "b" * 38 + "  Hạn   chót  "
SUBJECTS = {"reminder": REMINDER, "long": LONG, **STRADDLING, "one character": "ộ",
            "spaces": SPACES}  # fmt: skip

WORD = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/]*={0,2})\?=")
ALPHABET = [
    *"aăâbcdđeêghiklmnoôơpqrstuưvxy",
    *"áàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ",
    *"ĐĂÂÊÔƠƯẮẦỄỘỚỨ",
    *"ABCXYZ0123456789",
    *"     ",
    *"[]/:;,.-—!?()\"'",
    "😀",
]


def flattened(subject: str) -> str:
    message = MIMEText("Kính gửi các đồng chí.", "plain", "utf-8")
    # As Apprise does: a compat32 message takes a Header object (typeshed says only str).
    message["Subject"] = Utf8Header(subject, "utf-8")  # type: ignore[assignment]
    return message.as_string()


def decoded_subject(flat: str) -> str:
    return str(email.message_from_string(flat, policy=email.policy.default)["Subject"])


def decoded_word_by_word(flat: str) -> str:
    """The subject as a reader decoding each word on its own reads it: RFC 2047 §5 says a word
    holds whole characters. (The standard parser joins the bytes of adjacent words first, so
    it alone would not notice a character split between two words.)"""
    text = ""
    for word in " ".join(subject_lines(flat)).removeprefix("Subject:").split():
        match = WORD.fullmatch(word)
        assert match is not None, word
        text += base64.b64decode(match[1]).decode("utf-8")
    return text


def subject_lines(flat: str, linesep: str = "\n") -> list[str]:
    """The physical lines of the Subject header: its first line and its continuations."""
    lines = flat.split(linesep + linesep, 1)[0].split(linesep)
    start = next(n for n, line in enumerate(lines) if line.startswith("Subject:"))
    rest = lines[start + 1 :]
    count = next((n for n, line in enumerate(rest) if not line[:1].isspace()), len(rest))
    return lines[start : start + 1 + count]


def limit_breaches(lines: list[str]) -> list[str]:
    """What in these Subject lines breaks RFC 5322's 78 or RFC 2047's word rules; [] if none."""
    breaches = [f"line of {len(line)}: {line!r}" for line in lines if len(line) > 78]
    for word in " ".join(lines).removeprefix("Subject:").split():
        match = WORD.fullmatch(word)
        if match is None or len(word) > 75:
            breaches.append(f"not a base64 word of at most 75 characters: {word!r}")
            continue
        payload = base64.b64decode(match[1])
        try:  # a word must hold whole characters, at most WORD_BYTES of them
            payload.decode("utf-8")
        except UnicodeDecodeError:
            breaches.append(f"a word splits a character: {word!r}")
        if len(payload) > Utf8Header.WORD_BYTES:
            breaches.append(f"a word of {len(payload)} bytes: {word!r}")
    return breaches


def test_the_table_holds_the_cases_it_claims() -> None:
    assert len(LONG) >= 300 and not LONG.isascii()
    for subject in STRADDLING.values():
        starts = [len(subject[:n].encode()) for n in range(len(subject) + 1)]
        assert Utf8Header.WORD_BYTES not in starts  # no character starts at byte 42
        assert starts[-1] > Utf8Header.WORD_BYTES
    assert SPACES.encode()[: Utf8Header.WORD_BYTES].endswith(b"a  ")


@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_a_vietnamese_subject_arrives_intact(subject: str) -> None:
    flat = flattened(subject)
    assert decoded_subject(flat) == subject
    assert decoded_word_by_word(flat) == subject


@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_subject_lines_fit_in_78_and_words_in_75(subject: str) -> None:
    lines = subject_lines(flattened(subject))
    assert lines[0].startswith("Subject: =?utf-8?b?")
    assert limit_breaches(lines) == []


def test_a_long_subject_is_folded_over_several_lines() -> None:
    lines = subject_lines(flattened(LONG))
    assert len(lines) >= len(LONG.encode()) // Utf8Header.WORD_BYTES


def test_random_subjects_arrive_intact_within_the_limits() -> None:
    rng = random.Random(20151124)
    for _ in range(300):
        subject = "".join(rng.choices(ALPHABET, k=rng.randint(1, 250)))
        flat = flattened(subject)
        assert decoded_subject(flat) == subject, subject
        assert decoded_word_by_word(flat) == subject, subject
        assert limit_breaches(subject_lines(flat)) == [], subject


def test_the_email_plugin_builds_its_subject_with_utf8header() -> None:
    assert install_hooks()
    assert vars(apprise.plugins.email.base)["Header"] is Utf8Header


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_an_ascii_subject_is_encoded_as_the_standard_library_does(linesep: str) -> None:
    subject = "[01/KH-LDLD] Nhac nop Bao cao so ket, han 23:59 thu Ba, ngay 24/11/2015 " * 3
    ours = Utf8Header(subject, None).encode(linesep=linesep)
    assert ours == Header(subject, None).encode(linesep=linesep)
    assert "=?" not in ours  # plain text, folded: no encoded word


def test_another_charset_is_encoded_as_the_standard_library_does() -> None:
    subject = "Réunion du comité à Paris: café, crème brûlée et pâtisserie " * 3
    ours = Utf8Header(subject, "iso-8859-1").encode()
    assert ours == Header(subject, "iso-8859-1").encode()
    assert "=?iso-8859-1?" in ours


def test_more_constructor_arguments_are_encoded_as_the_standard_library_does() -> None:
    ours = Utf8Header(LONG, "utf-8", 40, "Subject").encode()
    assert ours == Header(LONG, "utf-8", 40, "Subject").encode()


def test_a_lone_surrogate_fails_as_in_the_standard_library() -> None:
    subject = "Nhắc nộp abc\udcff"
    with pytest.raises(UnicodeEncodeError) as standard:
        Header(subject, "utf-8").encode()
    with pytest.raises(UnicodeEncodeError) as ours:
        Utf8Header(subject, "utf-8").encode()
    assert str(ours.value) == str(standard.value)


# --- end to end: Apprise to a real SMTP server on loopback -----------------------------------


@dataclass
class RawInbox(Inbox):
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.raw.append(envelope.content)
        return await super().handle_DATA(server, session, envelope)


def test_a_long_vietnamese_subject_arrives_intact_through_smtp(tmp_path: Path) -> None:
    subject = LONG[:230]
    assert len(subject) > 200
    now = datetime(2025, 11, 20, 2, 0, tzinfo=UTC)
    row = Delivery(
        campaign_id=1,
        step_key="due",
        kind="due_today",
        channel="email",
        recipient="cdcs@example.invalid",
        subject=subject,
        body="Trân trọng.",
        not_before=now,
        created_at=now,
    )
    inbox = RawInbox()
    with serving(inbox) as port:
        url = SecretStr(f"mailto://127.0.0.1:{port}")
        settings = Settings(smtp_url=url, mail_from="vanphong@example.invalid", var_dir=tmp_path)
        EmailChannel(settings).send(row, now=now)
    assert [str(m["Subject"]) for m in inbox.messages] == [subject]
    lines = subject_lines(inbox.raw[0].decode("ascii"), "\r\n")
    assert limit_breaches(lines) == []
    # Written by Utf8Header, not the standard encoder: the hook is in use.
    assert "\r\n".join(lines) == "Subject: " + Utf8Header(subject, "utf-8").encode(linesep="\r\n")
