"""One settings tree, read from DONDOC_* environment variables (or .env), loaded lazily."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """The environment holds an invalid setting; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONDOC_", env_file=".env", extra="ignore")

    var_dir: Path = Field(
        default=Path("var"), description="Directory for the embedded database and stored files."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; default: SQLite under var_dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="Time zone in which deadlines are read and shown."
    )
    storage_dir: Path | None = Field(
        default=None, description="Where submitted files are kept; default: var_dir/files."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL used in the links sent to units.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs sessions and derives the units' upload links; default: a random key "
        "kept in var_dir/secret_key (keep it: changing it invalidates every link).",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="Apprise mailto:// or mailtos:// URL of the SMTP server; unset: mail is "
        "written as .eml files under var_dir/mail (nothing leaves the machine).",
    )
    mail_from: str = Field(
        default="dondoc@localhost", description="Sender address of the messages dondoc sends."
    )
    zalo_config: Path | None = Field(
        default=None,
        description="JSON file describing the Zalo Official Account (app_id, approved templates "
        "per message kind, optional base URLs); unset: no Zalo messages.",
    )
    zalo_secret_key: SecretStr | None = Field(
        default=None, description="The Zalo app's secret key (token refresh)."
    )
    zalo_oa_secret_key: SecretStr | None = Field(
        default=None,
        description="The Official Account's secret key: checks the signature of Zalo's "
        "delivery webhook (X-ZEvent-Signature) before its fact settles an unknown outcome.",
    )
    alert_urls: list[SecretStr] = Field(
        default_factory=list,
        description="Extra Apprise URLs for the office's own alerts, besides its email, as a "
        'JSON list, e.g. ["tgram://bottoken/chat_id"]; secrets are masked in logs.',
    )
    email_per_second: float = Field(
        default=5.0,
        ge=0,
        description="Emails sent per second by one dispatcher (SMTP servers throttle bursts; "
        "a provider's daily cap is yours to respect); 0: unpaced.",
    )
    zalo_per_second: float = Field(
        default=3.0,
        ge=0,
        description="Zalo messages sent per second by one dispatcher (Zalo allows 4,000 "
        "requests a minute per app); 0: unpaced.",
    )
    max_upload_mb: int = Field(
        default=20, ge=1, le=500, description="Largest file a unit may upload, in MB."
    )
    watch_dir: Path | None = Field(
        default=None,
        description="Folder where the office drops reports received by email; picked up by the "
        "tracking flow (unit code in the file name or a .txt sidecar).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'dondoc.db'}"

    @property
    def effective_storage_dir(self) -> Path:
        return self.storage_dir or self.var_dir / "files"

    @property
    def send_rates(self) -> dict[str, float]:
        """Sends per second per channel, for dondoc.dispatch.Pacer."""
        return {"email": self.email_per_second, "zalo": self.zalo_per_second}

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def secret(self) -> bytes:
        """The configured key, or one generated once and kept under var_dir (mode 0600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once; raise SettingsError naming the variable that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DONDOC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
