"""Applying definitions: one version per distinct definition, old versions kept, users checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cadenza.core.definition import Definition
from cadenza.core.lint import lint_text
from cadenza.errors import NotFound
from cadenza.services.sequences import (
    UnknownReferences,
    apply_definition,
    get_sequence,
    latest_definition,
    list_sequences,
    sequence_detail,
)
from cadenza.services.users import add_group, add_user
from cadenza.store.db import writing
from cadenza.store.models import Contact, Enrollment, Sequence, SequenceVersion
from tests.conftest import Database

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SOURCE = """\
name: Inbound
description: First touches
owner: ana@example.com
senders: {sms: "+13125550100"}
steps:
  - key: intro
    action: sms
    body: "Hi {{ contact.first_name }}"
  - key: call
    action: call
    wait: {days: 1, at: "10:00"}
    assignee: round_robin:sales-team
"""


def parse(text: str) -> Definition:
    definition, problems = lint_text(text, "seq.yaml")
    assert problems == [] and definition is not None
    return definition


def add_people(db: Database) -> None:
    with writing(db.sessions) as session:
        add_user(session=session, email="ana@example.com", name="Ana", now=NOW)
        add_user(session=session, email="ben@example.com", name="Ben", now=NOW)
        add_group(session=session, name="sales-team", member_emails=["ana@example.com"])


def apply(db: Database, text: str, now: datetime = NOW) -> tuple[str, int, bool, bool]:
    with writing(db.sessions) as session:
        result = apply_definition(session=session, definition=parse(text), source=text, now=now)
    return result.name, result.version, result.created, result.changed


def test_applying_twice_makes_one_version(db: Database) -> None:
    add_people(db)
    assert apply(db, SOURCE) == ("Inbound", 1, True, True)
    assert apply(db, SOURCE, NOW + timedelta(hours=1)) == ("Inbound", 1, False, False)
    with db.sessions() as session:
        sequence, versions = get_sequence(session=session, name="Inbound")
    assert [v.number for v in versions] == [1]
    assert sequence.status == "active"
    assert sequence.updated_at == NOW


def test_an_edit_makes_a_new_version_and_keeps_the_old(db: Database) -> None:
    add_people(db)
    apply(db, SOURCE)
    edited = SOURCE.replace("Hi {{", "Hello {{")
    later = NOW + timedelta(days=1)
    assert apply(db, edited, later) == ("Inbound", 2, False, True)
    with db.sessions() as session:
        _, versions = get_sequence(session=session, name="Inbound")
        version, definition = latest_definition(session=session, name="Inbound")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].definition["steps"][0]["body"] == "Hi {{ contact.first_name }}"
    assert versions[0].source == SOURCE and versions[1].source == edited
    assert versions[0].digest != versions[1].digest
    assert version.number == 2 and definition.steps[0].body == "Hello {{ contact.first_name }}"  # type: ignore[union-attr]
    assert definition.steps[1].wait == parse(SOURCE).steps[1].wait  # times survive the round trip


def test_unknown_users_and_groups_are_refused_and_nothing_is_written(db: Database) -> None:
    text = SOURCE.replace("assignee: round_robin:sales-team", "assignee: user:zed@example.com")
    text += "  - {key: tell, action: notify, to: 'group:closers'}\n"
    with pytest.raises(UnknownReferences) as caught, writing(db.sessions) as session:
        apply_definition(session=session, definition=parse(text), source=text, now=NOW)
    assert caught.value.missing == [
        "no user ana@example.com (owner)",
        "no user zed@example.com (steps[1].assignee)",
        "no group closers (steps[2].to)",
    ]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Sequence)) == 0
        assert session.scalar(select(func.count()).select_from(SequenceVersion)) == 0


def test_list_and_show(db: Database) -> None:
    add_people(db)
    apply(db, SOURCE)
    apply(db, SOURCE.replace("First touches", "First touches, v2"), NOW + timedelta(hours=2))
    _enroll_one(db)
    with db.sessions() as session:
        rows = list_sequences(session=session)
        detail = sequence_detail(session=session, name="Inbound")
        with pytest.raises(NotFound):
            sequence_detail(session=session, name="Nope")
    assert len(rows) == 1
    row = rows[0]
    assert (row.name, row.status, row.steps, row.version) == ("Inbound", "active", 2, 2)
    assert row.enrolled == 1  # the completed enrollment does not count
    assert (row.owner, row.description) == ("ana@example.com", "First touches, v2")
    assert row.created_at == NOW and row.updated_at == NOW + timedelta(hours=2)
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["definition"]["description"] == "First touches, v2"


def _enroll_one(db: Database) -> None:
    with writing(db.sessions) as session:
        sequence, versions = get_sequence(session=session, name="Inbound")
        contact = Contact(first_name="Maya", created_at=NOW, updated_at=NOW)
        session.add(contact)
        session.flush()
        for status in ("active", "completed"):
            session.add(
                Enrollment(
                    sequence_id=sequence.id,
                    version_id=versions[-1].id,
                    contact_id=contact.id,
                    status=status,
                    enrolled_at=NOW,
                    updated_at=NOW,
                )
            )
