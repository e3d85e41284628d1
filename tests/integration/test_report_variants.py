"""A/B steps: one variant per enrollment for good, tested in the report; a winner takes all."""

from __future__ import annotations

from sqlalchemy import select

from cadenza.core.contact import ContactView
from cadenza.core.lint import lint_text
from cadenza.core.simulation import simulate
from cadenza.core.variants import pick
from cadenza.services import enrollments, reports
from cadenza.services.inbound.matching import apply_event
from cadenza.store.models import Event, Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write
from tests.integration.report_scenario import mail, send

NOW = "2026-12-01T15:00:00Z"
AB = """
name: AB
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: hello
    action: email
    subject: "Plain hello"
    body: "<p>Hi</p>"
    variants:
      - {key: plain}
      - {key: bold, subject: "BOLD hello"}
    winner: {metric: replied, after: 3}
  - {key: later, action: email, wait: {days: 3}, subject: "Later", body: "<p>Again</p>"}
"""


def _enroll(db: Database, count: int, first: int, now: str) -> list[int]:
    with write(db) as session:
        if first == 0:
            store(session, AB, at(now))
        people = [
            add_contact(session, at(now), email=f"v{first + i}@x.example") for i in range(count)
        ]
        enrollments.enroll(
            session=session, sequence="AB", contact_ids=people, now=at(now), settings=SETTINGS
        )
    return people


def test_each_enrollment_gets_its_variant_and_the_report_tests_them(db: Database) -> None:
    _enroll(db, 12, 0, NOW)
    with mail() as settings:
        send(db, settings, at(NOW))
    with write(db) as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
        for message in rows:  # the variant is on the message, the subject its own
            assert message.enrollment_id is not None
            variant = message.meta["variant"]
            assert message.subject == ("BOLD hello" if variant == "bold" else "Plain hello")
        sent = session.scalars(select(Event).where(Event.type == "message_sent")).all()
        assert {e.data["variant"] for e in sent} == {"plain", "bold"}  # and in history
        for message in rows:
            if message.meta["variant"] == "bold":
                apply_event(session, message.contact_id, "replied", at(NOW), SETTINGS, message)
    with db.sessions() as session:
        report = reports.sequence_report(session=session, name="AB")
    hello = report["steps"][0]
    figures = {v["variant"]: v for v in hello["variants"]}
    bold = sum(1 for m in rows if m.meta["variant"] == "bold")
    assert figures["bold"]["messages"]["replied"]["count"] == bold
    assert figures["plain"]["messages"]["replied"]["count"] == 0
    test = figures["bold"]["against_control"]["replied"]
    assert test["significant"] is True and test["p"] < 0.05


def test_the_winner_takes_all_new_sends_once_each_variant_had_its_sample(db: Database) -> None:
    _enroll(db, 12, 0, NOW)
    with mail() as settings:
        send(db, settings, at(NOW))
        with write(db) as session:
            for message in session.scalars(select(Message)).all():
                if message.meta["variant"] == "plain":
                    apply_event(session, message.contact_id, "replied", at(NOW), SETTINGS, message)
        later = "2026-12-01T16:00:00Z"
        _enroll(db, 6, 100, later)
        send(db, settings, at(later))
    with db.sessions() as session:
        new = session.scalars(select(Message).where(Message.created_at == at(later))).all()
        won = session.scalars(select(Event).where(Event.type == "variant_won")).all()
    assert len(new) == 6 and {m.meta["variant"] for m in new} == {"plain"}
    assert [(e.step, e.data["variant"]) for e in won] == [("hello", "plain")]


def test_a_dry_run_shows_the_variant_production_sent(db: Database) -> None:
    _enroll(db, 6, 0, NOW)
    with mail() as settings:
        send(db, settings, at(NOW))
    definition, problems = lint_text(AB, "ab.yaml")
    assert definition is not None and not problems
    contact = ContactView(first_name="A", email="a@x.example", timezone="UTC")
    with db.sessions() as session:
        for message in session.scalars(select(Message)):
            assert message.enrollment_id is not None
            timeline = simulate(
                definition, contact, start=at(NOW), enrollment_id=message.enrollment_id
            )
            [row] = [r for r in timeline.rows if r.kind == "step_executed" and r.step == "hello"]
            assert row.variant == message.meta["variant"]
            assert pick(definition.steps[0], message.enrollment_id).key == row.variant
