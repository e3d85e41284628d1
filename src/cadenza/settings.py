"""Settings from the environment (prefix CADENZA_), one object for the whole process."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cadenza.core.calendar import QuietHours

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CADENZA_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///cadenza.db"
    # WAL + synchronous=FULL is the durable default; NORMAL is an explicit opt-in.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout: float = 30.0

    sms_provider: Literal["sink", "twilio"] = "sink"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None

    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET
    default_region: str = "US"
    fallback_timezone: str = "America/New_York"
    postal_address: str = "Cadenza Demo Co., 1 Main Street, Springfield, IL 62701, USA"
    sms_opt_out_phrase: str = "Reply STOP to opt out."
    # A folder: `cadenza serve` then runs a local SMTP server on SMTP_HOST:SMTP_PORT that
    # keeps every email it receives there, so a demo really sends and its mail can be read.
    dev_mailbox: str | None = None
    # Lead intake by email: mail to <sequence-slug>@INTAKE_DOMAIN enrolls the lead it describes.
    intake_domain: str = "intake.localhost"
    # The answer to an inbound HELP text (default: the sender's name and how to opt out).
    sms_help_text: str | None = None
    # Where the development SMS provider keeps what it "sent" (one JSON object a line).
    sms_sink_path: str = "cadenza-sms-sink.jsonl"
    webhook_allow: list[str] = Field(default_factory=list)

    # Quiet hours for SMS, MMS, calls and voicemail in the recipient's local time.
    # They may be made stricter than 08:00-21:00, never looser (checked below).
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"

    # What the dispatcher does with a message whose lease expired while it was sending:
    # resend it with the same key and Message-ID, or hold it for a person to decide.
    resend_expired_leases: bool = True
    dispatch_concurrency: int = 8
    dispatch_lease_seconds: int = 120
    dispatch_max_attempts: int = 8

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("CADENZA_SECRET_KEY must be set to a secret value in production")
        self.quiet_hours  # noqa: B018 - parsing checks the hours: never looser than 21:00-08:00
        return self

    @property
    def quiet_hours(self) -> QuietHours:
        """Quiet hours for texts, calls and voicemail in the recipient's local time."""
        return QuietHours.parse(self.quiet_hours_start, self.quiet_hours_end)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
