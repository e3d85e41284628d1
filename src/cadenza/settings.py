"""Settings from the environment (prefix CADENZA_), one object for the whole process."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from cadenza.core.calendar.quiet import QuietHours
from cadenza.errors import ConfigurationError
from cadenza.store_settings import (
    DEFAULT_DATABASE_URL,
    DEFAULT_ENVIRONMENT,
    DEFAULT_SQLITE_SYNCHRONOUS,
    public_secret,
)
from cadenza.store_settings import DEV_SECRET as DEV_SECRET
from cadenza.store_settings import PREFIX as PREFIX

WAYS_OUT = (
    "set CADENZA_SECRET_KEY to a long random value (e.g. from `openssl rand -hex 32`), "
    "or CADENZA_ENVIRONMENT=development for a local try-out"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    # These three are read without pydantic too, by commands that only open the database
    # (cadenza/store_settings.py): their defaults and choices are the ones named there.
    environment: Literal["development", "test", "production"] = DEFAULT_ENVIRONMENT
    database_url: str = DEFAULT_DATABASE_URL
    sqlite_synchronous: Literal["FULL", "NORMAL"] = DEFAULT_SQLITE_SYNCHRONOUS

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
    # Voice: calls placed by Twilio, or recorded (with a simulated answer) by the sink.
    voice_provider: Literal["sink", "twilio"] = "sink"
    voice_sink_path: str = "cadenza-voice-sink.jsonl"
    voice_sink_answer: Literal["human", "machine", "busy", "no-answer"] = "human"
    voice_sink_digits: str = "1"  # the key the simulated person presses
    # Ringless voicemail: through the SMS provider (the sink records it, Twilio refuses),
    # or Slybroadcast.
    voicemail_provider: Literal["sms", "slybroadcast"] = "sms"
    slybroadcast_uid: str | None = None
    slybroadcast_password: str | None = None
    webhook_allow: list[str] = Field(default_factory=list)
    # Operations (docs/operations.md): Prometheus scrapes /metrics with this token (Bearer, or
    # Basic with it as the password); unset, only administrators' API keys read metrics.
    metrics_token: str | None = None
    # `json`: one JSON object a log line (for log collectors); `text` for people.
    log_format: Literal["text", "json"] = "text"
    # History and sent messages' bodies older than this many days go with `cadenza prune`
    # (run it from cron; unset, prune needs --before).
    retention_days: int | None = Field(None, ge=1, le=36500)

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

    # The edges of the HTTP surface. Inbound webhooks take HTTP Basic `inbound:<this>` (or a
    # key with the inbound scope); unset, Basic is refused. The Host allow-list (JSON list;
    # `*.example.com` for subdomains, `*` for any) always holds BASE_URL's host; unset, it
    # also holds localhost, 127.0.0.1 and ::1. Bodies are refused over these sizes in bytes
    # before they are read: the CSV import upload, a raw inbound email, anything else.
    inbound_secret: str | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_inbound_email_bytes: int = Field(25 * 1024 * 1024, ge=1024)

    # Login to the web UI. A session ends after this much idle time, and at the latest this
    # long after login; this many failed logins in a row lock the account for a while.
    # Invitation and password-reset links work once, within their lifetime, and come from
    # MAIL_FROM through the outbox like every other email.
    session_idle_minutes: int = Field(default=120, ge=1)
    session_max_hours: int = Field(default=24, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    invite_link_hours: int = Field(default=72, ge=1)
    reset_link_minutes: int = Field(default=60, ge=1)
    mail_from: str = "cadenza@localhost"

    # People and access (README, "Roles and privileges" and "Plan limits"). Whether agents
    # may create (and clone) sequences; Aloware lets only admins, so the default is no.
    agents_create_sequences: bool = False
    # Plan limits per role as JSON, e.g. {"agent": 5}: active sequences a user may own and
    # sequence emails a user's sequences may send per (UTC) day. A user's own limit
    # (`users.max_active_sequences`, `users.max_emails_per_day`) replaces their role's; a
    # role not named has no limit.
    plan_active_sequences: dict[str, int] = Field(default_factory=dict)
    plan_emails_per_day: dict[str, int] = Field(default_factory=dict)

    # Sender health (docs/deliverability.md): rates over this many days; a mailbox with at
    # least HEALTH_MIN_SENDS sends in the window is paused when its complaint or bounce rate
    # reaches these fractions (0.003 = 0.3%).
    health_window_days: int = Field(default=30, ge=1, le=365)
    health_min_sends: int = Field(default=200, ge=1)
    health_max_complaint_rate: float = Field(default=0.003, gt=0, le=1)
    health_max_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    # Provider event webhooks: how long a provider's signed timestamp stays acceptable.
    webhook_max_age_seconds: int = Field(default=900, ge=60)
    # Webhook keys for the whole installation (senders may also name variables holding
    # theirs): Mailgun's HTTP webhook signing key, SendGrid's verification public key.
    mailgun_webhook_signing_key: str | None = None
    sendgrid_webhook_public_key: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.environment == "production" and self.public_secret:
            raise ValueError(
                "CADENZA_SECRET_KEY must be set to a secret value in production "
                "(e.g. from `openssl rand -hex 32`)"
            )
        _check_plan("PLAN_ACTIVE_SEQUENCES", self.plan_active_sequences)
        _check_plan("PLAN_EMAILS_PER_DAY", self.plan_emails_per_day)
        try:
            self.quiet_hours  # noqa: B018 - parsing checks them: never looser than 21:00-08:00
        except ValueError as exc:
            start, end = self.quiet_hours_start, self.quiet_hours_end
            raise ValueError(
                f"CADENZA_QUIET_HOURS_START={start!r}, CADENZA_QUIET_HOURS_END={end!r}: {exc}"
            ) from None
        return self

    @property
    def public_secret(self) -> bool:
        """True when links would be signed with the development secret, which anyone can read."""
        return public_secret(self.secret_key)

    @property
    def development_chosen(self) -> bool:
        """True when CADENZA_ENVIRONMENT=development was given, not merely the default."""
        return self.environment == "development" and "environment" in self.model_fields_set

    def signing_problem(self) -> str | None:
        """Why links signed now could be forged by anyone; None when they cannot or may be."""
        if not self.public_secret or self.development_chosen:
            return None
        return (
            "CADENZA_SECRET_KEY is not set: tracking and unsubscribe links are signed with the "
            "public development secret, so anyone can forge them (and unsubscribe any contact); "
            f"{WAYS_OUT}"
        )

    @property
    def quiet_hours(self) -> QuietHours:
        """Quiet hours for texts, calls and voicemail in the recipient's local time."""
        return QuietHours.parse(self.quiet_hours_start, self.quiet_hours_end)


def _check_plan(name: str, limits: dict[str, int]) -> None:
    """A plan limit names a role and allows at least one (0 would stop a role silently)."""
    for role, limit in limits.items():
        if role not in ("admin", "manager", "agent"):
            raise ValueError(f"{PREFIX}{name}: {role!r} is not a role (admin, manager, agent)")
        if limit < 1:
            raise ValueError(f"{PREFIX}{name}: the {role} limit must be 1 or more, not {limit}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment; ConfigurationError if bad."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe(exc)) from None
    except SettingsError as exc:  # a list or object setting that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = PREFIX + found[1].upper() if found else "a setting"
        raise ConfigurationError(f'{name}: write it as JSON, e.g. ["a", "b"]') from None


def describe(error: ValidationError) -> str:
    """Invalid settings in one line, each named by its environment variable."""
    parts = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            name = PREFIX + str(problem["loc"][0]).upper()
            message = f"{name}={problem['input']!r}: {message}"
        parts.append(message)
    return "; ".join(parts)
