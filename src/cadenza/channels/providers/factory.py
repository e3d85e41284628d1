"""Which providers exist, what configuration each takes, and making one from a route."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from cadenza.channels.errors import AccountError
from cadenza.channels.providers.base import EmailProvider
from cadenza.errors import ValidationFailed

ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
# provider -> (required settings, optional settings); `*_env` settings name environment
# variables that hold the secrets, so no secret is ever stored with the sender.
PROVIDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "smtp": ((), ()),
    "mailgun": (("domain", "api_key_env"), ("region", "webhook_signing_key_env")),
    "sendgrid": (("api_key_env",), ("webhook_public_key_env",)),
    "ses": (
        ("region", "access_key_id_env", "secret_access_key_env"),
        ("configuration_set", "session_token_env"),
    ),
    "postmark": (("server_token_env",), ("message_stream",)),
}
CHOICES = {"region": {"mailgun": ("us", "eu")}}


def check_config(provider: str, config: Mapping[str, Any]) -> dict[str, str]:
    """The configuration cleaned, or ValidationFailed naming what is wrong."""
    if provider not in PROVIDERS:
        raise ValidationFailed(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    required, optional = PROVIDERS[provider]
    unknown = sorted(set(config) - set(required) - set(optional))
    if unknown:
        allowed = ", ".join((*required, *optional)) or "nothing"
        raise ValidationFailed(f"{provider} takes no {', '.join(unknown)} (it takes {allowed})")
    missing = [name for name in required if not str(config.get(name) or "").strip()]
    if missing:
        raise ValidationFailed(f"{provider} needs {', '.join(missing)}")
    given = {name: value for name, value in config.items() if value not in (None, "")}
    cleaned = {name: str(value).strip() for name, value in given.items()}
    for name, value in cleaned.items():
        if name.endswith("_env") and not ENV_NAME.fullmatch(value):
            raise ValidationFailed(
                f"{name} names an environment variable (like MAILGUN_API_KEY), "
                "never the secret itself"
            )
        if len(value) > 200:
            raise ValidationFailed(f"{name} is limited to 200 characters")
    choices = CHOICES.get("region", {}).get(provider)
    if choices and cleaned.get("region", choices[0]) not in choices:
        raise ValidationFailed(f"{provider} region must be one of {', '.join(choices)}")
    return cleaned


def make_email_provider(
    provider: str,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
) -> EmailProvider:
    """The provider named, configured; AccountError when it cannot be (a missing secret)."""
    from cadenza.channels.providers.mailgun import MailgunProvider
    from cadenza.channels.providers.postmark import PostmarkProvider
    from cadenza.channels.providers.sendgrid import SendGridProvider
    from cadenza.channels.providers.ses import SesProvider

    makers: dict[str, Any] = {
        "mailgun": MailgunProvider,
        "sendgrid": SendGridProvider,
        "ses": SesProvider,
        "postmark": PostmarkProvider,
    }
    if provider not in makers:
        raise AccountError(f"no HTTP email provider {provider!r}")
    made: EmailProvider = makers[provider](config, env, transport)
    return made
