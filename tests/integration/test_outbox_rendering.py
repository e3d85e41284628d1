"""Steps rendered into outbox rows: the owner's variables, as the owner is at that moment."""

from __future__ import annotations

from sqlalchemy import select

from cadenza.services import enrollments
from cadenza.store.models import Contact, Message, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

NOW = "2026-12-01T12:00:00Z"
HANDOVER = """
name: Handover
senders: {email: "team@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: owner, action: set_owner, owner: "user:ana@acme.example"}
  - {key: hello, action: email, subject: "[SenderName] will call you, [FirstName]",
     body: "<p>Hi {{ contact.first_name }}, {{ user.first_name }} ({{ user.email }}) here.</p>"}
  - {key: plain, action: email, wait: {days: 1}, subject: "Hello {{ contact.first_name }}",
     body: "<p>No owner in this one.</p>"}
"""


def _start(db: Database) -> int:
    with write(db) as session:
        session.add_all(
            [
                User(email="ana@acme.example", name="Ana Ruiz", created_at=at(NOW)),
                User(email="bo@acme.example", name="Bo Chen", created_at=at(NOW)),
            ]
        )
        session.flush()
        store(session, HANDOVER, at(NOW))
        bo = session.execute(select(User.id).where(User.email == "bo@acme.example")).scalar_one()
        contact_id = add_contact(session, at(NOW), owner_id=bo)
        enrollments.enroll(
            session=session,
            sequence="Handover",
            contact_ids=[contact_id],
            now=at(NOW),
            settings=SETTINGS,
        )
    return contact_id


def _emails(db: Database) -> list[tuple[str | None, str]]:
    with db.sessions() as session:
        rows = session.execute(select(Message.subject, Message.body).order_by(Message.id))
        return [(subject, body) for subject, body in rows]


def test_an_email_reads_the_owner_a_step_earlier_in_the_same_pass_just_set(
    db: Database,
) -> None:
    contact_id = _start(db)
    run_worker(db, NOW)  # set_owner and the first email run in one pass
    [(subject, body)] = _emails(db)
    assert subject == "Ana Ruiz will call you, Jane"  # not Bo, the owner when the pass began
    assert body == "<p>Hi Jane, Ana (ana@acme.example) here.</p>"
    with db.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.owner_id is not None


def test_an_email_that_does_not_name_the_owner_renders_the_same(db: Database) -> None:
    _start(db)
    run_worker(db, NOW)
    run_worker(db, "2026-12-02T12:00:00Z")
    assert _emails(db)[1] == ("Hello Jane", "<p>No owner in this one.</p>")
