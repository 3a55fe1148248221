"""The email channel on a real SMTP server (aiosmtpd on loopback): plain delivery, one message
per recipient; STARTTLS and SMTPS with certificates and host names verified unless the URL says
`verify=no`, through the TLS hook notifications.email gives Apprise's email plugin."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import apprise.plugins.email.base
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from dondoc.outbox import Outcome
from dondoc.settings import Settings
from models import Delivery
from notifications import email as channel
from notifications.base import ChannelError
from notifications.email import EmailChannel
from notifications.smtpconn import DeferredContext
from tests.support.smtp import Inbox, serving

NOW = datetime(2025, 11, 20, 2, 0, tzinfo=UTC)
SENDER = "vanphong@ldld.example.invalid"
SUBJECT = "[01/KH-LĐLĐ] Nhắc nộp Báo cáo sơ kết — hạn 23:59 thứ Ba, ngày 24/11/2015"
BODY = "Kính gửi: Ban Chấp hành CĐCS\n\nĐề nghị đơn vị gửi Báo cáo sơ kết.\nTrân trọng."
MODES = ["starttls", "ssl"]  # mailtos:// without mode= is STARTTLS; mode=ssl is SMTPS


def send(url: str, to: str, tmp_path: Path) -> None:
    settings = Settings(smtp_url=SecretStr(url), mail_from=SENDER, var_dir=tmp_path)
    row = Delivery(
        campaign_id=1,
        step_key="due",
        kind="due_today",
        channel="email",
        recipient=to,
        subject=SUBJECT,
        body=BODY,
        not_before=NOW,
        created_at=NOW,
    )
    EmailChannel(settings).send(row, now=NOW)


def refused(url: str, tmp_path: Path) -> bool:
    try:
        send(url, "chutich@cdcs.example.invalid", tmp_path)
    except ChannelError as exc:
        assert exc.outcome is Outcome.TRANSIENT
        return True
    return False


# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def issue(name: str, *, by: Issued | None = None, hosts: list[x509.GeneralName]) -> Issued:
    """A certificate for `hosts`, signed by `by` (a CA); self-signed and a CA itself if None."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer, signer = (by.cert.subject, by.key) if by else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=by is None, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(hosts), critical=False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


LOOPBACK: list[x509.GeneralName] = [x509.IPAddress(IPv4Address("127.0.0.1"))]


def server_tls(issued: Issued, tmp_path: Path, mode: str) -> dict[str, Any]:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_bytes(issued.pem)
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if mode == "ssl":
        return {"ssl_context": context}
    return {"tls_context": context, "require_starttls": True}


