"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.server import free_port


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @staticmethod
    def text(message: EmailMessage) -> str:
        """The plain-text body (Apprise sends text and HTML alternatives)."""
        part = message.get_body(preferencelist=("plain",))
        return str(part.get_content()).replace("\r\n", "\n") if part is not None else ""

    def to(self, address: str) -> list[EmailMessage]:
        return [
            m
            for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=True)
            if address in rcpts
        ]


@contextmanager
def serving(handler: Any, **options: Any) -> Iterator[int]:
    """aiosmtpd with `handler` on a free loopback port; `ssl_context=` for SMTPS,
    `tls_context=` for STARTTLS, `authenticator=` for AUTH…"""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with serving(inbox) as port:
        yield inbox, port


@contextmanager
def smtp_for_dondoc(monkeypatch: Any) -> Iterator[Inbox]:
    """A server, with dondoc's settings sending to it (DONDOC_SMTP_URL) and a fixed secret."""
    from dondoc.settings import get_settings

    with smtp_server() as (inbox, port):
        monkeypatch.setenv("DONDOC_SMTP_URL", f"mailto://127.0.0.1:{port}")
        monkeypatch.setenv("DONDOC_SECRET_KEY", "test-secret")
        get_settings.cache_clear()
        yield inbox
