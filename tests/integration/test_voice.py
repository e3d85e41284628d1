"""Dialer calls end to end: placed through Twilio's REST API, driven by signed webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.channels.twilio import twilio_signature
from cadenza.channels.voice import TwilioVoice
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Channels, Dispatcher
from cadenza.engine.worker import Worker
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.history import list_history
from cadenza.settings import Settings
from cadenza.store.models import Contact, Group, GroupMember, Message, Task, User
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, store, write

NOW = "2026-12-01T10:00:00-06:00"  # a Tuesday, inside business hours in Chicago
LINE, JANE, AGENT_A, AGENT_B = "+13125550100", "+13125550101", "+13125550170", "+13125550171"
TOKEN, SID = "twilio-auth-token", "AC123"
BASE = "https://c.example"
DIALER = """
name: Dialer
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: business, holidays: none,
           hours: {open: "09:00", close: "17:00"}}
steps:
  - key: ring
    action: progressive_dialer
    group: closers
    message: "Hi {{ contact.first_name }}, press 1 to talk, 2 for a callback, 9 to stop."
    repeat: 2
    retries: 1
    retry_after: {minutes: 20}
  - {key: later, action: sms, wait: {days: 2}, body: "Hello again"}
"""
TALKERS = """
name: Talkers
senders: {sms: "+13125550100"}
enrollment:
  triggers: [{on: call_logged, disposition: answered, min_duration: 60, measure: talk}]
steps:
  - {key: note, action: add_tag, tag: talked}