def url(port: int, mode: str, *extra: str) -> str:
    return f"mailtos://127.0.0.1:{port}?" + "&".join([f"mode={mode}", *extra])


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Issued]:
    """A test CA as this process's default trust: in the CA directory (hashed the way OpenSSL
    looks it up) and in the bundle file, through OpenSSL's own SSL_CERT_DIR / SSL_CERT_FILE."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command names the hashed CA file; it is not installed")
    ca = issue("dondoc test CA", hosts=[])
    directory = tmp_path / "certs"
    directory.mkdir()
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    digest = subprocess.run(
        [openssl, "x509", "-subject_hash", "-noout", "-in", str(tmp_path / "ca.pem")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (directory / f"{digest}.0").write_bytes(ca.pem)
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    channel.lazy_capath.cache_clear()
    yield ca
    channel.lazy_capath.cache_clear()


# --- plain SMTP -----------------------------------------------------------------------------


def test_each_recipient_gets_its_own_message_with_the_vietnamese_text_intact(
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    recipients = [f"cdcs{n}@example.invalid" for n in range(3)]
    with serving(inbox) as port:
        for to in recipients:
            send(f"mailto://127.0.0.1:{port}", to, tmp_path)
    assert inbox.envelopes == [(SENDER, [to]) for to in recipients]
    assert [str(m["Subject"]) for m in inbox.messages] == [SUBJECT] * 3
    # One text/plain part (no HTML copy of a plain-text letter); MIME ends it with a newline.
    assert [m.get_content_type() for m in inbox.messages] == ["text/plain"] * 3
    assert [Inbox.text(m) for m in inbox.messages] == [BODY + "\n"] * 3


def test_a_recipient_named_in_the_url_gets_nothing(tmp_path: Path) -> None:
    inbox = Inbox()
    with serving(inbox) as port:
        send(f"mailto://127.0.0.1:{port}/luutru@example.invalid", "cdcs@example.invalid", tmp_path)
    assert inbox.envelopes == [(SENDER, ["cdcs@example.invalid"])]


@pytest.mark.parametrize("address", ["khong-co-a-cong", "a@b", "trường@cdcs.example.invalid"])
def test_an_address_that_cannot_work_fails_for_good_without_a_connection(
    tmp_path: Path, address: str
) -> None:
    inbox = Inbox()
    with serving(inbox) as port, pytest.raises(ChannelError) as failed:
        send(f"mailto://127.0.0.1:{port}", address, tmp_path)
    assert failed.value.outcome is Outcome.PERMANENT  # not retried: a person must correct it
    assert "not an email address" in str(failed.value) and inbox.envelopes == []


@dataclass
class RefusingInbox(Inbox):
    recipients_offered: int = 0

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.recipients_offered += 1
        return "550 no such mailbox"


def test_a_retry_in_the_url_does_not_resend(tmp_path: Path) -> None:
    inbox = RefusingInbox()
    with serving(inbox) as port:
        assert refused(f"mailto://127.0.0.1:{port}?retry=2", tmp_path)
    assert inbox.recipients_offered == 1  # the outbox decides when to try again


@dataclass
class DroppingInbox(Inbox):
    """Hangs up without a word: after the whole message (`at="data"`: the server may have
    kept it) or at the recipient (`at="rcpt"`: it never got the message)."""

    at: str = "data"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.at == "rcpt":
            server.transport.close()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await super().handle_DATA(server, session, envelope)  # kept, as a real server may
        server.transport.close()
        return "250 OK"  # never reaches the client


def test_a_message_whose_answer_never_comes_is_unknown_not_retried(tmp_path: Path) -> None:
    inbox = DroppingInbox(at="data")
    with serving(inbox) as port, pytest.raises(ChannelError) as failed:
        send(f"mailto://127.0.0.1:{port}", "cdcs@example.invalid", tmp_path)
    assert len(inbox.messages) == 1  # the server had it: sending again would send it twice
    assert failed.value.outcome is Outcome.UNKNOWN
    assert "may have arrived" in str(failed.value)


def test_a_connection_lost_before_the_message_went_out_is_retried(tmp_path: Path) -> None:
    inbox = DroppingInbox(at="rcpt")
    with serving(inbox) as port, pytest.raises(ChannelError) as failed:
        send(f"mailto://127.0.0.1:{port}", "cdcs@example.invalid", tmp_path)
    assert inbox.messages == []
    assert failed.value.outcome is Outcome.TRANSIENT  # nothing reached the server: try again


# --- the TLS hook ----------------------------------------------------------------------------


def test_the_email_plugin_builds_its_tls_context_through_the_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails when an Apprise upgrade stops calling `ssl.create_default_context()` from the
    email plugin's module: the speed-up would be lost without anyone noticing."""
    made: list[ssl.SSLContext | DeferredContext] = []
    hook = channel._AppriseSsl.create_default_context

    def spy() -> ssl.SSLContext | DeferredContext:
        made.append(hook())
        return made[-1]

    monkeypatch.setattr(channel._AppriseSsl, "create_default_context", staticmethod(spy))
    with serving(Inbox()) as port:
        send(f"mailto://127.0.0.1:{port}", "cdcs@example.invalid", tmp_path)
    assert channel.install_hooks()
    assert vars(apprise.plugins.email.base)["ssl"] is channel._APPRISE_SSL
    assert vars(apprise.plugins.email.base)["smtplib"] is channel._APPRISE_SMTPLIB
    assert len(made) == 1 and isinstance(made[0], DeferredContext)
    assert vars(made[0])["_real"] is None  # a connection without TLS built no context
    assert made[0].verify_mode is ssl.CERT_REQUIRED and made[0].check_hostname


