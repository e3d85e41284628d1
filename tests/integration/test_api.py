"""The REST API as a client uses it: keys, a sequence from definition to history, the schema."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.services.users import create_key, revoke
from cadenza.store.models import ApiKey
from tests.conftest import Database
from tests.engine_helpers import at, cadenza_command, run_worker, write
from tests.integration.api_client import (
    PROBLEM,
    T0,
    USER,
    Api,
    problem,
    running_api,
)

DRIP = """\
name: API drip
description: hello, a call, a second email
owner: ana@example.com
senders: {email: sales@example.com}
schedule: {timezone: contact, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: hello, action: email, subject: "Hi {{ contact.first_name }}", body: "<p>Hello</p>"}
  - key: call
    action: call
    wait: {hours: 1}
    assignee: contact_owner
    outcomes: {no_answer: next, interested: {end: positive}}
  - {key: again, action: email, wait: {days: 1}, subject: "Again", body: "<p>Again</p>"}
"""
MAYA = {
    "first_name": "Maya",
    "last_name": "Patel",
    "email": "maya@brightwave.example",
    "phone": "(312) 555-0134",
    "owner": USER,
    "tags": ["web-lead"],
    "fields": {"title": "Operations Manager"},
}


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with running_api(db, tmp_path) as running:
        yield running


# --- keys --------------------------------------------------------------------------------------


def test_a_request_without_a_valid_key_is_refused_with_401(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer cz_not-a-key"},
        {"Authorization": "Bearer " + api.token[:-1]},
        {"Authorization": f"Basic {api.token}"},
    ):
        response = api.client.get("/api/v1/sequences", headers=headers)
        problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert api.get("/sequences").status_code == 200


def test_a_refused_write_writes_nothing(api: Api) -> None:
    response = api.client.post("/api/v1/contacts", json=MAYA)
    problem(response, 401)
    assert api.ok("GET", "/contacts") == []


def test_the_table_keeps_a_hash_of_the_key_and_a_revoked_key_stops_working(api: Api) -> None:
    with api.db.sessions() as session:
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert api.token.startswith("cz_") and len(api.token) >= 40
    assert api.token not in stored
    assert hashlib.sha256(api.token.encode()).hexdigest() in stored
    with write(api.db) as session:
        key, token = create_key(session=session, name="temp", user_email=USER, now=at(T0))
    assert api.get("/sequences", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with write(api.db) as session:
        revoke(session=session, key_id=key.id)
    problem(api.get("/sequences", headers={"Authorization": f"Bearer {token}"}), 401)


def test_the_cli_creates_lists_and_revokes_keys(api: Api) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = api.db.url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cadenza_command(*args), env=env, capture_output=True, text=True, timeout=60
        )

    def cadenza(*args: str) -> str:
        result = run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    token = cadenza("apikeys", "create", "crm sync", "--user", USER).strip()
    assert token.startswith("cz_")
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/sequences", headers=bearer).status_code == 200
    rows = json.loads(cadenza("apikeys", "list", "--json"))
    assert [(r["name"], r["user"]) for r in rows] == [("tests", USER), ("crm sync", USER)]
    assert token not in json.dumps(rows)
    cadenza("apikeys", "revoke", str(rows[1]["id"]))
    problem(api.get("/sequences", headers=bearer), 401)
    # Scopes: what a key may call, shown by the listing; an unknown one is refused in a line.
    webhook = cadenza("apikeys", "create", "mail provider", "--scope", "inbound").strip()
    both = cadenza(
        "apikeys", "create", "ops", "--scope", "inbound", "--scope", "api", "--user", USER
    ).strip()
    rows = json.loads(cadenza("apikeys", "list", "--json"))
    assert [(r["name"], r["scopes"]) for r in rows] == [
        ("tests", ["api"]),
        ("mail provider", ["inbound"]),
        ("ops", ["api", "inbound"]),
    ]
    assert "inbound" in cadenza("apikeys", "list")
    problem(api.get("/sequences", headers={"Authorization": f"Bearer {webhook}"}), 401)
    assert api.get("/sequences", headers={"Authorization": f"Bearer {both}"}).status_code == 200
    wrong = run("apikeys", "create", "x", "--scope", "admin")
    assert wrong.returncode == 1 and wrong.stderr.strip().startswith("error: unknown scope 'admin'")
    assert "Traceback" not in wrong.stderr


# --- a user's whole path -----------------------------------------------------------------------


def test_a_sequence_from_definition_to_history(api: Api) -> None:
    created = api.ok("POST", "/sequences", 201, content=DRIP, headers=_yaml())
    assert created == {"name": "API drip", "version": 1, "result": "created"}
    contact = api.ok("POST", "/contacts", 201, json=MAYA)
    assert contact["phone"] == "+13125550134" and contact["timezone"] == "America/Chicago"
    assert contact["owner"] == USER and contact["tags"] == ["web-lead"]

    report = api.ok("POST", "/enrollments", 201, json={"sequence": "API drip", "tag": "web-lead"})
    assert report == {"sequence": "API drip", "enrolled": [contact["id"]], "refused": []}
    again = api.ok(
        "POST", "/enrollments", json={"sequence": "API drip", "contact_ids": [contact["id"]]}
    )
    assert again["refused"] == [
        {"contact_id": contact["id"], "reason": "already enrolled once (reentry: never)"}
    ]

    run_worker(api.db, T0)
    [message] = api.ok("GET", "/messages", params={"channel": "email"})
    assert message["to"] == "maya@brightwave.example" and message["subject"] == "Hi Maya"
    assert message["status"] == "queued" and message["from"] == "sales@example.com"

    api.at("2026-12-01T16:00:00Z")
    run_worker(api.db, "2026-12-01T16:00:00Z")
    [task] = api.ok("GET", "/tasks", params={"assignee": USER, "status": "open"})
    assert api.ok("GET", "/tasks", params={"assignee": "unassigned"}) == []
    assert task["kind"] == "call" and task["step"] == "call"
    done = api.ok("POST", f"/tasks/{task['id']}/complete", json={"outcome": "no_answer"})
    assert done["status"] == "done" and done["outcome"] == "no_answer"
    [enrollment] = api.ok("GET", "/enrollments", params={"sequence": "API drip"})
    assert enrollment["step"] == "again" and enrollment["due_at"] == "2026-12-02T16:00:00+00:00"

    api.at("2026-12-01T18:00:00Z")
    recorded = api.ok("POST", f"/contacts/{contact['id']}/events", json={"name": "replied"})
    assert [e["type"] for e in recorded["events"]] == ["replied"]
    [enrollment] = api.ok("GET", "/enrollments", params={"status": "exited"})
    assert enrollment["exit_reason"] and "replied" in enrollment["exit_reason"]

    history = api.ok("GET", "/history", params={"sequence": "API drip", "contact": contact["id"]})
    types = [row["type"] for row in history]
    for expected in ("enrolled", "step_executed", "task_completed", "exited"):
        assert expected in types, types
    completed = next(row for row in history if row["type"] == "task_completed")
    assert completed["actor"] == USER  # the key acts as its user
    assert all(re.search(r"[+-]\d\d:\d\d$", row["time"]) for row in history)
    exited = api.ok("GET", "/history", params={"type": "exited", "since": "2026-12-01T17:00:00Z"})
    assert [row["type"] for row in exited] == ["exited"]


def test_applying_again_is_unchanged_and_a_change_is_a_new_version(api: Api) -> None:
    api.ok("POST", "/sequences", 201, json={"definition": DRIP})
    assert api.ok("POST", "/sequences", json={"definition": DRIP})["result"] == "unchanged"
    changed = DRIP.replace('subject: "Again"', 'subject: "Once more"')
    assert api.ok("POST", "/sequences", content=changed, headers=_yaml("text/yaml")) == {
        "name": "API drip",
        "version": 2,
        "result": "updated",
    }
    [row] = api.ok("GET", "/sequences")
    assert row["version"] == 2 and row["steps"] == 3 and row["owner"] == USER
    detail = api.ok("GET", "/sequences/API drip")
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["definition"]["steps"][2]["subject"] == "Once more"
    assert detail["created_at"] == "2026-12-01T15:00:00+00:00"


# --- a definition with problems ----------------------------------------------------------------

BROKEN = """\
name: Broken
senders: {email: sales@example.com}
steps:
  - {key: hello, action: email, subject: "Hi {{ contact.frist_name }}", body: "<p>Hi</p>"}
  - {key: poke, action: carrier_pigeon}
  - key: call
    action: call
    assignee: contact_owner
    outcomes: {no_answer: nowhere}
