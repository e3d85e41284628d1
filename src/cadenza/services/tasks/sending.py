"""Manual email and SMS sent for real: a person's edited draft goes through the outbox.

The message is what an automatic `email` or `sms` step would have written: the sequence's
sender, the same idempotency key rule (one per task), threading and tracking as the step
says, and the send check the dispatcher asks again at the last moment (flags, quiet hours in
the contact's zone); unsubscribe links and the SMS opt-out phrase are added as for any step.
The task is then completed, so the enrollment moves on. Who sent it is in the message and in
history.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.tracking import literal_links
from cadenza.core import reach
from cadenza.core.definition import Definition, ManualEmailStep, ManualSmsStep, ManualStepBase
from cadenza.core.messages import append_opt_out, message_id_for
from cadenza.core.reach import SendCheck
from cadenza.core.zones import is_timezone
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import history
from cadenza.services.outbox import rendering
from cadenza.services.outbox.meta import Check, MessageMeta
from cadenza.services.tasks.completing import complete_task
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.models import Contact, Enrollment, Message, Task

SUBJECT_LIMIT = 998  # RFC 5322's longest line
BODY_LIMIT = 100_000


def send_manual(
    *,
    session: Session,
    task_id: int,
    body: str,
    now: datetime,
    settings: Settings,
    subject: str | None = None,
    outcome: str | None = None,
    viewer: Viewer = OPERATOR,
) -> Message:
    """Send a manual email or SMS task's edited message, then complete the task."""
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if task.kind not in ("manual_email", "manual_sms"):
        raise Conflict(f"task {task_id} is a {task.kind} task: only manual emails and texts send")
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    contact = session.get(Contact, task.contact_id)
    assert contact is not None, "a task's contact is deleted with it"
    definition, step = _step_of(session, task)
    row = _message(session, task, contact, definition, step, body, subject, now, settings)
    stored: dict[str, Any] = row["meta"]  # type: ignore[assignment]
    row["meta"] = {**stored, "sent_by": viewer.actor}
    rendering.write(session, [row])
    history.record(
        session,
        history.Subject(task.contact_id, task.sequence_id, task.enrollment_id),
        "message_queued",
        now,
        step=task.step,
        reason=f"sent by {viewer.actor}",
        actor=viewer.actor,
        channel=row["channel"],
        key=row["key"],
        to=row["recipient"],
    )
    complete_task(
        session=session,
        task_id=task_id,
        outcome=outcome or sent_outcome(step.outcome_routes() if step else {"done": None}),
        now=now,
        settings=settings,
        actor=viewer.actor,
        viewer=viewer,
    )
    return session.execute(select(Message).where(Message.key == row["key"])).scalar_one()


def sent_outcome(routes: Mapping[str, object]) -> str:
    """The outcome a sent message marks its task with: `sent` when the step has it, else the
    first outcome that goes on to the next step."""
    if "sent" in routes:
        return "sent"
    onward = [name for name, route in routes.items() if route in (None, "next")]
    return onward[0] if onward else next(iter(routes))


def _step_of(session: Session, task: Task) -> tuple[Definition | None, ManualStepBase | None]:
    if task.enrollment_id is None:
        return None, None
    version_id = session.scalar(
        select(Enrollment.version_id).where(Enrollment.id == task.enrollment_id)
    )
    if version_id is None:
        return None, None
    definition = definition_for(session=session, version_id=version_id)
    step = next((s for s in definition.steps if s.key == task.step), None)
    return definition, step if isinstance(step, ManualStepBase) else None


def _message(
    session: Session,
    task: Task,
    contact: Contact,
    definition: Definition | None,
    step: ManualStepBase | None,
    body: str,
    subject: str | None,
    now: datetime,
    settings: Settings,
) -> dict[str, object]:
    action = "email" if task.kind == "manual_email" else "sms"
    blocked = reach.blocked(action, contact)
    if blocked:
        raise Conflict(f"not sent: {blocked}")
    text = body.strip()
    if not text:
        raise ValidationFailed("the message is empty")
    if len(text) > BODY_LIMIT:
        raise ValidationFailed(f"the message is longer than {BODY_LIMIT} characters")
    zone = _zone(contact, definition, settings)
    quiet = settings.quiet_hours
    check = SendCheck(action, zone, f"{quiet.start:%H:%M}", f"{quiet.end:%H:%M}")
    base: dict[str, object] = {
        "key": f"task:{task.id}",
        "enrollment_id": task.enrollment_id,
        "contact_id": task.contact_id,
        "sequence_id": task.sequence_id,
        "step": task.step,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    if action == "email":
        email_step = step if isinstance(step, ManualEmailStep) else None
        return _email(session, base, contact, definition, email_step, text, subject, check)
    sms_step = step if isinstance(step, ManualSmsStep) else None
    sender = (sms_step.sender if sms_step else None) or _senders(definition, "sms")
    if not contact.phone:
        raise ValidationFailed("not sent: the contact has no phone number")
    if not sender:
        raise ValidationFailed("not sent: the sequence has no SMS sender (senders.sms)")
    return {
        **base,
        "channel": "sms",
        "sender": sender,
        "recipient": contact.phone,
        "subject": None,
        "body": append_opt_out(text, settings.sms_opt_out_phrase),
        "meta": MessageMeta(check=Check.of(check)).stored(),
    }


def _email(
    session: Session,
    base: dict[str, object],
    contact: Contact,
    definition: Definition | None,
    step: ManualEmailStep | None,
    text: str,
    subject: str | None,
    check: SendCheck,
) -> dict[str, object]:
    sender = (step.sender if step else None) or _senders(definition, "email")
    if not contact.email:
        raise ValidationFailed("not sent: the contact has no email address")
    if not sender:
        raise ValidationFailed("not sent: the sequence has no email sender (senders.email)")
    title = (subject or "").strip()
    if not title or len(title) > SUBJECT_LIMIT or "\n" in title or "\r" in title:
        raise ValidationFailed(f"the subject must be one line of 1 to {SUBJECT_LIMIT} characters")
    body = as_html(text)
    track = step.track if step else None
    details = MessageMeta(
        message_id=message_id_for(str(base["key"]), sender),
        track_opens=bool(track and track.opens),
        track_clicks=bool(track and track.clicks),
        tracked_links=literal_links(body) if track and track.clicks else [],
        check=Check.of(check),
    )
    enrollment_id = base["enrollment_id"]
    if step is not None and step.thread == "reply_to_previous" and isinstance(enrollment_id, int):
        title = rendering.thread_reply(session, enrollment_id, title, details)
    return {
        **base,
        "channel": "email",
        "sender": sender,
        "recipient": contact.email,
        "subject": title,
        "body": body,
        "meta": details.stored(),
    }


def as_html(text: str) -> str:
    """A person's plain text as an email body: escaped, paragraphs and line breaks kept,
    web addresses made links (so that tracked clicks have something to track)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph.strip())
        linked = re.sub(r"https?://[^\s<>&\"']+", r'<a href="\g<0>">\g<0></a>', escaped)
        out.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def _senders(definition: Definition | None, kind: str) -> str | None:
    if definition is None:
        return None
    return definition.senders.email if kind == "email" else definition.senders.sms


def _zone(contact: Contact, definition: Definition | None, settings: Settings) -> str:
    """The recipient's zone, as a step's decision reads it: the contact's, else the
    sequence's fallback, else the settings'."""
    if contact.timezone and is_timezone(contact.timezone):
        return contact.timezone
    if definition is not None and definition.schedule.fallback_timezone:
        return definition.schedule.fallback_timezone
    return settings.fallback_timezone
