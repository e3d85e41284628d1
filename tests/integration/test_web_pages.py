"""The UI's pages on the demo's data: every page renders, forms change what services say."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from cadenza.clock import FixedClock
from cadenza.engine.runner import drain_once
from cadenza.server import create_app
from cadenza.services import enrollments, history, outbox, sequences
from cadenza.services import sequences as sequence_service
from cadenza.services import tasks as task_service
from cadenza.services.demo import DEMO_PASSWORD, examples_folder, load_demo
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.integration.web_login import logged_in

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 09:00 in Chicago
# The worker runs at each of these; the calls of the demo's sequences are then on the list.
PASSES = (START, datetime(2026, 3, 3, 16, tzinfo=UTC), datetime(2026, 3, 4, 16, tzinfo=UTC))
NOW = PASSES[-1]
INBOUND = "Inbound lead follow-up"
RECRUITING = "Recruiting - senior platform engineer"


@dataclass
class Ui:
    client: TestClient
    db: Database
    settings: Settings
    csrf: str = ""

    def get(self, path: str, status: int = 200) -> str:
        response = self.client.get(path, follow_redirects=False)
        assert response.status_code == status, (path, response.text[:2000])
        assert response.headers["content-type"].startswith("text/html")
        return response.text

    def post(self, path: str, **form: str) -> Response:
        """A form of the page posted as a browser does: with the session's CSRF token."""
        return self.client.post(path, data={"csrf": self.csrf, **form}, follow_redirects=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ui(db: Database, tmp_path: Path) -> Iterator[Ui]:
    """The app on the demo's data, after the worker and dispatcher ran on three days."""
    settings = Settings(
        database_url=db.url,
        environment="test",
        dev_mailbox=str(tmp_path / "mailbox"),
        smtp_port=_free_port(),
        sms_sink_path=str(tmp_path / "sms.jsonl"),
        voice_sink_path=str(tmp_path / "voice.jsonl"),
    )
    load_demo(db.sessions, examples_folder(), START, settings)
    with writing(db.sessions) as session:  # a lead without a phone: its first text is in error
        session.execute(
            update(Contact).where(Contact.email == "priya.nair@kestrel.example").values(phone=None)
        )
    with TestClient(create_app(settings, clock=FixedClock(NOW))) as client:
        for instant in PASSES:  # the app's dev mailbox receives what the dispatcher sends
            drain_once(db.sessions, FixedClock(instant), settings)
        csrf = logged_in(client, "ana@example.com", DEMO_PASSWORD)  # the demo's admin
        yield Ui(client, db, settings, csrf)


def _open_call(ui: Ui, sequence: str) -> dict[str, object]:
    with ui.db.sessions() as session:
        rows = task_service.list_tasks(session=session, status="open")
    return next(row for row in rows if row["sequence"] == sequence and row["kind"] == "call")


def _enrollment(ui: Ui, enrollment_id: object) -> dict[str, object]:
    with ui.db.sessions() as session:
        rows = enrollments.list_enrollments(session=session)
    return next(row for row in rows if row["id"] == enrollment_id)


def _flash(response: Response) -> str:
    return unquote(str(response.cookies.get("cadenza_flash") or ""))


def test_sequences_page_lists_the_demo_with_counts(ui: Ui) -> None:
    html = ui.get("/")
    with ui.db.sessions() as session:
        rows = sequence_service.list_sequences(session=session)
        remaining = task_service.remaining_by_sequence(session=session)
    assert len(rows) == 4  # the examples: inbound, classic, recruiting, dialer
    for row in rows:
        assert f'href="/sequences/{quote(row.name, safe="")}"' in html
        assert f'aria-label="Pause {row.name}"' in html
    assert remaining[INBOUND] > 0
    cells = re.search(rf">{INBOUND}</a>.*?</tr>", html, re.S)
    assert cells is not None and f">{remaining[INBOUND]}</a>" in cells.group(0)


def test_sequence_page_shows_steps_policy_history_and_a_dry_run(ui: Ui) -> None:
    html = ui.get(f"/sequences/{quote(INBOUND)}?tz=America/Chicago")
    for text in ("first_call", "1 day at 10:00", "business days (Mon to Fri)", "no answer → next"):
        assert text in html
    assert "Versions" in html and "v1" in html and "Recent history" in html
    assert re.search(r"<strong>\d+</strong>Waiting", html)
    # The timeline starts now: the call at 10:00 in Chicago the next day, the follow-up two
    # business days later, after the switch to daylight time.
    assert "Thu 2026-03-05 10:00 CST" in html and "Mon 2026-03-09 10:00 CDT" in html
    assert "Ends:" in html
    tokyo = ui.get(f"/sequences/{quote(INBOUND)}?tz=Asia/Tokyo")
    assert "times in Asia/Tokyo" in tokyo and "before 09:00 → 09:00 Asia/Tokyo" in tokyo


def test_contact_pages_show_fields_enrollments_and_history(ui: Ui) -> None:
    listing = ui.get("/contacts?q=patel")
    assert "Maya" in listing and "Priya" not in listing
    tagged = ui.get("/contacts?tag=webinar")
    assert "Priya" in tagged and "Maya" not in tagged
    contact_id = int(re.findall(r'href="/contacts/(\d+)"', listing)[0])
    html = ui.get(f"/contacts/{contact_id}")
    for text in ("maya.patel@brightwave.example", "America/Chicago", "web-lead", INBOUND):
        assert text in html
    assert "Enrolled" in html and "History" in html


def test_tasks_page_shows_open_calls_with_their_outcomes_and_errors_with_retry(ui: Ui) -> None:
    task = _open_call(ui, INBOUND)
    html = ui.get("/tasks")
    row = re.search(rf'<tr id="task-{task["id"]}">.*?</tr>', html, re.S)
    assert row is not None
    for outcome in ("no_answer", "left_voicemail", "interested", "not_interested"):
        assert f'value="{outcome}"' in row.group(0)
    assert "Needs attention" in html and ">Retry</button>" in html
    mine = ui.get(f"/tasks?assignee={task['assignee']}")
    assert f'id="task-{task["id"]}"' in mine
    other = "ana@example.com" if task["assignee"] != "ana@example.com" else "ben@example.com"
    assert f'id="task-{task["id"]}"' not in ui.get(f"/tasks?assignee={other}")


def test_completing_a_task_moves_its_enrollment(ui: Ui) -> None:
    task = _open_call(ui, INBOUND)
    assert _enrollment(ui, task["enrollment_id"])["status"] == "waiting"
    response = ui.post(f"/tasks/{task['id']}/complete", outcome="no_answer", back="/tasks")
    assert response.status_code == 303 and response.headers["location"] == "/tasks"
    moved = _enrollment(ui, task["enrollment_id"])
    assert moved["status"] == "active" and moved["step"] != "first_call"
    assert "No answer" in _flash(response)
    html = ui.get("/tasks")
    assert f'id="task-{task["id"]}"' not in html
    assert "Done: " in html  # the flash shows once, on the page the redirect led to
    assert "Done: " not in ui.get("/tasks")
    again = ui.post(f"/tasks/{task['id']}/complete", outcome="no_answer")
    assert again.status_code == 303 and "already done" in _flash(again)


def test_a_wrong_outcome_is_refused_with_a_page(ui: Ui) -> None:
    task = _open_call(ui, INBOUND)
    response = ui.post(f"/tasks/{task['id']}/complete", outcome="maybe")
    assert response.status_code == 422 and "is not an outcome" in response.text
    assert "<html" in response.text and "Traceback" not in response.text
    assert _enrollment(ui, task["enrollment_id"])["status"] == "waiting"


def test_retrying_an_error_task_resolves_it(ui: Ui) -> None:
    with ui.db.sessions() as session:
        task = task_service.list_tasks(session=session, status="error")[0]
    response = ui.post(f"/tasks/{task['id']}/retry")
    assert response.status_code == 303
    assert "will run again" in _flash(response)
    assert f'id="task-{task["id"]}"' not in ui.get("/tasks")


def test_pausing_and_resuming_a_sequence(ui: Ui) -> None:
    path = f"/sequences/{quote(INBOUND, safe='')}"
    response = ui.post(f"{path}/pause", back=path)
    assert response.status_code == 303 and response.headers["location"] == path
    with ui.db.sessions() as session:
        assert sequence_service.sequence_detail(session=session, name=INBOUND)["status"] == "paused"
    html = ui.get(path)
    assert "paused:" in html and f'aria-label="Resume {INBOUND}"' in html
    assert ui.post(f"{path}/resume", back="/").status_code == 303
    with ui.db.sessions() as session:
        assert sequence_service.sequence_detail(session=session, name=INBOUND)["status"] == "active"
    twice = ui.post(f"{path}/resume", back="/")
    assert twice.status_code == 303 and "is active" in _flash(twice)


def test_enrollment_buttons_on_a_contact_page(ui: Ui) -> None:
    task = _open_call(ui, INBOUND)
    back = f"/contacts/{task['contact_id']}"
    response = ui.post(f"/enrollments/{task['enrollment_id']}/stop", back=back)
    assert response.status_code == 303 and response.headers["location"] == back
    assert _enrollment(ui, task["enrollment_id"])["status"] == "paused"
    assert f'id="task-{task["id"]}"' not in ui.get("/tasks")  # stopping canceled the call
    ui.post(f"/enrollments/{task['enrollment_id']}/resume", back=back)
    assert _enrollment(ui, task["enrollment_id"])["status"] != "paused"


def test_outbox_mailbox_and_texts_show_what_was_sent(ui: Ui) -> None:
    with ui.db.sessions() as session:
        sent = outbox.list_messages(session=session, status="sent")
    email = next(m for m in sent if m["channel"] == "email")
    text = next(m for m in sent if m["channel"] == "sms")
    page = ui.get("/messages?channel=email")
    table = page.split("</form>")[-1]
    assert email["to"] in table and ">sms<" not in table
    assert str(email["subject"]) in ui.get("/mailbox")
    assert str(text["to"]) in ui.get("/texts")


def test_history_filters(ui: Ui) -> None:
    task = _open_call(ui, RECRUITING)
    html = ui.get(f"/history?sequence={quote(RECRUITING)}&type=task_created")
    assert "Task created" in html and INBOUND not in html.split("</form>")[-1]
    mine = ui.get(f"/history?contact={task['contact_id']}")
    assert f'href="/contacts/{task["contact_id"]}"' in mine
    assert "No event matches" in ui.get("/history?since=2027-01-01")
    assert "not a date" in ui.get("/history?since=soon", status=422)


def test_unknown_things_are_friendly_not_found_pages(ui: Ui) -> None:
    for path in ("/sequences/No%20such", "/contacts/999999", "/contacts/abc", "/static/x.js",
                 "/static/..%2Fpages.py", "/static/vendor/x.js"):
        html = ui.get(path, status=404)
        assert "Not found" in html and 'href="/"' in html
    assert ui.post("/tasks/999999/complete", outcome="no_answer").status_code == 404
    assert ui.post("/enrollments/999999/pause").status_code == 404
    assert ui.post(f"/sequences/{quote(INBOUND)}/explode").status_code == 404
    assert "not a time zone" in ui.get(f"/sequences/{quote(INBOUND)}?tz=Mars/Base", status=422)


def test_another_site_can_neither_post_nor_be_redirected_to(ui: Ui) -> None:
    response = ui.client.post(
        f"/sequences/{quote(INBOUND)}/pause",
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    with ui.db.sessions() as session:
        assert sequence_service.sequence_detail(session=session, name=INBOUND)["status"] == "active"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\t/evil.example"):
        response = ui.post(f"/sequences/{quote(INBOUND)}/pause", back=elsewhere)
        assert response.status_code == 303 and response.headers["location"] == "/"
        ui.post(f"/sequences/{quote(INBOUND)}/resume")


def test_pages_after_the_sequence_ended(ui: Ui) -> None:
    with writing(ui.db.sessions) as session:
        sequences.end(session=session, name=RECRUITING, now=NOW)
    html = ui.get("/")
    assert f'aria-label="Pause {RECRUITING}"' not in html
    assert "Exited" in ui.get(f"/sequences/{quote(RECRUITING)}")


def test_history_names_the_person_logged_in(ui: Ui) -> None:
    task = _open_call(ui, INBOUND)
    ui.post(f"/tasks/{task['id']}/complete", outcome="no_answer", back="/tasks")
    ui.post(f"/sequences/{quote(INBOUND, safe='')}/pause")
    with ui.db.sessions() as session:
        rows = history.list_history(session=session, sequence=INBOUND)
    done = [r for r in rows if r["type"] in ("task_completed", "sequence_paused")]
    assert {r["type"] for r in done} == {"task_completed", "sequence_paused"}
    assert {r["actor"] for r in done} == {"ana@example.com"}
    html = ui.get(f"/history?sequence={quote(INBOUND)}&type=sequence_paused")
    assert "ana@example.com" in html.split("</form>")[-1]
    # The layout says who is logged in and offers to log out.
    assert "Ana Alvarez" in html and ">Log out</button>" in html