"""


def test_a_broken_definition_is_422_with_every_problem_at_its_line(api: Api) -> None:
    body = problem(api.post("/sequences", content=BROKEN, headers=_yaml()), 422)
    errors = body["errors"]
    assert errors and all(re.match(r"^definition:\d+:\d+: .+", e) for e in errors), errors
    assert any(e.startswith("definition:5:") and "carrier_pigeon" in e for e in errors), errors
    assert api.ok("GET", "/sequences") == []


def test_a_definition_cannot_make_the_server_read_its_files(api: Api) -> None:
    text = DRIP.replace('body: "<p>Again</p>"', "body: ../../../../etc/hostname.txt")
    body = problem(api.post("/sequences", json={"definition": text}), 422)
    assert body["errors"] == [
        "definition:14:74: steps[2].body: names a template file; send the template's text"
    ]


def test_a_definition_naming_a_missing_user_is_422_naming_it(api: Api) -> None:
    text = DRIP.replace("owner: ana@example.com", "owner: zed@example.com")
    body = problem(api.post("/sequences", content=text, headers=_yaml()), 422)
    assert body["errors"] == ["no user zed@example.com (owner)"]


# --- the schema --------------------------------------------------------------------------------


def test_the_openapi_document_lists_the_routes_and_the_bearer_scheme(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json()
    routes = {(path, method) for path, item in doc["paths"].items() for method in item}
    expected = {
        ("/api/v1/sequences", "get"),
        ("/api/v1/sequences", "post"),
        ("/api/v1/sequences/{name}", "get"),
        ("/api/v1/sequences/{name}", "delete"),
        ("/api/v1/sequences/{name}/{action}", "post"),
        ("/api/v1/sequences/{name}/clone", "post"),
        ("/api/v1/sequences/{name}/simulate", "post"),
        ("/api/v1/sequences/{name}/migrate", "post"),
        ("/api/v1/contacts", "get"),
        ("/api/v1/contacts", "post"),
        ("/api/v1/contacts/{contact_id}", "get"),
        ("/api/v1/contacts/{contact_id}/events", "post"),
        ("/api/v1/contacts/import", "post"),
        ("/api/v1/enrollments", "get"),
        ("/api/v1/enrollments", "post"),
        ("/api/v1/enrollments/{enrollment_id}/{action}", "post"),
        ("/api/v1/enrollments/{enrollment_id}", "delete"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{task_id}/complete", "post"),
        ("/api/v1/messages", "get"),
        ("/api/v1/history", "get"),
        ("/api/v1/sequences/{name}/sharing", "put"),
        ("/api/v1/senders", "get"),
        ("/api/v1/senders", "post"),
        ("/api/v1/senders/{sender_id}", "get"),
        ("/api/v1/senders/{sender_id}", "patch"),
        ("/api/v1/senders/{sender_id}", "delete"),
        ("/api/v1/senders/{sender_id}/users", "put"),
    }
    assert expected <= routes, expected - routes
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    apply = doc["paths"]["/api/v1/sequences"]["post"]
    assert {"application/yaml", "text/yaml", "application/json"} <= set(
        apply["requestBody"]["content"]
    )
    assert PROBLEM in apply["responses"]["422"]["content"]
    rows = doc["components"]["schemas"]["EnrollmentRow"]["properties"]
    assert rows["due_at"]["anyOf"][0] == {"type": "string", "format": "date-time"}


def _yaml(media: str = "application/yaml") -> dict[str, str]:
    return {"Content-Type": media}
