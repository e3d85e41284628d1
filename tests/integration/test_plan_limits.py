"""Plan limits: active sequences a user may own, sequence emails a user's sequences send a day."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.engine.worker import Worker
from cadenza.services import enrollments
from cadenza.services.history import list_history
from cadenza.settings import Settings
from cadenza.store.models import Message, Sequence, User
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, cadenza_command, store, write
from tests.integration.api_client import problem
from tests.integration.people import ANA, PRIVATE, ROOT, YAML, People, people_api
from tests.smtp_server import Catcher, smtp_catcher

EMAILS = f"""
name: Ana emails
owner: {ANA}
senders: {{email: sales@acme.example}}
schedule: {{timezone: America/Chicago, days: every_day, holidays: none}}
steps:
  - {{key: hello, action: email, subject: "Hi", body: "<p>Hello</p>"}}
"""
HELD = f"held: {ANA} at 1 emails/day (plan limit)"


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def _limit(db: Database, **limits: int) -> None:
    with write(db) as session:
        session.execute(update(User).where(User.email == ANA).values(**limits))


def test_an_activation_past_the_owners_limit_is_refused_with_the_reason(people: People) -> None:
    _limit(people.db, max_active_sequences=1)
    root = people.as_(ROOT)
    first = PRIVATE.format(name="First", owner=ANA)
    second = PRIVATE.format(name="Second", owner=ANA)
    root.ok("POST", "/sequences", 201, content=first, headers=YAML)
    refused = problem(root.post("/sequences", content=second, headers=YAML), 409)
    assert refused["title"] == "Plan limit reached"
    assert (
        f"{ANA} already owns 1 active sequences, the limit of their plan (1)" in refused["detail"]
    )
    problem(root.get("/sequences/Second"), 404)  # nothing was written

    root.ok("POST", "/sequences/First/pause")
    root.ok("POST", "/sequences", 201, content=second, headers=YAML)
    refused = problem(root.post("/sequences/First/resume"), 409)
    assert "'First' cannot become active" in refused["detail"]
    assert root.ok("GET", "/sequences/First")["status"] == "paused"

    root.ok("POST", "/sequences/Second/clone", 201, json={"name": "Draft"})
    draft = PRIVATE.format(name="Draft", owner=ANA)
    root.ok("POST", "/sequences", content=draft, headers=YAML)  # a draft may change hands
    refused = problem(root.post("/sequences/Draft/activate"), 409)
    assert "'Draft' cannot become active" in refused["detail"]
    assert root.ok("GET", "/sequences/Draft")["status"] == "draft"


def test_the_roles_limit_applies_unless_the_user_has_their_own(
    db: Database, tmp_path: Path
) -> None:
    with people_api(db, tmp_path, plan_active_sequences={"agent": 1}) as people:
        root = people.as_(ROOT)
        root.ok(
            "POST", "/sequences", 201, content=PRIVATE.format(name="A", owner=ANA), headers=YAML
        )
        text = PRIVATE.format(name="B", owner=ANA)
        problem(root.post("/sequences", content=text, headers=YAML), 409)
        _limit(db, max_active_sequences=2)
        root.ok("POST", "/sequences", 201, content=text, headers=YAML)
        root.ok(
            "POST", "/sequences", 201, content=PRIVATE.format(name="C", owner=ROOT), headers=YAML
        )


def _enroll_two(db: Database, now: str) -> None:
    with write(db) as session:
        store(session, EMAILS, at(now))
        ids = [
            add_contact(session, at(now), email=f"lead{n}@lead.example", phone=None) for n in (1, 2)
        ]
        enrollments.enroll(
            session=session,
            sequence="Ana emails",
            contact_ids=ids,
            now=at(now),
            settings=Settings(environment="test"),
        )


def _queued(db: Database) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(Message.recipient).order_by(Message.id)))


def test_sends_past_the_owners_daily_limit_are_held_with_the_reason_then_sent(
    db: Database,
) -> None:
    with write(db) as session:
        session.add(User(email=ANA, role="agent", created_at=at("2026-12-01T00:00:00Z")))
    settings = Settings(environment="test", plan_emails_per_day={"agent": 1})
    _enroll_two(db, "2026-12-01T10:00:00-06:00")
    Worker(db.sessions, FixedClock(at("2026-12-01T10:00:00-06:00")), settings).drain()
    assert _queued(db) == ["lead1@lead.example"]
    with db.sessions() as session:
        deferred = list_history(session=session, types=["deferred"])
    assert [row["reason"] for row in deferred] == [HELD]
    assert deferred[0]["data"]["due_at"].startswith("2026-12-02T00:00:00")

    Worker(db.sessions, FixedClock(at("2026-12-02T00:00:01Z")), settings).drain()
    assert _queued(db) == ["lead1@lead.example", "lead2@lead.example"]


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as running:
        yield running


def test_the_dispatcher_holds_queued_emails_past_the_limit_until_the_next_day(
    db: Database, catcher: Catcher, tmp_path: Path
) -> None:
    with write(db) as session:
        session.add(User(email=ANA, role="agent", created_at=at("2026-12-01T00:00:00Z")))
    now = "2026-12-01T10:00:00-06:00"
    _enroll_two(db, now)
    Worker(db.sessions, FixedClock(at(now)), Settings(environment="test")).drain()
    assert len(_queued(db)) == 2  # queued while no limit applied
    _limit(db, max_emails_per_day=1)
    settings = Settings(
        environment="test",
        smtp_port=catcher.port,
        sms_sink_path=str(tmp_path / "sink.jsonl"),
        secret_key="s3cret",
    )
    sent = _dispatch(db, settings, now)
    assert sent == 1
    with db.sessions() as session:
        statuses = [m.status for m in session.scalars(select(Message).order_by(Message.id))]
        held = list_history(session=session, types=["message_deferred"])
        sequence_status = session.scalar(select(Sequence.status))
    assert sorted(statuses) == ["queued", "sent"] and sequence_status == "active"
    assert [row["reason"] for row in held] == [HELD]
    assert _dispatch(db, settings, "2026-12-02T00:00:01Z") == 1
    assert len(catcher.messages) == 2


def _dispatch(db: Database, settings: Settings, now: str) -> int:
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        return dispatcher.drain()
    finally:
        dispatcher.close()


def test_the_cli_sets_a_users_own_limits_and_gives_back_their_roles(
    db: Database, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env |= {"CADENZA_DATABASE_URL": db.url, "CADENZA_PLAN_EMAILS_PER_DAY": '{"agent": 500}'}

    def cadenza(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        command = cadenza_command("users", "limits", *args)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == code, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    with people_api(db, tmp_path) as people:
        shown = cadenza(ANA, "--active-sequences", "1").stdout
        assert f"{ANA}: active sequences: 1 (own)" in shown
        assert f"{ANA}: emails a day: 500 (the agent role's)" in shown
        root = people.as_(ROOT)
        root.ok(
            "POST", "/sequences", 201, content=PRIVATE.format(name="A", owner=ANA), headers=YAML
        )
        text = PRIVATE.format(name="B", owner=ANA)
        problem(root.post("/sequences", content=text, headers=YAML), 409)
        row = json.loads(cadenza(ANA, "--active-sequences", "role", "--json").stdout)
        assert row["max_active_sequences"] is None and row["max_emails_per_day"] == 500
        root.ok("POST", "/sequences", 201, content=text, headers=YAML)
    assert "must be 1 or more" in cadenza(ANA, "--emails-per-day", "0", code=1).stderr
    assert "'many'" in cadenza(ANA, "--emails-per-day", "many", code=2).stderr
    assert "no user ghost@example.com" in cadenza("ghost@example.com", code=1).stderr
