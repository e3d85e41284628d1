"""`contact_created` fires however a contact comes in: added, imported, posted, or a lead."""

from __future__ import annotations

from pathlib import Path

from cadenza.services import contacts, enrollments
from cadenza.services.history import list_history
from cadenza.services.inbound import handle_email
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, at, store, write
from tests.integration.api_client import T0, running_api

WELCOME = """
name: Welcome
senders: {email: "hello@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment:
  triggers: [{on: contact_created}]
steps:
  - {key: hello, action: email, wait: {hours: 1}, subject: "Welcome", body: "<p>Hi</p>"}
"""
LEADS = """
name: Web leads
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: reply, action: email, wait: {hours: 1}, subject: "Thanks", body: "<p>Hi</p>"}
"""


def _welcomed(db: Database) -> list[int]:
    with db.sessions() as session:
        rows = enrollments.list_enrollments(session=session, sequence="Welcome")
    return sorted(int(str(row["contact_id"])) for row in rows)


def _created(db: Database) -> list[int]:
    with db.sessions() as session:
        rows = list_history(session=session, types=["contact_created"])
    return sorted(int(str(row["contact_id"])) for row in rows)


def test_a_contact_added_one_at_a_time_is_welcomed(db: Database) -> None:
    with write(db) as session:
        store(session, WELCOME, at(T0))
        contact = contacts.create_contact(
            session=session, data={"email": "zoe@x.example"}, now=at(T0), settings=SETTINGS
        )
    assert _welcomed(db) == [contact.id] == _created(db)


def test_imported_contacts_are_welcomed_and_updated_ones_are_not(
    db: Database, tmp_path: Path
) -> None:
    with write(db) as session:
        store(session, WELCOME, at(T0))
        known = contacts.create_contact(
            session=session, data={"email": "old@x.example"}, now=at(T0), settings=SETTINGS
        )
    csv = tmp_path / "people.csv"
    csv.write_text("email,first_name\nold@x.example,Old\nnew1@x.example,A\nnew2@x.example,B\n")
    report = contacts.import_csv(
        session_factory=db.sessions,
        path=csv,
        mapping={},
        default_region="US",
        now=at(T0),
        settings=SETTINGS,
    )
    assert (report.imported, report.updated) == (2, 1)
    welcomed = _welcomed(db)
    assert len(welcomed) == 3 and welcomed[0] == known.id  # once each, the known one once
    assert _created(db) == welcomed


def test_a_contact_posted_to_the_api_is_welcomed(db: Database, tmp_path: Path) -> None:
    with write(db) as session:
        store(session, WELCOME, at(T0))
    with running_api(db, tmp_path) as api:
        body = api.ok("POST", "/contacts", 201, json={"email": "api@x.example"})
    assert _welcomed(db) == [body["id"]]


def test_a_lead_email_creates_a_contact_that_is_welcomed_too(db: Database) -> None:
    raw = (
        b"From: forms@site.example\r\nTo: web-leads@intake.localhost\r\n"
        b"Subject: New lead\r\n\r\nName: Lee Park\r\nEmail: lee@x.example\r\n"
    )
    with write(db) as session:
        store(session, WELCOME, at(T0))
        store(session, LEADS, at(T0))
        result = handle_email(
            session=session,
            raw=raw,
            recipients=["web-leads@intake.localhost"],
            now=at(T0),
            settings=SETTINGS,
        )
    assert result.outcome == "lead" and result.contact_id is not None
    assert _welcomed(db) == [result.contact_id]
    with db.sessions() as session:
        [lead] = enrollments.list_enrollments(session=session, sequence="Web leads")
    assert lead["contact_id"] == result.contact_id
