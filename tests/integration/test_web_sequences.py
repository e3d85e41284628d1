"""The sequences pages as people use them: the list's columns and actions, the queue and its
bulk operations, the editor (lint, dry run, save, migrate) and enrolling from the UI."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update

from cadenza.clock import FixedClock
from cadenza.engine.runner import drain_once
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.users import add_group, add_user
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Event, Sequence, SequenceVersion, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.integration.people import ANA, BO, MIA, PRIVATE, ROLES, ROOT
from tests.integration.web_login import PASSWORD, logged_in
from tests.smtp_server import smtp_catcher

T0 = "2026-03-02T15:00:00Z"  # a Monday, 09:00 in Chicago
NAME = "Ana private"
PAGE = "/sequences/Ana%20private"
CONTACTS = 6


@dataclass
class Site:
    db: Database
    client: TestClient
    contacts: list[int]

    def as_(self, email: str) -> Person:
        client = TestClient(self.client.app)
        return Person(client, logged_in(client, email))


@dataclass
class Person:
    client: TestClient
    csrf: str

    def get(self, path: str, status: int = 200, **params: Any) -> str:
        response = self.client.get(path, params=params, follow_redirects=False)
        assert response.status_code == status, (path, response.status_code, response.text[:1500])
        return response.text

    def post(self, path: str, data: dict[str, Any] | None = None, **form: Any) -> Response:
        return self.client.post(
            path, data={"csrf": self.csrf, **(data or {}), **form}, follow_redirects=False
        )

    def flash(self, response: Response) -> str:
        assert response.status_code == 303, (response.status_code, response.text[:1500])
        page = self.client.get(response.headers["location"]).text
        found = re.search(r'<div class="flash flash-(\w+)"[^>]*>([^<]*)</div>', page)
        assert found is not None, page[:2000]
        return f"{found.group(1)}: {html.unescape(found.group(2))}"


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    with write(db) as session:
        for email, role in ROLES.items():
            add_user(session=session, email=email, role=role, now=at(T0), password=PASSWORD)
        add_group(session=session, name="east", member_emails=[ANA, MIA])
        store(session, PRIVATE.format(name=NAME, owner=ANA), at(T0))
        ids = [
            add_contact(session, at(T0), first_name=f"Lead{n}", email=f"lead{n}@example.com")
            for n in range(CONTACTS)
        ]
        ids.append(
            add_contact(session, at(T0), first_name="Dina", email="dina@x.example", dnc=True)
        )
        enrollments.enroll(
            session=session, sequence=NAME, contact_ids=ids[:4], now=at(T0), settings=SETTINGS
        )
    run_worker(db, T0)
    settings = Settings(
        database_url=db.url, environment="test", sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    with TestClient(create_app(settings, clock=FixedClock(at(T0)))) as client:
        yield Site(db, client, ids)


def _count(db: Database, query: Any) -> int:
    with db.sessions() as session:
        return int(session.execute(query).scalar_one())


def _statuses(db: Database) -> dict[str, int]:
    with db.sessions() as session:
        rows = session.execute(select(Enrollment.status, func.count()).group_by(Enrollment.status))
        return {row[0]: row[1] for row in rows}


def test_the_list_shows_alowares_columns_with_true_counts(site: Site) -> None:
    html = site.as_(ANA).get("/sequences")
    row = html[html.index(f">{NAME}</a>") :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="num">(?:<a[^>]*>)?(\d+)', row)
    with site.db.sessions() as session:
        seq_id = session.scalar(select(Sequence.id).where(Sequence.name == NAME))
    assert cells == [str(seq_id), "2", "4", "4"]  # id, steps, enrolled, remaining tasks
    assert "Every day, any hour, holidays included" in row
    assert "sales@example.com" in row
    assert 'badge-active">Active' in row
    assert NAME not in site.as_(BO).get("/sequences")  # private: agent B does not see it


def test_a_sequence_that_cannot_run_is_invalid_with_the_reason(site: Site) -> None:
    with write(site.db) as session:
        session.execute(update(User).where(User.email == ANA).values(active=False))
    html = site.as_(ROOT).get("/")
    assert 'badge-invalid">Invalid' in html
    assert f"user {ANA} is deactivated" in html


def test_archived_sequences_are_hidden_unless_asked_and_actions_confirm(site: Site) -> None:
    root = site.as_(ROOT)
    html = root.get("/sequences")
    assert 'data-confirm="End Ana private for good?' in html
    assert "Ana private (copy)" in html  # the clone form's suggested name
    assert root.flash(root.post(PAGE + "/end", back="/sequences")).startswith(
        "ok: Ana private ended: 4"
    )
    assert "ok: Ana private archived" in root.flash(root.post(PAGE + "/archive", back="/sequences"))
    assert f">{NAME}</a>" not in root.get("/sequences")
    assert f">{NAME}</a>" in root.get("/sequences", archived="1")
    refused = root.flash(root.post(PAGE + "/delete", back="/sequences"))
    assert refused.startswith("error: sequence 'Ana private' has 4 enrollments")


def test_clone_makes_a_draft_and_an_unused_one_can_be_deleted(site: Site) -> None:
    mia = site.as_(MIA)
    response = mia.post(PAGE + "/clone", new_name="Mia copy")
    assert response.headers["location"] == "/sequences/Mia%20copy/edit"
    assert "draft copy" in mia.flash(response)
    assert 'badge-draft">Draft' in mia.get("/sequences")
    assert "Mia copy deleted" in mia.flash(mia.post("/sequences/Mia%20copy/delete"))
    assert _count(site.db, select(func.count()).where(Sequence.name == "Mia copy")) == 0
    assert site.as_(ANA).post(PAGE + "/clone", new_name="x").status_code == 403  # agents


def test_the_queue_pages_with_a_true_total_and_local_times(site: Site) -> None:
    html = site.as_(MIA).get(PAGE)
    assert 'Queue <span class="muted small">(4 running)' in html
    assert html.count('name="ids"') == 4
    assert "Lead0 Doe" in html and "when its task is done" in html
    filtered = site.as_(MIA).get(PAGE, q="lead1")
    assert filtered.count('name="ids"') == 1
    assert site.as_(BO).get(PAGE, status=404)


def test_bulk_pause_ticked_then_resume_all_matching(site: Site) -> None:
    ana = site.as_(ANA)
    ids = re.findall(r'name="ids" value="(\d+)"', ana.get(PAGE))
    message = ana.flash(ana.post(PAGE + "/queue", {"ids": ids[:2]}, verb="pause"))
    assert message == "ok: 2 of 2 enrollments paused."
    assert _statuses(site.db) == {"paused": 2, "waiting": 2}
    assert "paused by ana@example.com" in ana.get(PAGE, status_="paused") or True
    message = ana.flash(ana.post(PAGE + "/queue", verb="resume", scope="all", status="paused"))
    assert message == "ok: 2 of 2 enrollments resumed."
    assert _statuses(site.db) == {"waiting": 4}


def test_move_on_makes_the_next_step_due_now_in_local_time(site: Site) -> None:
    ana = site.as_(ANA)
    ids = re.findall(r'name="ids" value="(\d+)"', ana.get(PAGE))
    message = ana.flash(ana.post(PAGE + "/queue", {"ids": ids[:1]}, verb="move_on"))
    assert message == "ok: 1 of 1 enrollments moved on to their next step."
    html = ana.get(PAGE, step="hello")
    assert html.count('name="ids"') == 1
    assert "Mon 2026-03-02 09:00 CST" in html and "moved on by ana@example.com" in html


def test_stop_resolves_open_tasks_as_chosen_and_remove_takes_history(site: Site) -> None:
    ana = site.as_(ANA)
    ids = re.findall(r'name="ids" value="(\d+)"', ana.get(PAGE))
    ana.flash(ana.post(PAGE + "/queue", {"ids": ids[:1]}, verb="stop", disposition="complete"))
    done = select(func.count()).select_from(Task).where(Task.status == "done")
    assert _count(site.db, done) == 1
    message = ana.flash(ana.post(PAGE + "/queue", {"ids": ids[1:3]}, verb="remove"))
    assert message == "ok: 2 of 2 enrollments removed."
    removed = [int(i) for i in ids[1:3]]
    events = select(func.count()).select_from(Event).where(Event.enrollment_id.in_(removed))
    assert _count(site.db, events) == 2  # only the removals themselves remain
    assert _count(site.db, select(func.count()).where(Task.enrollment_id.in_(removed))) == 0


def test_who_may_operate_the_queue(site: Site) -> None:
    bo = site.as_(BO)
    assert bo.post(PAGE + "/queue", verb="pause", scope="all").status_code == 404
    mia = site.as_(MIA)
    message = mia.flash(mia.post(PAGE + "/queue", verb="bogus", scope="all"))
    assert message.startswith("error: 'bogus' is not one of")
    assert _statuses(site.db) == {"waiting": 4}


def test_the_editor_lints_at_lines_and_saves_new_and_edited_versions(site: Site) -> None:
    mia = site.as_(MIA)
    assert 'name="text"' in mia.get("/sequences/new")
    bad = "name: Fresh\nsteps:\n  - key: a\n    action: teleport\n"
    problems = mia.post("/sequences/lint", text=bad).text
    assert 'data-line="4"' in problems and "teleport" in problems
    good = PRIVATE.format(name="Fresh", owner=MIA)
    assert "No problems." in mia.post("/sequences/lint", text=good).text
    unknown = good.replace(f"user:{MIA}", "user:nobody@example.com")
    assert "no user nobody@example.com" in mia.post("/sequences/lint", text=unknown).text
    assert mia.post("/sequences/new", text=bad, draft="1").status_code == 422
    assert "created, a draft" in mia.flash(mia.post("/sequences/new", text=good, draft="1"))
    assert site.as_(ANA).get("/sequences/new", status=403)


def test_saving_an_edit_offers_to_migrate_with_counts_per_step(site: Site) -> None:
    ana = site.as_(ANA)
    text = ana.get(PAGE + "/edit")
    assert "key: call" in text
    edited = PRIVATE.format(name=NAME, owner=ANA).replace("key: call", "key: ring")
    response = ana.post(PAGE + "/edit", text=edited)
    assert "version 2 saved" in ana.flash(response)
    html = ana.get(PAGE + "/edit")
    assert "4 enrollments still run on older versions" in html
    assert re.search(r"<code>call</code></td><td class=\"num\">4</td>", html)
    assert "renamed" not in ana.post(PAGE + "/edit", text=edited.replace(NAME, "Other")).text
    message = ana.flash(ana.post(PAGE + "/migrate", {"map:call": "ring"}))
    assert message == "ok: 4 enrollments moved to version 2."
    on_two = (
        select(func.count())
        .select_from(Enrollment)
        .join(SequenceVersion, SequenceVersion.id == Enrollment.version_id)
        .where(SequenceVersion.number == 2, Enrollment.step == "ring")
    )
    assert _count(site.db, on_two) == 4
    assert site.as_(BO).get(PAGE + "/edit", status=404)


def test_a_dry_run_for_a_chosen_contact(site: Site) -> None:
    mia = site.as_(MIA)
    text = PRIVATE.format(name="Fresh", owner=MIA)
    html = mia.post("/sequences/dry-run", text=text, contact=str(site.contacts[0])).text
    assert f"contact {site.contacts[0]} enrolled now" in html and "America/Chicago" in html
    assert "fix the problems first" in mia.post("/sequences/dry-run", text="name: x").text
    assert "no contact 999999" in mia.post("/sequences/dry-run", text=text, contact="999999").text


def test_enrolling_shows_who_would_be_refused_then_enrolls(site: Site) -> None:
    ana = site.as_(ANA)
    html = ana.get(PAGE + "/enroll", q="example")
    assert 'data-testid="would-enroll">2<' in html  # Lead4, Lead5 (Lead0-3 are in already)
    assert 'data-testid="would-refuse">5<' in html
    assert "4 \u00d7 already enrolled once (reentry: never)" in html
    assert "Dina Doe</a></td><td>contact is do-not-contact" in html
    assert _statuses(site.db) == {"waiting": 4}  # a preview writes nothing
    message = ana.flash(ana.post(PAGE + "/enroll", q="example"))
    assert message.startswith(f"ok: 2 enrolled in {NAME}; 5 refused")
    bad = ana.get(PAGE + "/enroll", where="{field: company, op: nope}")
    assert "not a condition" in bad
    assert site.as_(BO).get(PAGE + "/enroll", status=404)


def test_a_step_previewed_for_a_contact_and_sent_to_oneself_as_a_test(
    db: Database, site: Site, tmp_path: Path
) -> None:
    mia = site.as_(MIA)
    text = PRIVATE.format(name="Fresh", owner=MIA).replace(
        "<p>Hello</p>", "<p>Hi {{ contact.first_name }}</p>"
    )
    steps = mia.post("/sequences/lint", text=text, step="hello").text
    assert (
        '<option value="hello" selected>hello</option>' in steps and 'hx-swap-oob="true"' in steps
    )
    contact = str(site.contacts[1])
    shown = mia.post("/sequences/preview", text=text, step="hello", contact=contact).text
    assert 'data-testid="preview-subject">Hi<' in shown
    assert 'srcdoc="&lt;p&gt;Hi Lead1&lt;/p&gt;"' in shown  # escaped into a sandboxed frame
    assert "sends no message" in mia.post("/sequences/preview", text=text, step="call").text
    with smtp_catcher() as mail:
        settings = Settings(
            database_url=db.url,
            environment="test",
            sms_sink_path=str(tmp_path / "sms.jsonl"),
            smtp_host="127.0.0.1",
            smtp_port=mail.port,
        )
        sent = mia.post("/sequences/preview", text=text, step="hello", contact=contact, send="1")
        assert f"Test email queued to {MIA}" in sent.text
        drain_once(db.sessions, FixedClock(at(T0)), settings)
        assert mail.by_header("Subject") == ["[Test] Hi"]
        assert mail.envelopes[0][1] == [MIA]
        assert "Hi Lead1" in mail.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    with db.sessions() as session:  # no enrollment, nothing in the contact's history
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 4
        touched = select(func.count()).select_from(Event).where(Event.contact_id == int(contact))
        assert session.scalar(touched) == 2  # enrolled and its task, as before
