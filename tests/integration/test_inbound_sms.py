"""Inbound texts through the webhook: STOP, START, HELP, replies, signatures, delivery reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.channels.sms import read_sink
from cadenza.channels.twilio import twilio_signature
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.server import create_app
from cadenza.services import enrollments, outbox
from cadenza.services.history import list_history
from cadenza.services.users import create_key
from cadenza.settings import Settings
from cadenza.store.models import Contact, Sender
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

START = "2026-12-01T10:00:00-06:00"
OUR_NUMBER = "+13125550100"
JANE = "+13125550101"
TOKEN = "twilio-auth-token"
SECRET = "inbound-webhook-secret"
PROBLEM = "application/problem+json"
TEXTS = """
name: Texts
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: intro, action: sms, body: "Hi {{ contact.first_name }}"}
  - {key: again, action: sms, wait: {hours: 1}, body: "Still there?"}
"""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass
class Scene:
    db: Database
    settings: Settings
    client: TestClient  # authenticated as a provider is: inbound:SECRET in the webhook URL
    app: FastAPI

    def start(self, *phones: str) -> list[int]:
        with write(self.db) as session:
            store(session, TEXTS, at(START))
            ids = [
                add_contact(session, at(START), email=f"c{i}@example.com", phone=phone)
                for i, phone in enumerate(phones)
            ]
            enrollments.enroll(
                session=session, sequence="Texts", contact_ids=ids, now=at(START), settings=SETTINGS
            )
        self.run(START)
        return ids

    def run(self, now: str) -> None:
        run_worker(self.db, now)
        dispatcher = Dispatcher(self.db.sessions, FixedClock(at(now)), self.settings)
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()

    def text(self, body: str, sender: str = JANE, **headers: str) -> Any:
        form = {"From": sender, "To": OUR_NUMBER, "Body": body, "MessageSid": "SM" + "0" * 32}
        return self.client.post("/api/v1/inbound/sms", data=form, headers=headers)

    def sink(self) -> list[dict[str, Any]]:
        return read_sink(Path(self.settings.sms_sink_path))

    def contacts(self) -> list[Contact]:
        with self.db.sessions() as session:
            return list(session.scalars(select(Contact).order_by(Contact.id)))

    def enrollments(self) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return enrollments.list_enrollments(session=session)

    def messages(self) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return outbox.list_messages(session=session)

    def history(self, *types: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return list_history(session=session, types=list(types))


def _scene(db: Database, tmp_path: Path, **settings: Any) -> Iterator[Scene]:
    config = Settings(
        **{
            "environment": "test",
            "database_url": db.url,
            "base_url": "https://c.example",
            "sms_sink_path": str(tmp_path / "sink.jsonl"),
            "inbound_secret": SECRET,
            **settings,
        }
    )
    app = create_app(config, clock=FixedClock(at("2026-12-01T10:30:00-06:00")))
    try:
        client = TestClient(app, base_url=f"https://inbound:{SECRET}@c.example")
        yield Scene(db, config, client, app)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def scene(db: Database, tmp_path: Path) -> Iterator[Scene]:
    """The development setup: texts go to the sink, callbacks are not signed."""
    yield from _scene(db, tmp_path)


@pytest.fixture
def twilio(db: Database, tmp_path: Path) -> Iterator[Scene]:
    """Twilio configured: every callback must carry Twilio's signature."""
    yield from _scene(
        db, tmp_path, sms_provider="twilio", twilio_account_sid="AC123", twilio_auth_token=TOKEN
    )


def test_every_stop_keyword_opts_out_exits_and_nothing_more_is_texted(scene: Scene) -> None:
    variants = [" stop ", "STOPALL", "Unsubscribe", "cancel", "End.", "quit", "REVOKE", "OptOut"]
    phones = [f"+1312555{200 + i:04d}" for i in range(len(variants))]
    scene.start(*phones)
    assert len(scene.sink()) == len(variants)
    for phone, word in zip(phones, variants, strict=True):
        response = scene.text(word, sender=phone)
        assert response.status_code == 200 and response.text == EMPTY_TWIML
        assert response.headers["content-type"].startswith("application/xml")
    assert all(contact.sms_opted_out for contact in scene.contacts())
    assert {row["status"] for row in scene.enrollments()} == {"exited"}
    assert len(scene.history("sms_opted_out")) == len(variants)
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.sink()) == len(variants)


