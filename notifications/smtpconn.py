"""SMTP connections under Apprise's email plugin: traced, and kept open between messages.

Traced: a message sent in full whose answer never came is told apart from one that never left
(`unanswered`), since Apprise reports both as a bare False.

Kept open: Apprise opens, greets, secures, logs in and quits for every message (one recipient
each, as the outbox needs). Against a real server that is a TCP and TLS handshake and a login
per message, and providers throttle logins. The plugin gets `PooledSMTP` instead of a
connection: the same calls (starttls, login, sendmail, quit) on a connection opened at the first
`sendmail`, or taken from `POOL` when one to the same server, with the same TLS settings and
login, is idle. Each message is still its own SMTP transaction with its own answer. Limits after
Postfix's connection cache: idle at most `IDLE_S`, reused for at most `LIFETIME_S`."""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # annotations only: the stdlib has it from Python 3.12
    from typing_extensions import Buffer

IDLE_S: Final = 5.0  # Postfix keeps an idle connection 2 s; a paced dispatcher sends every 0.2 s
LIFETIME_S: Final = 300.0  # Postfix's smtp_connection_reuse_time_limit

# Per thread, whether the last message went to the server without an answer: Apprise runs a
# single plugin in the calling thread, and swallows the error into a bare False.
_TRACE = threading.local()


def unanswered() -> bool:
    return bool(getattr(_TRACE, "unanswered", False))


def reset_trace() -> None:
    _TRACE.unanswered = False


class TracedSMTP(smtplib.SMTP):
    """An SMTP connection that notes a message sent in full (DATA, the content and its final
    dot) whose answer never came (a timeout, a dropped connection): the server may have
    accepted it, so it must not be sent again blindly. A failure before the content is out,
    or any answer to it (accepted or refused), is an outcome we know."""

    _in_data = False
    content_out = False  # of the message under way: reset at its MAIL FROM

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.content_out = False
        return super().mail(sender, options)

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        self._in_data, self.content_out = True, False
        try:
            return super().data(msg)
        except (OSError, smtplib.SMTPServerDisconnected):
            _TRACE.unanswered = self.content_out
            raise
        finally:
            self._in_data = False

    def send(self, s: Buffer | str) -> None:
        super().send(s)
        # Commands go out as str; within data() only the content goes out as bytes.
        self.content_out = self.content_out or (self._in_data and not isinstance(s, str))


class TracedSMTPSSL(TracedSMTP, smtplib.SMTP_SSL):
    pass


class DeferredContext:
    """A TLS context built only if a connection needs one. The plugin asks for a new context
    on every send, TLS or not, and may turn verification off on it (`verify=no`); settings made
    on this one are replayed, in order, on the real context when it is built."""

    _build: Callable[[], ssl.SSLContext]
    _real: ssl.SSLContext | None
    _settings: list[tuple[str, Any]]

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        vars(self).update(_build=build, _real=None, _settings=[])

    def __setattr__(self, name: str, value: Any) -> None:
        self._settings.append((name, value))
        if self._real is not None:
            setattr(self._real, name, value)

    def __getattr__(self, name: str) -> Any:  # anything else is the real context's
        value = getattr(self.real(), name)
        if callable(value):  # a method may change what it trusts (a CA, a client certificate):
            self._settings.append((name, object()))  # a connection made with it is never shared
        return value

    def real(self) -> ssl.SSLContext:
        if self._real is not None:
            return self._real
        context = self._build()
        for name, value in self._settings:
            setattr(context, name, value)
        vars(self)["_real"] = context
        return context

    def trust(self) -> tuple[object, ...]:
        """What a connection made with it trusts: settings alone (the base is always the same)."""
        return tuple(self._settings)


Context = ssl.SSLContext | DeferredContext


def _real(context: Context | None) -> ssl.SSLContext | None:
    return context.real() if isinstance(context, DeferredContext) else context


def _trust(context: Context | None) -> tuple[object, ...] | None:
    if context is None:
        return None
    if isinstance(context, DeferredContext):
        return context.trust()
    return (object(),)  # a context of unknown make: a connection made with it is never shared


@dataclass
class _Idle:
    connection: TracedSMTP
    opened: float
    since: float


