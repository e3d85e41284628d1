"""Each provider end to end: a step's email sent through its API (at the transport seam),
then its signed events and received mail posted to our webhooks, as the provider would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.channels.provider_hooks.signatures import SnsCertificates
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Channels, Dispatcher
from cadenza.server import create_app
from cadenza.services import enrollments, senders
from cadenza.services.history import list_history
from cadenza.settings import Settings
from cadenza.store.models import Contact, Message
from tests import provider_payloads as payloads
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.integration.api_client import problem, running_api

START = "2026-12-01T10:00:00-06:00"
LATER = "2026-12-01T10:05:00-06:00"
SEQUENCE = """
name: Outreach
senders: {email: "sales@acme.example"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
exit: {on: [replied, bounced, unsubscribed]}
steps:
  - {key: hello, action: email, subject: "Hello {{ contact.first_name }}",
     body: '<p>See <a href="https://acme.example/pricing">pricing</a></p>',
     track: {opens: true, clicks: true}}
  - {key: again, action: email, wait: {days: 2}, thread: reply_to_previous,
     subject: "x", body: "<p>Following up</p>"}
"""
MAILGUN_KEY = "mailgun-webhook-signing-key"
CONFIGS = {
    "mailgun": {
        "domain": "mg.acme.example",
        "api_key_env": "MG_KEY",
        "webhook_signing_key_env": "MG_HOOK",
    },
    "sendgrid": {"api_key_env": "SG_KEY", "webhook_public_key_env": "SG_HOOK"},
    "ses": {
        "region": "eu-west-1",
        "access_key_id_env": "AWS_ID",
        "secret_access_key_env": "AWS_KEY",
    },
    "postmark": {"server_token_env": "PM_TOKEN"},
}
ANSWERS = {
    "mailgun": httpx.Response(
        200, json={"id": "<20261201.1@mg.acme.example>", "message": "Queued"}
    ),
    "sendgrid": httpx.Response(202, headers={"X-Message-Id": "sg-abc123"}),
    "ses": httpx.Response(200, json={"MessageId": "0102018f-ses-1"}),
    "postmark": httpx.Response(200, json={"MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"}),
}
HOSTS = {
    "mailgun": "api.mailgun.net",
    "sendgrid": "api.sendgrid.com",
    "ses": "email.eu-west-1.amazonaws.com",
    "postmark": "api.postmarkapp.com",
}
AUTH = ("inbound", "hook-secret")


@dataclass
class World:
    db: Database
    settings: Settings
    client: TestClient
    sns: payloads.SnsSigner
    sendgrid_private: Any
    env: dict[str, str]
    requests: list[httpx.Request] = field(default_factory=list)
    contact_id: int = 0

    def send(self, provider: str, now: str = START) -> Message:
        run_worker(self.db, now)

        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return ANSWERS[provider]

        channels = Channels(
            self.settings, email_transport=httpx.MockTransport(handler), env=self.env
        )
        dispatcher = Dispatcher(
            self.db.sessions, FixedClock(at(now)), self.settings, channels=channels
        )
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()
        with self.db.sessions() as session:
            return session.scalars(select(Message).order_by(Message.id.desc())).first()  # type: ignore[return-value]

    def post_event(self, provider: str, message: Message, kind: str) -> httpx.Response:
        return self.client.post(**event_request(self, provider, message, kind), auth=AUTH)

    def contact(self) -> Contact:
        with self.db.sessions() as session:
            found = session.get(Contact, self.contact_id)
            assert found is not None
            return found

    def history(self, *types: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return list_history(session=session, types=list(types))


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[World]:
    private, public = payloads.sendgrid_key()
    env = {
        "MG_KEY": "key-1",
        "MG_HOOK": MAILGUN_KEY,
        "SG_KEY": "SG.1",
        "SG_HOOK": public,
        "AWS_ID": "AKID",
        "AWS_KEY": "secret",
        "PM_TOKEN": "pm-token",
    }
    settings = Settings(
        environment="test",
        database_url=db.url,
        base_url="https://c.example",
        secret_key="s3cret",
        inbound_secret="hook-secret",
        sms_sink_path=str(tmp_path / "sink.jsonl"),
    )
    app = create_app(settings, clock=FixedClock(at(LATER)))
    sns = payloads.SnsSigner()
    app.state.provider_env = env
    app.state.sns_certificates = SnsCertificates(sns.transport())
    with write(db) as session:
        store(session, SEQUENCE, at(START))
        contact_id = add_contact(session, at(START))
        enrollments.enroll(
            session=session, sequence="Outreach", contact_ids=[contact_id], now=at(START),
            settings=SETTINGS,
        )  # fmt: skip
    try:
        yield World(db, settings, TestClient(app), sns, private, env, contact_id=contact_id)
    finally:
        app.state.engine.dispose()


def use_provider(db: Database, provider: str, address: str = "sales@acme.example") -> int:
    with write(db) as session:
        sender = senders.add_sender(session=session, kind="email", address=address)
        senders.set_provider(
            session=session, sender_id=sender.id, provider=provider, config=CONFIGS[provider]
        )
        return sender.id


def event_request(world: World, provider: str, message: Message, kind: str) -> dict[str, Any]:
    """The request the provider makes for `kind` (opened, bounced, complained) of `message`."""
    now = at(LATER)
    pid, key = message.provider_id or "", message.key
    if provider == "mailgun":
        name = {"opened": "opened", "bounced": "failed", "complained": "complained"}[kind]
        extra: dict[str, Any] = {}
        if kind == "bounced":
            extra = {
                "severity": "permanent",
                "reason": "bounce",
                "delivery-status": {
                    "code": 550,
                    "message": "5.1.1 The email account does not exist",
                },
            }
        body = payloads.mailgun_event(key, name, now, f"<{pid}>", **extra)
        payloads.mailgun_sign(body, MAILGUN_KEY, now)
        return {"url": "/api/v1/inbound/providers/mailgun/events", "json": body}
    if provider == "sendgrid":
        event = {
            "opened": {"event": "open", "useragent": "Mozilla/5.0", "ip": "203.0.113.7"},
            "bounced": {"event": "bounce", "type": "bounce", "status": "5.1.1",
                        "reason": "550 5.1.1 The email account does not exist"},
            "complained": {"event": "spamreport"},
        }[kind]  # fmt: skip
        raw = payloads.sendgrid_events(key, pid, event)
        headers = payloads.sendgrid_headers(world.sendgrid_private, raw, now)
        return {
            "url": "/api/v1/inbound/providers/sendgrid/events",
            "content": raw,
            "headers": headers,
        }
    if provider == "ses":
        jane = {"emailAddress": "jane@example.com"}
        bounced = {
            **jane,
            "action": "failed",
            "status": "5.1.1",
            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
        }
        extra = {
            "opened": {"open": {"ipAddress": "203.0.113.7"}},
            "bounced": {"bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                                   "bouncedRecipients": [bounced]}},
            "complained": {"complaint": {"complainedRecipients": [jane],
                                         "complaintFeedbackType": "abuse"}},
        }[kind]  # fmt: skip
        name = {"opened": "Open", "bounced": "Bounce", "complained": "Complaint"}[kind]
        body = world.sns.notification(payloads.ses_event(name, pid, **extra))
        return {"url": "/api/v1/inbound/providers/ses", "content": json.dumps(body),
                "headers": {"Content-Type": "text/plain; charset=UTF-8"}}  # fmt: skip
    record = {"opened": "Open", "bounced": "Bounce", "complained": "SpamComplaint"}[kind]
    extra = {}
    if kind == "bounced":
        extra = {"Type": "HardBounce", "TypeCode": 1, "Email": "jane@example.com",
                 "Description": "The server was unable to deliver your message"}  # fmt: skip
    body = payloads.postmark_event(record, pid, key, **extra)
    return {"url": "/api/v1/inbound/providers/postmark/events", "json": body}


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses", "postmark"])
def test_a_step_goes_through_its_senders_provider_and_its_events_come_back(
    world: World, provider: str
) -> None:
    use_provider(world.db, provider)
    message = world.send(provider)
    (request,) = world.requests
    assert request.url.host == HOSTS[provider]
    assert message.status == "sent" and message.provider_id
    sent = request.content
    if provider == "ses":
        sent = base64.b64decode(json.loads(sent)["Content"]["Raw"]["Data"])
    assert message.meta["message_id"].encode() in sent  # our message, as built

    opened = world.post_event(provider, message, "opened")
    assert opened.status_code == 200, opened.text
    (seen,) = world.history("opened")
    assert seen["contact_id"] == world.contact_id and seen["step"] == "hello"

    bounced = world.post_event(provider, message, "bounced")
    assert bounced.status_code == 200, bounced.text
    assert world.contact().email_bounced
    (bounce,) = world.history("bounced")
    assert bounce["data"]["provider"] == provider and bounce["data"]["message_key"] == message.key
    assert world.history("exited")  # exit.on lists bounced
    again = world.post_event(provider, message, "bounced")  # providers retry their calls
    assert again.status_code == 200 and len(world.history("bounced")) == 1


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses"])
def test_a_forged_or_unsigned_event_is_refused_and_changes_nothing(
    world: World, provider: str
) -> None:
    use_provider(world.db, provider)
    message = world.send(provider)
    request = event_request(world, provider, message, "bounced")
    if "json" in request:
        request["json"]["signature"]["signature"] = "0" * 64
    elif provider == "sendgrid":
        request["content"] = request["content"].replace(b"5.1.1", b"5.1.2")
    else:
        request["content"] = request["content"].replace("user unknown", "user unknowN")
    assert world.client.post(**request, auth=AUTH).status_code == 403
    assert (
        world.client.post(**event_request(world, provider, message, "bounced")).status_code == 401
    )
    assert not world.contact().email_bounced and not world.history("bounced")


def test_sns_certificates_come_only_from_amazon_sns(world: World) -> None:
    use_provider(world.db, "ses")
    message = world.send("ses")
    body = world.sns.notification(payloads.ses_event("Bounce", message.provider_id or ""))
    body["SigningCertURL"] = "https://attacker.example/sns.eu-west-1.amazonaws.com.pem"
    world.sns.sign(body)
    answer = world.client.post("/api/v1/inbound/providers/ses", content=json.dumps(body), auth=AUTH)
    assert answer.status_code == 403 and "not Amazon SNS" in answer.json()["detail"]
    assert world.sns.fetched == []


def test_an_sns_subscription_is_confirmed_after_its_signature_is_checked(world: World) -> None:
    body = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": payloads.TOPIC,
        "Message": "You have chosen to subscribe to the topic",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        "Timestamp": "2026-12-01T16:00:00.000Z",
        "SignatureVersion": "2",
        "SigningCertURL": payloads.CERT_URL,
    }
    world.sns.sign(body)
    answer = world.client.post("/api/v1/inbound/providers/ses", content=json.dumps(body), auth=AUTH)
    assert answer.status_code == 200 and answer.json()["outcome"] == "subscribed"
    assert world.sns.fetched[-1] == body["SubscribeURL"]


def _reply(message: Message) -> str:
    return (
        "From: Jane Doe <jane@example.com>\r\nTo: sales@acme.example\r\n"
        f"Subject: Re: Hello Jane\r\nIn-Reply-To: {message.meta['message_id']}\r\n"
        "Message-ID: <reply-1@example.com>\r\n\r\nYes, let's talk on Tuesday.\r\n"
    )


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses", "postmark"])
def test_received_mail_reaches_the_inbound_reader(world: World, provider: str) -> None:
    use_provider(world.db, provider)
    message = world.send(provider)
    raw = _reply(message)
    if provider == "mailgun":
        now = at(LATER)
        form = {"recipient": "sales@acme.example", "sender": "jane@example.com", "body-mime": raw}
        signed: dict[str, Any] = {}
        payloads.mailgun_sign(signed, MAILGUN_KEY, now)
        form.update(signed["signature"])
        answer = world.client.post("/api/v1/inbound/providers/mailgun/mime", data=form, auth=AUTH)
    elif provider == "sendgrid":
        form = {
            "email": raw,
            "envelope": json.dumps({"to": ["sales@acme.example"], "from": "jane@example.com"}),
        }
        parts = {name: (None, value) for name, value in form.items()}
        url = "/api/v1/inbound/providers/sendgrid/inbound"
        answer = world.client.post(url, files=parts, auth=AUTH)
    elif provider == "ses":
        received = {
            "notificationType": "Received",
            "mail": {"messageId": "inbound-1", "destination": ["sales@acme.example"]},
            "receipt": {"recipients": ["sales@acme.example"],
                        "action": {"type": "SNS", "encoding": "BASE64"}},
            "content": base64.b64encode(raw.encode()).decode(),
        }  # fmt: skip
        body = world.sns.notification(received)
        answer = world.client.post(
            "/api/v1/inbound/providers/ses", content=json.dumps(body), auth=AUTH
        )
    else:
        body = {
            "From": "jane@example.com", "To": "sales@acme.example", "Subject": "Re: Hello Jane",
            "MessageID": "pm-inbound-1", "TextBody": "Yes, let's talk on Tuesday.",
            "Headers": [{"Name": "In-Reply-To", "Value": message.meta["message_id"]},
                        {"Name": "Message-ID", "Value": "<reply-1@example.com>"}],
            "ToFull": [{"Email": "sales@acme.example", "Name": ""}],
        }  # fmt: skip
        answer = world.client.post(
            "/api/v1/inbound/providers/postmark/inbound", json=body, auth=AUTH
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "replied"
    assert answer.json()["message_key"] == message.key
    (replied,) = world.history("replied")
    assert replied["contact_id"] == world.contact_id


def test_the_senders_api_sets_a_provider_pauses_and_shows_health(
    db: Database, tmp_path: Path
) -> None:
    with running_api(db, tmp_path) as api:
        sender = api.ok(
            "POST", "/senders", 201, json={"kind": "email", "address": "s@acme.example"}
        )
        path = f"/senders/{sender['id']}"
        assert sender["provider"] == "smtp" and sender["health"]["sent"] == 0
        secret = {"provider": "postmark", "provider_config": {"server_token_env": "pm-123-abc"}}
        assert "never the secret" in problem(api.patch(path, json=secret), 422)["detail"]
        assert api.ok("GET", path)["provider"] == "smtp"  # nothing changed
        changed = api.ok(
            "PATCH", path,
            json={"provider": "postmark", "provider_config": {"server_token_env": "PM_TOKEN"},
                  "paused": True, "paused_reason": "new domain", "stagger_seconds": 20,
                  "warmup": {"start": 20, "step": 10, "since": "2026-12-01"}},
        )  # fmt: skip
        assert changed["provider_config"] == {"server_token_env": "PM_TOKEN"}
        assert changed["paused"] and changed["paused_reason"] == "new domain"
        assert changed["warmup"]["start"] == 20 and changed["stagger_seconds"] == 20
        record = api.ok("POST", path + "/dkim", 201, json={"selector": "s1"})
        assert record["name"] == "s1._domainkey.acme.example"
        assert api.ok("GET", path)["dkim_selector"] == "s1"


def test_two_mailboxes_of_one_sequence_send_through_two_providers(world: World) -> None:
    use_provider(world.db, "mailgun", "ana@acme.example")
    use_provider(world.db, "postmark", "bo@acme.example")
    rotating = SEQUENCE.replace(
        'senders: {email: "sales@acme.example"}',
        'senders: {email: "ana@acme.example", email_rotation: ["bo@acme.example"]}',
    ).replace("name: Outreach", "name: Rotating")
    with write(world.db) as session:
        store(session, rotating, at(START))
        ids = [add_contact(session, at(START), email=f"lead{n}@example.com") for n in (1, 2)]
        enrollments.enroll(
            session=session, sequence="Rotating", contact_ids=ids, now=at(START), settings=SETTINGS
        )
    run_worker(world.db, START)
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return ANSWERS["mailgun" if request.url.host == HOSTS["mailgun"] else "postmark"]

    channels = Channels(world.settings, email_transport=httpx.MockTransport(handler), env=world.env)
    dispatcher = Dispatcher(
        world.db.sessions, FixedClock(at(START)), world.settings, channels=channels
    )
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()
    # Three emails: the fixture's contact from sales@ (the relay: no sender row), and one
    # each from ana@ through Mailgun and bo@ through Postmark.
    assert sorted(hosts) == sorted([HOSTS["mailgun"], HOSTS["postmark"]])


@pytest.mark.parametrize(("status", "outcome"), [(503, "queued"), (400, "failed")])
def test_provider_refusals_follow_the_outbox_retry_rules(
    world: World, status: int, outcome: str
) -> None:
    use_provider(world.db, "sendgrid")
    answer = httpx.Response(status, json={"errors": [{"message": "no"}]})
    run_worker(world.db, START)

    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    channels = Channels(world.settings, email_transport=httpx.MockTransport(handler), env=world.env)
    dispatcher = Dispatcher(
        world.db.sessions, FixedClock(at(START)), world.settings, channels=channels
    )
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()
    with world.db.sessions() as session:
        (message,) = session.scalars(select(Message))
    assert message.status == outcome and f"SendGrid answered {status}" in (message.error or "")
    assert bool(world.history("message_failed")) is (outcome == "failed")
