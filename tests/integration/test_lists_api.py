"""Lists and blocked domains through the API as people use it: created with a Location,
paged, refused with problem details; a list serving a private sequence is that sequence's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Database
from tests.integration.api_client import problem
from tests.integration.people import ANA, BO, MIA, PRIVATE, ROOT, YAML, People, people_api

BOUND = PRIVATE.replace("sharing:", "enrollment: {{list: Ana's}}\nsharing:")


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def test_lists_are_created_paged_and_refused_clearly(people: People) -> None:
    mia = people.as_(MIA)
    response = mia.post("/lists", json={"name": "Hot leads"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/lists/Hot%20leads"
    assert mia.ok("GET", "/lists/Hot leads")["members"] == 0
    assert "already" in problem(mia.post("/lists", json={"name": "Hot leads"}), 409)["detail"]
    problem(mia.post("/lists", json={"name": ""}), 422)
    assert "no list" in problem(mia.get("/lists/Nope"), 404)["detail"]
    problem(people.as_(BO).post("/lists", json={"name": "Mine"}), 403)

    ids = [
        mia.ok("POST", "/contacts", 201, json={"email": f"c{i}@lead.example"})["id"]
        for i in range(3)
    ]
    added = mia.ok("POST", "/lists/Hot leads/members", json={"contact_ids": [*ids, ids[0]]})
    assert added["changed"] == ids and added["sequence"] is None
    again = mia.ok("POST", "/lists/Hot leads/members", json={"contact_ids": ids[:1]})
    assert again["unchanged"] == ids[:1]
    first = mia.get("/lists/Hot leads/members", params={"limit": 2})
    assert [m["contact_id"] for m in first.json()] == ids[:2]
    assert first.headers["X-Total-Count"] == "3"
    rest = mia.get(first.headers["Link"].split(";")[0].strip("<>").removeprefix("/api/v1"))
    assert [m["contact_id"] for m in rest.json()] == ids[2:]
    problem(mia.post("/lists/Hot leads/members", json={"contact_ids": [999_999]}), 404)
    removed = mia.ok("POST", "/lists/Hot leads/members/remove", json={"contact_ids": ids[:2]})
    assert removed["changed"] == ids[:2]
    assert mia.ok("GET", "/lists/Hot leads")["members"] == 1
    assert mia.delete("/lists/Hot leads").status_code == 204
    problem(mia.get("/lists/Hot leads"), 404)


def test_a_list_serving_a_private_sequence_is_that_sequences(people: People) -> None:
    root = people.as_(ROOT)
    root.ok("POST", "/lists", 201, json={"name": "Ana's"})
    root.ok("POST", "/sequences", 201, content=BOUND.format(name="Ana private", owner=ANA),
            headers=YAML)  # fmt: skip
    assert root.ok("GET", "/lists/Ana's")["sequence"] == "Ana private"
    contact = root.ok("POST", "/contacts", 201, json={"email": "lee@lead.example"})["id"]
    # Agent B does not see Ana's private sequence: adding to its list is adding to it.
    problem(people.as_(BO).post("/lists/Ana's/members", json={"contact_ids": [contact]}), 404)
    added = people.as_(ANA).ok("POST", "/lists/Ana's/members", json={"contact_ids": [contact]})
    assert added["enrolled"] == [contact] and added["sequence"] == "Ana private"
    refused = problem(root.delete("/lists/Ana's"), 409)
    assert "serves the active sequence 'Ana private'" in refused["detail"]
    second = BOUND.format(name="Second", owner=ANA)
    refusal = problem(root.post("/sequences", content=second, headers=YAML), 409)
    assert "already serves the active sequence 'Ana private'" in refusal["detail"]


def test_blocked_domains_through_the_api(people: People) -> None:
    mia = people.as_(MIA)
    response = mia.post("/blocked-domains", json={"domain": "Acme.example", "reason": "legal"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/blocked-domains/acme.example"
    assert [d["domain"] for d in mia.ok("GET", "/blocked-domains")] == ["acme.example"]
    problem(mia.post("/blocked-domains", json={"domain": "acme.example"}), 409)
    problem(mia.post("/blocked-domains", json={"domain": "not a domain"}), 422)
    problem(people.as_(ANA).get("/blocked-domains"), 403)
    assert mia.delete("/blocked-domains/acme.example").status_code == 204
    problem(mia.delete("/blocked-domains/acme.example"), 404)
