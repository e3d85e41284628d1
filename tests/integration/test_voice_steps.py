"""add_line gives texts their number; remove_from_dialer takes a queued call away mid-step."""

from __future__ import annotations

from sqlalchemy import select

from cadenza.services import enrollments
from cadenza.store.models import Message, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

NOW = "2026-12-01T10:00:00-06:00"
QUEUE = """
name: Queue
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: line, action: add_line, line: "+13125550199"}
  - {key: hello, action: sms, body: "Hi", wait: {minutes: 5}}
  - {key: queue, action: power_dialer, assignee: "user:rep@acme.example"}
  - {key: after, action: add_tag, tag: moved_on}
"""
REMOVER = """
name: Remover
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: unqueue, action: remove_from_dialer, wait: {hours: 1}}
"""


def test_a_line_sends_the_texts_and_a_removal_takes_the_call_off_the_queue(db: Database) -> None:
    with write(db) as session:
        session.add(User(email="rep@acme.example", name="Rep", role="agent", created_at=at(NOW)))
        store(session, QUEUE, at(NOW))
        store(session, REMOVER, at(NOW))
        contact = add_contact(session, at(NOW), email="j@lead.example", phone="+13125550101")
        for name in ("Queue", "Remover"):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=[contact], now=at(NOW),
                settings=SETTINGS,
            )  # fmt: skip
    run_worker(db, NOW)
    run_worker(db, "2026-12-01T10:06:00-06:00")
    with db.sessions() as session:
        [text] = session.scalars(select(Message).where(Message.channel == "sms"))
        assert text.sender == "+13125550199"
        [task] = session.scalars(select(Task))
        assert (task.kind, task.status) == ("power_dialer", "open")
    run_worker(db, "2026-12-01T11:01:00-06:00")
    with db.sessions() as session:
        [task] = session.scalars(select(Task))
        assert task.status == "canceled"
    run_worker(db, "2026-12-01T11:02:00-06:00")  # the step after the queue runs
    with db.sessions() as session:
        [queue] = enrollments.list_enrollments(session=session, sequence="Queue")
        assert queue["status"] == "completed"
