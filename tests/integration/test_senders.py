"""Senders as managed objects: the CLI and the API round trips, and bad input refused."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Database
from tests.engine_helpers import cadenza_command
from tests.integration.api_client import problem
from tests.integration.people import ANA, BO, MIA, PRIVATE, ROOT, YAML, People, people_api


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def test_an_admin_manages_senders_through_the_api(people: People) -> None:
    root = people.as_(ROOT)
    made = root.post(
        "/senders",
        json={"kind": "email", "address": "Sales@Acme.example", "name": "Sales", "per_hour": 50},
    )
    assert made.status_code == 201, made.text
    sender = made.json()
    assert made.headers["location"] == f"/api/v1/senders/{sender['id']}"
    assert (sender["address"], sender["per_hour"], sender["per_day"]) == (
        "sales@acme.example",
        50,
        None,
    )
    path = f"/senders/{sender['id']}"
    changed = root.ok("PATCH", path, json={"per_day": 400, "per_hour": None})
    assert (changed["per_hour"], changed["per_day"], changed["name"]) == (None, 400, "Sales")
    assigned = root.ok("PUT", path + "/users", json={"users": [ANA, BO]})
    assert assigned["users"] == [ANA, BO]
    line = root.ok("POST", "/senders", 201, json={"kind": "sms", "address": "(312) 555-0100"})
    assert line["address"] == "+13125550100"
    listed = people.as_(BO).ok("GET", "/senders")
    assert [(s["kind"], s["address"], s["users"]) for s in listed] == [
        ("email", "sales@acme.example", [ANA, BO]),
        ("sms", "+13125550100", []),
    ]
    root.ok("DELETE", path, 204)
    problem(root.get(path), 404)


def test_the_sequence_shows_the_lines_it_sends_from(people: People) -> None:
    root = people.as_(ROOT)
    root.ok(
        "POST",
        "/senders",
        201,
        json={"kind": "email", "address": "sales@example.com", "name": "Sales", "per_day": 300},
    )
    root.ok("POST", "/sequences", 201, content=PRIVATE.format(name="S", owner=ANA), headers=YAML)
    [line] = root.ok("GET", "/sequences/S")["senders"]
    assert line == {
        "kind": "email",
        "address": "sales@example.com",
        "name": "Sales",
        "per_hour": None,
        "per_day": 300,
        "managed": True,
    }


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"kind": "email", "address": "not an address"}, "is not an email address"),
        ({"kind": "sms", "address": "12"}, "is not a phone number"),
        ({"kind": "email", "address": "a@acme.example", "per_hour": 0}, "greater than 0"),
        ({"kind": "email", "address": "a@acme.example", "per_day": -5}, "greater than 0"),
        ({"kind": "fax", "address": "a@acme.example"}, "'email' or 'sms'"),
        ({"kind": "email", "address": "a@acme.example", "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_senders_are_refused_and_nothing_is_stored(
    people: People, body: dict[str, object], words: str
) -> None:
    root = people.as_(ROOT)
    refused = root.post("/senders", json=body)
    assert refused.status_code == 422, refused.text
    assert words in refused.text
    assert root.ok("GET", "/senders") == []


def test_only_admins_change_senders(people: People) -> None:
    root = people.as_(ROOT)
    sender = root.ok("POST", "/senders", 201, json={"kind": "sms", "address": "+13125550100"})
    for who in (ANA, BO, MIA):
        api = people.as_(who)
        refused = problem(
            api.post("/senders", json={"kind": "sms", "address": "+13125550101"}), 403
        )
        assert "may not manage users, groups, senders and keys" in refused["detail"]
        problem(api.patch(f"/senders/{sender['id']}", json={"per_day": 1}), 403)
        problem(api.delete(f"/senders/{sender['id']}"), 403)
    assert root.ok("GET", f"/senders/{sender['id']}")["per_day"] is None
    problem(root.put(f"/senders/{sender['id']}/users", json={"users": ["ghost@example.com"]}), 404)


def test_the_cli_lists_adds_sets_assigns_and_removes_senders(people: People) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = people.db.url

    def cadenza(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        command = cadenza_command("senders", *args)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == code, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    added = cadenza("add", "email", "sales@acme.example", "--per-hour", "50", "--name", "Sales")
    assert "added sender 1: email sales@acme.example (50/hour; users: nobody)" in added.stdout
    cadenza("set", "1", "--per-day", "400", "--clear", "per_hour")
    cadenza("assign", "1", "--user", ANA)
    [row] = json.loads(cadenza("list", "--json").stdout)
    assert (row["per_hour"], row["per_day"], row["users"]) == (None, 400, [ANA])
    assert people.as_(ANA).ok("GET", "/senders/1")["per_day"] == 400

    bad = cadenza("add", "sms", "12", code=1)
    assert bad.stderr.startswith("error: address '12' is not a phone number")
    assert "must be a positive number" in cadenza("set", "1", "--per-day", "0", code=1).stderr
    assert "no cap per_week" in cadenza("set", "1", "--clear", "per_week", code=1).stderr
    assert (
        "no user ghost@example.com"
        in cadenza("assign", "1", "--user", "ghost@example.com", code=1).stderr
    )
    assert "no sender 9" in cadenza("remove", "9", code=1).stderr
    cadenza("remove", "1")
    assert json.loads(cadenza("list", "--json").stdout) == []