def test_the_hook_reads_no_bundle_where_the_ca_directory_holds_it(trusted_ca: Issued) -> None:
    assert channel.lazy_capath() == ssl.get_default_verify_paths().capath
    first, second = (channel._APPRISE_SSL.create_default_context() for _ in range(2))
    assert first is not second  # the plugin may turn verification off on the one it gets
    assert first.cert_store_stats()["x509_ca"] == 0  # read from the directory when needed
    assert ssl.create_default_context().cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_self_signed_certificate_is_refused_by_default(tmp_path: Path, mode: str) -> None:
    inbox = Inbox()
    with serving(inbox, **server_tls(issue("smtp", hosts=LOOPBACK), tmp_path, mode)) as port:
        assert refused(url(port, mode), tmp_path)
    assert inbox.messages == []


@pytest.mark.parametrize("mode", MODES)
def test_verify_no_accepts_it_and_leaves_later_sends_verified(tmp_path: Path, mode: str) -> None:
    inbox = Inbox()
    with serving(inbox, **server_tls(issue("smtp", hosts=LOOPBACK), tmp_path, mode)) as port:
        assert not refused(url(port, mode, "verify=no"), tmp_path)
        assert refused(url(port, mode), tmp_path)
        assert not refused(url(port, mode, "verify=no"), tmp_path)
    assert len(inbox.messages) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_from_a_trusted_ca_is_accepted(
    tmp_path: Path, mode: str, trusted_ca: Issued
) -> None:
    inbox = Inbox()
    issued = issue("smtp", by=trusted_ca, hosts=LOOPBACK)
    with serving(inbox, **server_tls(issued, tmp_path, mode)) as port:
        assert not refused(url(port, mode), tmp_path)
    assert channel.lazy_capath() is not None and len(inbox.messages) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_kept_tls_connection_is_verified_once_and_carries_the_next_messages(
    tmp_path: Path, mode: str, trusted_ca: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[ssl.SSLContext] = []

    def counted() -> ssl.SSLContext:
        built.append(ssl.create_default_context())
        return built[-1]

    monkeypatch.setattr(channel, "_default_context", counted)
    inbox = Inbox()
    issued = issue("smtp", by=trusted_ca, hosts=LOOPBACK)
    with serving(inbox, **server_tls(issued, tmp_path, mode)) as port:
        assert not any(refused(url(port, mode), tmp_path) for _ in range(3))
    assert len(inbox.messages) == 3 and len(built) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_for_another_host_is_refused(
    tmp_path: Path, mode: str, trusted_ca: Issued
) -> None:
    issued = issue("smtp", by=trusted_ca, hosts=[x509.DNSName("smtp.example.invalid")])
    with serving(Inbox(), **server_tls(issued, tmp_path, mode)) as port:
        assert refused(url(port, mode), tmp_path)


def test_a_ca_only_in_the_bundle_file_is_trusted_as_before(
    tmp_path: Path, trusted_ca: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = issue("another CA", hosts=[])
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(trusted_ca.pem + other_ca.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    issued = issue("smtp", by=other_ca, hosts=LOOPBACK)
    with serving(Inbox(), **server_tls(issued, tmp_path, "starttls")) as port:
        assert not refused(url(port, "starttls"), tmp_path)
    assert channel.lazy_capath() is None  # the directory lacks it: the bundle is read
