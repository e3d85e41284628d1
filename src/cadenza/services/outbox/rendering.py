"""Rendering automatic steps into outbox rows, one idempotency key per step visit.

A step renders for the contact as the step sees it: an owner set by an earlier step of the
same pass is the `user.*` of its templates and the owner its notifications go to. HTML bodies
escape every value put into them (a template marks trusted HTML with `|safe`), and clicks
are tracked only on the links the step's own template wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cadenza.channels.tracking import literal_links
from cadenza.core import variants
from cadenza.core.contact import ContactView
from cadenza.core.decisions import StepFailed
from cadenza.core.definition import (
    Definition,
    DialerStepBase,
    EmailStep,
    MmsStep,
    NotifyStep,
    RinglessVoicemailStep,
    SmsStep,
    Step,
    VoicemailStep,
    WebhookStep,
)
from cadenza.core.messages import append_opt_out, message_id_for, reply_subject
from cadenza.core.reach import SendCheck
from cadenza.core.templates import build_variables, parse, render, substitution_only
from cadenza.errors import CadenzaError
from cadenza.services.outbox.meta import Check, MessageMeta
from cadenza.services.reports import winners
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.models import Contact, Group, GroupMember, Message, User


class RenderError(CadenzaError):
    """A step could not be turned into a message (no sender, a template that fails...)."""


@dataclass
class Addressing:
    """Who and what a message is about (`contact` as the step sees it)."""

    enrollment_id: int
    sequence_id: int
    sequence_name: str
    contact_id: int
    contact: ContactView
    definition: Definition
    # The mailbox a rotation chose for this step's email (None: the sequence's own).
    email_sender: str | None = None
    # The contacts' lines read for a whole batch (None: read this contact's when needed).
    lines: Lines | None = None


def idempotency_key(enrollment_id: int, step: str, visit: int) -> str:
    """`enrollment:step:visit` (DESIGN.md section 5): written once, ever."""
    return f"{enrollment_id}:{step}:{visit}"


@dataclass(slots=True)
class StepRenderer:
    """The machine's Renderer for one enrollment: its steps' messages as outbox rows."""

    session: Session
    settings: Settings
    now: datetime
    enrollment_id: int
    sequence_id: int
    sequence_name: str
    contact_id: int
    definition: Definition
    chosen: Callable[[], str | None] | None = None  # the mailbox a rotation chose
    lines: Lines | None = None
    # The variables of the last step rendered, for the contact as that step saw it.
    last: tuple[ContactView, str | None, dict[str, Any]] | None = None

    def render(
        self, step: Step, contact: ContactView, visit: int, check: SendCheck | None
    ) -> list[dict[str, Any]]:
        """The step's rows for the contact as the step sees it; StepFailed when it cannot."""
        who = Addressing(
            self.enrollment_id,
            self.sequence_id,
            self.sequence_name,
            self.contact_id,
            contact,
            self.definition,
            self.chosen() if self.chosen is not None else None,
            self.lines,
        )
        try:
            variables = self._variables(who, step)
            return message_rows(
                self.session, who, step, visit, self.now, self.settings, check, variables
            )
        except RenderError as exc:
            raise StepFailed(str(exc)) from None

    def _variables(self, who: Addressing, step: Step) -> dict[str, Any] | None:
        """The variables the enrollment's previous step had, when they are still the same.

        Steps one after another in a pass see the same contact until one changes it. Only
        shared between steps whose templates merely read values (no call may change them),
        and that do not read the owner (looked up afresh).
        """
        if not _shares_variables(step):
            return None
        last = self.last
        if last is not None and last[0] is who.contact and last[1] == who.email_sender:
            return last[2]
        variables = _variables(self.session, who, step)
        self.last = (who.contact, who.email_sender, variables)
        return variables


