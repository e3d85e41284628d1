"""Lists that scale: every API collection pages past 1,000 with a cursor and a `next` link,
says its true total, refuses what it cannot apply, and creation answers 201 with Location."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cadenza.store.models import Event, Sequence, Task
from tests.conftest import Database
from tests.engine_helpers import bulk_contacts, run_worker, write
from tests.integration.api_client import T0, Api, problem, running_api

COUNT = 1203
CALLS = """
name: Calls
owner: ana@example.com
schedule: {timezone: UTC, days: every_day, hours: {open: "00:00", close: "23:59"}}
steps:
  - {key: todo, action: task, title: "Research the account", assignee: initiator}
"""


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with running_api(db, tmp_path) as running:
        yield running


@pytest.fixture
def applied(api: Api) -> Api:
    """The sequence alone: enough for the refusals, which read no rows."""
    api.ok("POST", "/sequences", 201, content=CALLS, headers={"Content-Type": "text/yaml"})
    return api


@pytest.fixture
def calls(api: Api) -> Api:
    """1,203 contacts enrolled in a sequence whose first step is a task: 1,203 open tasks."""
    api.ok("POST", "/sequences", 201, content=CALLS, headers={"Content-Type": "text/yaml"})
    with write(api.db) as session:
        ids = bulk_contacts(session, COUNT, api.clock.now())
    api.ok("POST", "/enrollments", 201, json={"sequence": "Calls", "contact_ids": ids})
    run_worker(api.db, T0)
    with api.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == COUNT
    return api


def _walk(api: Api, path: str, **params: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Every row, following `Link: rel="next"`; the total each page gave (the first only)."""
    rows: list[dict[str, Any]] = []
    totals: list[str | None] = []
    response = api.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        rows.extend(response.json())
        totals.append(response.headers.get("X-Total-Count"))
        following = response.links.get("next")
        if following is None:
            return rows, totals
        assert following["url"].startswith("/api/v1" + path + "?")
        response = api.client.get(
            following["url"], headers={"Authorization": f"Bearer {api.token}"}
        )


def test_tasks_walk_past_a_thousand_each_once_soonest_due_first(calls: Api) -> None:
    first = calls.get("/tasks", params={"status": "open", "limit": 500})
    assert len(first.json()) == 500 and 'rel="next"' in first.headers["Link"]
    rows, totals = _walk(calls, "/tasks", status="open", limit=500)
    with calls.db.sessions() as session:
        stored = set(session.scalars(select(Task.id).where(Task.status == "open")))
    ids = [row["id"] for row in rows]
    assert len(ids) == COUNT and set(ids) == stored  # each exactly once, none missing
    assert totals == [str(COUNT), None, None]  # counted once, not once per page
    keys = [(row["due_at"], row["id"]) for row in rows]
    assert keys == sorted(keys)


def test_the_default_page_says_there_is_more(calls: Api) -> None:
    response = calls.get("/enrollments")
    assert len(response.json()) == 100
    assert response.headers["X-Total-Count"] == str(COUNT)
    assert "cursor=" in response.links["next"]["url"]
    rows, _ = _walk(calls, "/enrollments", limit=1000, sequence="Calls")
    assert len({row["id"] for row in rows}) == COUNT


def test_history_pages_both_ways_over_the_same_events(calls: Api) -> None:
    with calls.db.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Event))
    assert stored is not None and stored > 2 * COUNT
    oldest, totals = _walk(calls, "/history", limit=1000)
    newest, _ = _walk(calls, "/history", limit=1000, order="newest")
    assert len(oldest) == stored and totals[0] is None  # a million would cost too much to count
    with calls.db.sessions() as session:
        sequence_id = session.scalar(select(Sequence.id).where(Sequence.name == "Calls"))
        theirs = select(func.count()).select_from(Event).where(Event.sequence_id == sequence_id)
        counted = session.scalar(theirs)
    first = calls.get("/history", params={"sequence": "Calls", "limit": 10})
    assert first.headers["X-Total-Count"] == str(counted) and counted > COUNT
    assert [(r["time"], r["type"]) for r in oldest] == [(r["time"], r["type"]) for r in newest][
        ::-1
    ]
    created, _ = _walk(calls, "/history", type="task_created", limit=1000)
    assert len(created) == COUNT and {r["type"] for r in created} == {"task_created"}


