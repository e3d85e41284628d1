"""Rendering automatic steps into outbox rows, one idempotency key per step visit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.compliance import append_opt_out, message_id_for, reply_subject
from cadenza.core.contact import ContactView
from cadenza.core.definition import (
    Definition,
    EmailStep,
    MmsStep,
    NotifyStep,
    SmsStep,
    Step,
    VoicemailStep,
    WebhookStep,
)
from cadenza.core.templates import build_variables, render
from cadenza.errors import CadenzaError
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.models import Contact, Group, GroupMember, Message, User


class RenderError(CadenzaError):
    """A step could not be turned into a message (no sender, a template that fails...)."""


@dataclass
class Addressing:
    """Who and what a message is about."""

    enrollment_id: int
    sequence_id: int
    sequence_name: str
    contact_id: int
    contact: ContactView
    definition: Definition


def idempotency_key(enrollment_id: int, step: str, visit: int) -> str:
    """`enrollment:step:visit` (DESIGN.md section 5): written once, ever."""
    return f"{enrollment_id}:{step}:{visit}"


def message_rows(
    session: Session, who: Addressing, step: Step, visit: int, now: datetime, settings: Settings
) -> list[dict[str, Any]]:
    """The outbox rows for one automatic step, rendered for the contact."""
    key = idempotency_key(who.enrollment_id, step.key, visit)
    variables = _variables(session, who)
    base = {
        "key": key,
        "enrollment_id": who.enrollment_id,
        "contact_id": who.contact_id,
        "sequence_id": who.sequence_id,
        "step": step.key,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "subject": None,
        "meta": {},
    }
    if isinstance(step, EmailStep):
        return [_email(session, who, step, base, variables)]
    if isinstance(step, SmsStep | MmsStep):
        return [_sms(who, step, base, variables, settings)]
    if isinstance(step, VoicemailStep):
        sender = _sms_sender(who, step.sender)
        return [
            {
                **base,
                "channel": "voicemail",
                "sender": sender,
                "recipient": who.contact.phone,
                "body": "",
                "meta": {"audio": step.audio},
            }
        ]
    if isinstance(step, WebhookStep):
        return [_webhook(who, step, base, variables, now)]
    if isinstance(step, NotifyStep):
        return _notify(session, who, step, base, variables)
    raise RenderError(f"step {step.key!r} ({step.action}) sends no message")


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(session, Message.__table__, rows)  # type: ignore[arg-type]


def _text(template: str, variables: dict[str, Any], what: str, *, html: bool = False) -> str:
    try:
        return render(template, variables, html=html)
    except CadenzaError as exc:
        raise RenderError(f"{what}: {exc}") from None


def _variables(session: Session, who: Addressing) -> dict[str, Any]:
    owner = _owner(session, who.contact_id)
    senders = who.definition.senders
    user = {"email": owner.email, "name": owner.name, "phone": owner.phone or ""} if owner else {}
    sender = {"email": senders.email or "", "sms": senders.sms or "", "name": user.get("name", "")}
    return build_variables(
        who.contact, user=user, sender=sender, sequence={"name": who.sequence_name}
    )


def _owner(session: Session, contact_id: int) -> User | None:
    """The contact's owner as the database has it now (a step earlier in this pass may
    have just set it), not as the contact looked when the pass began."""
    return session.execute(
        select(User).join(Contact, Contact.owner_id == User.id).where(Contact.id == contact_id)
    ).scalar_one_or_none()


def _email(
    session: Session,
    who: Addressing,
    step: EmailStep,
    base: dict[str, Any],
    variables: dict[str, Any],
) -> dict[str, Any]:
    sender = step.sender or who.definition.senders.email
    if not sender:
        raise RenderError("no email sender: set senders.email or the step's sender")
    subject = _text(step.subject, variables, "subject")
    meta: dict[str, Any] = {
        "message_id": message_id_for(base["key"], sender),
        "cc": step.cc,
        "bcc": step.bcc,
        "reply_to": step.reply_to,
        "track_opens": step.track.opens,
        "track_clicks": step.track.clicks,
        "in_reply_to": None,
        "references": [],
    }
    if step.thread == "reply_to_previous":
        previous = session.execute(
            select(Message.subject, Message.meta)
            .where(Message.enrollment_id == who.enrollment_id, Message.channel == "email")
            .order_by(Message.id.desc())
            .limit(1)
        ).first()
        if previous is not None:
            earlier_id = previous.meta.get("message_id")
            subject = reply_subject(previous.subject or subject)
            meta["in_reply_to"] = earlier_id
            meta["references"] = [*previous.meta.get("references", []), earlier_id]
    return {
        **base,
        "channel": "email",
        "sender": sender,
        "recipient": who.contact.email,
        "subject": subject,
        "body": _text(step.body, variables, "body"),
        "meta": meta,
    }


def _sms_sender(who: Addressing, override: str | None) -> str:
    sender = override or who.definition.senders.sms
    if not sender:
        raise RenderError("no SMS sender: set senders.sms or the step's sender")
    return sender


def _sms(
    who: Addressing,
    step: SmsStep | MmsStep,
    base: dict[str, Any],
    variables: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    body = append_opt_out(_text(step.body, variables, "body"), settings.sms_opt_out_phrase)
    media = list(step.media) if isinstance(step, MmsStep) else []
    return {
        **base,
        "channel": step.action,
        "sender": _sms_sender(who, step.sender),
        "recipient": who.contact.phone,
        "body": body,
        "meta": {"media": media},
    }


def _webhook(
    who: Addressing,
    step: WebhookStep,
    base: dict[str, Any],
    variables: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    payload = {
        "type": "sequence.step",
        "sequence": who.sequence_name,
        "step": step.key,
        "enrollment_id": who.enrollment_id,
        "contact": who.contact.model_dump(mode="json"),
        "time": now.isoformat(),
    }
    headers = {k: _text(v, variables, f"header {k}") for k, v in step.headers.items()}
    return {
        **base,
        "channel": "webhook",
        "sender": None,
        "recipient": _text(step.url, variables, "url"),
        "body": "",
        "meta": {"method": step.method, "headers": headers, "payload": payload},
    }


def _notify(
    session: Session,
    who: Addressing,
    step: NotifyStep,
    base: dict[str, Any],
    variables: dict[str, Any],
) -> list[dict[str, Any]]:
    users = _notify_targets(session, who, step.to)
    if not users:
        raise RenderError(f"notify {step.to}: nobody to notify")
    subject = _text(step.subject, variables, "subject")
    body = _text(step.body, variables, "body")
    rows = []
    for index, user in enumerate(users):
        address = user.email if step.via == "email" else user.phone
        if not address:
            continue
        sender = (
            who.definition.senders.email if step.via == "email" else who.definition.senders.sms
        ) or ""
        rows.append(
            {
                **base,
                "key": f"{base['key']}:{index}",
                "channel": step.via,
                "sender": sender or None,
                "recipient": address,
                "subject": subject,
                "body": body,
                "meta": {
                    "notify": True,
                    "message_id": message_id_for(f"{base['key']}:{index}", sender),
                },
            }
        )
    return rows


def _notify_targets(session: Session, who: Addressing, target: str) -> list[User]:
    if target == "owner":
        owner = _owner(session, who.contact_id)
        return [owner] if owner else []
    kind, _, name = target.partition(":")
    if kind == "user":
        return list(session.scalars(select(User).where(User.email == name)))
    query = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.name == name)
        .order_by(GroupMember.position)
    )
    return list(session.scalars(query))
