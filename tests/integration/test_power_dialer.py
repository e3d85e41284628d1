"""The power dialer through the UI: the rep's queue, click-to-call through Twilio, the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.channels.twilio import twilio_signature
from cadenza.channels.voice import TwilioVoice
from cadenza.clock import FixedClock
from cadenza.engine.worker import Worker
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.history import list_history
from cadenza.services.users import add_user
from cadenza.settings import Settings
from cadenza.store.models import Task
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, store, write
from tests.integration.web_login import PASSWORD, logged_in

NOW = "2026-12-01T10:00:00-06:00"
SID, TOKEN, BASE = "AC123", "twilio-auth-token", "https://c.example"
REP, REP_PHONE, LINE, JANE = "rep@acme.example", "+13125550177", "+13125550100", "+13125550101"
QUEUE = """
name: Call down
owner: rep@acme.example
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - key: queue
    action: power_dialer
    assignee: contact_owner
    script: "Ask {{ contact.first_name }} about the renewal."
  - {key: thanks, action: add_tag, tag: called}
"""


@pytest.fixture
def site(db: Database) -> Iterator[tuple[TestClient, list[dict[str, list[str]]], str]]:
    created: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json"
        created.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json={"sid": "CA9", "status": "queued"})

    config = Settings(
        environment="test",
        database_url=db.url,
        base_url=BASE,
        voice_provider="twilio",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
    )
    with write(db) as session:
        rep = add_user(
            session=session,
            email=REP,
            role="agent",
            phone=REP_PHONE,
            now=at(NOW),
            password=PASSWORD,
        )
        store(session, QUEUE, at(NOW))
        for first, phone in (("Jane", JANE), ("Joe", "+13125550102")):
            contact = add_contact(
                session,
                at(NOW),
                email=f"{first}@lead.example",
                phone=phone,
                first_name=first,
                last_name="Doe",
                owner_id=rep.id,
            )
            enrollments.enroll(
                session=session,
                sequence="Call down",
                contact_ids=[contact],
                now=at(NOW),
                settings=config,
            )
    Worker(db.sessions, FixedClock(at(NOW)), config).drain()
    app = create_app(config, clock=FixedClock(at(NOW)))
    app.state.voice_provider = TwilioVoice(SID, TOKEN, httpx.MockTransport(handler))
    try:
        client = TestClient(app, base_url=BASE)
        yield client, created, logged_in(client, REP)
    finally:
        app.state.engine.dispose()


def _signed(client: TestClient, url: str, form: dict[str, str]) -> httpx.Response:
    headers = {"X-Twilio-Signature": twilio_signature(TOKEN, url, form)}
    return client.post(urlsplit(url).path + "?" + urlsplit(url).query, data=form, headers=headers)


def test_call_next_bridges_the_reps_phone_and_the_outcome_moves_the_sequence(
    site: tuple[TestClient, list[dict[str, list[str]]], str], db: Database
) -> None:
    client, created, csrf = site
    page = client.get("/dialer").text
    assert "Next: Jane Doe" in page and "Ask Jane about the renewal." in page
    assert page.index("Jane Doe") < page.index("Joe Doe")
    with db.sessions() as session:
        task_id = session.scalars(select(Task.id).order_by(Task.id)).first()
    answer = client.post(f"/dialer/{task_id}/call", data={"csrf": csrf}, follow_redirects=True)
    assert "Calling your phone" in answer.text
    [call] = created
    assert {k: v[0] for k, v in call.items() if k != "StatusCallbackEvent"} == {
        "To": REP_PHONE,
        "From": LINE,
        "Method": "POST",
        "StatusCallbackMethod": "POST",
        "Url": f"{BASE}/api/v1/inbound/voice/answer?call=1",
        "StatusCallback": f"{BASE}/api/v1/inbound/voice/status?call=1",
        "Timeout": "30",
    }
    bridge = ET.fromstring(_signed(client, call["Url"][0], {"CallSid": "CA9"}).text)
    assert bridge[0].tag == "Dial" and bridge[0][0].text == JANE
    assert bridge[0].get("callerId") == LINE
    dial = bridge[0].get("action") or ""
    _signed(
        client, dial, {"CallSid": "CA9", "DialCallStatus": "completed", "DialCallDuration": "130"}
    )
    status = _signed(
        client,
        call["StatusCallback"][0],
        {"CallSid": "CA9", "CallStatus": "completed", "CallDuration": "140"},
    )
    assert status.status_code == 204
    done = client.post(
        f"/dialer/{task_id}/outcome",
        data={"csrf": csrf, "outcome": "interested"},
        follow_redirects=True,
    )
    assert "Logged:" in done.text and "Next: Joe Doe" in done.text
    with db.sessions() as session:
        [logged] = list_history(session=session, types=["call_logged"])
        assert logged["data"]["talk_duration"] == 130 and logged["data"]["wait_duration"] == 10
        assert logged["data"]["agent"] == REP and logged["data"]["disposition"] == "answered"
        assert list_history(session=session, types=["manual_call"])
        jane = enrollments.list_enrollments(session=session, sequence="Call down")[0]
        assert (jane["status"], jane["outcome"]) == ("completed", "positive")


def test_a_rep_without_a_phone_is_told_so_and_nothing_is_called(
    site: tuple[TestClient, list[dict[str, list[str]]], str], db: Database
) -> None:
    client, created, csrf = site
    with write(db) as session:
        from cadenza.store.models import User

        rep = session.scalars(select(User).where(User.email == REP)).one()
        rep.phone = None
        task_id = session.scalars(select(Task.id).order_by(Task.id)).first()
    answer = client.post(f"/dialer/{task_id}/call", data={"csrf": csrf}, follow_redirects=True)
    assert "add your phone number" in answer.text
    assert created == []
    bad = client.post(
        "/dialer/phone", data={"csrf": csrf, "phone": "not a number"}, follow_redirects=True
    )
    assert "phone:" in bad.text
    saved = client.post(
        "/dialer/phone", data={"csrf": csrf, "phone": "(312) 555-0177"}, follow_redirects=True
    )
    assert f"Your phone is {REP_PHONE}" in saved.text
    client.post(f"/dialer/{task_id}/call", data={"csrf": csrf})
    assert [call["To"] for call in created] == [[REP_PHONE]]
