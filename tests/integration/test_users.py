"""Users, groups and round-robin turns, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import enrollments
from cadenza.services.tasks.listing import TaskFilter, page_tasks
from cadenza.services.users import (
    add_group,
    add_user,
    get_user_by_email,
    group_members,
    list_groups,
    list_users,
    next_round_robin,
)
from cadenza.store.db import writing
from cadenza.store.models import Contact, ContactTag, Group, GroupMember, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TEAM = ["ana@example.com", "ben@example.com", "cara@example.com"]


@pytest.fixture
def team(db: Database) -> Database:
    with writing(db.sessions) as session:
        for email in TEAM:
            add_user(session=session, email=email, now=NOW)
        add_group(session=session, name="sales", member_emails=TEAM)
    return db


def _turn(db: Database, group: str = "sales") -> str:
    with writing(db.sessions) as session:
        return next_round_robin(session=session, group_name=group).email


def test_users_are_checked_and_unique(db: Database) -> None:
    with writing(db.sessions) as session:
        user = add_user(
            session=session, email=" Ana@Example.com ", name="Ana", role="manager",
            phone="(312) 555-0100", now=NOW,
        )  # fmt: skip
        assert (user.email, user.phone, user.role) == ("ana@example.com", "+13125550100", "manager")
    with writing(db.sessions) as session, pytest.raises(Conflict, match="already exists"):
        add_user(session=session, email="ANA@example.com", now=NOW)
    with writing(db.sessions) as session, pytest.raises(ValidationFailed) as caught:
        add_user(session=session, email="nope", role="boss", phone="12", now=NOW)
    assert all(part in str(caught.value) for part in ("email:", "role: 'boss'", "phone: '12'"))
    with db.sessions() as session:
        assert [u.email for u in list_users(session=session)] == ["ana@example.com"]
        assert get_user_by_email(session=session, email="ANA@example.com") is not None
        assert get_user_by_email(session=session, email="zoe@example.com") is None


def test_round_robin_rotates_through_members_in_order(team: Database) -> None:
    assert [_turn(team) for _ in range(7)] == [*TEAM, *TEAM, TEAM[0]]


def test_an_unknown_member_is_refused_by_name_and_nothing_changes(team: Database) -> None:
    with writing(team.sessions) as session, pytest.raises(NotFound, match=r"zoe@example\.com"):
        add_group(
            session=session, name="sales", member_emails=["ana@example.com", "zoe@example.com"]
        )
    with team.sessions() as session:
        group = list_groups(session=session)[0]
        assert [u.email for u in group_members(session=session, group_id=group.id)] == TEAM


def test_adding_a_group_again_replaces_its_members(team: Database) -> None:
    assert _turn(team) == "ana@example.com"
    with writing(team.sessions) as session:
        add_group(
            session=session, name="sales", member_emails=["cara@example.com", "ana@example.com"]
        )
    with team.sessions() as session:
        (group,) = list_groups(session=session)
        members = group_members(session=session, group_id=group.id)
    assert [u.email for u in members] == ["cara@example.com", "ana@example.com"]
    assert [_turn(team) for _ in range(3)] == [
        "ana@example.com",
        "cara@example.com",
        "ana@example.com",
    ]


def test_round_robin_of_an_unknown_group_is_not_found(team: Database) -> None:
    with pytest.raises(NotFound, match="no group support"):
        _turn(team, "support")


def test_concurrent_turns_are_shared_evenly(team: Database) -> None:
    """Four threads, each turn in its own transaction: the lock keeps every turn distinct."""
    with ThreadPoolExecutor(4) as pool:
        emails = list(pool.map(lambda _: _turn(team), range(30)))
    assert Counter(emails) == dict.fromkeys(TEAM, 10)
    with team.sessions() as session:
        cursor = session.scalar(select(Group.rr_cursor))
    assert cursor == 2  # 30 turns: the last went to the third member


TURNS = """
name: Turns
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: call
    action: call
    assignee: "round_robin:sales"
    reminder: true
    title: "Call for {{ user.email }}"
  - {key: owner, action: set_owner, owner: "round_robin:sales"}
"""


def test_a_batch_takes_turns_in_the_order_its_tasks_and_owners_ask(team: Database) -> None:
    """One worker batch: contact after contact, the owner its steps pick as they run, then
    the call task its decision makes, each take the group's next turn (the tasks drafted
    for their assignee), as the same contacts one by one would."""
    with writing(team.sessions) as session:
        store(session, TURNS, NOW)
        ids = [add_contact(session, NOW, email=f"c{i}@example.com") for i in range(5)]
        enrollments.enroll(
            session=session, sequence="Turns", contact_ids=ids, now=NOW, settings=SETTINGS
        )
    assert _turn(team) == TEAM[0]  # a turn taken before: the batch starts after it
    run_worker(team, at("2026-03-09T15:00:00Z"))
    turns = [TEAM[(1 + i) % 3] for i in range(2 * len(ids))]
    with team.sessions() as session:
        tasks = dict(
            session.execute(
                select(Task.contact_id, User.email).join(User, User.id == Task.assignee_id)
            ).all()
        )
        titles = dict(session.execute(select(Task.contact_id, Task.title)).all())
        owners = dict(
            session.execute(
                select(Contact.id, User.email).join(User, User.id == Contact.owner_id)
            ).all()
        )
        cursor = session.scalar(select(Group.rr_cursor))
    assert [owners[c] for c in ids] == turns[0::2]
    assert [tasks[c] for c in ids] == turns[1::2]
    assert [titles[c] for c in ids] == [f"Call for {email}" for email in turns[1::2]]
    assert cursor == TEAM.index(turns[-1])


CALLS = """
name: Calls
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: call, action: call, assignee: "round_robin:sales"}
"""
TAGS = """
name: Tags
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: reached}
"""


def test_a_group_emptied_after_the_definition_leaves_its_tasks_unassigned(team: Database) -> None:
    """The definition was checked against a group that has since lost every member: its
    call tasks still come, unassigned, and the rest of the worker's batch goes on."""
    with writing(team.sessions) as session:
        store(session, CALLS, NOW)
        store(session, TAGS, NOW)
        ids = [add_contact(session, NOW, email=f"c{i}@example.com") for i in range(3)]
        for sequence in ("Calls", "Tags"):
            enrollments.enroll(
                session=session, sequence=sequence, contact_ids=ids, now=NOW, settings=SETTINGS
            )
        session.execute(delete(GroupMember))
    run_worker(team, at("2026-03-09T15:00:00Z"))
    with team.sessions() as session:
        tasks = session.execute(select(Task.contact_id, Task.assignee_id, Task.status)).all()
        tagged = session.scalars(select(ContactTag.contact_id).where(ContactTag.tag == "reached"))
        assert sorted(tasks) == [(c, None, "open") for c in ids]
        assert sorted(tagged) == ids
        unassigned = page_tasks(session=session, where=TaskFilter(assignee="unassigned"))
        assert sorted(row["contact_id"] for row in unassigned.rows) == ids
