"""Calls logged by themselves: the provider's final status becomes a `call_logged` event.

The event carries the direction, the disposition (answered, busy, no answer, failed,
voicemail), the talk, wait and total seconds and the agent; it fires the call triggers and
exits like any event. A person answering also records `call_answered` (a dialer step's
"remove lead if they answer"); a rep's own call records `manual_call`. A dialer step's call
that was busy, unanswered or met a machine is placed again while its retries last.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cadenza.services import history
from cadenza.services.events import record_event
from cadenza.services.voice.calls import FINAL
from cadenza.settings import Settings
from cadenza.store.models import Message, User, VoiceCall

DISPOSITIONS = {"busy": "busy", "no-answer": "no answer", "failed": "failed", "canceled": "failed"}


def status(
    session: Session, call: VoiceCall, form: Mapping[str, str], now: datetime, settings: Settings
) -> None:
    """A status callback: the call's status kept; the final one logs the call."""
    state = form.get("CallStatus", "")
    if form.get("AnsweredBy") and not call.answered_by:
        call.answered_by = form["AnsweredBy"]
    if call.ended_at is not None or state not in FINAL:
        if state and call.ended_at is None:
            call.status = state[:16]
        return
    call.status, call.ended_at = state, now
    call.total_seconds = _seconds(form.get("CallDuration"))
    call.wait_seconds = max(0, call.total_seconds - call.talk_seconds)
    call.disposition = disposition(call, state)
    log(session, call, now, settings)
    if call.message_id is not None and _retry(call):
        _place_again(session, call, now)


def disposition(call: VoiceCall, state: str) -> str:
    """What became of the call, in the words of the call triggers."""
    if call.kind != "progressive":
        # The agent's (or rep's) leg: what counts is whether the contact was reached.
        if call.data.get("bridged"):
            return "answered"
        return DISPOSITIONS.get(str(call.data.get("dial_status", "")), "no answer")
    if state != "completed":
        return DISPOSITIONS.get(state, "failed")
    if (call.answered_by or "").startswith(("machine", "fax")):
        return "voicemail"
    return "answered"


def log(session: Session, call: VoiceCall, now: datetime, settings: Settings) -> None:
    """Record `call_logged` (and `call_answered` / `manual_call`) for the contact."""
    agent = session.get(User, call.agent_id) if call.agent_id else None
    data = {
        "direction": call.direction, "disposition": call.disposition,
        "duration": call.talk_seconds, "talk_duration": call.talk_seconds,
        "wait_duration": call.wait_seconds, "total_duration": call.total_seconds,
        "agent": agent.email if agent else None, "kind": call.kind, "call_sid": call.sid,
        "attempt": call.attempt, "step": call.step, "sequence_id": call.sequence_id,
    }  # fmt: skip
    actor = agent.email if agent else "system"
    names = ["call_logged"]
    if call.disposition == "answered":
        names.append("call_answered")
    if call.kind == "power":
        names.append("manual_call")
    for name in names:
        record_event(session=session, contact_id=call.contact_id, name=name, data=data,
                     now=now, settings=settings, actor=actor)  # fmt: skip


def _retry(call: VoiceCall) -> bool:
    retries = int(call.data.get("retries", 0))
    if call.attempt > retries:
        return False
    if call.disposition in ("busy", "no answer"):
        return True
    return call.disposition == "voicemail" and call.data.get("on_machine") == "retry"


def _place_again(session: Session, call: VoiceCall, now: datetime) -> None:
    message = session.get(Message, call.message_id, with_for_update=True)
    if message is None or message.status != "sent":
        return
    after = call.data.get("retry_after") or {"minutes": 30}
    delay = timedelta(**{k: int(v) for k, v in after.items() if k in ("minutes", "hours", "days")})
    message.status, message.next_attempt_at, message.lease_until = "queued", now + delay, None
    history.record(session, history.Subject(call.contact_id, call.sequence_id,
                   call.enrollment_id), "call_retry", now, step=call.step,
                   reason=f"{call.disposition}: calling again (attempt {call.attempt + 1})",
                   due_at=(now + delay).isoformat())  # fmt: skip


def _seconds(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
