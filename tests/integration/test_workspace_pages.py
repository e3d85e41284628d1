"""The workspace's pages and the contact API over HTTP on both databases: the list's totals,
the task screen, the next task after an outcome, fields edited in place with history naming
the person, notes, the history report's search, count, pages and CSV, PATCH and DELETE."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.core.decisions import HistoryEntry
from cadenza.server import create_app
from cadenza.services import enrollments, history
from cadenza.services.users import add_group, add_user, create_key
from cadenza.settings import Settings
from cadenza.store.models import Contact, Event, Task
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.integration.web_login import PASSWORD, logged_in

T0 = "2026-03-02T15:00:00Z"
ANA, BO, MIA = "ana@example.com", "bo@example.com", "mia@example.com"
CALLS = """\
name: Calls
owner: ana@example.com
sharing: {mode: private, access: view}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - key: ring
    action: call
    assignee: contact_owner
    instructions: "Ask about {{ contact.company }}"
"""


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    with write(db) as session:
        for email, role in ((ANA, "agent"), (BO, "agent"), (MIA, "manager")):
            user = add_user(session=session, email=email, role=role, now=at(T0), password=PASSWORD)
            ids[email] = user.id
            keys[email] = create_key(session=session, name=email, user_email=email, now=at(T0))[1]
        add_group(session=session, name="east", member_emails=[ANA, MIA])
        store(session, CALLS, at(T0))
        owner = ids[ANA]
        contacts = [
            add_contact(
                session,
                at(T0),
                first_name=f"Lee{i}",
                last_name="Park",
                email=f"lee{i}@lead.example",
                phone=f"+1312555{i:04d}",
                company="Acme",
                owner_id=owner,
            )
            for i in range(3)
        ]
        enrollments.enroll(
            session=session, sequence="Calls", contact_ids=contacts, now=at(T0), settings=SETTINGS
        )
    run_worker(db, T0)
    with db.sessions() as session:
        tasks = list(session.scalars(select(Task.id).order_by(Task.id)))
    settings = Settings(
        database_url=db.url, environment="test", sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    with TestClient(create_app(settings, clock=FixedClock(at(T0)))) as client:
        yield client, {"contacts": contacts, "tasks": tasks, "keys": keys}


def _as(client: TestClient, email: str) -> tuple[TestClient, str]:
    person = TestClient(client.app)
    person.cookies.set("cadenza_tz", "America/Chicago")
    return person, logged_in(person, email)


def test_the_list_the_task_screen_and_the_next_task_after_an_outcome(
    site: tuple[TestClient, dict[str, Any]],
) -> None:
    client, world = site
    ana, token = _as(client, ANA)
    page = ana.get("/tasks", params={"type": "call"}).text
    assert re.search(r"Calls <span class=\"n\">3</span>", page)
    assert "1\u20133 of 3" in page and "times in America/Chicago" in page
    first, second, _ = world["tasks"]
    screen = ana.get(f"/tasks/{first}", params={"type": "call"}).text
    assert 'href="tel:+13125550000"' in screen
    assert "Ask about Acme" in screen  # the script, rendered for the contact
    assert f'href="/tasks/{second}?type=call" rel="next"' in screen
    assert "Their time: <strong>Mon 09:00 CST</strong>" in screen
    done = ana.post(
        f"/tasks/{first}/complete",
        data={"csrf": token, "outcome": "no_answer", "then": "next", "list": "type=call"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/tasks/{second}?type=call"
    assert "No answer" in ana.get(done.headers["location"]).text  # the flash, on the next task
    bo, _ = _as(client, BO)
    assert bo.get(f"/tasks/{second}").status_code == 404  # a private sequence of Ana's
    assert bo.get("/tasks", params={"assignee": "all"}).status_code == 403
    mia, _ = _as(client, MIA)
    assert 'Calls <span class="n">2</span>' in mia.get("/tasks", params={"assignee": ANA}).text
    wrong = ana.get("/tasks", params={"due": "someday"})
    assert wrong.status_code == 422 and "due" in wrong.text


def test_a_field_edited_in_place_and_a_note_are_in_history_with_who(
    db: Database, site: tuple[TestClient, dict[str, Any]]
) -> None:
    client, world = site
    ana, token = _as(client, ANA)
    contact = world["contacts"][0]
    form = {"csrf": token, "field": "company", "value": "Acme Freight"}
    swapped = ana.post(f"/contacts/{contact}/edit", data=form, headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and "Company saved." in swapped.text
    assert 'value="Acme Freight"' in swapped.text and "<html" not in swapped.text
    bad = {"csrf": token, "field": "email", "value": "not an address"}
    refused = ana.post(f"/contacts/{contact}/edit", data=bad, headers={"HX-Request": "true"})
    assert 'role="alert"' in refused.text and "not a valid email address" in refused.text
    dnc = {"csrf": token, "field": "dnc", "value": "yes", "back": f"/contacts/{contact}"}
    assert (
        ana.post(f"/contacts/{contact}/edit", data=dnc, follow_redirects=False).status_code == 303
    )
    note = {"csrf": token, "body": "Call after <b>lunch</b>", "back": f"/contacts/{contact}"}
    assert (
        ana.post(f"/contacts/{contact}/notes", data=note, follow_redirects=False).status_code == 303
    )
    page = ana.get(f"/contacts/{contact}").text
    assert "Call after &lt;b&gt;lunch&lt;/b&gt;" in page  # typed text never reaches HTML raw
    with db.sessions() as session:
        row = session.get(Contact, contact)
        assert row is not None and (row.company, row.email, row.dnc) == (
            "Acme Freight",
            "lee0@lead.example",
            True,
        )
        events = history.list_history(session=session, contact_id=contact)
    made = [(e["type"], e["actor"]) for e in events if e["actor"] == ANA]
    assert ("field_changed", ANA) in made and ("dnc", ANA) in made and ("note_added", ANA) in made
    assert '<span class="badge badge-flag">Do not contact</span>' in page


def test_the_history_report_searches_counts_pages_and_exports(
    db: Database, site: tuple[TestClient, dict[str, Any]]
) -> None:
    client, world = site
    lee = world["contacts"][1]
    with write(db) as session:
        rows = [
            history.row(
                history.Subject(lee),
                HistoryEntry("opened", at(T0) - timedelta(days=d, minutes=m), None, None, {}),
            )
            for d in range(40)
            for m in range(3)
        ]
        history.write(session, rows)
    ana, _ = _as(client, ANA)
    week = ana.get("/history", params={"q": "Lee1 Park", "type": "opened"}).text
    assert "21 events" in week  # the last 7 days in Chicago (the default), of 120
    month = {"q": "Lee1 Park", "type": "opened", "timeframe": "last_30_days"}
    assert "90 events" in ana.get("/history", params=month).text
    everything = ana.get(
        "/history", params={"q": "lee1@lead", "type": "opened", "timeframe": "all_time"}
    ).text
    assert "120 events" in everything
    older = re.search(r'href="(/history\?[^"]*cursor=[^"]+)"', everything)
    assert older is not None
    second = ana.get(older.group(1).replace("&amp;", "&")).text
    assert second.count("<tr>") == 51  # the header and the next 50
    by_phone = ana.get("/history", params={"q": "5550001", "timeframe": "yesterday"}).text
    assert "3 events" in by_phone
    custom = {"q": "Lee1", "timeframe": "custom", "from": "2026-02-20", "to": "2026-02-21"}
    assert "6 events" in ana.get("/history", params=custom).text
    exported = ana.get("/history/export.csv", params={"q": "Lee1", "timeframe": "all_time"})
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0][:3] == ["time", "type", "sequence"] and len(table) > 120
    assert ana.get("/history", params={"timeframe": "fortnight"}).status_code == 422
    bo, _ = _as(client, BO)
    hidden = bo.get("/history", params={"q": "Lee1", "type": "task_created"}).text
    assert "0 events" in hidden  # Ana's private sequence's events are not Bo's
    with db.sessions() as session:
        assert session.scalar(select(Event.id).where(Event.type == "task_created").limit(1))


def test_the_api_changes_and_deletes_contacts_by_the_rules(
    db: Database, site: tuple[TestClient, dict[str, Any]]
) -> None:
    client, world = site
    contact = world["contacts"][2]

    def call(method: str, email: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {world['keys'][email]}"}
        return client.request(method, f"/api/v1/contacts/{contact}", headers=headers, **kwargs)

    changed = call(
        "PATCH", BO, json={"company": "Globex", "tags": ["vip"], "fields": {"title": "CTO"}}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["company"], body["tags"], body["fields"]["title"]) == ("Globex", ["vip"], "CTO")
    bad = call("PATCH", BO, json={"phone": "call me", "timezone": "Mars/Base"})
    assert bad.status_code == 422 and "phone" in bad.json()["detail"]
    assert "timezone" in bad.json()["detail"]
    taken = call("PATCH", BO, json={"email": "lee0@lead.example"})
    assert taken.status_code == 409
    assert call("PATCH", BO, json={"colour": "red"}).status_code == 422
    with db.sessions() as session:
        events = history.list_history(session=session, contact_id=contact, types=["tag_added"])
    assert [(e["actor"], e["data"]) for e in events] == [(BO, {"tag": "vip"})]
    assert call("DELETE", BO).status_code == 403
    assert call("DELETE", MIA).status_code == 204
    assert call("DELETE", MIA).status_code == 404
    assert call("PATCH", MIA, json={"company": "x"}).status_code == 404
