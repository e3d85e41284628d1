"""Replies, bounces and auto-replies to emails the dispatcher really sent, posted to the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.history import list_history
from cadenza.services.users import create_key
from cadenza.settings import Settings
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

PROBLEM = "application/problem+json"
MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
START = "2026-12-01T10:00:00-06:00"  # a Tuesday in Chicago
SECRET = "inbound-webhook-secret"
# How a mail provider is told the webhook: the credentials in the URL, sent as HTTP Basic.
PROVIDER = f"http://inbound:{SECRET}@testserver"
OUTREACH = """
name: Outreach
senders: {email: "Ana Ruiz <ana@sales.example.com>"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Quick question, {{ contact.first_name }}",
     body: "<p>Do you have 15 minutes this week?</p>"}
  - {key: again, action: email, wait: {hours: 1}, thread: reply_to_previous,
     subject: "ignored", body: "<p>Following up</p>"}
"""


@dataclass
class Scene:
    """A database, a real SMTP server receiving what the dispatcher sends, and the API."""

    db: Database
    settings: Settings
    catcher: Catcher
    client: TestClient
    clock: FixedClock
    app: FastAPI

    def start(self, **contact: Any) -> int:
        with write(self.db) as session:
            store(session, OUTREACH, at(START))
            contact_id = add_contact(session, at(START), **contact)
            report = enrollments.enroll(
                session=session,
                sequence="Outreach",
                contact_ids=[contact_id],
                now=at(START),
                settings=SETTINGS,
            )
        assert report.enrolled == [contact_id]
        return contact_id

    def run(self, now: str) -> None:
        """Advance what is due, then send the outbox to the SMTP server."""
        run_worker(self.db, now)
        dispatcher = Dispatcher(self.db.sessions, FixedClock(at(now)), self.settings)
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()

    def post(self, raw: bytes, now: str, **params: Any) -> dict[str, Any]:
        response = self.send(raw, now, self.client, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def send(
        self, raw: bytes, now: str, client: TestClient, *, headers: Any = None, **params: Any
    ) -> httpx.Response:
        self.clock.set(at(now))
        response: httpx.Response = client.post(
            "/api/v1/inbound/email",
            content=raw,
            params={"recipients": "ana@sales.example.com", **params},
            headers={"Content-Type": "message/rfc822", **(headers or {})},
        )
        return response

    def enrollment(self) -> dict[str, Any]:
        with self.db.sessions() as session:
            (row,) = enrollments.list_enrollments(session=session)
        return row

    def contact(self, contact_id: int) -> Contact:
        with self.db.sessions() as session:
            found = session.get(Contact, contact_id)
        assert found is not None
        return found

    def history(self, *types: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return list_history(session=session, types=list(types))


@pytest.fixture
def scene(db: Database, tmp_path: Path) -> Iterator[Scene]:
    with smtp_catcher() as catcher:
        settings = Settings(
            environment="test",
            database_url=db.url,
            smtp_port=catcher.port,
            base_url="https://c.example",
            secret_key="s3cret",
            sms_sink_path=str(tmp_path / "sink.jsonl"),
            inbound_secret=SECRET,
        )
        clock = FixedClock(at(START))
        app = create_app(settings, clock=clock)
        try:
            yield Scene(db, settings, catcher, TestClient(app, base_url=PROVIDER), clock, app)
        finally:
            app.state.engine.dispose()


def sample(name: str, replacements: dict[str, str]) -> bytes:
    """A sample from tests/fixtures/mail with its addresses and Message-IDs swapped."""
    raw = (MAIL / name).read_bytes()
    for old, new in replacements.items():
        assert old.encode() in raw, old
        raw = raw.replace(old.encode(), new.encode())
    return raw


def answering(received: EmailMessage) -> str:
    return str(received["Message-ID"])


def test_a_reply_to_the_received_email_exits_the_enrollment_and_nothing_more_is_sent(
    scene: Scene,
) -> None:
    contact_id = scene.start(email="jane@corp.example")
    scene.run(START)
    (sent,) = scene.catcher.messages
    # Gmail's reply: In-Reply-To is the received Message-ID; From in another letter case.
    reply = sample(
        "gmail_reply.eml", {"<313da3205104c8a4eeca3c9c5c26a7b8@sales.example.com>": answering(sent)}
    )
    result = scene.post(reply, "2026-12-01T10:20:00-06:00")
    assert result["outcome"] == "replied"
    assert (result["contact_id"], result["step"]) == (contact_id, "hello")
    enrollment = scene.enrollment()
    assert enrollment["status"] == "exited" and enrollment["exit_reason"].startswith("replied")
    (event,) = scene.history("replied")
    assert event["step"] == "hello" and event["data"]["matched_by"] == "thread"
    assert "Tuesday at 2pm works for me" in event["data"]["text"]
    assert "Do you have 15 minutes" not in event["data"]["text"]  # the quote is not the reply
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.catcher.messages) == 1


def test_a_reply_without_threading_headers_is_matched_by_its_sender(scene: Scene) -> None:
    contact_id = scene.start(email="rsmith@bigcorp.example")
    scene.run(START)
    unthreaded = sample(
        "outlook_reply.eml",
        {
            "References: <98d6078b155cea40f75036df9debfdab@sales.example.com>\n": "",
            "In-Reply-To: <98d6078b155cea40f75036df9debfdab@sales.example.com>\n": "",
        },
    )
    result = scene.post(unthreaded, "2026-12-01T10:30:00-06:00")
    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "replied",
        contact_id,
        None,
    )
    assert scene.history("replied")[0]["data"]["matched_by"] == "sender"
    assert scene.enrollment()["status"] == "exited"


def test_a_hard_bounce_marks_the_contact_bounced_and_exits(scene: Scene) -> None:
    contact_id = scene.start(email="jdoe@corp.example")
    scene.run(START)
    (sent,) = scene.catcher.messages
    dsn = sample(
        "postfix_bounce_hard.eml",
        {"<7f1cd0d1e9cafe62967e6da2c1b4b07a@sales.example.com>": answering(sent)},
    )
    result = scene.post(dsn, "2026-12-01T10:01:00-06:00")
    assert (result["outcome"], result["step"]) == ("bounced", "hello")
    assert scene.contact(contact_id).email_bounced
    assert scene.enrollment()["status"] == "exited"
    (event,) = scene.history("bounced")
    assert event["data"]["status"] == "5.1.1" and "User unknown" in event["data"]["diagnostic"]
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.catcher.messages) == 1


def test_a_soft_bounce_is_history_only(scene: Scene) -> None:
    contact_id = scene.start(email="mlopez@smallbiz.example")
    scene.run(START)
    (sent,) = scene.catcher.messages
    delayed = sample(
        "soft_bounce_mailbox_full.eml",
        {"<d2a9b1c4e5f60718293a4b5c6d7e8f90@sales.example.com>": answering(sent)},
    )
    result = scene.post(delayed, "2026-12-01T10:05:00-06:00")
    assert (result["outcome"], result["contact_id"]) == ("soft_bounce", contact_id)
    assert not scene.contact(contact_id).email_bounced
    assert scene.enrollment()["status"] == "active"
    (event,) = scene.history("soft_bounce")
    assert event["step"] == "hello" and event["data"]["status"] == "4.2.2"
    scene.run("2026-12-01T11:00:00-06:00")
    assert len(scene.catcher.messages) == 2  # the sequence goes on


def test_an_out_of_office_pauses_until_the_stated_return_without_exiting(scene: Scene) -> None:
    scene.start(email="wchen@enterprise.example", timezone="America/Chicago")
    scene.run(START)
    (sent,) = scene.catcher.messages
    auto = sample(
        "exchange_auto_reply.eml",
        {"<98d6078b155cea40f75036df9debfdab@sales.example.com>": answering(sent)},
    )
    result = scene.post(auto, "2026-12-01T10:03:00-06:00")  # "back on Monday, December 7"
    assert (result["outcome"], result["step"]) == ("out_of_office", "hello")
    enrollment = scene.enrollment()
    assert enrollment["status"] == "active"
    assert enrollment["due_at"] == at("2026-12-07T09:00:00-06:00").isoformat()
    (paused,) = scene.history("paused")
    assert "until 2026-12-07" in paused["reason"]
    scene.run("2026-12-04T12:00:00-06:00")
    assert len(scene.catcher.messages) == 1
    scene.run("2026-12-07T09:00:00-06:00")
    assert len(scene.catcher.messages) == 2


def test_unmatched_mail_is_recorded_and_answered_200(scene: Scene) -> None:
    scene.start(email="jane@corp.example")
    stranger = sample("outlook_reply.eml", {"rsmith@bigcorp.example": "who@nowhere.example"})
    result = scene.post(stranger, "2026-12-01T10:00:00-06:00")
    assert result["outcome"] == "unmatched"
    garbage = scene.post(b"this is not an email at all", "2026-12-01T10:00:00-06:00")
    assert garbage["outcome"] == "unmatched"
    # The stdlib's address parser crashes on this From: still recorded, still a 200.
    broken = scene.post(b"From: x@\nSubject: hi\n\nhello", "2026-12-01T10:00:00-06:00")
    assert broken["outcome"] == "unmatched" and "unreadable" in broken["detail"]
    reasons = [e["reason"] for e in scene.history("inbound_unmatched")]
    assert reasons[0] == "reply from who@nowhere.example: no contact has this address"
    assert len(reasons) == 3
    assert scene.enrollment()["status"] == "active"


def test_bad_requests_get_problem_details(scene: Scene) -> None:
    wrong_type = scene.client.post(
        "/api/v1/inbound/email", content=b"x", headers={"Content-Type": "text/plain"}
    )
    empty = scene.client.post(
        "/api/v1/inbound/email", content=b"", headers={"Content-Type": "message/rfc822"}
    )
    assert (wrong_type.status_code, empty.status_code) == (415, 422)
    for response in (wrong_type, empty):
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unsubscribe_by_email_uses_the_list_unsubscribe_mailto_token(scene: Scene) -> None:
    contact_id = scene.start(email="jane@corp.example")
    scene.run(START)
    (sent,) = scene.catcher.messages
    mailto = str(sent["List-Unsubscribe"]).split("<mailto:")[1].rstrip(">")
    subject = unquote(mailto.split("subject=")[1])
    request = EmailMessage()
    request["From"] = "someone-else@forwarded.example"  # the token names the contact
    request["To"] = mailto.split("?")[0]
    request["Subject"] = subject
    request.set_content("This message was sent by the mail client's unsubscribe button.")
    result = scene.post(request.as_bytes(), "2026-12-02T09:00:00-06:00")
    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "unsubscribed",
        contact_id,
        "hello",
    )
    assert scene.contact(contact_id).email_unsubscribed
    assert scene.enrollment()["status"] == "exited"


def test_mail_to_an_intake_address_becomes_a_lead_enrolled_in_its_sequence(scene: Scene) -> None:
    with write(scene.db) as session:
        store(session, OUTREACH, at(START))
    result = scene.post(
        (MAIL / "lead_text.eml").read_bytes(),
        "2026-12-01T10:00:00-06:00",
        recipients="leads+outreach@intake.localhost",
    )
    assert result["outcome"] == "lead" and "enrolled in Outreach" in result["detail"]
    with scene.db.sessions() as session:
        contact = session.scalars(select(Contact)).one()
    assert (contact.email, contact.phone) == ("maria.lopez@smallbiz.example", "+13125550143")
    assert contact.fields["page_url"] == "https://acme.example/pricing"
    assert scene.enrollment()["contact_id"] == contact.id
    assert [e["type"] for e in scene.history("lead_email_received", "enrolled")] == [
        "lead_email_received",
        "enrolled",
    ]


def test_a_reply_holding_nul_characters_still_exits_the_enrollment(scene: Scene) -> None:
    contact_id = scene.start(email="jane@corp.example")
    scene.run(START)
    (sent,) = scene.catcher.messages
    # NULs as a broken mailer writes them: encoded in the text, raw in the subject and sender.
    reply = sample(
        "gmail_reply.eml",
        {
            "<313da3205104c8a4eeca3c9c5c26a7b8@sales.example.com>": answering(sent),
            "Tuesday at 2pm works": "Tuesday=00 at 2pm works",
            "Subject: Re: Quick question": "Subject: Re: Quick\x00 question",
            "<Jane@Corp.Example>": "<Jane@Corp\x00.Example>",
        },
    )
    result = scene.post(reply, "2026-12-01T10:20:00-06:00")
    assert (result["outcome"], result["contact_id"]) == ("replied", contact_id)
    assert scene.enrollment()["status"] == "exited"
    (event,) = scene.history("replied")
    assert "Tuesday at 2pm works for me" in event["data"]["text"]
    assert event["data"]["email_subject"] == "Re: Quick question, Jane"


def test_a_lead_email_holding_nul_characters_still_becomes_a_contact(scene: Scene) -> None:
    with write(scene.db) as session:
        store(session, OUTREACH, at(START))
    lead = (MAIL / "lead_text.eml").read_bytes().replace(b"Bakery", b"Bak\x00ery")
    result = scene.post(
        lead, "2026-12-01T10:00:00-06:00", recipients="leads+outreach\x00@intake.localhost"
    )
    assert result["outcome"] == "lead" and "enrolled in Outreach" in result["detail"]
    with scene.db.sessions() as session:
        contact = session.scalars(select(Contact)).one()
    assert contact.company == "SmallBiz Bakery LLC"


# --- who may post: the inbound secret or a key with the inbound scope ----------------------


def _reply_to_sent(scene: Scene) -> bytes:
    (sent,) = scene.catcher.messages
    return sample(
        "gmail_reply.eml", {"<313da3205104c8a4eeca3c9c5c26a7b8@sales.example.com>": answering(sent)}
    )


def _key(scene: Scene, *scopes: str) -> str:
    with write(scene.db) as session:
        _, token = create_key(session=session, name="provider", now=at(START), scopes=scopes)
    return token


def test_a_forged_reply_without_credentials_is_refused_and_changes_nothing(scene: Scene) -> None:
    scene.start(email="jane@corp.example")
    scene.run(START)
    forged = _reply_to_sent(scene)
    refused = scene.send(forged, "2026-12-01T10:20:00-06:00", TestClient(scene.app))
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("Basic ") and "Bearer" in challenge
    assert "CADENZA_INBOUND_SECRET" in refused.json()["detail"]
    assert scene.history("replied") == [] and scene.history("inbound_unmatched") == []
    assert scene.enrollment()["status"] == "active"
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.catcher.messages) == 2  # the sequence went on: the follow-up was sent


def test_a_wrong_secret_is_refused_and_the_right_one_is_processed(scene: Scene) -> None:
    scene.start(email="jane@corp.example")
    scene.run(START)
    reply = _reply_to_sent(scene)
    wrong = TestClient(scene.app, base_url="http://inbound:guess@testserver")
    other_user = TestClient(scene.app, base_url=f"http://admin:{SECRET}@testserver")
    for client in (wrong, other_user):
        response = scene.send(reply, "2026-12-01T10:20:00-06:00", client)
        assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"]
    assert scene.enrollment()["status"] == "active"
    assert scene.send(reply, "2026-12-01T10:20:00-06:00", scene.client).status_code == 200
    assert scene.enrollment()["status"] == "exited"


def test_a_key_with_the_inbound_scope_is_processed_and_one_without_it_is_forbidden(
    scene: Scene,
) -> None:
    scene.start(email="jane@corp.example")
    scene.run(START)
    reply = _reply_to_sent(scene)
    anonymous = TestClient(scene.app)
    api_only = {"Authorization": f"Bearer {_key(scene, 'api')}"}
    forbidden = scene.send(reply, "2026-12-01T10:20:00-06:00", anonymous, headers=api_only)
    assert forbidden.status_code == 403 and "inbound scope" in forbidden.json()["detail"]
    assert scene.history("replied") == [] and scene.enrollment()["status"] == "active"
    inbound = {"Authorization": f"Bearer {_key(scene, 'inbound')}"}
    processed = scene.send(reply, "2026-12-01T10:20:00-06:00", anonymous, headers=inbound)
    assert processed.status_code == 200 and processed.json()["outcome"] == "replied"
    assert scene.enrollment()["status"] == "exited"


def test_an_inbound_key_opens_no_route_of_the_rest_api(scene: Scene) -> None:
    token = _key(scene, "inbound")
    response = TestClient(scene.app).get(
        "/api/v1/sequences", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


def test_without_the_secret_setting_basic_is_not_accepted_and_says_why(
    db: Database, tmp_path: Path
) -> None:
    settings = Settings(environment="test", database_url=db.url, secret_key="s3cret")
    app = create_app(settings, clock=FixedClock(at(START)))
    try:
        client = TestClient(app, base_url="http://inbound:@testserver")
        response = client.post(
            "/api/v1/inbound/email", content=b"x", headers={"Content-Type": "message/rfc822"}
        )
    finally:
        app.state.engine.dispose()
    assert response.status_code == 401
    assert "CADENZA_INBOUND_SECRET is not set" in response.json()["detail"]
    with db.sessions() as session:
        assert list_history(session=session) == []


def test_an_email_over_its_cap_is_refused_before_it_is_read(db: Database, tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        database_url=db.url,
        secret_key="s3cret",
        inbound_secret=SECRET,
        max_inbound_email_bytes=4096,
    )
    app = create_app(settings, clock=FixedClock(at(START)))
    try:
        client = TestClient(app, base_url=PROVIDER)
        big = b"From: a@b.example\nSubject: big\n\n" + b"x" * 5000
        response = client.post(
            "/api/v1/inbound/email", content=big, headers={"Content-Type": "message/rfc822"}
        )
    finally:
        app.state.engine.dispose()
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    assert "CADENZA_MAX_INBOUND_EMAIL_BYTES" in response.json()["detail"]
    with db.sessions() as session:
        assert list_history(session=session) == []
