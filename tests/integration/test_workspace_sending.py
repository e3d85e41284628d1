"""A manual text sent from the task screen end to end, a refused send that keeps the draft,
a person's own time zone, and the queue's next step that follows routes."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cadenza.channels.sms import read_sink
from cadenza.clock import FixedClock
from cadenza.core.definition import Definition
from cadenza.engine.dispatcher import Dispatcher
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.enrollments.queue import _step_and_next
from cadenza.services.history import list_history
from cadenza.services.users import add_user
from cadenza.settings import Settings
from cadenza.store.models import Contact, Enrollment, Message, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.integration.web_login import PASSWORD, form_token, logged_in

T0 = "2026-03-02T15:00:00Z"  # a Monday, 09:00 in Chicago
ANA = "ana@example.com"
TEXTS = """\
name: Texts
owner: ana@example.com
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - key: text
    action: manual_sms
    assignee: contact_owner
    body: "Hi {{ contact.first_name }}, {{ user.name }} here."
  - {key: ring, action: call, assignee: contact_owner, wait: {hours: 1}}
"""


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, str, Settings]]:
    """The app on the test database, Ana logged in, and the settings its sink writes with."""
    with write(db) as session:
        add_user(session=session, email=ANA, name="Ana Alvarez", now=at(T0), password=PASSWORD)
        store(session, TEXTS, at(T0))
    settings = Settings(
        database_url=db.url, environment="test", sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    with TestClient(create_app(settings, clock=FixedClock(at(T0)))) as client:
        yield client, logged_in(client, ANA), settings


def _task(db: Database) -> Task:
    with write(db) as session:
        owner = session.scalar(select(User.id).where(User.email == ANA))
        contact = add_contact(session, at(T0), owner_id=owner)
        enrollments.enroll(
            session=session, sequence="Texts", contact_ids=[contact], now=at(T0), settings=SETTINGS
        )
    run_worker(db, T0)
    with db.sessions() as session:
        return session.scalars(select(Task).where(Task.status == "open")).one()


def _dispatch(db: Database, settings: Settings) -> int:
    dispatcher = Dispatcher(db.sessions, FixedClock(at("2026-03-02T15:00:05Z")), settings)
    try:
        return dispatcher.drain()
    finally:
        dispatcher.close()


def test_an_edited_text_sent_from_the_task_screen_reaches_the_sms_sink(
    db: Database, site: tuple[TestClient, str, Settings]
) -> None:
    client, token, settings = site
    task = _task(db)
    screen = client.get(f"/tasks/{task.id}")
    assert "Hi Jane, Ana Alvarez here." in screen.text  # the draft, as the assignee wrote it
    edited = "Jane, it's Ana <again> - shall we talk at 3?"
    answer = client.post(
        f"/tasks/{task.id}/send", data={"csrf": token, "body": edited}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert _dispatch(db, settings) == 1
    [sent] = read_sink(Path(str(settings.sms_sink_path)))
    assert (sent["from"], sent["to"]) == ("+13125550100", "+13125550101")
    assert sent["body"] == edited + "\nReply STOP to opt out."  # the opt-out phrase added
    with db.sessions() as session:
        done = session.get(Task, task.id)
        assert done is not None and done.status == "done"
        enrollment = session.scalars(select(Enrollment)).one()
        assert (enrollment.status, enrollment.step) == ("active", "ring")
        message = session.scalars(select(Message)).one()
        assert (message.status, message.meta["sent_by"]) == ("sent", ANA)
        queued = list_history(session=session, types=["message_queued"])
        assert [e["actor"] for e in queued] == [ANA]


def test_a_text_to_someone_who_opts_out_before_it_goes_is_stopped_at_the_last_moment(
    db: Database, site: tuple[TestClient, str, Settings]
) -> None:
    client, token, settings = site
    task = _task(db)
    answer = client.post(
        f"/tasks/{task.id}/send", data={"csrf": token, "body": "Hello"}, follow_redirects=False
    )
    assert answer.status_code == 303
    with write(db) as session:  # STOP arrives between the click and the dispatcher
        session.execute(update(Contact).values(sms_opted_out=True))
    _dispatch(db, settings)
    assert not Path(str(settings.sms_sink_path)).exists()
    with db.sessions() as session:
        message = session.scalars(select(Message)).one()
        assert message.status != "sent"
        assert "opted out" in (message.error or "")


def test_a_refused_send_keeps_the_edited_text_and_says_why(
    db: Database, site: tuple[TestClient, str, Settings]
) -> None:
    client, token, _settings = site
    task = _task(db)
    empty = client.post(f"/tasks/{task.id}/send", data={"csrf": token, "body": "   "})
    assert empty.status_code == 422 and "the message is empty" in empty.text
    with write(db) as session:  # opted out after the task was made: it must not go
        session.execute(update(Contact).values(sms_opted_out=True))
    edited = "My own words, with <care> & thought"
    answer = client.post(f"/tasks/{task.id}/send", data={"csrf": token, "body": edited})
    assert answer.status_code == 409
    assert html.escape(edited, quote=False) in answer.text  # back in the form, escaped
    assert "Nothing was sent" in answer.text and "opted out" in answer.text
    assert "<care>" not in answer.text
    with db.sessions() as session:
        assert session.scalars(select(Message)).all() == []
        assert session.get(Task, task.id).status == "open"  # type: ignore[union-attr]


def test_a_person_chooses_their_time_zone_and_the_browsers_is_the_fallback(
    db: Database, site: tuple[TestClient, str, Settings]
) -> None:
    client, token, _settings = site
    client.cookies.set("cadenza_tz", "Europe/Paris")
    assert "times in Europe/Paris" in client.get("/history").text  # the browser's zone
    saved = client.post("/profile", data={"csrf": token, "timezone": "Asia/Tokyo"})
    assert "Times are now shown in Asia/Tokyo" in saved.text
    assert "times in Asia/Tokyo" in client.get("/history").text  # the profile wins
    wrong = client.post("/profile", data={"csrf": token, "timezone": "Mars/Olympus"})
    assert "is not a time zone" in wrong.text
    with db.sessions() as session:
        user = session.scalars(select(User).where(User.email == ANA)).one()
        assert user.timezone == "Asia/Tokyo"  # unchanged by the wrong one
    client.post("/profile", data={"csrf": token, "timezone": ""})
    assert "times in Europe/Paris" in client.get("/history").text
    page = client.get("/profile")
    assert form_token(page.text) and "Follow my browser" in page.text


ROUTED = """\
name: Routed
senders: {email: a@example.com}
steps:
  - key: first
    action: call
    outcomes: {connected: next, no_answer: next}
  - key: ask
    action: task
    outcomes: {agreed: later, refused: {end: negative}}
  - key: skip_me
    action: email
    subject: s
    body: b
  - key: later
    action: task
    outcomes: {done: closing}
  - key: closing
    action: end
    outcome: positive
