"""A message step of a definition rendered for a contact, as the worker would render it, and
sent as a test email to the person editing it: through the outbox and the dispatcher like
any message, its subject marked "[Test]", with no enrollment and no history of the contact.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition, EmailStep, MmsStep, NotifyStep, SmsStep, Step
from cadenza.errors import ValidationFailed
from cadenza.services import history
from cadenza.services.outbox.meta import MessageMeta
from cadenza.services.outbox.rendering import Addressing, RenderError, message_rows, write
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings

TEST_PREFIX = "[Test] "
PREVIEWED = (EmailStep, SmsStep, MmsStep, NotifyStep)


@dataclass(frozen=True)
class Rendered:
    """A step's message as the contact would get it."""

    step: str
    channel: str
    sender: str | None
    recipient: str | None
    subject: str | None
    body: str


def message_steps(definition: Definition) -> list[str]:
    """The keys of the steps that send a message a person can preview."""
    return [step.key for step in definition.steps if isinstance(step, PREVIEWED)]


def _step(definition: Definition, key: str) -> Step:
    for step in definition.steps:
        if step.key == key:
            if not isinstance(step, PREVIEWED):
                raise ValidationFailed(f"step {key!r} ({step.action}) sends no message to preview")
            return step
    raise ValidationFailed(f"the definition has no step {key!r}")


def render_step(
    *,
    session: Session,
    definition: Definition,
    key: str,
    contact: ContactView,
    now: datetime,
    settings: Settings,
) -> Rendered:
    """The step rendered for the contact (variables, shortcodes, sandbox and limits as sent)."""
    step = _step(definition, key)
    who = Addressing(0, 0, definition.name, contact.id or 0, contact, definition)
    try:
        rows = message_rows(session, who, step, 0, now, settings)
    except RenderError as exc:
        raise ValidationFailed(str(exc)) from None
    row = rows[0]
    return Rendered(
        key, row["channel"], row["sender"], row["recipient"], row["subject"], row["body"]
    )


def send_test_email(
    *,
    session: Session,
    definition: Definition,
    key: str,
    contact: ContactView,
    now: datetime,
    settings: Settings,
    viewer: Viewer,
) -> Rendered:
    """Queue the email step, rendered for the contact, to the viewer's own address."""
    if not viewer.email:
        raise ValidationFailed("a test email goes to the person logged in: they have no email")
    rendered = render_step(
        session=session, definition=definition, key=key, contact=contact, now=now, settings=settings
    )
    if rendered.channel != "email":
        raise ValidationFailed(
            f"step {key!r} sends {rendered.channel}: only emails are sent as tests"
        )
    # A message to a user about a contact (as a notification is): no unsubscribe footer, and
    # no contact, so that the contact's own flags and history are left alone.
    meta = MessageMeta(notify=True)
    write(
        session,
        [
            {
                "key": f"test:{secrets.token_hex(8)}",
                "enrollment_id": None,
                "contact_id": None,
                "sequence_id": None,
                "step": key,
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "channel": "email",
                "sender": rendered.sender,
                "recipient": viewer.email,
                "subject": TEST_PREFIX + (rendered.subject or ""),
                "body": rendered.body,
                "meta": meta.stored(),
            }
        ],
    )
    history.record(
        session,
        history.Subject(None),
        "test_email_queued",
        now,
        reason=f"step {key} of {definition.name} as contact {contact.id} would get it",
        actor=viewer.actor,
        to=viewer.email,
    )
    return rendered
