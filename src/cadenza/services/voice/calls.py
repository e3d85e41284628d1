"""The call a webhook is about: found by its SID, or made from the dialer step's message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.errors import NotFound
from cadenza.services.outbox.meta import MessageMeta
from cadenza.store.models import Message, VoiceCall

KINDS = {"progressive_dialer": "progressive", "preview_dialer": "preview"}
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


def call_for(
    session: Session,
    *,
    sid: str,
    message_id: int | None,
    call_id: int | None,
    now: datetime,
) -> VoiceCall:
    """The call the request is about (locked); a dialer step's attempt is made on first sight."""
    if call_id is not None:
        found = session.get(VoiceCall, call_id, with_for_update=True)
        if found is None:
            raise NotFound(f"no call {call_id}")
        if sid and not found.sid:
            found.sid = sid
        return found
    if not sid:
        raise NotFound("the request names no CallSid")
    query = select(VoiceCall).where(VoiceCall.sid == sid).with_for_update()
    existing = session.scalars(query).first()
    if existing is not None:
        return existing
    if message_id is None:
        raise NotFound(f"no call {sid}")
    return _from_message(session, sid, message_id, now)


def _from_message(session: Session, sid: str, message_id: int, now: datetime) -> VoiceCall:
    message = session.get(Message, message_id)
    if message is None or message.channel != "call" or message.contact_id is None:
        raise NotFound(f"no dialer call {message_id}")
    dialer = MessageMeta.read(message.meta).dialer
    call = VoiceCall(
        sid=sid,
        message_id=message.id,
        enrollment_id=message.enrollment_id,
        sequence_id=message.sequence_id,
        contact_id=message.contact_id,
        step=message.step,
        kind=KINDS.get(str(dialer.get("action")), "progressive"),
        line=message.sender or "",
        to=message.recipient,
        attempt=max(1, message.attempts),
        data={**dialer, "message": message.body},
        created_at=now,
    )
    session.add(call)
    session.flush()
    return call


def agents(call: VoiceCall) -> list[dict[str, Any]]:
    """The ring group's agents, in the order they are rung."""
    return list(call.data.get("agents") or [])


def current_agent(call: VoiceCall) -> dict[str, Any] | None:
    """The agent being rung now (None once every one was tried)."""
    found = agents(call)
    return found[call.agent_index] if call.agent_index < len(found) else None