"""


def test_the_queues_next_step_follows_routes() -> None:
    import yaml

    definition = Definition.model_validate(yaml.safe_load(ROUTED))
    assert _step_and_next(definition, "first") == ("call", "ask", None)
    # Outcomes that lead different ways: the next step is not known until the task is done.
    assert _step_and_next(definition, "ask") == ("task", None, "depends on outcome")
    assert _step_and_next(definition, "later") == ("task", "closing", None)  # its one route
    assert _step_and_next(definition, "closing") == ("end", None, "ends positive")
    assert _step_and_next(definition, "skip_me") == ("email", "later", None)


def test_the_queue_pages_soonest_first_and_undated_last_across_page_boundaries(
    db: Database,
) -> None:
    from datetime import timedelta

    from cadenza.services.enrollments.queue import QueueFilter, queue_page
    from cadenza.store.models import Sequence

    with write(db) as session:
        add_user(session=session, email=ANA, name="Ana Alvarez", now=at(T0), password=PASSWORD)
        store(session, TEXTS, at(T0))
        people = [add_contact(session, at(T0), email=f"p{n}@example.com") for n in range(7)]
        enrollments.enroll(
            session=session, sequence="Texts", contact_ids=people, now=at(T0), settings=SETTINGS
        )
        rows = session.scalars(select(Enrollment).order_by(Enrollment.id)).all()
        # due in a shuffled order; two with no due time (held) go last, by id
        for row, hours in zip(rows, (5, None, 1, 3, None, 2, 4), strict=True):
            row.due_at = None if hours is None else at(T0) + timedelta(hours=hours)
            row.status = "paused" if hours is None else "waiting"
        expected = [
            r.id for r in sorted(rows, key=lambda r: (r.due_at is None, r.due_at or at(T0), r.id))
        ]
    with db.sessions() as session:
        seq = session.scalars(select(Sequence)).one()
        seen = []
        for number in (1, 2, 3, 4):
            page = queue_page(
                session=session, sequence=seq, filters=QueueFilter(), page=number, per_page=2
            )
            assert page.total == 7
            seen += [row.id for row in page.rows]
        assert seen == expected
        paused = queue_page(session=session, sequence=seq, filters=QueueFilter(status="paused"))
        assert [row.id for row in paused.rows] == expected[-2:]
