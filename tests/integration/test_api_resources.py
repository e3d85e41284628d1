"""The API's other operations: CSV import, simulate, lifecycle, migrate, enrollment holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.clock import parse_instant
from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.core.lint import lint_text
from cadenza.core.simulation import simulate
from cadenza.services.users import add_user
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, run_worker, write
from tests.integration.api_client import T0, Api, problem, running_api

EXAMPLES = Path(__file__).parents[2] / "examples"
DRIP = """\
name: Drip
senders: {email: sales@example.com}
schedule:
  {timezone: contact, days: every_day, hours: {open: "09:00", close: "17:00"}, holidays: none}
exit: {on: [replied]}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
  - {key: call, action: call, wait: {hours: 1}, assignee: contact_owner}
  - {key: again, action: email, wait: {days: 1}, subject: "SUBJECT", body: "<p>2</p>"}
"""


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with running_api(db, tmp_path) as running:
        yield running


def _apply(api: Api, text: str = DRIP, status: int = 201) -> None:
    api.ok("POST", "/sequences", status, content=text, headers={"Content-Type": "application/yaml"})


def _enrolled(api: Api, count: int = 1) -> list[int]:
    """`count` new contacts enrolled in Drip at T0; their enrollment ids."""
    with write(api.db) as session:
        ids = [add_contact(session, at(T0), email=f"c{i}@example.com") for i in range(count)]
    report = api.ok("POST", "/enrollments", 201, json={"sequence": "Drip", "contact_ids": ids})
    assert report["enrolled"] == ids
    return [row["id"] for row in api.ok("GET", "/enrollments")]


def test_a_csv_upload_imports_good_rows_and_lists_the_rejected_ones(api: Api) -> None:
    with write(api.db) as session:
        add_user(session=session, email="ben@example.com", now=at(T0))
    csv = (EXAMPLES / "contacts-with-errors.csv").read_bytes()
    report = api.ok(
        "POST",
        "/contacts/import",
        files={"file": ("../leads.csv", csv, "text/csv")},
        data={"tags": ["imported"]},
    )
    assert report["rows"] == 8 and report["rejected"] == len(report["rejections"]) > 0
    assert report["imported"] == 8 - report["rejected"]
    victor = next(r for r in report["rejections"] if r["row"] == 3)
    assert victor["problems"][0]["column"] == "email" and victor["cells"][0] == "Victor"
    assert {r["row"] for r in report["rejections"]} >= {3, 4, 5}
    imported = api.ok("GET", "/contacts", params={"tag": "imported"})
    assert len(imported) == report["imported"]
    assert (
        api.ok("GET", "/contacts", params={"search": "nora", "limit": 5})[0]["last_name"] == "Quinn"
    )
    problem(api.post("/contacts/import", files={"file": ("x.csv", b"\x00\x01", "text/csv")}), 422)


def test_an_import_answer_lists_the_first_100_rejections_and_counts_them_all(api: Api) -> None:
    rows = [f"Good{i},good{i}@example.com" for i in range(5)]
    rows += [f"Bad{i},not-an-email-{i}" for i in range(250)]
    csv = ("first_name,email\n" + "\n".join(rows) + "\n").encode()
    report = api.ok("POST", "/contacts/import", files={"file": ("many.csv", csv, "text/csv")})
    assert (report["rows"], report["imported"], report["rejected"]) == (255, 5, 250)
    listed = report["rejections"]
    assert len(listed) == 100 and [r["row"] for r in listed] == list(range(7, 107))
    assert listed[0]["cells"] == ["Bad0", "not-an-email-0"]


def test_simulate_is_the_dry_run_of_cadenza_simulate(api: Api) -> None:
    _apply(api)
    contact = {"first_name": "Sam", "email": "sam@example.com", "timezone": "America/Chicago"}
    contact |= {"owner": "ana@example.com", "phone": "+13125550123"}
    body = {
        "contact": contact,
        "start": T0,
        "events": [{"name": "replied", "time": "2026-12-02T08:00:00-06:00"}],
        "outcomes": {"call": "no_answer"},
    }
    timeline = api.ok("POST", "/sequences/Drip/simulate", json=body)
    definition, _ = lint_text(DRIP, "definition")
    assert definition is not None
    expected = simulate(
        definition,
        ContactView.model_validate(contact),
        start=parse_instant(T0),
        events=[EventRecord(type="replied", time=parse_instant("2026-12-02T14:00:00Z"))],
        outcomes={"call": "no_answer"},
        until=parse_instant("2027-12-01T15:00:00Z"),
    )
    assert timeline["rows"] == [row.as_json() for row in expected.rows]
    assert timeline["ending"] == expected.ending and timeline["ending"].startswith("exited")
    assert timeline["zone"] == "America/Chicago" and timeline["version"] == 1
    body = problem(api.post("/sequences/Drip/simulate", json={**body, "outcomes": {"x": "y"}}), 422)
    assert "'x'" in body["detail"]


def test_a_sequence_lifecycle(api: Api) -> None:
    _apply(api)
    _enrolled(api, 2)
    paused = api.ok("POST", "/sequences/Drip/pause")
    assert paused == {"name": "Drip", "action": "pause", "status": "paused", "enrollments": 2}
    assert {e["status"] for e in api.ok("GET", "/enrollments")} == {"paused"}
    assert api.ok("POST", "/sequences/Drip/resume")["enrollments"] == 2
    copy = api.ok("POST", "/sequences/Drip/clone", 201, json={"name": "Drip copy"})
    assert copy["status"] == "draft" and copy["version"] == 1
    assert api.ok("POST", "/sequences/Drip copy/activate")["status"] == "active"
    assert api.ok("DELETE", "/sequences/Drip copy", 204) is None
    problem(api.get("/sequences/Drip copy"), 404)
    problem(api.delete("/sequences/Drip"), 409)  # people went through it
    problem(api.post("/sequences/Drip/archive"), 409)  # people are still in it
    assert api.ok("POST", "/sequences/Drip/end")["enrollments"] == 2
    assert api.ok("POST", "/sequences/Drip/archive")["status"] == "archived"
    history = api.ok("GET", "/history", params={"type": "sequence_archived"})
    assert history[0]["actor"] == "ana@example.com"


def test_migrate_moves_running_enrollments_to_a_new_version(api: Api) -> None:
    _apply(api)
    _enrolled(api)
    _apply(api, DRIP.replace("SUBJECT", "Changed"), status=200)
    body = problem(api.post("/sequences/Drip/migrate", json={"to_version": 9}), 404)
    assert "version 9" in body["detail"]
    moved = api.ok("POST", "/sequences/Drip/migrate", json={"to_version": 2})
    assert moved == {"sequence": "Drip", "to_version": 2, "moved": {"1": 1}, "restarted": []}


def test_holding_moving_and_removing_an_enrollment(api: Api) -> None:
    _apply(api)
    [enrollment] = _enrolled(api)
    row = api.ok("POST", f"/enrollments/{enrollment}/pause")
    assert row["status"] == "paused" and row["sequence"] == "Drip" and row["step"] == "hello"
    problem(api.post(f"/enrollments/{enrollment}/pause"), 409)
    assert api.ok("POST", f"/enrollments/{enrollment}/resume")["status"] == "active"
    problem(api.post(f"/enrollments/{enrollment}/retry"), 409)  # no step in error
    run_worker(api.db, T0)
    api.at("2026-12-01T15:05:00Z")
    skipped = api.ok("POST", f"/enrollments/{enrollment}/skip")
    assert skipped["step"] == "again" and skipped["due_at"] == "2026-12-01T15:05:00+00:00"
    assert api.ok("POST", f"/enrollments/{enrollment}/stop")["status"] == "paused"
    assert api.ok("DELETE", f"/enrollments/{enrollment}", 204) is None
    assert api.ok("GET", "/enrollments", params={"status": "removed"})[0]["id"] == enrollment
    problem(api.delete(f"/enrollments/{enrollment}"), 409)