def test_start_opts_a_stopped_number_back_in(scene: Scene) -> None:
    scene.start(JANE)
    scene.text("STOP")
    assert scene.contacts()[0].sms_opted_out
    assert scene.text("Start").status_code == 200
    assert not scene.contacts()[0].sms_opted_out
    assert [e["type"] for e in scene.history("sms_opted_out", "sms_opted_in")] == [
        "sms_opted_out",
        "sms_opted_in",
    ]


def test_help_queues_an_answer_naming_the_sender_and_moves_nothing(scene: Scene) -> None:
    with write(scene.db) as session:
        session.add(Sender(kind="sms", address=OUR_NUMBER, name="Acme Sales"))
    scene.start(JANE)
    response = scene.text("help")
    assert response.text == EMPTY_TWIML  # the sink cannot answer inline: the outbox does
    (answer,) = [m for m in scene.messages() if m["key"].startswith(f"help:{JANE}:")]
    assert (answer["status"], answer["to"], answer["from"]) == ("queued", JANE, OUR_NUMBER)
    assert answer["body"].startswith("Acme Sales:") and "Reply STOP to opt out" in answer["body"]
    scene.run("2026-12-01T10:30:00-06:00")
    assert scene.sink()[-1]["body"] == answer["body"]
    assert scene.enrollments()[0]["status"] == "active"
    assert not scene.contacts()[0].sms_opted_out


def test_any_other_text_is_a_reply_to_the_last_text_and_exits(scene: Scene) -> None:
    (contact_id,) = scene.start(JANE)
    assert scene.text("Sounds good, call me tomorrow").text == EMPTY_TWIML
    (replied,) = scene.history("replied")
    assert (replied["contact_id"], replied["step"]) == (contact_id, "intro")
    assert replied["data"]["text"] == "Sounds good, call me tomorrow"
    assert scene.enrollments()[0]["status"] == "exited"
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.sink()) == 1


def test_a_text_from_an_unknown_number_is_recorded_not_refused(scene: Scene) -> None:
    scene.start(JANE)
    response = scene.text("who is this?", sender="+14155550123")
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    (unmatched,) = scene.history("inbound_unmatched")
    assert unmatched["reason"] == "reply text from +14155550123: no contact has this number"
    assert scene.enrollments()[0]["status"] == "active"


def test_twilio_callbacks_need_a_valid_signature_and_help_is_answered_inline(
    twilio: Scene,
) -> None:
    with write(twilio.db) as session:
        store(session, TEXTS, at(START))
        add_contact(session, at(START), phone=JANE)
    url = "https://c.example/api/v1/inbound/sms"  # what Twilio signs: BASE_URL and the path
    path = "/api/v1/inbound/sms"
    form = {"From": JANE, "To": OUR_NUMBER, "Body": "STOP", "MessageSid": "SM1"}
    forged = twilio.client.post(path, data=form, headers={"X-Twilio-Signature": "bm9wZQ=="})
    unsigned = twilio.client.post(path, data=form)
    for refused in (forged, unsigned):
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    assert not twilio.contacts()[0].sms_opted_out
    help_form = {**form, "Body": "HELP"}
    signed = {"X-Twilio-Signature": twilio_signature(TOKEN, url, help_form)}
    answered = twilio.client.post(path, data=help_form, headers=signed)
    assert answered.status_code == 200
    assert "<Message>" in answered.text and "Reply STOP to opt out." in answered.text
    (answer,) = twilio.messages()
    assert answer["status"] == "sent"  # Twilio sends the TwiML answer: the dispatcher must not


def test_delivery_reports_update_the_message_and_failures_are_recorded(scene: Scene) -> None:
    scene.start(JANE)
    (sent,) = scene.messages()
    report = {"MessageSid": sent["provider_id"], "To": JANE, "From": OUR_NUMBER}
    path = "/api/v1/inbound/sms/status"
    delivered = scene.client.post(path, data={**report, "MessageStatus": "delivered"})
    assert delivered.status_code == 204
    assert scene.messages()[0]["status"] == "sent"
    failure = {"MessageStatus": "undelivered", "ErrorCode": "30003", "ErrorMessage": "Unreachable"}
    assert scene.client.post(path, data={**report, **failure}).status_code == 204
    (failed,) = scene.messages()
    assert failed["status"] == "failed" and "30003" in failed["error"]
    (event,) = scene.history("message_failed")
    assert event["step"] == "intro" and "30003" in event["reason"]


