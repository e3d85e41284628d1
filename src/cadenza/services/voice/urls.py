"""Where the provider fetches a call's TwiML and posts its statuses, and the call to place."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cadenza.channels.voice import OutgoingCall
from cadenza.services.outbox.meta import MessageMeta

PREFIX = "/api/v1/inbound/voice"


def url(base_url: str, name: str, **query: Any) -> str:
    """The absolute URL of a voice webhook (`name`: answer, gather, dial, status...)."""
    return f"{base_url.rstrip('/')}{PREFIX}/{name}?{urlencode(query)}"


def outgoing_call(row: Any, details: MessageMeta) -> OutgoingCall:
    """A dialer step's outbox row as the call to place (each attempt its own key)."""
    dialer, base = details.dialer, str(details.dialer.get("base_url", ""))
    to = str(row["recipient"])
    if dialer.get("action") == "preview_dialer":
        agents = dialer.get("agents") or []
        to = str(agents[0]["phone"]) if agents else to  # no agent: refused when it answers
    return OutgoingCall(
        key=f"{row['key']}#{row['attempts']}",
        sender=str(row["sender"]),
        to=to,
        answer_url=url(base, "answer", m=row["id"]),
        status_url=url(base, "status", m=row["id"]),
        detect_machine=dialer.get("action") == "progressive_dialer",
    )
