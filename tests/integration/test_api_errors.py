"""Every bad request is a 4xx problem details document: never a 500, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.services import subscriptions
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, write
from tests.integration.api_client import PROBLEM, T0, Api, problem, running_api

DRIP = """\
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
  - {key: again, action: email, wait: {days: 1}, subject: "Again", body: "<p>2</p>"}
"""
YAML = {"Content-Type": "application/yaml"}
# Bodies no route accepts: not JSON, JSON of the wrong shape, every known field mistyped.
GARBAGE: list[tuple[str, bytes]] = [
    ("application/json", b"{not json"),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/json", b""),
    ("application/json", b"null"),
    ("application/json", b"[]"),
    ("application/json", b'"a string"'),
    ("application/json", b"12"),
    (
        "application/json",
        b'{"definition": 7, "name": [], "sequence": {}, "contact_ids": "x", "tag": 1,'
        b' "where": "x", "outcome": [], "to_version": "x", "map": 3, "contact": 5,'
        b' "events": 3, "start": "not a time", "data": [], "email": {}, "surprise": true}',
    ),
    ("application/yaml", b"steps: [\n  - {key: a"),
    ("text/html", b"<html></html>"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage"),
    ("multipart/form-data; boundary=xyz", b""),
]


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with running_api(db, tmp_path) as running:
        yield running


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    """The API's own operations (those behind the key), from its OpenAPI document."""
    doc = api.client.get("/api/v1/openapi.json").json()
    return [
        (method, path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path).removeprefix("/api/v1")


def test_garbage_posted_to_every_route_is_a_4xx_problem(api: Api) -> None:
    with write(api.db) as session:
        contact = add_contact(session, at(T0))
    api.ok("POST", "/sequences", 201, content=DRIP, headers={"Content-Type": "text/yaml"})
    api.ok("POST", "/enrollments", 201, json={"sequence": "Drip", "contact_ids": [contact]})
    [enrollment] = api.ok("GET", "/enrollments")
    real = {"name": "Drip", "contact_id": str(contact), "enrollment_id": str(enrollment["id"])}
    sender = api.ok("POST", "/senders", 201, json={"kind": "sms", "address": "+13125550100"})
    real |= {"task_id": "1", "action": "pause", "sender_id": str(sender["id"])}
    with write(api.db) as session:
        hook = subscriptions.create(
            session=session, url="http://127.0.0.1:9/hook", now=at(T0), allow=["127.0.0.1"]
        )
    real |= {"subscription_id": str(hook.id)}
    account = api.ok("POST", "/accounts", 201, json={"name": "Acme", "domains": ["acme.example"]})
    view = api.ok("POST", "/views", 201, json={"name": "VIPs", "condition": {"tag": "vip"}})
    api.ok("POST", "/lists", 201, json={"name": "Leads"})
    note = api.ok("POST", f"/contacts/{contact}/notes", 201, json={"body": "Called"})
    real |= {"account_id": str(account["id"]), "view_id": str(view["id"]), "list_name": "Leads"}
    real |= {"note_id": str(note["id"]), "external_id": "crm-1", "domain": "blocked.example"}
    bogus = {"name": "No such", "contact_id": "99999", "enrollment_id": "99999", "task_id": "x"}
    bogus |= {"action": "explode", "sender_id": "99999", "subscription_id": "99999"}
    bogus |= {"account_id": "99999", "view_id": "99999", "list_name": "No such"}
    bogus |= {"note_id": "99999", "external_id": "no-such", "domain": "no-such.example"}
    tried = 0
    for method, path, operation in _operations(api):
        if method == "get":
            continue
        # Unknown things in the path are refused whatever the body...
        response = api.request(method.upper(), _fill(path, bogus), content=b"{}")
        assert 400 <= response.status_code < 500, (method, path, response.text)
        problem(response, response.status_code)
        tried += 1
        if "requestBody" not in operation:
            continue
        # ...and garbage bodies are refused on real things.
        for media, body in GARBAGE:
            response = api.request(
                method.upper(), _fill(path, real), content=body, headers={"Content-Type": media}
            )
            assert 400 <= response.status_code < 500, (path, media, body, response.text)
            problem(response, response.status_code)
            tried += 1
    assert tried > 100
    assert api.ok("GET", "/enrollments")[0]["status"] == "active"  # nothing was done by garbage


def test_values_the_database_cannot_hold_are_refused(api: Api) -> None:
    huge = "9" * 20
    problem(api.get(f"/contacts/{huge}"), 422)
    problem(api.get("/contacts", params={"offset": huge}), 422)
    problem(api.post("/enrollments", json={"sequence": "Drip", "contact_ids": [int(huge)]}), 422)
    problem(api.get("/history", params={"since": "0001-01-01T00:00:00+14:00"}), 422)
    problem(api.get("/history", params={"since": "9999-12-31T23:59:59-14:00"}), 422)
    # PostgreSQL text cannot hold NUL; SQLite can, and then the request simply succeeds.
    nul = api.post("/contacts", json={"email": "a@b.example", "last_name": "N\u0000L"})
    if api.db.backend == "sqlite":
        assert nul.status_code == 201
    else:
        problem(nul, 422)
    # Event data reaches PostgreSQL through a bulk write: the driver's own error, unwrapped.
    with write(api.db) as session:
        contact_id = add_contact(session, at(T0), email="nul@example.com")
    nul_data = api.post(
        f"/contacts/{contact_id}/events", json={"name": "replied", "data": {"t": "\u0000"}}
    )
    if api.db.backend == "sqlite":
        assert nul_data.status_code == 200
    else:
        problem(nul_data, 422)
    deep = b"[" * 5_000 + b"]" * 5_000
    for media in ("application/yaml", "application/json"):
        response = api.post("/sequences", content=deep, headers={"Content-Type": media})
        assert 400 <= response.status_code < 500
        problem(response, response.status_code)
    problem(api.post("/sequences", content=b"#" * 1_000_001, headers=YAML), 413)


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    problem(api.get("/nothing-here"), 404)
    problem(api.request("PUT", "/sequences"), 405)
    # The UI keeps FastAPI's own answers outside the API.
    assert api.client.get("/no-such-page").headers["content-type"] != PROBLEM


def test_unknown_things_are_404(api: Api) -> None:
    for method, path in (
        ("GET", "/sequences/Nope"),
        ("POST", "/sequences/Nope/pause"),
        ("DELETE", "/sequences/Nope"),
        ("GET", "/contacts/424242"),
        ("POST", "/enrollments/424242/stop"),
        ("DELETE", "/enrollments/424242"),
    ):
        body = problem(api.request(method, path), 404)
        assert "Nope" in body["detail"] or "424242" in body["detail"]
    problem(api.post("/tasks/424242/complete", json={"outcome": "done"}), 404)
    problem(api.post("/contacts/424242/events", json={"name": "replied"}), 404)
    problem(api.post("/enrollments", json={"sequence": "Nope", "contact_ids": [1]}), 404)
    problem(api.post("/sequences/Nope/simulate", json={"contact": {"email": "a@b.example"}}), 404)


def test_a_wrong_state_is_409(api: Api) -> None:
    api.ok("POST", "/sequences", 201, content=DRIP, headers={"Content-Type": "application/yaml"})
    assert api.ok("POST", "/sequences/Drip/pause")["status"] == "paused"
    body = problem(api.post("/sequences/Drip/pause"), 409)
    assert "paused" in body["detail"]
    api.ok("POST", "/sequences/Drip/clone", 201, json={"name": "Copy"})
    problem(api.post("/sequences/Drip/clone", json={"name": "Copy"}), 409)


def test_bad_fields_are_422_naming_where(api: Api) -> None:
    body = problem(api.post("/contacts", json={"email": "not@an@email", "phone": "12345"}), 422)
    assert "email:" in body["detail"] and "phone:" in body["detail"]
    body = problem(api.post("/contacts", json={"email": "a@b.example", "shoe_size": 44}), 422)
    assert body["errors"][0]["loc"] == ["body", "shoe_size"]
    body = problem(api.get("/contacts", params={"limit": 0}), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"]
    body = problem(api.post("/enrollments", json={"sequence": "Drip"}), 422)
    assert "contact_ids, tag, where, account or view" in body["errors"][0]["msg"]
    body = problem(
        api.post("/sequences", content=b"name: x", headers={"Content-Type": "text/html"}), 415
    )
    assert "application/yaml" in body["detail"]


def test_oversized_fields_are_422_naming_the_field(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], list[Any]]] = [
        ("/contacts", {"email": "a@b.example", "first_name": "A" * 201}, ["body", "first_name"]),
        ("/contacts", {"email": "a@b.example", "tags": ["t"] * 101}, ["body", "tags"]),
        ("/contacts", {"email": "a@b.example", "tags": ["t" * 101]}, ["body", "tags"]),
        ("/contacts", {"email": "a" * 321}, ["body", "email"]),
        ("/contacts/1/events", {"name": "x" * 101}, ["body", "name"]),
        ("/enrollments", {"sequence": "D" * 201, "tag": "x"}, ["body", "sequence"]),
        ("/enrollments", {"sequence": "D", "contact_ids": [1] * 10_001}, ["body", "contact_ids"]),
        ("/sequences/Drip/migrate", {"to_version": 1, "map": {"k" * 101: "a"}}, ["body", "map"]),
    ]
    for path, body, where in cases:
        errors = problem(api.post(path, json=body), 422)["errors"]
        locations = [error["loc"] for error in errors]
        assert any(loc[: len(where)] == where for loc in locations), (path, locations)
    assert api.ok("GET", "/contacts") == []  # nothing was written
