"""The outbox: steps rendered into messages, checked again at the last moment, listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.outbox.last_check import last_moment_check as last_moment_check
    from cadenza.services.outbox.listing import MessageRow as MessageRow
    from cadenza.services.outbox.listing import list_messages as list_messages
    from cadenza.services.outbox.meta import MessageMeta as MessageMeta
    from cadenza.services.outbox.rendering import RenderError as RenderError
    from cadenza.services.outbox.rendering import StepRenderer as StepRenderer
    from cadenza.services.outbox.rendering import idempotency_key as idempotency_key
    from cadenza.services.outbox.rendering import message_rows as message_rows
    from cadenza.services.outbox.sending import Outcome as Outcome
    from cadenza.services.outbox.sending import claim_ready as claim_ready
    from cadenza.services.outbox.sending import outgoing as outgoing
    from cadenza.services.outbox.sending import record as record
else:
    __getattr__, __dir__ = exports(__name__)
