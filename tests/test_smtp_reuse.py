"""SMTP connections kept open between messages (notifications.smtpconn), on a real SMTP server
on loopback: one connection for consecutive messages, each still its own transaction with its
own recipient; a connection the server dropped while idle replaced without losing or doubling a
message; the limits on idle time and age; nothing kept once a dispatch run ends."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.dispatch import dispatch
from dondoc.outbox import NewDelivery, Outcome, enqueue
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import Settings
from models import Delivery
from notifications import smtpconn
from notifications.base import ChannelError
from notifications.email import EmailChannel
from tests.support.files import SEED, copy_examples
from tests.support.smtp import Inbox, serving

NOW = datetime(2015, 11, 20, 1, 30, tzinfo=UTC)
SENDER = "vanphong@ldld.example.invalid"
SUBJECT = "[01/KH-LĐLĐ] Nhắc nộp Báo cáo sơ kết — hạn 23:59 thứ Ba, ngày 24/11/2015"


@dataclass
class CountingInbox(Inbox):
    """Counts connections (by the client's address and port), greetings and goodbyes;
    `hang_up_after` drops the connection right after answering that many messages on it,
    `busy_after` answers MAIL with 421 from then on (a server closing an idle session)."""

    peers: Counter[Any] = field(default_factory=Counter)
    quits: int = 0
    open_now: int = 0
    hang_up_after: int | None = None
    busy_after: int | None = None

    async def handle_EHLO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peers[session.peer] += 0
        session.host_name = hostname
        return responses

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.busy_after is not None and self.peers[session.peer] >= self.busy_after:
            return "421 closing this idle session"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await super().handle_DATA(server, session, envelope)
        self.peers[session.peer] += 1
        if self.hang_up_after is not None and self.peers[session.peer] >= self.hang_up_after:
            server.loop.call_soon(server.transport.close)  # after the answer has gone
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.quits += 1
        return "221 Bye"

    @property
    def connections(self) -> int:
        return len(self.peers)


def channel(port: int, tmp_path: Path, url: str = "") -> EmailChannel:
    smtp = SecretStr(url or f"mailto://127.0.0.1:{port}")
    return EmailChannel(Settings(smtp_url=smtp, mail_from=SENDER, var_dir=tmp_path))


def row(to: str) -> Delivery:
    return Delivery(campaign_id=1, step_key="due", kind="due_today", channel="email",
                    recipient=to, subject=SUBJECT, body="Kính gửi: CĐCS", not_before=NOW,
                    created_at=NOW)  # fmt: skip


def send_to(email: EmailChannel, *addresses: str) -> None:
    for address in addresses:
        email.send(row(address), now=NOW)


ADDRESSES = [f"cdcs{n}@example.invalid" for n in range(5)]


def test_consecutive_messages_share_one_connection_each_its_own_recipient(
    tmp_path: Path,
) -> None:
    inbox = CountingInbox()
    with serving(inbox) as port:
        send_to(channel(port, tmp_path), *ADDRESSES)
        assert inbox.connections == 1 and inbox.quits == 0  # kept open for the next one
        assert smtpconn.POOL.close_all() == 1
    assert inbox.envelopes == [(SENDER, [to]) for to in ADDRESSES]
    assert inbox.quits == 1


def test_a_connection_the_server_dropped_while_idle_is_replaced_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    inbox = CountingInbox(hang_up_after=2)  # the server hangs up after two messages
    with serving(inbox) as port:
        send_to(channel(port, tmp_path), *ADDRESSES)
    assert [rcpts for _, rcpts in inbox.envelopes] == [[to] for to in ADDRESSES]
    assert inbox.connections == 3  # 2 + 2 + 1 messages


def test_a_421_to_the_next_message_opens_a_new_connection_and_sends_it_once(
    tmp_path: Path,
) -> None:
    inbox = CountingInbox(busy_after=1)  # one message per connection, then 421 at MAIL
    with serving(inbox) as port:
        send_to(channel(port, tmp_path), *ADDRESSES[:3])
    assert [rcpts for _, rcpts in inbox.envelopes] == [[to] for to in ADDRESSES[:3]]
    assert inbox.connections == 3


@dataclass
class SilentInbox(CountingInbox):
    """Keeps the second message on a connection and hangs up without answering it."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if self.peers[session.peer] == 2:
            server.transport.close()
        return answer


def test_a_message_unanswered_on_a_kept_connection_is_unknown_and_not_sent_again(
    tmp_path: Path,
) -> None:
    inbox = SilentInbox()
    with serving(inbox) as port:
        email = channel(port, tmp_path)
        send_to(email, ADDRESSES[0])
        with pytest.raises(ChannelError) as failed:
            send_to(email, ADDRESSES[1])
    assert failed.value.outcome is Outcome.UNKNOWN  # it may have arrived: a person decides
    assert [rcpts for _, rcpts in inbox.envelopes] == [[ADDRESSES[0]], [ADDRESSES[1]]]
    assert inbox.connections == 1  # the same connection, and no second try on a new one


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Ticking:
    """The pool's clock, moved by hand."""
    ticking = Ticking()
    monkeypatch.setattr(smtpconn.POOL, "clock", ticking)
    return ticking


def test_a_connection_idle_too_long_is_closed_and_a_new_one_opened(
    tmp_path: Path, clock: Ticking
) -> None:
    inbox = CountingInbox()
    with serving(inbox) as port:
        email = channel(port, tmp_path)
        send_to(email, ADDRESSES[0])
        clock.now += smtpconn.IDLE_S
        send_to(email, ADDRESSES[1])  # reused: idle for exactly the limit
        clock.now += smtpconn.IDLE_S + 0.1
        send_to(email, ADDRESSES[2])
        assert inbox.connections == 2 and inbox.quits == 1  # the old one said goodbye
    assert [rcpts for _, rcpts in inbox.envelopes] == [[to] for to in ADDRESSES[:3]]


def test_a_connection_in_use_for_its_whole_lifetime_is_replaced(
    tmp_path: Path, clock: Ticking
) -> None:
    inbox = CountingInbox()
    step = smtpconn.IDLE_S - 1  # never idle too long: only its age can retire it
    sends = int(smtpconn.LIFETIME_S // step) + 2
    with serving(inbox) as port:
        email = channel(port, tmp_path)
        for n in range(sends):
            send_to(email, f"cdcs{n}@example.invalid")
            clock.now += step
        assert inbox.connections == 2 and inbox.quits == 1
    assert len(inbox.envelopes) == sends


def test_each_server_gets_its_own_connection(tmp_path: Path) -> None:
    first, second = CountingInbox(), CountingInbox()
    with serving(first) as one, serving(second) as two:
        send_to(channel(one, tmp_path), ADDRESSES[0])
        send_to(channel(two, tmp_path), ADDRESSES[1])
        send_to(channel(one, tmp_path), ADDRESSES[2])
    assert first.connections == 1 and second.connections == 1
    assert [rcpts for _, rcpts in first.envelopes] == [[ADDRESSES[0]], [ADDRESSES[2]]]


def test_two_threads_sending_at_once_never_share_a_connection(tmp_path: Path) -> None:
    inbox = CountingInbox()
    addresses = [f"cdcs{n}@example.invalid" for n in range(40)]
    with serving(inbox) as port:
        email = channel(port, tmp_path)
        threads = [threading.Thread(target=send_to, args=(email, *addresses[k::2]))
                   for k in range(2)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(r for _, rcpts in inbox.envelopes for r in rcpts) == sorted(addresses)
    assert 1 <= inbox.connections <= 2


def test_a_forked_child_neither_uses_nor_closes_its_parents_connections(
    tmp_path: Path,
) -> None:
    inbox = CountingInbox()
    with serving(inbox) as port:
        email = channel(port, tmp_path)
        send_to(email, ADDRESSES[0])
        child = os.fork()
        if child == 0:  # the child: nothing of its parent's to close (no QUIT on it)
            os._exit(0 if smtpconn.POOL.close_all() == 0 else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        send_to(email, ADDRESSES[1])  # the parent's connection is still open and its own
        assert inbox.connections == 1 and inbox.quits == 0


@dataclass
class LoginInbox(CountingInbox):
    logins: list[str] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:  # aiosmtpd's authenticator
        ok = isinstance(data, LoginPassword) and data.password in (b"mat-khau-1", b"mat-khau-2")
        if ok:
            self.logins.append(data.password.decode())
        return AuthResult(success=ok)


def test_each_login_gets_its_own_connection_and_logs_in_once(tmp_path: Path) -> None:
    inbox = LoginInbox()
    with serving(inbox, authenticator=inbox, auth_require_tls=False) as port:
        urls = [f"mailto://vanphong:mat-khau-{n}@127.0.0.1:{port}" for n in (1, 2, 1, 2, 1)]
        for n, url in enumerate(urls):
            send_to(channel(port, tmp_path, url), ADDRESSES[n])
    assert sorted(inbox.logins) == ["mat-khau-1", "mat-khau-2"]  # one login per connection
    assert inbox.connections == 2 and len(inbox.envelopes) == len(urls)


def test_a_dispatch_run_leaves_no_connection_open(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        load_plan(session, copy_examples(tmp_path) / SEED, now=NOW, actor="test", tz=VN_TZ)
        enqueue(session, [NewDelivery(campaign_id=1, assignment_id=None, step_key=f"office-{n}",
                                      deadline_version=0, kind="alert", channel="email",
                                      recipient=to, not_before=NOW, subject=SUBJECT,
                                      body="Kính gửi")
                          for n, to in enumerate(ADDRESSES)], now=NOW)  # fmt: skip
        session.commit()
    inbox = CountingInbox()
    with serving(inbox) as port:
        summary = dispatch(engine, {"email": channel(port, tmp_path)}, now=NOW, worker="w1")
        assert summary == Counter({"sent": len(ADDRESSES)})
        assert inbox.connections == 1 and inbox.quits == 1
    assert smtpconn.POOL.close_all() == 0
