"""A CRM retrying a push with the same `Idempotency-Key` never creates anything twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cadenza.store.models import Contact, Event
from tests.conftest import Database
from tests.integration.people import ROOT, People, people_api

CSV = b"email,first_name,tags\nlee@lead.example,Lee,crm\nkim@lead.example,Kim,crm\nbad,Bo,crm\n"


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def _counts(db: Database) -> tuple[int, int]:
    with db.sessions() as session:
        contacts = session.scalar(select(func.count()).select_from(Contact))
        events = session.scalar(select(func.count()).select_from(Event))
    return int(contacts or 0), int(events or 0)


def test_a_retried_create_answers_as_the_first_did_and_creates_one_contact(
    people: People,
) -> None:
    root = people.as_(ROOT)
    key = {"Idempotency-Key": "crm-push-4711"}
    first = root.post("/contacts", json={"email": "lee@lead.example"}, headers=key)
    assert first.status_code == 201 and "idempotency-replayed" not in first.headers
    again = root.post("/contacts", json={"email": "lee@lead.example"}, headers=key)
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"] == (
        f"/api/v1/contacts/{first.json()['id']}"
    )
    assert _counts(people.db)[0] == 1
    # Without the key the same request is a second attempt at a write: the email is taken.
    assert root.post("/contacts", json={"email": "lee@lead.example"}).status_code == 409

    other = root.post("/contacts", json={"email": "kim@lead.example"}, headers=key)
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert _counts(people.db)[0] == 1


def test_a_retried_import_imports_nothing_twice(people: People) -> None:
    root = people.as_(ROOT)
    key = {"Idempotency-Key": "nightly-2026-12-04"}
    files = {"file": ("crm.csv", CSV, "text/csv")}
    first = root.post("/contacts/import", files=files, headers=key)
    assert first.status_code == 200 and first.json()["imported"] == 2
    assert first.json()["rejected"] == 1
    before = _counts(people.db)
    again = root.post("/contacts/import", files=files, headers=key)
    assert again.status_code == 200 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert _counts(people.db) == before  # no contact, no history written again


def test_a_refused_request_keeps_no_key_and_a_bad_key_is_refused(people: People) -> None:
    root = people.as_(ROOT)
    key = {"Idempotency-Key": "try-1"}
    for _ in range(2):  # refused each time on its own merits, never "still running"
        refused = root.post("/contacts", json={"email": "not an email"}, headers=key)
        assert refused.status_code == 422 and "email" in refused.json()["detail"]
    for bad in ("has spaces in it", "x" * 201):
        answer = root.post("/contacts", json={"email": "a@b.example"}, headers={
            "Idempotency-Key": bad})  # fmt: skip
        assert answer.status_code == 422
    assert _counts(people.db)[0] == 0
