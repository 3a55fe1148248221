"""Email: one recipient per message, through Apprise when an SMTP URL is configured, else into
a local sink (var/mail/*.eml) so that nothing leaves the machine by default.

Apprise traps avoided (../shared/reference/zalo-apprise.md): never `retry=` (it resends to
recipients that already succeeded) and a fresh Apprise object per message (a reused one waits
~5.5 s between sends)."""

from __future__ import annotations

import email.utils
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from urllib.parse import urlencode

from dondoc.settings import Settings
from models import Delivery


class EmailError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str  # plain text, Vietnamese


def send_email(message: Email, settings: Settings) -> str:
    """Deliver one message; return where it went ('smtp' or the sink file's path)."""
    if settings.smtp_url is None:
        return str(_to_sink(message, settings))
    _to_smtp(message, settings, settings.smtp_url.get_secret_value())
    return "smtp"


def _to_smtp(message: Email, settings: Settings, url: str) -> None:
    import apprise

    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}{urlencode({'to': message.to, 'from': settings.mail_from})}"
    sender = apprise.Apprise()
    if not sender.add(target):
        raise EmailError("the SMTP URL is not valid for Apprise", permanent=True)
    # Our body is plain text: said so, Apprise keeps its line breaks (the html part gets <br>);
    # unsaid, it reads the text as HTML and the plain part loses every line break.
    if not sender.notify(
        title=message.subject, body=message.body, body_format=apprise.NotifyFormat.TEXT
    ):
        raise EmailError(f"SMTP refused or failed for {mask(message.to)}", permanent=False)


def _to_sink(message: Email, settings: Settings) -> Path:
    sink = settings.var_dir / "mail"
    sink.mkdir(parents=True, exist_ok=True)
    mime = MimeMessage()
    mime["From"], mime["To"], mime["Subject"] = settings.mail_from, message.to, message.subject
    mime["Date"] = email.utils.formatdate(localtime=False)
    mime.set_content(message.body)
    fd, name = tempfile.mkstemp(prefix=".mail-", suffix=".eml", dir=sink)
    with os.fdopen(fd, "wb") as out:
        out.write(mime.as_bytes())
    final = Path(name).with_name(Path(name).name.lstrip("."))
    Path(name).replace(final)
    return final


class EmailChannel:
    """The outbox's email channel: one message per row (one recipient)."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        from dondoc.outbox import Outcome
        from notifications.base import ChannelError

        message = Email(delivery.recipient, delivery.subject or "", delivery.body or "")
        try:
            return send_email(message, self.settings)
        except EmailError as exc:
            outcome = Outcome.PERMANENT if exc.permanent else Outcome.TRANSIENT
            raise ChannelError(outcome, str(exc)) from exc
        except OSError as exc:  # the SMTP server could not be reached: nothing was sent
            raise ChannelError(Outcome.TRANSIENT, f"SMTP unreachable: {exc}") from exc


def mask(address: str) -> str:
    """'chutich.q1@example.invalid' -> 'ch***@example.invalid' for logs (personal data)."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"
