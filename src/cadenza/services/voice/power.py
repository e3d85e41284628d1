"""The power dialer: a rep's queue of calls steps put there, click-to-call, and the outcome.

The queue is the rep's open `power_dialer` tasks, soonest due first. "Call next" rings the
rep's own phone (their user `phone`) and bridges it to the contact from the contact's line
(or the sequence's number); the outcome the rep picks logs the call, unless the provider's
final status already did, and completes the task, which moves the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.voice import SIMULATED, OutgoingCall, VoiceProvider
from cadenza.core.contact_fields import parse_phone
from cadenza.core.definition import PowerDialerStep
from cadenza.core.templates import build_variables, render
from cadenza.errors import CadenzaError, Conflict, ValidationFailed
from cadenza.services import tasks as task_service
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.services.voice import logged
from cadenza.services.voice.urls import url
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Contact, Enrollment, Task, User, VoiceCall

KIND = "power_dialer"
OUTCOME_DISPOSITIONS = {"no_answer": "no answer", "left_voicemail": "voicemail"}


@dataclass(frozen=True)
class QueueEntry:
    """One call waiting in the rep's queue: the task, its contact and the step's script."""

    task_id: int
    title: str
    due_at: datetime | None
    contact: dict[str, Any]
    script: str
    outcomes: list[str]
    call: VoiceCall | None


def queue(*, session: Session, viewer: Viewer) -> list[QueueEntry]:
    """The viewer's power-dialer queue, in the order the calls are to be made."""
    if viewer.user_id is None:
        return []
    query = (
        select(Task, Contact)
        .join(Contact, Contact.id == Task.contact_id)
        .where(Task.kind == KIND, Task.status == "open", Task.assignee_id == viewer.user_id)
        .order_by(Task.due_at, Task.id)
    )
    rows = session.execute(query).all()
    choices = task_service.outcome_choices(session=session, task_ids=[t.id for t, _ in rows])
    return [
        QueueEntry(
            task.id,
            task.title,
            task.due_at,
            _card(contact),
            _script(session, task),
            list(choices.get(task.id, {})),
            _last_call(session, task.id),
        )
        for task, contact in rows
    ]


def call_next(
    *,
    session: Session,
    viewer: Viewer,
    task_id: int,
    now: datetime,
    settings: Settings,
    provider: VoiceProvider,
) -> VoiceCall:
    """Ring the rep's phone and bridge it to the task's contact through the provider."""
    task = _power_task(session, viewer, task_id)
    rep = session.get(User, viewer.user_id) if viewer.user_id else None
    if rep is None or not rep.phone:
        raise ValidationFailed("add your phone number to your profile: the dialer rings it first")
    contact = session.get(Contact, task.contact_id)
    if contact is None or not contact.phone:
        raise ValidationFailed("this contact has no phone number")
    if contact.dnc:
        raise Conflict("this contact is do-not-contact")
    line = contact.line or _sequence_line(session, task)
    if not line:
        raise ValidationFailed("no line to call from: set the sequence's senders.sms")
    call = VoiceCall(
        kind="power", direction="outbound", agent_id=rep.id, line=line, to=contact.phone,
        contact_id=contact.id, enrollment_id=task.enrollment_id, sequence_id=task.sequence_id,
        step=task.step, task_id=task.id, status="queued", data={}, created_at=now,
    )  # fmt: skip
    session.add(call)
    session.flush()
    placed = provider.place_call(
        OutgoingCall(
            key=f"power:{call.id}",
            sender=line,
            to=rep.phone,
            answer_url=url(settings.base_url, "answer", call=call.id),
            status_url=url(settings.base_url, "status", call=call.id),
        )
    )
    call.sid, call.status = placed.provider_id or None, "initiated"
    if placed.detail.startswith(SIMULATED):
        call.data = {"simulated": placed.detail.removeprefix(SIMULATED)}
    return call


def record_outcome(
    *,
    session: Session,
    viewer: Viewer,
    task_id: int,
    outcome: str,
    now: datetime,
    settings: Settings,
) -> Task:
    """The rep's outcome: the call logged (if the provider has not) and the task completed."""
    task = _power_task(session, viewer, task_id)
    call = _last_call(session, task.id)
    if call is not None and call.ended_at is None:
        call.status, call.ended_at = "completed", now
        call.total_seconds = max(0, int((now - call.created_at).total_seconds()))
        call.wait_seconds = max(0, call.total_seconds - call.talk_seconds)
        call.disposition = OUTCOME_DISPOSITIONS.get(outcome, "answered")
        logged.log(session, call, now, settings)
    return task_service.complete_task(session=session, task_id=task_id, outcome=outcome,
                                      now=now, settings=settings, actor=viewer.actor,
                                      viewer=viewer)  # fmt: skip


def own_phone(*, session: Session, viewer: Viewer) -> str:
    """The rep's own phone number ("" when they have none yet)."""
    user = session.get(User, viewer.user_id) if viewer.user_id else None
    return (user.phone or "") if user else ""


def set_own_phone(*, session: Session, viewer: Viewer, phone: str, default_region: str) -> str:
    """The rep's own phone, which click-to-call rings first (E.164); bad input changes nothing."""
    user = session.get(User, viewer.user_id) if viewer.user_id else None
    if user is None:
        raise ValidationFailed("only a user has a phone to ring")
    try:
        user.phone = parse_phone(phone.strip(), default_region)[0]
    except ValueError as exc:
        raise ValidationFailed(f"phone: {exc}") from None
    return user.phone


def _power_task(session: Session, viewer: Viewer, task_id: int) -> Task:
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if task.kind != KIND or task.status != "open":
        raise Conflict(f"task {task_id} is not a call waiting in a power dialer")
    return task


def _card(contact: Contact) -> dict[str, Any]:
    fields = contact.fields or {}
    return {
        "id": contact.id, "name": f"{contact.first_name} {contact.last_name}".strip(),
        "phone": contact.phone, "email": contact.email, "company": contact.company,
        "timezone": contact.timezone, "state": fields.get("state"),
        "disposition": contact.disposition,
    }  # fmt: skip


def _definition_step(session: Session, task: Task) -> Any:
    enrollment = session.get(Enrollment, task.enrollment_id) if task.enrollment_id else None
    if enrollment is None or task.step is None:
        return None
    definition = definition_for(session=session, version_id=enrollment.version_id)
    return next((s for s in definition.steps if s.key == task.step), None)


def _script(session: Session, task: Task) -> str:
    """The step's script, rendered for the contact (a script that fails says why)."""
    step = _definition_step(session, task)
    if not isinstance(step, PowerDialerStep) or not (step.script or step.instructions):
        return ""
    view = load_views(session=session, contact_ids=[task.contact_id])[task.contact_id]
    try:
        return render(step.script or step.instructions or "", build_variables(view))
    except CadenzaError as exc:
        return f"(the script cannot be shown: {exc})"


def _sequence_line(session: Session, task: Task) -> str | None:
    enrollment = session.get(Enrollment, task.enrollment_id) if task.enrollment_id else None
    if enrollment is None:
        return None
    return definition_for(session=session, version_id=enrollment.version_id).senders.sms


def _last_call(session: Session, task_id: int) -> VoiceCall | None:
    query = select(VoiceCall).where(VoiceCall.task_id == task_id).order_by(VoiceCall.id.desc())
    return session.scalars(query.limit(1)).first()
