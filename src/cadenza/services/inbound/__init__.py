"""What reaches Cadenza from outside: replies, bounces, STOP texts, opens, clicks,
unsubscribes and lead emails, each turned into the events that move sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.inbound.email import handle_email as handle_email
    from cadenza.services.inbound.email import intake_callback as intake_callback
    from cadenza.services.inbound.leads import intake_address_of as intake_address_of
    from cadenza.services.inbound.matching import InboundResult as InboundResult
    from cadenza.services.inbound.sms import handle_sms as handle_sms
    from cadenza.services.inbound.sms import record_sms_status as record_sms_status
    from cadenza.services.inbound.tracking import check_unsubscribe as check_unsubscribe
    from cadenza.services.inbound.tracking import record_click as record_click
    from cadenza.services.inbound.tracking import record_open as record_open
    from cadenza.services.inbound.tracking import unsubscribe as unsubscribe
else:
    __getattr__, __dir__ = exports(__name__)
