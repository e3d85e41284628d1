"""Webhook subscriptions: history events reach a CRM's loopback endpoint, signed, filtered,
retried with backoff and logged; bad subscriptions are refused with every reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from cadenza.engine.runner import drain_once
from cadenza.settings import Settings
from cadenza.store.models import Event
from tests.conftest import Database
from tests.integration.people import ANA, PRIVATE, ROOT, YAML, People, people_api
from tests.integration.test_webhooks import Receiver, Seen, serve

SETTINGS = Settings(environment="test", webhook_allow=["127.0.0.1"])


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path, webhook_allow=["127.0.0.1"]) as running:
        yield running


@pytest.fixture
def crm() -> Iterator[Receiver]:
    with serve(Receiver()) as running:
        yield running


def _sequence(people: People, name: str) -> None:
    people.as_(ROOT).ok("POST", "/sequences", 201, content=PRIVATE.format(name=name, owner=ANA),
                        headers=YAML)  # fmt: skip


def _enroll(people: People, name: str, email: str) -> int:
    root = people.as_(ROOT)
    contact = root.ok("POST", "/contacts", 201, json={"first_name": "Lee", "email": email})
    root.ok("POST", "/enrollments", 201, json={"sequence": name, "contact_ids": [contact["id"]]})
    return int(contact["id"])


def _run(people: People, later: timedelta = timedelta(0)) -> None:
    drain_once(people.db.sessions, _Clock(people.clock.now() + later), SETTINGS)


class _Clock:
    def __init__(self, instant: Any) -> None:
        self.instant = instant

    def now(self) -> Any:
        return self.instant


def _verified(seen: Seen, secret: str) -> dict[str, Any]:
    """The body, once its Standard Webhooks signature checks out (computed independently)."""
    headers = {k.lower(): v for k, v in seen.headers.items()}
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + seen.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in headers["webhook-signature"].split()
    body: dict[str, Any] = json.loads(seen.body)
    return body


def test_a_crm_gets_the_events_it_subscribed_to_signed_and_nothing_else(
    people: People, crm: Receiver
) -> None:
    _sequence(people, "Outbound")
    _sequence(people, "Other")
    root = people.as_(ROOT)
    url = f"http://127.0.0.1:{crm.port}/cadenza"
    created = root.request("POST", "/subscriptions", json={
        "url": url, "name": "CRM", "types": ["enrolled", "task_created"], "sequences": ["Outbound"],
    })  # fmt: skip
    assert created.status_code == 201
    subscription = created.json()
    assert created.headers["location"] == f"/api/v1/subscriptions/{subscription['id']}"
    assert subscription["secret"].startswith("whsec_") and subscription["active"]
    assert subscription["types"] == ["enrolled", "task_created"]
    lee = _enroll(people, "Outbound", "lee@lead.example")
    _enroll(people, "Other", "kim@lead.example")  # another sequence: not this CRM's business
    _run(people)

    bodies = [_verified(seen, subscription["secret"]) for seen in crm.requests]
    assert sorted(b["type"] for b in bodies) == ["enrolled", "task_created"]
    enrolled = next(b for b in bodies if b["type"] == "enrolled")
    assert enrolled["data"]["sequence"] == "Outbound"
    assert enrolled["data"]["contact"]["id"] == lee
    assert enrolled["data"]["contact"]["email"] == "lee@lead.example"
    ids = {seen.headers["webhook-id"] for seen in crm.requests}
    assert ids == {f"cadenza-event-{b['data']['id']}" for b in bodies}

    log = root.ok("GET", f"/subscriptions/{subscription['id']}/deliveries")
    assert [(d["status"], d["attempts"], d["response_status"]) for d in log] == [
        ("delivered", 1, 200), ("delivered", 1, 200)
    ]  # fmt: skip
    _run(people)  # nothing is sent twice
    assert len(crm.requests) == 2
    assert root.ok("GET", f"/subscriptions/{subscription['id']}")["delivered"] == 2


def test_a_failing_crm_is_retried_with_backoff_then_given_up_or_turned_off(
    people: People, crm: Receiver
) -> None:
    _sequence(people, "Outbound")
    root = people.as_(ROOT)
    failing = root.ok("POST", "/subscriptions", 201, json={
        "url": f"http://127.0.0.1:{crm.port}/fail", "types": ["enrolled"]})  # fmt: skip
    gone = root.ok("POST", "/subscriptions", 201, json={
        "url": f"http://127.0.0.1:{crm.port}/gone", "types": ["enrolled"]})  # fmt: skip
    _enroll(people, "Outbound", "lee@lead.example")
    _run(people)
    [first] = root.ok("GET", f"/subscriptions/{failing['id']}/deliveries")
    assert (first["status"], first["attempts"], first["response_status"]) == ("pending", 1, 500)
    assert "database exploded" in first["error"]
    assert first["next_attempt_at"] == (people.clock.now() + timedelta(seconds=30)).isoformat()
    _run(people, timedelta(seconds=10))  # not yet due: no second attempt
    assert sum(1 for s in crm.requests if s.path == "/fail") == 1
    _run(people, timedelta(seconds=31))
    [second] = root.ok("GET", f"/subscriptions/{failing['id']}/deliveries")
    assert second["attempts"] == 2
    later = timedelta(seconds=31)
    for _ in range(6):  # the backoff doubles; after eight attempts it gives up
        later += timedelta(hours=7)
        _run(people, later)
    [last] = root.ok("GET", f"/subscriptions/{failing['id']}/deliveries")
    assert (last["status"], last["attempts"]) == ("failed", 8)
    assert "gave up after 8 attempts" in last["error"]

    turned_off = root.ok("GET", f"/subscriptions/{gone['id']}")
    assert not turned_off["active"] and "410 Gone" in turned_off["disabled_reason"]
    assert turned_off["failed"] == 1


def test_a_test_send_says_what_the_receiver_answered(people: People, crm: Receiver) -> None:
    root = people.as_(ROOT)
    good = root.ok("POST", "/subscriptions", 201, json={"url": f"http://127.0.0.1:{crm.port}/x"})
    sent = root.ok("POST", f"/subscriptions/{good['id']}/test")
    assert (sent["status"], sent["response_status"], sent["event_id"]) == ("delivered", 200, None)
    body = _verified(crm.requests[-1], good["secret"])
    assert body["type"] == "webhook.test"
    dead = root.ok("POST", "/subscriptions", 201, json={"url": "http://127.0.0.1:9/x"})
    failed = root.ok("POST", f"/subscriptions/{dead['id']}/test")
    assert failed["status"] == "failed" and "cannot reach" in failed["error"]


def test_a_bad_subscription_is_refused_with_every_reason_and_nothing_made(people: People) -> None:
    root = people.as_(ROOT)
    refused = root.request("POST", "/subscriptions", json={
        "url": "http://10.0.0.7/hook", "types": ["enroled"], "sequences": ["Nope"]})  # fmt: skip
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "10.0.0.7" in detail and "'enroled'" in detail and "'Nope'" in detail
    assert root.ok("GET", "/subscriptions") == []
    agent = people.as_(ANA).request("POST", "/subscriptions", json={"url": "http://127.0.0.1:9/"})
    assert agent.status_code == 403


def test_an_event_removed_before_delivery_is_never_sent(
    people: People, crm: Receiver
) -> None:
    _sequence(people, "Outbound")
    root = people.as_(ROOT)
    hook = root.ok("POST", "/subscriptions", 201, json={
        "url": f"http://127.0.0.1:{crm.port}/in", "types": ["enrolled"]})  # fmt: skip
    _enroll(people, "Outbound", "lee@lead.example")
    with people.db.sessions() as session, session.begin():  # as a retention prune does
        gone_rows = session.execute(delete(Event).where(Event.type == "enrolled")).rowcount
    assert gone_rows == 1
    _run(people)  # on SQLite a new event may take the removed one's id: it must not go instead
    assert root.ok("GET", f"/subscriptions/{hook['id']}/deliveries") == []
    assert crm.requests == []
