"""Lead intake through the real SMTP intake server: a form's email becomes an enrolled contact."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cadenza.channels.inbound_smtp import start_intake
from cadenza.clock import FixedClock
from cadenza.services import enrollments, outbox
from cadenza.services.history import list_history
from cadenza.services.inbound import intake_callback
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import free_port

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
NOW = "2026-12-07T12:00:00-06:00"
PRICING = """
name: Pricing Page
senders: {email: "ana@sales.example.com"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Thanks, {{ contact.first_name }}", body: "<p>Hi</p>"}
"""


@pytest.fixture
def port(db: Database) -> Iterator[int]:
    """The intake server on a free loopback port, writing to the test database."""
    with write(db) as session:
        store(session, PRICING, at(NOW))
    number = free_port()
    controller = start_intake(
        "127.0.0.1", number, intake_callback(db.sessions, FixedClock(at(NOW)), SETTINGS)
    )
    yield number
    controller.stop()


def send(port: int, raw: bytes, to: str) -> None:
    """Send as an MTA does: lines end in CRLF on the wire (the samples are stored with LF)."""
    wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        refused = smtp.sendmail("wordpress@acme.example", [to], wire)
    assert refused == {}


def history(db: Database, *types: str) -> list[dict[str, Any]]:
    with db.sessions() as session:
        return list_history(session=session, types=list(types))


def contacts(db: Database) -> list[Contact]:
    with db.sessions() as session:
        return list(session.scalars(select(Contact).order_by(Contact.id)))


def test_a_lead_email_to_the_intake_address_becomes_an_enrolled_contact(
    db: Database, port: int
) -> None:
    send(port, (MAIL / "lead_html.eml").read_bytes(), "pricing-page@intake.localhost")
    (contact,) = contacts(db)
    assert (contact.first_name, contact.last_name) == ("Devon", "O'Brien")
    assert (contact.email, contact.phone) == ("devon@obrien-hvac.example", "+17735550199")
    assert contact.company == "O'Brien HVAC & Sons"
    assert contact.fields["number_of_technicians"] == "12"
    assert contact.timezone == "America/Chicago"  # guessed from the 773 area code
    (received,) = history(db, "lead_email_received")
    assert received["data"]["sequence"] == "Pricing Page" and received["data"]["created"]
    with db.sessions() as session:
        (enrollment,) = enrollments.list_enrollments(session=session)
    assert (enrollment["sequence"], enrollment["contact_id"]) == ("Pricing Page", contact.id)
    run_worker(db, NOW)
    with db.sessions() as session:
        (message,) = outbox.list_messages(session=session)
    assert (message["to"], message["subject"]) == ("devon@obrien-hvac.example", "Thanks, Devon")


def test_a_lead_for_a_known_phone_updates_that_contact_and_a_repeat_is_refused_on_record(
    db: Database, port: int
) -> None:
    with write(db) as session:
        known = add_contact(session, at(NOW), email=None, phone="+17735550199", first_name="D")
    lead = (MAIL / "lead_html.eml").read_bytes()
    send(port, lead, "leads+pricing-page@intake.localhost")
    (contact,) = contacts(db)
    assert (contact.id, contact.email, contact.first_name) == (
        known,
        "devon@obrien-hvac.example",
        "Devon",
    )
    send(port, lead, "leads+pricing-page@intake.localhost")
    assert len(contacts(db)) == 1
    (refused,) = history(db, "enroll_refused")
    assert refused["contact_id"] == known and "reentry: never" in refused["reason"]


def test_unknown_intake_addresses_and_unreadable_leads_are_recorded_and_accepted(
    db: Database, port: int
) -> None:
    send(port, (MAIL / "lead_text.eml").read_bytes(), "no-such-sequence@intake.localhost")
    empty = EmailMessage()
    empty["From"] = "forms@acme.example"
    empty["To"] = "pricing-page@intake.localhost"
    empty["Subject"] = "New submission"
    empty.set_content("Message: call me maybe\n")
    send(port, empty.as_bytes(), "pricing-page@intake.localhost")
    reasons = [row["reason"] for row in history(db, "inbound_unmatched")]
    assert reasons[0] == "lead email to no-such-sequence@intake.localhost: no sequence"
    assert "no email address or phone number" in reasons[1]
    assert contacts(db) == []
