"""`prune` removes old history and sent bodies, exported first, never what a running
enrollment may read; `backup` copies a live SQLite database."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from cadenza.services import enrollments
from cadenza.services.operations import prune
from cadenza.store.models import Event, Message
from tests.conftest import Database
from tests.engine_helpers import (
    SETTINGS,
    add_contact,
    at,
    cadenza_command,
    run_worker,
    store,
    write,
)

ONE_STEP = """
name: Once
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: seen}
"""
LONG = """
name: Long
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: first, action: add_tag, tag: first}
  - {key: later, action: add_tag, tag: later, wait: {days: 400}}
"""
OLD, MIDDLE, NOW = (
    at("2026-01-05T12:00:00Z"),
    at("2026-03-02T12:00:00Z"),
    at("2026-06-01T12:00:00Z"),
)


def _world(db: Database, running: bool) -> None:
    """A contact's finished enrollment in January, another's running one from March."""
    with write(db) as session:
        store(session, ONE_STEP, OLD)
        store(session, LONG, OLD)
        done = add_contact(session, OLD, email="done@example.com")
        enrollments.enroll(
            session=session, sequence="Once", contact_ids=[done], now=OLD, settings=SETTINGS
        )
        session.add(
            Message(
                key="m:old",
                channel="email",
                recipient="done@example.com",
                body="<p>Hi</p>",
                status="sent",
                created_at=OLD,
                meta={},
            )
        )
    run_worker(db, OLD)
    if running:
        with write(db) as session:
            other = add_contact(session, MIDDLE, email="running@example.com")
            enrollments.enroll(
                session=session,
                sequence="Long",
                contact_ids=[other],
                now=MIDDLE,
                settings=SETTINGS,
            )
        run_worker(db, MIDDLE)


def _count(db: Database, *where: object) -> int:
    with db.sessions() as session:
        return session.execute(select(func.count()).select_from(Event).where(*where)).scalar_one()


def test_prune_exports_then_removes_old_history_and_bodies(db: Database) -> None:
    _world(db, running=False)
    old = _count(db, Event.time < MIDDLE)
    assert old > 0
    export = io.BytesIO()
    with write(db) as session:
        report = prune(session=session, before=MIDDLE, export=export)
    lines = [json.loads(line) for line in export.getvalue().splitlines()]
    assert report.events == old == len([x for x in lines if x["kind"] == "event"])
    assert [x["body"] for x in lines if x["kind"] == "message_body"] == ["<p>Hi</p>"]
    assert report.bodies == 1
    assert _count(db, Event.time < MIDDLE) == 0
    with db.sessions() as session:
        message = session.scalars(select(Message).where(Message.key == "m:old")).one()
        assert (message.body, message.status) == ("", "sent")
    with write(db) as session:  # again: nothing more to remove
        assert prune(session=session, before=MIDDLE).events == 0


def test_prune_keeps_what_a_running_enrollment_may_read(db: Database) -> None:
    _world(db, running=True)
    since_march = _count(db, Event.time >= MIDDLE)
    with write(db) as session:
        report = prune(session=session, before=NOW)
    assert report.cutoff == MIDDLE  # the running enrollment's start, not the date asked
    assert _count(db, Event.time < MIDDLE) == 0
    assert _count(db, Event.time >= MIDDLE) == since_march > 0


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env |= {"CADENZA_DATABASE_URL": db_url, "CADENZA_ENVIRONMENT": "test"}
    return subprocess.run(
        cadenza_command(*args), env=env, capture_output=True, text=True, check=False
    )


def test_prune_and_backup_from_the_command_line(db: Database, tmp_path: Path) -> None:
    _world(db, running=False)
    refused = _cli(db.url, "prune")
    assert refused.returncode == 1
    assert "CADENZA_RETENTION_DAYS" in refused.stderr
    assert _cli(db.url, "prune", "--before", "soon").returncode == 2
    export = tmp_path / "old.jsonl"
    done = _cli(db.url, "prune", "--before", "2026-03-02T12:00:00Z", "--export", str(export))
    assert done.returncode == 0, done.stderr
    assert "message bodies" in done.stdout
    assert export.read_text().count('"kind":"event"') > 0
    again = _cli(db.url, "prune", "--before", "2026-03-02T12:00:00Z", "--export", str(export))
    assert again.returncode == 1 and "exists" in again.stderr
    copy = tmp_path / "copy.db"
    backup = _cli(db.url, "backup", str(copy))
    if db.url.startswith("sqlite"):
        assert backup.returncode == 0, backup.stderr
        with sqlite3.connect(copy) as connection:
            contacts = connection.execute("SELECT email FROM contacts").fetchall()
        assert contacts == [("done@example.com",)]
    else:
        assert backup.returncode == 1
        assert "pg_dump" in backup.stderr
        assert not copy.exists()
