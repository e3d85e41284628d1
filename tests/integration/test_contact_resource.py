"""Contacts as a complete resource: upsert by each key, typed custom fields, notes, merge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.services import contacts
from cadenza.store.models import Contact, Task
from tests.conftest import Database
from tests.engine_helpers import run_worker
from tests.integration.api_client import problem
from tests.integration.people import ANA, MIA, ROOT, YAML, People, people_api

TWO_STEPS = """\
name: {name}
senders: {{email: sales@example.com}}
schedule: {{timezone: UTC, days: every_day, holidays: none}}
steps:
  - {{key: call, action: task, assignee: user:ana@example.com}}
  - {{key: hello, action: email, wait: {{days: 1}}, subject: Hi, body: "<p>Hello</p>"}}
"""


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def _count(db: Database) -> int:
    with db.sessions() as session:
        return len(contacts.list_contacts(session=session))


def test_upsert_by_external_id_email_and_phone_finds_the_same_contact(people: People) -> None:
    ana = people.as_(ANA)
    created = ana.put("/contacts/by-external-id/crm-7", json={"email": "kai@x.example"})
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/contacts/{created.json()['id']}"
    contact_id = created.json()["id"]
    again = ana.put("/contacts/by-external-id/crm-7", json={"company": "Acme", "tags": ["vip"]})
    assert again.status_code == 200 and again.json()["id"] == contact_id
    assert again.json()["company"] == "Acme" and again.json()["email"] == "kai@x.example"
    by_email = ana.post(
        "/contacts/upsert", params={"match_on": "email"},
        json={"email": "KAI@x.example", "phone": "(312) 555-0142", "tags": ["webinar"]},
    )  # fmt: skip
    assert by_email.status_code == 200 and by_email.json()["id"] == contact_id
    assert by_email.json()["tags"] == ["vip", "webinar"]  # added, not replaced
    by_phone = ana.post(
        "/contacts/upsert", params={"match_on": "phone"},
        json={"phone": "+1 312 555 0142", "first_name": "Kai"},
    )  # fmt: skip
    assert by_phone.status_code == 200 and by_phone.json()["first_name"] == "Kai"
    assert ana.ok("GET", "/contacts/by-external-id/crm-7")["id"] == contact_id
    assert _count(people.db) == 1
    # A new key creates; another contact's external id is a conflict, and nothing changes.
    other = ana.post("/contacts/upsert", params={"match_on": "phone"}, json={"phone": "3125550199"})
    assert other.status_code == 201
    clash = ana.patch(f"/contacts/{other.json()['id']}", json={"external_id": "crm-7"})
    assert "crm-7" in problem(clash, 409)["detail"]
    path = f"/contacts/{other.json()['id']}"
    assert ana.ok("PATCH", path, json={"external_id": "crm-8"})["external_id"] == "crm-8"
    assert ana.ok("PATCH", path, json={"external_id": ""})["external_id"] is None
    missing = ana.post("/contacts/upsert", params={"match_on": "external_id"}, json={})
    problem(missing, 422)
    problem(ana.get("/contacts/by-external-id/nope"), 404)
    assert _count(people.db) == 2


def test_typed_custom_fields_are_checked_on_create_edit_and_import(
    people: People, tmp_path: Path
) -> None:
    mia, ana = people.as_(MIA), people.as_(ANA)
    problem(ana.post("/contact-fields", json={"name": "score", "kind": "number"}), 403)
    mia.ok("POST", "/contact-fields", 201, json={"name": "score", "kind": "number"})
    mia.ok("POST", "/contact-fields", 201, json={"name": "renewal", "kind": "date"})
    stage = {"name": "stage", "kind": "choice", "choices": ["Lead", "Customer"]}
    mia.ok("POST", "/contact-fields", 201, json=stage)
    problem(mia.post("/contact-fields", json={"name": "stage", "kind": "text"}), 409)
    problem(mia.post("/contact-fields", json={"name": "bad", "kind": "choice"}), 422)
    assert [f["name"] for f in ana.ok("GET", "/contact-fields")] == ["renewal", "score", "stage"]
    refused = ana.post("/contacts", json={"email": "a@x.example", "fields": {"score": "lots"}})
    assert "fields.score" in problem(refused, 422)["detail"]
    assert _count(people.db) == 0
    made = ana.ok(
        "POST", "/contacts", 201,
        json={"email": "a@x.example", "fields": {"score": "42", "stage": "customer"}},
    )  # fmt: skip
    assert made["fields"] == {"score": 42, "stage": "Customer"}
    wrong = ana.patch(f"/contacts/{made['id']}", json={"fields": {"renewal": "next week"}})
    assert "YYYY-MM-DD" in problem(wrong, 422)["detail"]
    fine = ana.ok("PATCH", f"/contacts/{made['id']}", json={"fields": {"renewal": "2027-03-01"}})
    assert fine["fields"]["renewal"] == "2027-03-01"
    csv = b"email,Score,Stage\nb@x.example,7,Lead\nc@x.example,seven,Lead\nd@x.example,1,VIP\n"
    report = ana.ok("POST", "/contacts/import", files={"file": ("c.csv", csv, "text/csv")})
    assert report["imported"] == 1 and report["rejected"] == 2
    first, second = report["rejections"]
    assert first["row"] == 3 and first["problems"][0]["column"] == "Score"
    assert "not a number" in first["problems"][0]["message"]
    assert second["row"] == 4 and second["problems"][0]["column"] == "Stage"
    assert "not one of Lead, Customer" in second["problems"][0]["message"]


def test_an_import_matches_on_external_id_when_asked(people: People) -> None:
    ana = people.as_(ANA)
    ana.ok("PUT", "/contacts/by-external-id/A1", 201, json={"email": "old@x.example"})
    csv = (
        b"external_id,email,company\nA1,new@x.example,Acme\nB2,b2@x.example,Beta\n"
        b",nokey@x.example,Gamma\n"
    )
    report = ana.ok(
        "POST", "/contacts/import", files={"file": ("c.csv", csv, "text/csv")},
        data={"match_on": "external_id"},
    )  # fmt: skip
    assert (report["imported"], report["updated"], report["rejected"]) == (1, 1, 1)
    assert report["rejections"][0]["row"] == 4
    assert report["rejections"][0]["problems"][0]["column"] == "external_id"
    a1 = ana.ok("GET", "/contacts/by-external-id/A1")
    assert (a1["email"], a1["company"]) == ("new@x.example", "Acme")  # matched, not by email


def test_notes_are_added_listed_and_deleted_by_their_author_or_a_manager(
    people: People,
) -> None:
    ana, bo, mia = people.as_(ANA), people.as_("bo@example.com"), people.as_(MIA)
    contact = ana.ok("POST", "/contacts", 201, json={"email": "n@x.example"})
    path = f"/contacts/{contact['id']}/notes"
    mine = ana.post(path, json={"body": "Prefers mornings"})
    assert mine.status_code == 201 and mine.headers["Location"].endswith(str(mine.json()["id"]))
    bos = bo.ok("POST", path, 201, json={"body": "Left a voicemail"})
    assert [n["body"] for n in ana.ok("GET", path)] == ["Left a voicemail", "Prefers mornings"]
    problem(ana.delete(f"{path}/{bos['id']}"), 403)
    assert ana.delete(f"{path}/{mine.json()['id']}").status_code == 204
    assert mia.delete(f"{path}/{bos['id']}").status_code == 204
    assert ana.ok("GET", path) == []
    problem(ana.post(path, json={"body": ""}), 422)


def test_merging_moves_enrollments_tasks_notes_history_and_keeps_every_flag(
    people: People,
) -> None:
    root, ana = people.as_(ROOT), people.as_(ANA)
    for name in ("Both", "Only dup"):
        root.ok("POST", "/sequences", 201, content=TWO_STEPS.format(name=name), headers=YAML)
    survivor = root.ok(
        "POST", "/contacts", 201,
        json={"email": "sam@x.example", "company": "Acme", "tags": ["a"],
              "fields": {"title": "CEO"}},
    )  # fmt: skip
    duplicate = root.ok(
        "POST", "/contacts", 201,
        json={"email": "sam.home@x.example", "phone": "3125550111", "first_name": "Sam",
              "company": "Other", "tags": ["b"], "fields": {"title": "x", "city": "Chicago"},
              "external_id": "crm-9"},
    )  # fmt: skip
    s_id, d_id = survivor["id"], duplicate["id"]
    root.ok("POST", "/enrollments", 201, json={"sequence": "Both", "contact_ids": [s_id, d_id]})
    root.ok("POST", "/enrollments", 201, json={"sequence": "Only dup", "contact_ids": [d_id]})
    run_worker(people.db, people.clock.now())
    root.ok("POST", f"/contacts/{d_id}/notes", 201, json={"body": "met at the fair"})
    root.ok("PATCH", f"/contacts/{d_id}", json={"sms_opted_out": True})
    problem(ana.post(f"/contacts/{s_id}/merge", json={"duplicate_id": d_id}), 403)
    problem(root.post(f"/contacts/{s_id}/merge", json={"duplicate_id": s_id}), 422)
    done = root.ok("POST", f"/contacts/{s_id}/merge", json={"duplicate_id": d_id})
    contact = done["contact"]
    assert contact["email"] == "sam@x.example" and contact["company"] == "Acme"  # survivor wins
    assert (contact["phone"], contact["first_name"]) == ("+13125550111", "Sam")  # blanks filled
    assert contact["external_id"] == "crm-9"
    assert contact["tags"] == ["a", "b"]
    assert contact["fields"] == {"title": "CEO", "city": "Chicago"}
    assert contact["sms_opted_out"] is True and done["flags"] == ["sms_opted_out"]
    problem(root.get(f"/contacts/{d_id}"), 404)
    rows = root.ok("GET", "/enrollments", params={"contact": s_id})
    statuses = sorted((r["sequence"], r["status"]) for r in rows)
    removed = [r for r in rows if r["status"] == "removed"]
    assert len(removed) == 1 and done["removed_enrollments"] == [removed[0]["id"]]
    assert ("Only dup", "removed") not in statuses and len(rows) == 3
    assert all(r["contact_id"] == s_id for r in rows)
    with people.db.sessions() as session:
        open_tasks = session.scalars(select(Task).where(Task.status == "open")).all()
        canceled = session.scalars(select(Task).where(Task.status == "canceled")).all()
    # The duplicate's task in "Only dup" moved; its task in "Both" was canceled with it.
    assert {t.contact_id for t in open_tasks} == {s_id} and len(open_tasks) == 2
    assert [t.enrollment_id for t in canceled] == done["removed_enrollments"]
    assert [n["body"] for n in root.ok("GET", f"/contacts/{s_id}/notes")] == ["met at the fair"]
    history = root.ok("GET", "/history", params={"contact": s_id, "limit": 200})
    types = [e["type"] for e in history]
    assert "merged" in types and types.count("contact_created") == 2
    merged = next(e for e in history if e["type"] == "merged")
    assert (merged["data"]["survivor_id"], merged["data"]["duplicate_id"]) == (s_id, d_id)
    assert any(e["type"] == "removed" and "merged" in (e["reason"] or "") for e in history)
    with people.db.sessions() as session:
        assert session.get(Contact, d_id) is None


def test_a_merged_duplicates_lists_and_account_go_to_the_survivor(people: People) -> None:
    root = people.as_(ROOT)
    account = root.ok("POST", "/accounts", 201, json={"name": "Acme", "domains": ["acme.example"]})
    for name in ("Webinar", "Trade show"):
        root.ok("POST", "/lists", 201, json={"name": name})
    survivor = root.ok("POST", "/contacts", 201, json={"email": "sam@home.example"})["id"]
    duplicate = root.ok("POST", "/contacts", 201, json={"email": "sam@acme.example"})["id"]
    root.ok("PATCH", f"/accounts/{account['id']}", json={"add_contacts": [duplicate]})
    root.ok("POST", "/lists/Webinar/members", json={"contact_ids": [survivor, duplicate]})
    root.ok("POST", "/lists/Trade show/members", json={"contact_ids": [duplicate]})
    root.ok("POST", f"/contacts/{survivor}/merge", json={"duplicate_id": duplicate})
    for name in ("Webinar", "Trade show"):
        members = root.ok("GET", f"/lists/{name}/members")
        assert [m["contact_id"] for m in members] == [survivor]
    contacts_of_account = root.ok("GET", f"/accounts/{account['id']}/contacts")
    assert [c["id"] for c in contacts_of_account] == [survivor]


def test_history_filters_on_the_contact_events_before_any_happened(people: People) -> None:
    root = people.as_(ROOT)
    for kind in ("merged", "note_deleted", "field_defined", "field_deleted"):
        assert root.ok("GET", "/history", params={"type": kind}) == []
    problem(root.get("/history", params={"type": "no_such_thing"}), 422)
