"""Email: one recipient per message, through Apprise when an SMTP URL is configured, else into
a local sink (var/mail/*.eml) so that nothing leaves the machine by default.

Apprise traps avoided (../shared/reference/zalo-apprise.md): never `retry=` (it resends to
recipients that already succeeded) and a fresh Apprise object per message (a reused one waits
~5.5 s between sends).

Per message cost: the SMTP URL is parsed once per process (settings are fixed), Apprise's
email plugin gets a TLS context without re-reading the CA bundle (see `_AppriseSsl`), and its
SMTP connection is kept open for the next message (notifications.smtpconn)."""

from __future__ import annotations

import base64
import email.utils
import functools
import os
import re
import smtplib
import ssl
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

from dondoc.settings import Settings
from models import Delivery
from notifications.smtpconn import (
    POOL,
    DeferredContext,
    PooledSMTP,
    PooledSMTPSSL,
    reset_trace,
    unanswered,
)


class EmailError(Exception):
    """`unknown`: the message went to the server and no answer came back; it may have it."""

    def __init__(self, message: str, *, permanent: bool, unknown: bool = False) -> None:
        super().__init__(message)
        self.permanent, self.unknown = permanent, unknown


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str  # plain text, Vietnamese


def send_email(message: Email, settings: Settings) -> str:
    """Deliver one message; return where it went ('smtp' or the sink file's path)."""
    if settings.smtp_url is None:
        return str(_to_sink(message, settings))
    _smtp_service(settings.smtp_url.get_secret_value(), settings.mail_from).send(message)
    return "smtp"


@functools.lru_cache(maxsize=4)
def _smtp_service(url: str, mail_from: str) -> _SmtpService:
    return _SmtpService(url, mail_from)


class _SmtpService:
    """The SMTP URL parsed once; per message a fresh Apprise and plugin object built from the
    parsed arguments, with exactly one recipient."""

    def __init__(self, url: str, mail_from: str) -> None:
        import apprise
        from apprise.plugins import url_to_dict as untyped

        install_hooks()
        url_to_dict: Callable[[str], dict[str, Any] | None] = untyped  # the parsing add() does
        sep = "&" if "?" in url else "?"
        query = {"from": mail_from}
        if "format" not in parse_qs(urlsplit(url).query):
            # Our messages are plain text: one text/plain part, as a person would write it.
            # Apprise's default adds an HTML copy (the same text with <br>): nothing more for
            # the reader, ~1.3 ms more per message. `format=html` in the URL keeps it.
            query["format"] = "text"
        self.asset = apprise.AppriseAsset()
        parsed = url_to_dict(f"{url}{sep}{urlencode(query)}")
        if parsed is None:
            raise EmailError("the SMTP URL is not valid for Apprise", permanent=True)
        # The outbox decides retries: Apprise's own (`retry=`) would resend to recipients that
        # already got the message, and `optional=` would turn a failure into a success.
        self.arguments: dict[str, Any] = parsed | {"retry": 0, "optional": False}

    def send(self, message: Email) -> None:
        import apprise
        from apprise.utils.parse import is_email as untyped

        is_email: Callable[[str], object] = untyped  # Apprise's own test of a target
        if not is_email(message.to):
            # Apprise would drop the target and report a failure, which reads as transient
            # (retried five times): this address will never work, a person must correct it.
            raise EmailError(f"not an email address: {mask(message.to)}", permanent=True)
        # One recipient, whatever targets the URL names: each outcome is recorded per row.
        plugin = apprise.Apprise.instantiate(self.arguments | {"targets": [message.to]}, self.asset)
        sender = apprise.Apprise(asset=self.asset)
        if plugin is None or not sender.add(plugin):
            raise EmailError("the SMTP URL is not valid for Apprise", permanent=True)
        # Our body is plain text: said so, Apprise keeps its line breaks (the html part gets <br>);
        # unsaid, it reads the text as HTML and the plain part loses every line break.
        reset_trace()
        if sender.notify(
            title=message.subject, body=message.body, body_format=apprise.NotifyFormat.TEXT
        ):
            return
        if unanswered():  # Apprise says only False: the trace tells "maybe sent" apart
            said = f"no answer from SMTP once the message to {mask(message.to)} was out"
            raise EmailError(f"{said}: it may have arrived", permanent=False, unknown=True)
        raise EmailError(f"SMTP refused or failed for {mask(message.to)}", permanent=False)


def install_hooks() -> bool:
    """Give Apprise's email plugin `_AppriseSsl` as its `ssl`, `_AppriseSmtplib` as its
    `smtplib` and `Utf8Header` as its `Header`; False, leaving the plugin untouched, if
    Apprise's layout changed (tests/test_email_channel.py then fails loudly)."""
    try:
        from apprise.plugins.email import base
    except ImportError:
        return False
    namespace = vars(base)  # the plugin looks these names up at every send
    hooks = {"ssl": (ssl, _APPRISE_SSL), "smtplib": (smtplib, _APPRISE_SMTPLIB),
             "Header": (Header, Utf8Header)}  # fmt: skip
    if all(namespace.get(name) is original for name, (original, _) in hooks.items()):
        namespace.update({name: ours for name, (_, ours) in hooks.items()})
    return all(namespace.get(name) is ours for name, (_, ours) in hooks.items())


