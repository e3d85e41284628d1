"""Replies from the same thread or company: a colleague's reply in the thread counts for the
contact it answers, a forward quoting our email too, and a sequence may exit everyone at the
company on a reply from any of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cadenza.services import accounts, enrollments
from cadenza.services.history import list_history
from cadenza.services.inbound.email import handle_email
from cadenza.services.users.access import OPERATOR
from cadenza.store.models import Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

START = "2026-12-01T10:00:00-06:00"
LATER = at("2026-12-01T10:30:00-06:00")
OUTREACH = """
name: Outreach
senders: {email: "Ana Ruiz <ana@sales.example.com>"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
exit: {on: [replied], company_replies: COMPANY}
steps:
  - {key: hello, action: email, subject: "Quick question", body: "<p>15 minutes?</p>"}
  - {key: again, action: email, wait: {days: 2}, subject: "Again", body: "<p>Following up</p>"}
"""


def _world(db: Database, company: bool = False) -> dict[str, int]:
    with write(db) as session:
        store(session, OUTREACH.replace("COMPANY", str(company).lower()), at(START))
        people = {
            "jane": add_contact(session, at(START), email="jane@acme.example"),
            "carl": add_contact(session, at(START), email="carl@acme.example"),
            "gina": add_contact(session, at(START), email="gina@gmail.com"),
        }
        enrollments.enroll(
            session=session, sequence="Outreach", contact_ids=list(people.values()),
            now=at(START), settings=SETTINGS,
        )  # fmt: skip
    run_worker(db, START)
    return people


def _mail(sender: str, subject: str, body: str, **headers: str) -> bytes:
    lines = [f"From: {sender}", "To: ana@sales.example.com", f"Subject: {subject}"]
    lines += ["Message-ID: <r1@mail.example>", "Date: Tue, 01 Dec 2026 16:30:00 +0000"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join([*lines, "Content-Type: text/plain; charset=utf-8", "", body])).encode()


def _handle(db: Database, raw: bytes) -> Any:
    with write(db) as session:
        return handle_email(session=session, raw=raw, recipients=[], now=LATER, settings=SETTINGS)


def _statuses(db: Database) -> dict[int, str]:
    with db.sessions() as session:
        rows = enrollments.list_enrollments(session=session, sequence="Outreach")
    return {row["contact_id"]: row["status"] for row in rows}


def _message_id(db: Database, contact_id: int) -> str:
    with db.sessions() as session:
        found = session.scalar(select(Message.meta).where(Message.contact_id == contact_id))
    assert found is not None
    return str(found["message_id"])


def test_a_colleagues_reply_in_the_thread_counts_for_the_contact_it_answers(
    db: Database,
) -> None:
    people = _world(db)
    raw = _mail(
        "Bob <bob@acme.example>", "Re: Quick question", "Jane is out; I'll take it.",
        In_Reply_To=_message_id(db, people["jane"]),
    )  # fmt: skip
    result = _handle(db, raw)
    assert (result.outcome, result.contact_id, result.step) == ("replied", people["jane"], "hello")
    statuses = _statuses(db)
    assert statuses[people["jane"]] == "exited"
    assert statuses[people["carl"]] == "active"  # the sequence takes no company replies
    with db.sessions() as session:
        [event] = list_history(session=session, contact_id=people["jane"], types=["replied"])
    assert event["data"]["replied_by"] == "bob@acme.example"
    assert event["data"]["matched_by"] == "thread"


def test_a_reply_from_the_company_exits_colleagues_only_when_the_sequence_says_so(
    db: Database,
) -> None:
    _world(db, company=False)
    result = _handle(db, _mail("bob@acme.example", "Not interested", "Please stop."))
    assert result.outcome == "unmatched"
    assert set(_statuses(db).values()) == {"active"}


def test_company_replies_on_exits_everyone_at_the_domain_but_not_free_mail(db: Database) -> None:
    people = _world(db, company=True)
    result = _handle(db, _mail("bob@acme.example", "Not interested", "None of us, thanks."))
    assert result.outcome == "company_reply"
    statuses = _statuses(db)
    assert statuses[people["jane"]] == statuses[people["carl"]] == "exited"
    assert statuses[people["gina"]] == "active"
    with db.sessions() as session:
        [exited] = list_history(session=session, contact_id=people["carl"], types=["exited"])
    assert exited["reason"] == "a colleague at acme.example replied (bob@acme.example)"
    _handle(db, _mail("someone@gmail.com", "Hi", "Who is this?"))
    assert _statuses(db)[people["gina"]] == "active"  # gmail.com is nobody's company


def test_a_contacts_own_reply_exits_colleagues_with_the_option_on(db: Database) -> None:
    people = _world(db, company=True)
    result = _handle(db, _mail("jane@acme.example", "Re: Quick question", "No thanks."))
    assert (result.outcome, result.contact_id) == ("replied", people["jane"])
    assert _statuses(db)[people["carl"]] == "exited"


def test_a_reply_from_any_of_the_accounts_domains_exits_its_contacts(db: Database) -> None:
    people = _world(db, company=True)
    with write(db) as session:
        accounts.create_account(
            session=session, viewer=OPERATOR, name="Acme", now=LATER,
            domains=["acme.example", "acmecorp.example"],
        )  # fmt: skip
        for who in ("jane", "gina"):  # Gina writes from gmail.com but works at Acme
            accounts.set_contact_account(
                session=session, viewer=OPERATOR, contact_id=people[who], account="Acme",
                now=LATER,
            )  # fmt: skip
    result = _handle(db, _mail("lee@acmecorp.example", "Not interested", "None of us."))
    assert result.outcome == "company_reply"
    statuses = _statuses(db)
    assert statuses[people["jane"]] == statuses[people["gina"]] == "exited"
    assert statuses[people["carl"]] == "active"  # acme.example by address, not in the account


GMAIL_FORWARD = """Can you answer this one?

---------- Forwarded message ---------
From: Ana Ruiz <ana@sales.example.com>
Date: Tue, Dec 1, 2026 at 10:00 AM
Subject: Quick question
To: Jane Doe <jane@acme.example>

15 minutes?
"""
OUTLOOK_FORWARD = """Bitte übernehmen.

-----Ursprüngliche Nachricht-----
Von: Ana Ruiz <ana@sales.example.com>
Gesendet: Dienstag, 1. Dezember 2026 10:00
An: Carl <carl@acme.example>
Betreff: Quick question
Message-ID: MID
"""


def test_a_forward_quoting_our_email_counts_for_its_contact(db: Database) -> None:
    people = _world(db)
    result = _handle(db, _mail("bob@acme.example", "Fwd: Quick question", GMAIL_FORWARD))
    assert (result.outcome, result.contact_id) == ("replied", people["jane"])
    body = OUTLOOK_FORWARD.replace("MID", _message_id(db, people["carl"]))
    result = _handle(db, _mail("dana@acme.example", "WG: Quick question", body))
    assert (result.outcome, result.contact_id) == ("replied", people["carl"])
    with db.sessions() as session:
        [event] = list_history(session=session, contact_id=people["carl"], types=["replied"])
    assert event["data"]["matched_by"] == "forwarded"
    assert _statuses(db)[people["gina"]] == "active"


def test_a_forward_of_someone_elses_email_is_not_ours(db: Database) -> None:
    _world(db)
    body = GMAIL_FORWARD.replace("ana@sales.example.com", "rep@other.example")
    result = _handle(db, _mail("bob@acme.example", "Fwd: Quick question", body))
    assert result.outcome == "unmatched"