"""
PREVIEW = DIALER.replace("progressive_dialer", "preview_dialer").replace("name: Dialer", "name: P")


@dataclass
class Phone:
    """Twilio as seen from Cadenza: the REST calls it got, and the webhooks it makes."""

    db: Database
    settings: Settings
    client: TestClient
    created: list[dict[str, list[str]]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.headers["authorization"].startswith("Basic ")
        self.created.append(parse_qs(request.content.decode()))
        sid = f"CA{len(self.created):032d}"
        return httpx.Response(201, json={"sid": sid, "status": "queued"})

    def dispatch(self, now: str = NOW) -> None:
        Worker(self.db.sessions, FixedClock(at(now)), self.settings).drain()
        voice = TwilioVoice(SID, TOKEN, httpx.MockTransport(self.handler))
        channels = Channels(self.settings, voice=voice)
        dispatcher = Dispatcher(
            self.db.sessions, FixedClock(at(now)), self.settings, channels=channels
        )
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()

    def post(self, url: str, form: dict[str, str], *, sign: bool = True) -> httpx.Response:
        headers = {"X-Twilio-Signature": twilio_signature(TOKEN, url, form)} if sign else {}
        parts = urlsplit(url)
        return self.client.post(f"{parts.path}?{parts.query}", data=form, headers=headers)

    def twiml(self, url: str, form: dict[str, str]) -> ET.Element:
        response = self.post(url, form)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return ET.fromstring(response.text)

    def status(self, url: str, sid: str, status: str, **extra: str) -> None:
        form = {"CallSid": sid, "AccountSid": SID, "CallStatus": status, **extra}
        assert self.post(url, form).status_code == 204

    def history(self, *types: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return list_history(session=session, types=list(types))

    def contact(self, contact_id: int) -> Contact:
        with self.db.sessions() as session:
            found = session.get(Contact, contact_id)
            assert found is not None
            return found

    def enrollment(self, sequence: str) -> dict[str, Any]:
        with self.db.sessions() as session:
            [found] = enrollments.list_enrollments(session=session, sequence=sequence)
            return found


@pytest.fixture
def phone(db: Database) -> Iterator[Phone]:
    config = Settings(
        environment="test",
        database_url=db.url,
        base_url=BASE,
        voice_provider="twilio",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
    )
    app = create_app(config, clock=FixedClock(at(NOW)))
    try:
        yield Phone(db, config, TestClient(app, base_url=BASE))
    finally:
        app.state.engine.dispose()


def _start(phone: Phone, text: str = DIALER, **contact: Any) -> int:
    with write(phone.db) as session:
        store(session, text, at(NOW))
        store(session, TALKERS, at(NOW))
        group = Group(name="closers")
        session.add(group)
        for i, number in enumerate((AGENT_A, AGENT_B)):
            user = User(
                email=f"agent{i}@acme.example",
                name=f"Agent{i} Smith",
                role="agent",
                phone=number,
                created_at=at(NOW),
            )
            session.add(user)
            session.flush()
            session.add(GroupMember(group_id=group.id, user_id=user.id, position=i))
        fields = {
            "first_name": "Jane",
            "last_name": "Doe",
            "phone": JANE,
            "timezone": "America/Chicago",
            "fields": {"state": "Illinois"},
            **contact,
        }
        contact_id = add_contact(session, at(NOW), email="jane@lead.example", **fields)
        name = text.split("name: ")[1].split("\n")[0]
        enrollments.enroll(
            session=session,
            sequence=name,
            contact_ids=[contact_id],
            now=at(NOW),
            settings=phone.settings,
        )
    phone.dispatch()
    return contact_id


def _one(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in values.items() if len(v) == 1}


def test_the_progressive_dialer_places_the_call_documented_by_twilio(phone: Phone) -> None:
    _start(phone)
    [created] = phone.created
    assert _one(created) == {
        "To": JANE,
        "From": LINE,
        "Method": "POST",
        "StatusCallbackMethod": "POST",
        "Url": f"{BASE}/api/v1/inbound/voice/answer?m=1",
        "StatusCallback": f"{BASE}/api/v1/inbound/voice/status?m=1",
        "MachineDetection": "DetectMessageEnd",
        "Timeout": "30",
    }
    assert created["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


def test_a_person_presses_1_talks_to_the_second_agent_and_the_call_logs_itself(
    phone: Phone,
) -> None:
    contact_id = _start(phone)
    [created] = phone.created
    answer, status, sid = created["Url"][0], created["StatusCallback"][0], "CA" + "0" * 31 + "1"
    phone.status(status, sid, "initiated")
    phone.status(status, sid, "ringing")
    phone.status(status, sid, "in-progress")
    said = phone.twiml(answer, {"CallSid": sid, "AnsweredBy": "human", "CallStatus": "in-progress"})
    [gather, _goodbye, _hangup] = list(said)
    assert gather.tag == "Gather" and gather.get("numDigits") == "1"
    assert gather[0].text == "Hi Jane, press 1 to talk, 2 for a callback, 9 to stop."
    assert gather[0].get("loop") == "2"
    dialed = phone.twiml(gather.get("action") or "", {"CallSid": sid, "Digits": "1"})
    assert dialed[0].tag == "Dial" and dialed[0].get("callerId") == LINE
    assert dialed[0][0].text == AGENT_A
    # The first agent does not answer: the second is rung.
    second = phone.twiml(
        dialed[0].get("action") or "", {"CallSid": sid, "DialCallStatus": "no-answer"}
    )
    assert second[0][0].text == AGENT_B
    done = phone.twiml(
        second[0].get("action") or "",
        {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "75"},
    )
    assert [verb.tag for verb in done] == ["Hangup"]
    phone.status(status, sid, "completed", CallDuration="90")
    [logged] = phone.history("call_logged")
    assert logged["contact_id"] == contact_id
    assert {
        k: logged["data"][k]
        for k in (
            "direction",
            "disposition",
            "talk_duration",
            "wait_duration",
            "total_duration",
            "agent",
        )
    } == {
        "direction": "outbound",
        "disposition": "answered",
        "talk_duration": 75,
        "wait_duration": 15,
        "total_duration": 90,
        "agent": "agent1@acme.example",
    }
    # The talk-time trigger (60 s or more) enrolled the contact in the other sequence.
    assert phone.enrollment("Talkers")["status"] in ("active", "completed")
    assert phone.enrollment("Dialer")["step"] == "later"


def test_pressing_9_marks_the_contact_do_not_contact_and_exits(phone: Phone) -> None:
    contact_id = _start(phone)
    answer, sid = phone.created[0]["Url"][0], "CA" + "0" * 31 + "1"
    said = phone.twiml(answer, {"CallSid": sid, "AnsweredBy": "human"})
    bye = phone.twiml(said[0].get("action") or "", {"CallSid": sid, "Digits": "9"})
    assert [verb.tag for verb in bye] == ["Say", "Hangup"]
    assert "not get calls from us again" in (bye[0].text or "")
    assert phone.contact(contact_id).dnc is True
    assert phone.enrollment("Dialer")["status"] == "exited"
    reasons = {e["data"].get("reason") for e in phone.history("dnc")}
    assert reasons == {"pressed 9 on a dialer call to stop getting calls"}


def test_pressing_2_makes_a_callback_task_at_the_time_the_contact_typed(phone: Phone) -> None:
    _start(phone)
    answer, sid = phone.created[0]["Url"][0], "CA" + "0" * 31 + "1"
    said = phone.twiml(answer, {"CallSid": sid, "AnsweredBy": "human"})
    asked = phone.twiml(said[0].get("action") or "", {"CallSid": sid, "Digits": "2"})
    assert asked[0].tag == "Gather" and asked[0].get("numDigits") == "4"
    assert "We will call you back on Tuesday, December 1, at 10:00 AM" in (asked[1].text or "")
    thanks = phone.twiml(asked[0].get("action") or "", {"CallSid": sid, "Digits": "1430"})
    assert thanks[0].text == (
        "We will call you back on Tuesday, December 1, at 2:30 PM. Thank you. Goodbye."
    )
    with phone.db.sessions() as session:
        [task] = session.scalars(select(Task))
        assert task.kind == "call" and task.status == "open" and task.title == "Call back Jane Doe"
        assert task.due_at == at("2026-12-01T14:30:00-06:00")


def test_a_machine_gets_the_voicemail_and_busy_is_called_again(phone: Phone) -> None:
    _start(phone)
    answer, status, sid = phone.created[0]["Url"][0], phone.created[0]["StatusCallback"][0], "CA1"
    said = phone.twiml(answer, {"CallSid": sid, "AnsweredBy": "machine_end_beep"})
    assert [verb.tag for verb in said] == ["Say", "Hangup"]
    phone.status(status, sid, "completed", CallDuration="20")
    [logged] = phone.history("call_logged")
    assert logged["data"]["disposition"] == "voicemail"
    assert phone.history("call_retry") == []  # a machine got the voicemail: no retry


def test_busy_then_no_answer_retries_once_and_logs_both(phone: Phone) -> None:
    _start(phone)
    status = phone.created[0]["StatusCallback"][0]
    phone.status(status, "CA1", "busy", CallDuration="0")
    [retry] = phone.history("call_retry")
    assert retry["reason"] == "busy: calling again (attempt 2)"
    phone.dispatch("2026-12-01T10:10:00-06:00")
    assert len(phone.created) == 1  # not before retry_after
    phone.dispatch("2026-12-01T10:21:00-06:00")
    assert len(phone.created) == 2
    phone.status(phone.created[1]["StatusCallback"][0], "CA2", "no-answer", CallDuration="0")
    assert [e["data"]["disposition"] for e in phone.history("call_logged")] == ["busy", "no answer"]
    assert len(phone.history("call_retry")) == 1  # the retries are spent
    with phone.db.sessions() as session:
        [message] = session.scalars(select(Message).where(Message.channel == "call"))
        assert message.status == "sent"


def test_the_preview_dialer_announces_the_contact_until_a_key_then_bridges(phone: Phone) -> None:
    _start(phone, PREVIEW)
    [created] = phone.created
    assert created["To"] == [AGENT_A] and "MachineDetection" not in created
    answer, status, sid = created["Url"][0], created["StatusCallback"][0], "CA1"
    said = phone.twiml(answer, {"CallSid": sid})
    gather = said[0]
    assert gather[0].text == (
        "Hey Agent0, we're about to call Jane Doe from Illinois. Press any key to connect."
    )
    assert gather[0].get("loop") == "2"
    bridged = phone.twiml(gather.get("action") or "", {"CallSid": sid, "Digits": "5"})
    assert bridged[0].tag == "Dial" and bridged[0][0].text == JANE
    phone.twiml(
        bridged[0].get("action") or "",
        {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "42"},
    )
    phone.status(status, sid, "completed", CallDuration="50")
    [logged] = phone.history("call_logged")
    assert logged["data"]["disposition"] == "answered"
    assert logged["data"]["agent"] == "agent0@acme.example"
    assert logged["data"]["talk_duration"] == 42


def test_unsigned_or_forged_voice_webhooks_are_refused_and_change_nothing(phone: Phone) -> None:
    contact_id = _start(phone)
    answer = phone.created[0]["Url"][0]
    said = phone.twiml(answer, {"CallSid": "CA1", "AnsweredBy": "human"})
    gather = said[0].get("action") or ""
    assert phone.post(gather, {"CallSid": "CA1", "Digits": "9"}, sign=False).status_code == 401
    forged = phone.client.post(
        urlsplit(gather).path + "?" + urlsplit(gather).query,
        data={"CallSid": "CA1", "Digits": "9"},
        headers={"X-Twilio-Signature": "bm90IGl0"},
    )
    assert forged.status_code == 403
    assert phone.contact(contact_id).dnc is False


@pytest.mark.parametrize(
    ("answer", "digits", "disposition"),
    [
        ("human", "1", "answered"),
        ("machine", "1", "voicemail"),
        ("busy", "1", "busy"),
    ],
)
def test_the_development_sink_plays_the_call_through_the_same_flows(
    db: Database, tmp_path: Path, answer: str, digits: str, disposition: str
) -> None:
    sink = tmp_path / "voice.jsonl"
    config = Settings(
        environment="test",
        database_url=db.url,
        base_url=BASE,
        voice_sink_path=str(sink),
        voice_sink_answer=answer,
        voice_sink_digits=digits,
    )
    app = create_app(config, clock=FixedClock(at(NOW)))
    phone = Phone(db, config, TestClient(app))
    with write(db) as session:
        store(session, TALKERS, at(NOW))
    try:
        _start_on_sink(phone)
    finally:
        app.state.engine.dispose()
    [logged] = phone.history("call_logged")
    assert logged["data"]["disposition"] == disposition
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert lines[0]["kind"] == "call" and lines[0]["to"] == JANE and lines[0]["answer"] == answer
    if answer == "human":
        assert logged["data"]["talk_duration"] == 60
        assert logged["data"]["agent"] == "agent0@acme.example"
        assert [line["turn"] for line in lines[1:]] == ["answer", "gather", "dial"]
        assert phone.enrollment("Talkers")["status"] in ("active", "completed")


def _start_on_sink(phone: Phone) -> None:
    with write(phone.db) as session:
        store(session, DIALER, at(NOW))
        group = Group(name="closers")
        session.add(group)
        user = User(
            email="agent0@acme.example",
            name="Agent0",
            role="agent",
            phone=AGENT_A,
            created_at=at(NOW),
        )
        session.add(user)
        session.flush()
        session.add(GroupMember(group_id=group.id, user_id=user.id, position=0))
        contact_id = add_contact(
            session,
            at(NOW),
            email="jane@lead.example",
            phone=JANE,
            first_name="Jane",
            timezone="America/Chicago",
        )
        enrollments.enroll(
            session=session,
            sequence="Dialer",
            contact_ids=[contact_id],
            now=at(NOW),
            settings=phone.settings,
        )
    Worker(phone.db.sessions, FixedClock(at(NOW)), phone.settings).drain()
    dispatcher = Dispatcher(phone.db.sessions, FixedClock(at(NOW)), phone.settings)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()