def test_a_reply_holding_nul_characters_still_exits_the_enrollment(scene: Scene) -> None:
    (contact_id,) = scene.start(JANE)
    response = scene.text("Call me\x00 tomorrow", sender=JANE + "\x00")
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    (replied,) = scene.history("replied")
    assert (replied["contact_id"], replied["data"]["text"]) == (contact_id, "Call me tomorrow")
    assert scene.enrollments()[0]["status"] == "exited"
    assert scene.text("\x00STOP\x00").status_code == 200
    assert scene.contacts()[0].sms_opted_out


# --- who may post: the inbound secret or a key with the inbound scope ----------------------


def _key(scene: Scene, *scopes: str) -> str:
    with write(scene.db) as session:
        _, token = create_key(session=session, name="provider", now=at(START), scopes=scopes)
    return token


def test_a_forged_stop_without_credentials_is_refused_and_changes_nothing(scene: Scene) -> None:
    scene.start(JANE)
    anonymous = TestClient(scene.app, base_url="https://c.example")
    form = {"From": JANE, "To": OUR_NUMBER, "Body": "STOP"}
    refused = anonymous.post("/api/v1/inbound/sms", data=form)
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    assert "Basic" in refused.headers["WWW-Authenticate"]
    api_only = {"Authorization": f"Bearer {_key(scene, 'api')}"}
    forbidden = anonymous.post("/api/v1/inbound/sms", data=form, headers=api_only)
    assert forbidden.status_code == 403
    assert not scene.contacts()[0].sms_opted_out and scene.history("sms_opted_out") == []
    assert scene.enrollments()[0]["status"] == "active"
    inbound = {"Authorization": f"Bearer {_key(scene, 'inbound')}"}
    assert anonymous.post("/api/v1/inbound/sms", data=form, headers=inbound).status_code == 200
    assert scene.contacts()[0].sms_opted_out


def test_a_forged_delivery_report_without_credentials_is_refused(scene: Scene) -> None:
    scene.start(JANE)
    (sent,) = scene.messages()
    report = {"MessageSid": sent["provider_id"], "MessageStatus": "undelivered", "ErrorCode": "1"}
    anonymous = TestClient(scene.app, base_url="https://c.example")
    assert anonymous.post("/api/v1/inbound/sms/status", data=report).status_code == 401
    assert scene.messages()[0]["status"] == "sent" and scene.history("message_failed") == []


def test_the_sink_takes_no_inbound_text_outside_development(db: Database, tmp_path: Path) -> None:
    for scene in _scene(db, tmp_path, environment="production", secret_key="p" * 32):
        response = scene.text("STOP")
        assert response.status_code == 403 and "CADENZA_ENVIRONMENT=development" in response.text


def test_twilio_signature_is_checked_even_with_credentials_and_not_instead_of_them(
    twilio: Scene,
) -> None:
    with write(twilio.db) as session:
        store(session, TEXTS, at(START))
        add_contact(session, at(START), phone=JANE)
    url = "https://c.example/api/v1/inbound/sms"
    form = {"From": JANE, "To": OUR_NUMBER, "Body": "STOP", "MessageSid": "SM1"}
    signed = {"X-Twilio-Signature": twilio_signature(TOKEN, url, form)}
    inbound = {"Authorization": f"Bearer {_key(twilio, 'inbound')}"}
    anonymous = TestClient(twilio.app, base_url="https://c.example")
    assert anonymous.post(url, data=form, headers=signed).status_code == 401
    assert anonymous.post(url, data=form, headers=inbound).status_code == 403
    assert not twilio.contacts()[0].sms_opted_out
    both = {**signed, **inbound}
    assert anonymous.post(url, data=form, headers=both).status_code == 200
    assert twilio.contacts()[0].sms_opted_out