class Utf8Header(Header):
    """The subject as the plugin builds it (`Header(text, "utf-8")`), written as RFC 2047
    base64 words in one pass. The standard library's encoder weighs quoted-printable against
    base64 at every character for a UTF-8 header: for a Vietnamese subject it cost a tenth of
    each message's CPU. Any other use (another charset, more arguments) is the standard one."""

    WORD_BYTES: Final = 42  # 56 base64 characters: a word of 68, "Subject: " and one fit in 78

    def __init__(self, s: str | bytes | None = None, charset: Any = None, *args: Any,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(s, charset, *args, **kwargs)
        plain = isinstance(s, str) and str(charset).lower() == "utf-8" and not (args or kwargs)
        self.text = s if plain and isinstance(s, str) else None

    def encode(self, splitchars: str = ";, \t", maxlinelen: int | None = None,
               linesep: str = "\n") -> str:  # fmt: skip
        try:
            words = None if self.text is None else _base64_words(self.text, self.WORD_BYTES)
        except UnicodeEncodeError:  # a lone surrogate: the standard encoder says what to do
            words = None
        if words is None:
            return super().encode(splitchars, maxlinelen, linesep)
        return (linesep + " ").join(words)


def _base64_words(text: str, size: int) -> list[str]:
    """Encoded words of at most `size` bytes of UTF-8 each, never splitting a character."""
    chunks, chunk = [], b""
    for char in text:
        encoded = char.encode()
        if chunk and len(chunk) + len(encoded) > size:
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks]


class _AppriseSmtplib:
    """The `smtplib` module as Apprise's email plugin sees it: its connections traced and kept
    open between messages (notifications.smtpconn)."""

    SMTP = PooledSMTP
    SMTP_SSL = PooledSMTPSSL

    def __getattr__(self, name: str) -> Any:
        return getattr(smtplib, name)


_APPRISE_SMTPLIB = _AppriseSmtplib()


class _AppriseSsl:
    """The `ssl` module as Apprise's email plugin sees it.

    The plugin calls `ssl.create_default_context()` on every send, even without TLS, and that
    parses the whole CA bundle (~20 ms). Here the call returns a context built only when a new
    connection needs it (a kept one does not), and loaded from the hashed CA directory instead
    (OpenSSL reads a certificate from it only when a chain needs it), when that directory holds
    every certificate of the bundle: the same trust, the same flags, hostname check and
    CERT_REQUIRED. With any argument it is the real call. Each call returns a new context: the
    plugin turns verification off on the context it got when the URL says `verify=no`, so a
    shared one would stop verifying later sends."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext | DeferredContext:
        if args or kwargs:
            return ssl.create_default_context(*args, **kwargs)
        return DeferredContext(_default_context)


def _default_context() -> ssl.SSLContext:
    capath = lazy_capath()
    if capath is None:
        return ssl.create_default_context()
    return ssl.create_default_context(capath=capath)


_APPRISE_SSL = _AppriseSsl()


@functools.cache
def lazy_capath() -> str | None:
    """The default CA directory when trusting it alone equals OpenSSL's default trust (bundle
    file plus directory), checked once per process; None where it may not. Fewer roots could
    only refuse more servers, never accept more; this check makes them refuse none more."""
    if sys.platform == "win32":  # the default trust there also comes from the system stores
        return None
    paths = ssl.get_default_verify_paths()
    if paths.capath is None or not Path(paths.capath).is_dir():
        return None
    try:
        cafile = None if paths.cafile is None else Path(paths.cafile).read_bytes()
        bundle = set() if cafile is None else _pem_certificates(cafile)
        if bundle is None or not bundle <= _hashed_certificates(Path(paths.capath)):
            return None
    except OSError:  # unreadable: let OpenSSL's own loading decide, as before
        return None
    return paths.capath


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END ")
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")  # what OpenSSL looks up: subject hash . n


def _pem_certificates(data: bytes) -> set[bytes] | None:
    """The DER certificates of a PEM file; None if it holds anything else OpenSSL would load
    (trusted certificates with their own settings, revocation lists)."""
    blocks = _PEM_BLOCK.findall(data)
    if len(blocks) != data.count(b"-----BEGIN ") or any(k != b"CERTIFICATE" for k, _ in blocks):
        return None
    return {base64.b64decode(body) for _, body in blocks}


def _hashed_certificates(directory: Path) -> set[bytes]:
    found: set[bytes] = set()
    for entry in directory.iterdir():
        if _HASHED_NAME.fullmatch(entry.name) and entry.is_file():
            found |= _pem_certificates(entry.read_bytes()) or set()
    return found


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
    overlaps = True  # touches no database: the dispatcher may send while it records another

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def release(self) -> None:
        """A dispatch run is over: close the SMTP connections kept between its messages."""
        POOL.close_all()

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        from dondoc.outbox import Outcome
        from notifications.base import ChannelError

        message = Email(delivery.recipient, delivery.subject or "", delivery.body or "")
        try:
            return send_email(message, self.settings)
        except EmailError as exc:
            outcome = Outcome.PERMANENT if exc.permanent else Outcome.TRANSIENT
            raise ChannelError(Outcome.UNKNOWN if exc.unknown else outcome, str(exc)) from exc
        except OSError as exc:  # the SMTP server could not be reached: nothing was sent
            raise ChannelError(Outcome.TRANSIENT, f"SMTP unreachable: {exc}") from exc


def mask(address: str) -> str:
    """'chutich.q1@example.invalid' -> 'ch***@example.invalid' for logs (personal data)."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"
