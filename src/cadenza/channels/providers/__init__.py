"""Email providers besides SMTP, through their HTTP APIs: Mailgun, SendGrid, Amazon SES, Postmark.

Each provider takes the message as it was built for SMTP (the same Message-ID, threading,
List-Unsubscribe headers and tracked links) and answers a `SendResult` whose `provider_id`
is the provider's own id for the message, or raises `TransientError` / `PermanentError` as
the SMTP sender does. Which provider a sender uses, and where its credentials are, is the
sender's `provider` and `provider_config`; secrets are read from environment variables the
configuration names, never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.channels.providers.base import EmailProvider as EmailProvider
    from cadenza.channels.providers.base import ProviderRoute as ProviderRoute
    from cadenza.channels.providers.factory import PROVIDERS as PROVIDERS
    from cadenza.channels.providers.factory import check_config as check_config
    from cadenza.channels.providers.factory import make_email_provider as make_email_provider
else:
    __getattr__, __dir__ = exports(__name__)