@dataclass
class ConnectionPool:
    """Idle connections by what they were opened with. A connection is used by one thread at
    a time: taken out while a message goes, put back after its answer."""

    idle_s: float = IDLE_S
    lifetime_s: float = LIFETIME_S
    clock: Callable[[], float] = time.monotonic
    _idle: dict[tuple[object, ...], list[_Idle]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: tuple[object, ...]) -> tuple[TracedSMTP, float] | None:
        """A live idle connection for `key` and when it was opened; stale ones are closed."""
        stale: list[_Idle] = []
        found = None
        with self._lock:
            entries, now = self._idle.get(key, []), self.clock()
            while entries and found is None:
                entry = entries.pop()
                if now - entry.since <= self.idle_s and now - entry.opened <= self.lifetime_s:
                    found = entry.connection, entry.opened
                else:
                    stale.append(entry)
        for entry in stale:  # outside the lock: QUIT waits on the network
            _close(entry.connection)
        return found

    def give(self, key: tuple[object, ...], connection: TracedSMTP, opened: float) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(_Idle(connection, opened, self.clock()))

    def close_all(self) -> int:
        """Say QUIT on every idle connection (a dispatch run is over); how many there were."""
        with self._lock:
            entries = [entry for group in self._idle.values() for entry in group]
            self._idle.clear()
        for entry in entries:
            _close(entry.connection)
        return len(entries)

    def forget_in_child(self) -> None:
        """After a fork: the parent's connections (the child must neither use nor QUIT them)
        and its lock (perhaps held by a thread the child does not have) are not the child's."""
        self._idle, self._lock = {}, threading.Lock()


POOL = ConnectionPool()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=POOL.forget_in_child)


def _close(connection: TracedSMTP) -> None:
    with suppress(OSError):  # smtplib's errors are OSErrors; a dead peer needs no goodbye
        connection.quit()
    connection.close()


def _stale(error: BaseException) -> bool:
    """Whether a reused connection failing with `error` before the message left was simply no
    longer open (the server hung up while it was idle, or says 421 closing)."""
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(error, OSError)  # SMTPServerDisconnected, a reset or a broken pipe


class PooledSMTP:
    """What the plugin gets for `smtplib.SMTP(...)` / `SMTP_SSL(...)` (see the module's doc)."""

    implicit_tls = False

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        timeout: float = 60.0,
        *,
        context: Context | None = None,
        pool: ConnectionPool | None = None,
    ) -> None:
        self.address = host, port, local_hostname, timeout
        self.context = context if self.implicit_tls else None
        self.credentials: tuple[str, str] | None = None
        self.pool = POOL if pool is None else pool
        self.held: tuple[TracedSMTP, float] | None = None
        self.healthy = True

    def starttls(self, context: Context | None = None) -> tuple[int, bytes]:
        self.context = context or ssl.create_default_context()
        return 220, b"TLS when the connection opens"

    def login(self, user: str, password: str, **_: Any) -> tuple[int, bytes]:
        self.credentials = user, password
        return 235, b"login when the connection opens"

    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: str | bytes,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        connection, reused = self._connection()
        try:
            return connection.sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
        except BaseException as exc:  # even an interrupt: mid-transaction, it is never kept
            self.healthy = False
            if not (reused and not connection.content_out and _stale(exc)):
                raise
        # The idle connection was gone before anything of this message left: a new one.
        self._drop()
        self.healthy = True
        connection, _ = self._connection(fresh=True)
        try:
            return connection.sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
        except BaseException:
            self.healthy = False
            raise

    def quit(self) -> tuple[int, bytes]:
        """Back to the pool if the last message got its answer; otherwise closed."""
        if self.held is not None:
            connection, opened = self.held
            self.held = None
            if self.healthy:
                self.pool.give(self._key(), connection, opened)
            else:
                _close(connection)
        return 221, b"kept" if self.healthy else b"closed"

    def _key(self) -> tuple[object, ...]:
        login = None
        if self.credentials is not None:
            user, password = self.credentials
            login = user, hashlib.sha256(password.encode()).hexdigest()
        return self.implicit_tls, self.address, _trust(self.context), login

    def _connection(self, *, fresh: bool = False) -> tuple[TracedSMTP, bool]:
        """The held connection, an idle one from the pool, or a new one; and whether reused."""
        if self.held is not None:
            return self.held[0], True
        taken = None if fresh else self.pool.take(self._key())
        self.held = taken if taken is not None else (self._open(), self.pool.clock())
        return self.held[0], taken is not None

    def _open(self) -> TracedSMTP:
        host, port, local_hostname, timeout = self.address
        context = _real(self.context)
        if self.implicit_tls:
            connection: TracedSMTP = TracedSMTPSSL(
                host, port, local_hostname, timeout=timeout, context=context
            )
        else:
            connection = TracedSMTP(host, port, local_hostname, timeout=timeout)
        try:
            if context is not None and not self.implicit_tls:
                connection.starttls(context=context)
            if self.credentials is not None:
                connection.login(*self.credentials)
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        if self.held is not None:
            _close(self.held[0])
            self.held = None


class PooledSMTPSSL(PooledSMTP):
    implicit_tls = True