def message_rows(
    session: Session,
    who: Addressing,
    step: Step,
    visit: int,
    now: datetime,
    settings: Settings,
    check: SendCheck | None = None,
    variables: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows for one automatic step, rendered for the contact (with `variables`
    when the caller has them already)."""
    key = idempotency_key(who.enrollment_id, step.key, visit)
    if variables is None:
        variables = _variables(session, who, step)
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
    }
    checked = _checked(check) if check is not None else None
    if isinstance(step, EmailStep | SmsStep):
        return [_variant_row(session, who, step, base, variables, settings, checked, now)]
    if isinstance(step, MmsStep):
        return [_sms(session, who, step, base, variables, settings, checked)]
    if isinstance(step, DialerStepBase):
        return [dialer_row(session, who, step, base, variables, checked, settings)]
    if isinstance(step, VoicemailStep | RinglessVoicemailStep):
        audio = step.audio if isinstance(step, VoicemailStep) else step.recording
        details = MessageMeta(audio=audio, check=checked)
        return [
            {
                **base,
                "channel": "voicemail",
                "sender": sms_sender(session, who, step.sender),
                "recipient": who.contact.phone,
                "body": "",
                "meta": details.stored(),
            }
        ]
    if isinstance(step, WebhookStep):
        return [_webhook(who, step, base, variables, now)]
    if isinstance(step, NotifyStep):
        return _notify(session, who, step, base, variables)
    raise RenderError(f"step {step.key!r} ({step.action}) sends no message")


def _variant_row(
    session: Session,
    who: Addressing,
    step: EmailStep | SmsStep,
    base: dict[str, Any],
    variables: dict[str, Any],
    settings: Settings,
    check: Check | None,
    now: datetime,
) -> dict[str, Any]:
    """An email or SMS row, as the enrollment's A/B variant of the step when it has them."""
    variant = None
    if step.variants:
        won = winners.winner(session, who.sequence_id, step, now)
        variant = variants.pick(step, who.enrollment_id, won)
        step = variants.apply(step, variant)  # type: ignore[assignment]
    if isinstance(step, EmailStep):
        row = _email(session, who, step, base, variables, check)
    else:
        row = _sms(session, who, step, base, variables, settings, check)
    if variant is not None:
        row["meta"] = {**row["meta"], "variant": variant.key}
    return row


def thread_reply(session: Session, enrollment_id: int, subject: str, details: MessageMeta) -> str:
    """Make an email a reply in the thread of the enrollment's last email: its subject (with
    `Re:`), and In-Reply-To/References set on `details`."""
    previous = session.execute(
        select(Message.subject, Message.meta)
        .where(Message.enrollment_id == enrollment_id, Message.channel == "email")
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if previous is None:
        return subject
    earlier = MessageMeta.read(previous.meta)
    if earlier.message_id:
        details.in_reply_to = earlier.message_id
        details.references = [*earlier.references, earlier.message_id]
    return reply_subject(previous.subject or subject)


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        # Its own column too: a reply in its thread is found by it, whoever sends the reply.
        found = (row.get("meta") or {}).get("message_id")
        row["message_id"] = str(found).lower() if found else None
    bulk.insert_rows(session, Message.__table__, rows)  # type: ignore[arg-type]


def _text(template: str, variables: dict[str, Any], what: str, *, html: bool = False) -> str:
    try:
        return render(template, variables, html=html)
    except CadenzaError as exc:
        raise RenderError(f"{what}: {exc}") from None


def _variables(session: Session, who: Addressing, step: Step) -> dict[str, Any]:
    # `user.*` and `sender.name` are the owner's: looked up only for templates that read them.
    owner = _owner(session, who.contact.owner) if _reads_owner(step) else None
    senders = who.definition.senders
    user = owner or {}
    email = who.email_sender or senders.email or ""
    sender = {"email": email, "sms": senders.sms or "", "name": user.get("name", "")}
    return build_variables(
        who.contact, user=user, sender=sender, sequence={"name": who.sequence_name}
    )


@lru_cache(maxsize=1024)
def _checked(check: SendCheck) -> Check:
    return Check.of(check)


# By step (kept with the answer, so that its id is not reused while it is).
_SHARES: dict[int, tuple[Step, bool]] = {}


def _shares_variables(step: Step) -> bool:
    """Whether a step's templates only read values, none of them the owner's."""
    found = _SHARES.get(id(step))
    if found is None or found[0] is not step:
        if len(_SHARES) > 4096:
            _SHARES.clear()
        found = _SHARES[id(step)] = (step, _only_reads_values(step))
    return found[1]


def _only_reads_values(step: Step) -> bool:
    if not isinstance(step, EmailStep | SmsStep | WebhookStep):
        return False
    if isinstance(step, EmailStep | SmsStep) and step.variants:
        return False  # a variant's templates are not the step's
    return not _reads_owner(step) and all(substitution_only(t) for t in _templates(step))


def _reads_owner(step: Step) -> bool:
    return any(_template_reads_owner(text) for text in _templates(step))


def _templates(step: Step) -> Iterator[str]:
    """The templates a step renders with the variables of `_variables`."""
    if isinstance(step, EmailStep | NotifyStep):
        yield step.subject
        yield step.body
    elif isinstance(step, SmsStep | MmsStep):
        yield step.body
    elif isinstance(step, DialerStepBase):
        yield step.message
    elif isinstance(step, WebhookStep):
        yield step.url
        yield from step.headers.values()


@lru_cache(maxsize=4096)
def _template_reads_owner(text: str) -> bool:
    """Whether a template reads `user` or `sender`, the variables the contact's owner fills."""
    try:
        names = meta.find_undeclared_variables(parse(text))
    except (TemplateSyntaxError, RecursionError):
        return True  # rendering it will say what is wrong
    return not names.isdisjoint(("user", "sender"))


_USER = select(User.email, User.name, User.phone).where(User.email == bindparam("email"))
_LINE = select(Contact.line).where(Contact.id == bindparam("id"))


def contact_line(session: Session, contact_id: int) -> str | None:
    """The contact's sticky outbound number, if a step gave them one."""
    return session.connection().execute(_LINE, {"id": contact_id}).scalar()


class Lines:
    """The sticky numbers of a batch's contacts, read in one query at the first text or call.

    A batch's steps see the lines as they were when it was claimed: a line a step assigns
    is written with the batch's other contact changes, after every decision.
    """

    def __init__(self, session: Session, contact_ids: Iterable[int]) -> None:
        self.session, self.contact_ids = session, contact_ids
        self._found: dict[int, str] | None = None

    def __call__(self, contact_id: int) -> str | None:
        if self._found is None:
            self._found = {}
            connection = self.session.connection()
            for batch in bulk.chunks(sorted(set(self.contact_ids))):
                query = select(Contact.id, Contact.line).where(
                    Contact.id.in_(batch), Contact.line.is_not(None)
                )
                self._found.update((cid, line) for cid, line in connection.execute(query) if line)
        return self._found.get(contact_id)


def _owner(session: Session, email: str | None) -> dict[str, str] | None:
    """The owner the contact has as the step sees it (set earlier in the pass, perhaps)."""
    if not email:
        return None
    row = session.connection().execute(_USER, {"email": email}).first()
    return {"email": row.email, "name": row.name, "phone": row.phone or ""} if row else None


def _email(
    session: Session,
    who: Addressing,
    step: EmailStep,
    base: dict[str, Any],
    variables: dict[str, Any],
    check: Check | None,
) -> dict[str, Any]:
    sender = step.sender or who.email_sender or who.definition.senders.email
    if not sender and who.definition.senders.email_rotation:
        sender = who.definition.senders.email_rotation[0]
    if not sender:
        raise RenderError("no email sender: set senders.email or the step's sender")
    subject = _text(step.subject, variables, "subject")
    message_id = message_id_for(base["key"], sender)
    if step.thread == "reply_to_previous":
        details = _email_details(step, check)
        details.message_id = message_id
        subject = thread_reply(session, who.enrollment_id, subject, details)
        meta = details.stored()
    else:
        meta = {"message_id": message_id, **_email_meta(step, check)}
    return {
        **base,
        "channel": "email",
        "sender": sender,
        "recipient": who.contact.email,
        "subject": subject,
        "body": _text(step.body, variables, "body", html=True),
        "meta": meta,
    }


def _email_details(step: EmailStep, check: Check | None) -> MessageMeta:
    """An email step's details, but for its Message-ID (and its thread's)."""
    return MessageMeta(
        cc=step.cc,
        bcc=step.bcc,
        reply_to=step.reply_to,
        track_opens=step.track.opens,
        track_clicks=step.track.clicks,
        tracked_links=_links(step.body) if step.track.clicks else [],
        check=check,
    )


# The stored details of an email step by step and check, made once rather than per message
# (the step is kept with them, so that its id is not reused while they are).
_EMAIL_META: dict[tuple[int, Check | None], tuple[EmailStep, dict[str, Any]]] = {}


def _email_meta(step: EmailStep, check: Check | None) -> dict[str, Any]:
    """What `_email_details(step, check).stored()` is (the same for every message)."""
    found = _EMAIL_META.get((id(step), check))
    if found is None or found[0] is not step:
        if len(_EMAIL_META) > 4096:
            _EMAIL_META.clear()
        found = _EMAIL_META[(id(step), check)] = (step, _email_details(step, check).stored())
    return found[1]


@lru_cache(maxsize=1024)
def _links(body: str) -> list[str]:
    return literal_links(body)


def sms_sender(session: Session, who: Addressing, override: str | None) -> str:
    """The number a text or call to the contact comes from: the step's, the contact's line
    (`add_line`), else the sequence's."""
    if override:
        line: str | None = override
    elif who.lines is not None:
        line = who.lines(who.contact_id)
    else:
        line = contact_line(session, who.contact_id)
    sender = line or who.definition.senders.sms
    if not sender:
        raise RenderError("no SMS sender: set senders.sms or the step's sender")
    return sender


def _sms(
    session: Session,
    who: Addressing,
    step: SmsStep | MmsStep,
    base: dict[str, Any],
    variables: dict[str, Any],
    settings: Settings,
    check: Check | None,
) -> dict[str, Any]:
    body = append_opt_out(_text(step.body, variables, "body"), settings.sms_opt_out_phrase)
    media = list(step.media) if isinstance(step, MmsStep) else []
    return {
        **base,
        "channel": step.action,
        "sender": sms_sender(session, who, step.sender),
        "recipient": who.contact.phone,
        "body": body,
        "meta": MessageMeta(media=media, check=check).stored() if media else _text_meta(check),
    }


@lru_cache(maxsize=1024)
def _text_meta(check: Check | None) -> dict[str, Any]:
    """A text's stored details, by its check (the same for every text with no media)."""
    return MessageMeta(check=check).stored()


def group_agents(session: Session, group: str) -> list[dict[str, Any]]:
    """The ring group's members who have a phone, in the order they are rung."""
    query = (
        select(User.id, User.name, User.email, User.phone)
        .join(GroupMember, GroupMember.user_id == User.id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.name == group, User.active, User.phone.is_not(None), User.phone != "")
        .order_by(GroupMember.position, User.id)
    )
    return [
        {"id": r.id, "name": r.name or r.email, "phone": r.phone} for r in session.execute(query)
    ]


def dialer_row(
    session: Session,
    who: Addressing,
    step: DialerStepBase,
    base: dict[str, Any],
    variables: dict[str, Any],
    check: Check | None,
    settings: Settings,
) -> dict[str, Any]:
    """A dialer step's call: to the contact, from their line, with the message to play."""
    dialer = step.model_dump(
        mode="json", include={"action", "group", "repeat", "retries", "retry_after",
                              "remove_if_answered", "on_machine", "voicemail",
                              "voicemail_text", "announcement"},
    )  # fmt: skip
    dialer["base_url"] = settings.base_url
    dialer["agents"] = group_agents(session, step.group)
    if not dialer["agents"] and step.action == "preview_dialer":
        raise RenderError(f"ring group {step.group!r} has no member with a phone number")
    return {
        **base,
        "channel": "call",
        "sender": sms_sender(session, who, step.sender),
        "recipient": who.contact.phone,
        "body": _text(step.message, variables, "message"),
        "meta": MessageMeta(dialer=dialer, check=check).stored(),
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
        "contact": _contact_json(who.contact),
        "time": now.isoformat(),
    }
    headers = {k: _text(v, variables, f"header {k}") for k, v in step.headers.items()}
    if headers:
        meta = MessageMeta(method=step.method, headers=headers, payload=payload).stored()
    else:  # what `stored()` makes of it, without validating the payload back and forth
        meta = {**_webhook_meta(step.method), "payload": payload}
    return {
        **base,
        "channel": "webhook",
        "sender": None,
        "recipient": _text(step.url, variables, "url"),
        "body": "",
        "meta": meta,
    }


@lru_cache(maxsize=16)
def _webhook_meta(method: str) -> dict[str, Any]:
    return MessageMeta(method=method).stored()


# The last contact a webhook carried, as JSON: the steps of one pass carry the same one.
_last_contact: tuple[ContactView, dict[str, Any]] | None = None


def _contact_json(contact: ContactView) -> dict[str, Any]:
    global _last_contact
    last = _last_contact
    if last is not None and last[0] is contact:
        return last[1]
    dumped = contact.model_dump(mode="json")
    _last_contact = (contact, dumped)
    return dumped


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
    body = _text(step.body, variables, "body", html=step.via == "email")
    senders = who.definition.senders
    sender = (senders.email if step.via == "email" else senders.sms) or ""
    rows = []
    for index, user in enumerate(users):
        address = user.email if step.via == "email" else user.phone
        if not address:
            continue
        key = f"{base['key']}:{index}"
        details = MessageMeta(notify=True, message_id=message_id_for(key, sender))
        rows.append(
            {
                **base,
                "key": key,
                "channel": step.via,
                "sender": sender or None,
                "recipient": address,
                "subject": subject,
                "body": body,
                "meta": details.stored(),
            }
        )
    return rows


def _notify_targets(session: Session, who: Addressing, target: str) -> list[User]:
    if target == "owner":
        owner = who.contact.owner
        if not owner:
            return []
        return list(session.scalars(select(User).where(User.email == owner)))
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
