"""/api/v1/accounts, /api/v1/views and audiences over HTTP: what a client of the API sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.clock import FixedClock
from cadenza.engine.runner import drain_once
from tests.conftest import Database
from tests.engine_helpers import SETTINGS
from tests.integration.people import ANA, BO, ROOT, YAML, People, people_api

AUDIENCE = """
name: Webinar follow-up
senders: {email: sales@example.com}
enrollment:
  audience: {view: Webinar}
steps:
  - {key: hello, action: email, wait: {days: 1}, subject: Hi, body: Thanks}
"""


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def test_accounts_are_created_paged_changed_and_refused_with_problems(people: People) -> None:
    root = people.as_(ROOT)
    made = root.post("/accounts", json={"name": "Acme", "domains": ["acme.com"], "owner": ANA})
    assert made.status_code == 201
    assert made.headers["Location"] == f"/api/v1/accounts/{made.json()['id']}"
    assert made.json()["owner"] == ANA
    taken = root.post("/accounts", json={"name": "Other", "domains": ["ACME.com"]})
    assert taken.status_code == 409 and taken.headers["content-type"] == "application/problem+json"
    assert "acme.com belongs to account 'Acme'" in taken.json()["detail"]
    nobody = root.post("/accounts", json={"name": "Other", "owner": "ghost@example.com"})
    assert nobody.status_code == 422 and "no user ghost@example.com" in nobody.json()["detail"]
    for n in range(3):
        root.ok("POST", "/accounts", 201, json={"name": f"Zeta {n}"})
    first = root.get("/accounts", params={"limit": 2})
    assert [a["name"] for a in first.json()] == ["Acme", "Zeta 0"]
    assert first.headers["X-Total-Count"] == "4" and 'rel="next"' in first.headers["Link"]
    account_id = made.json()["id"]
    contact = root.ok("POST", "/contacts", 201, json={"email": "bo@acme.com"})
    changed = root.ok(
        "PATCH", f"/accounts/{account_id}", json={"owner": "", "add_contacts": [contact["id"]]}
    )
    assert (changed["owner"], changed["contacts"]) == (None, 1)
    [member] = root.ok("GET", f"/accounts/{account_id}/contacts")
    assert member["email"] == "bo@acme.com"
    assert people.as_(BO).delete(f"/accounts/{account_id}").status_code == 403
    assert root.delete(f"/accounts/{account_id}").status_code == 204
    assert root.get(f"/accounts/{account_id}").status_code == 404
    assert root.get("/accounts/99999999999999999999999").status_code == 422


def test_views_list_contacts_enroll_and_feed_an_audience(people: People) -> None:
    root, ana, bo = people.as_(ROOT), people.as_(ANA), people.as_(BO)
    tagged = root.ok(
        "POST", "/contacts", 201, json={"email": "t@lead.example", "tags": ["webinar"]}
    )
    root.ok("POST", "/contacts", 201, json={"email": "u@lead.example"})
    private = ana.post("/views", json={"name": "Mine", "condition": {"tag": "webinar"}})
    assert private.status_code == 201 and private.json()["sharing"] == "private"
    assert bo.get(f"/views/{private.json()['id']}").status_code == 404
    assert bo.get("/contacts", params={"view": "Mine"}).status_code == 404
    bad = ana.post("/views", json={"name": "Bad", "condition": {"nope": 1}})
    assert bad.status_code == 422
    shared = ana.ok(
        "POST", "/views", 201,
        json={"name": "Webinar", "condition": {"tag": "webinar"}, "sharing": "everyone"},
    )  # fmt: skip
    assert shared["description"] == "tagged webinar" and not bo.ok("GET", "/views")[0]["editable"]
    assert bo.patch(f"/views/{shared['id']}", json={"sharing": "private"}).status_code == 403
    listed = bo.ok("GET", "/contacts", params={"view": "Webinar"})
    assert [c["id"] for c in listed] == [tagged["id"]]

    root.ok("POST", "/sequences", 201, content=AUDIENCE, headers=YAML)
    before = root.ok("GET", "/sequences/Webinar follow-up")["audience"]
    assert before["rule"] == "view Webinar: tagged webinar" and before["evaluated_at"] is None
    drain_once(people.db.sessions, FixedClock(people.clock.now()), SETTINGS, send=False)
    after = root.ok("GET", "/sequences/Webinar follow-up")["audience"]
    assert after["matched_total"] == 1 and after["last"]["enrolled"] == 1
    assert after["next_at"] > after["evaluated_at"]
    again = root.post(
        "/enrollments", json={"sequence": "Webinar follow-up", "view": "Webinar"}
    )  # the audience enrolled them already: refused with the reason, nothing created
    assert again.status_code == 200
    assert again.json()["refused"] == [
        {"contact_id": tagged["id"], "reason": "already enrolled once (reentry: never)"}
    ]
