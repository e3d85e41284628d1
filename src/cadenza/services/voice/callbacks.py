"""Callback tasks: the contact pressed 2 (or nobody took the call) and is called back."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cadenza.core import calendar
from cadenza.services import history
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.models import Contact, Enrollment, Task, VoiceCall


def create(
    session: Session,
    call: VoiceCall,
    now: datetime,
    settings: Settings,
    *,
    picked: str | None,
    missed: bool = False,
) -> datetime:
    """The call's callback task (one per call), due when the contact picked, else the next
    business hour; the time it is due."""
    due = _due(session, call, now, settings, picked)
    task_id = call.data.get("callback_task")
    task = session.get(Task, int(task_id)) if task_id else None
    if task is None:
        contact = session.get(Contact, call.contact_id)
        name = f"{contact.first_name} {contact.last_name}".strip() if contact else ""
        why = "nobody took their call" if missed else "they asked on a dialer call"
        task = Task(
            enrollment_id=call.enrollment_id, contact_id=call.contact_id,
            sequence_id=call.sequence_id, step=call.step, kind="call",
            assignee_id=call.agent_id or (contact.owner_id if contact else None),
            title=f"Call back {name or 'the contact'}", body=f"Callback: {why}.",
            priority="high", reminder=True, status="open", due_at=due, created_at=now,
        )  # fmt: skip
        session.add(task)
        session.flush()
        call.data = {**call.data, "callback_task": task.id}
        history.record(session, history.Subject(call.contact_id, call.sequence_id,
                       call.enrollment_id), "task_created", now, step=call.step,
                       reason=f"callback: {why}", kind="call", task_id=task.id,
                       due_at=due.isoformat())  # fmt: skip
    task.due_at = due
    return due


def _due(
    session: Session, call: VoiceCall, now: datetime, settings: Settings, picked: str | None
) -> datetime:
    enrollment = session.get(Enrollment, call.enrollment_id) if call.enrollment_id else None
    contact = session.get(Contact, call.contact_id)
    zone_name = contact.timezone if contact and contact.timezone else settings.fallback_timezone
    if enrollment is None:
        return _picked(picked, now, ZoneInfo(zone_name)) or now + timedelta(hours=1)
    definition = definition_for(session=session, version_id=enrollment.version_id)
    zone = calendar.recipient_zone(definition.schedule, contact.timezone if contact else None)
    start = _picked(picked, now, zone) or now
    due, _reasons = calendar.next_allowed(
        start, definition.schedule, "call", contact.timezone if contact else None,
        quiet=settings.quiet_hours,
    )  # fmt: skip
    return due


def _picked(digits: str | None, now: datetime, zone: ZoneInfo) -> datetime | None:
    """HHMM in the contact's zone: today if still ahead, else tomorrow (None if not a time)."""
    if not digits or len(digits) != 4 or not digits.isdigit():
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), time(hours, minutes), zone)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(now.tzinfo)


def spoken(session: Session, call: VoiceCall, due: datetime, settings: Settings) -> str:
    """When, for the voice to say: the day and time in the contact's own zone."""
    contact = session.get(Contact, call.contact_id)
    name = contact.timezone if contact and contact.timezone else settings.fallback_timezone
    try:
        local = due.astimezone(ZoneInfo(name))
    except (ValueError, KeyError):
        local = due.astimezone(ZoneInfo(settings.fallback_timezone))
    hour = local.hour % 12 or 12
    return f"on {local:%A}, {local:%B} {local.day}, at {hour}:{local:%M} {local:%p}"