def test_contacts_walk_with_a_cursor_as_offsets_did(calls: Api) -> None:
    rows, totals = _walk(calls, "/contacts", limit=500)
    assert len({row["id"] for row in rows}) == COUNT == len(rows)
    assert totals == [str(COUNT), None, None]
    assert calls.ok("GET", "/contacts", params={"limit": 2, "offset": 1})[0]["id"] == rows[1]["id"]


def _cursor(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/tasks", {"limit": 0}, "limit"),
        ("/tasks", {"limit": 1001}, "limit"),
        ("/history", {"limit": "many"}, "limit"),
        ("/tasks", {"cursor": "not a cursor"}, "cursor"),
        ("/tasks", {"cursor": _cursor(["2026-12-01T15:00:00+00:00"])}, "cursor"),
        ("/history", {"cursor": _cursor(["yesterday", 1])}, "cursor"),
        ("/contacts", {"cursor": _cursor(["1"])}, "cursor"),
        ("/enrollments", {"cursor": _cursor([True])}, "cursor"),
        ("/tasks", {"status": "opne"}, "status"),
        ("/enrollments", {"status": "running"}, "status"),
        ("/messages", {"channel": "fax"}, "channel"),
        ("/sequences", {"status": "live"}, "status"),
        ("/history", {"type": "telepathy"}, "type"),
        ("/history", {"order": "sideways"}, "order"),
        ("/enrollments", {"sequence": "Nope"}, "sequence"),
        ("/tasks", {"assignee": "nobody@example.com"}, "assignee"),
        ("/tasks", {"stauts": "open"}, "stauts"),
        ("/contacts", {"tags": "vip"}, "tags"),
        ("/senders", {"kind": "email"}, "kind"),
        ("/sequences/Calls", {"verbose": "1"}, "verbose"),
    ],
)
def test_what_a_listing_cannot_apply_is_a_422_naming_it(
    applied: Api, path: str, params: dict[str, Any], named: str
) -> None:
    body = problem(applied.get(path, params=params), 422)
    assert named in json.dumps(body), body


def test_a_cursor_from_a_page_reads_on_where_it_stopped(calls: Api) -> None:
    first = calls.get("/tasks", params={"limit": 3})
    cursor = first.links["next"]["url"].split("cursor=")[1]
    second = calls.ok("GET", "/tasks", params={"limit": 3, "cursor": cursor})
    whole = calls.ok("GET", "/tasks", params={"limit": 6})
    assert [r["id"] for r in first.json() + second] == [r["id"] for r in whole]


def _located(api: Api, response: httpx.Response) -> Any:
    location = response.headers["Location"]
    assert location.startswith("/api/v1/")
    return api.ok("GET", location.removeprefix("/api/v1"))


def test_creation_answers_201_with_where_to_find_it(api: Api) -> None:
    made = api.post("/sequences", content=CALLS, headers={"Content-Type": "text/yaml"})
    assert made.status_code == 201 and _located(api, made)["name"] == "Calls"
    again = api.post("/sequences", content=CALLS, headers={"Content-Type": "text/yaml"})
    assert again.status_code == 200 and "Location" not in again.headers

    contact = api.post("/contacts", json={"email": "lee@lead.example"})
    assert contact.status_code == 201 and _located(api, contact)["email"] == "lee@lead.example"
    other = api.ok("POST", "/contacts", 201, json={"email": "kim@lead.example"})

    one = api.post("/enrollments", json={"sequence": "Calls", "contact_ids": [other["id"]]})
    assert one.status_code == 201
    assert _located(api, one)["contact_id"] == other["id"]
    refused = api.post("/enrollments", json={"sequence": "Calls", "contact_ids": [other["id"]]})
    assert refused.status_code == 200 and "Location" not in refused.headers

    copy = api.post("/sequences/Calls/clone", json={"name": "Calls copy"})
    assert copy.status_code == 201 and _located(api, copy)["name"] == "Calls copy"
    assert api.ok("GET", "/enrollments", params={"sequence": "Calls copy"}) == []


def test_many_enrolled_at_once_are_located_by_their_listing(api: Api) -> None:
    api.ok("POST", "/sequences", 201, content=CALLS, headers={"Content-Type": "text/yaml"})
    with write(api.db) as session:
        ids = bulk_contacts(session, 3, api.clock.now())
    many = api.post("/enrollments", json={"sequence": "Calls", "contact_ids": ids})
    assert many.status_code == 201
    assert {row["contact_id"] for row in _located(api, many)} == set(ids)
    problem(api.get("/enrollments/999999"), 404)
