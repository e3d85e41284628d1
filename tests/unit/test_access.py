"""The privileges table and how far a person reaches a sequence (core.access)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cadenza.core.access import (
    PRIVILEGES,
    ROLES,
    Person,
    Reach,
    Shared,
    allowed,
    may,
    may_complete,
    plan_limit,
    privileges_table,
    reach,
)

DOC = Path(__file__).parents[2] / "docs" / "access.md"
ANA, BO, CY, MIA = 1, 2, 3, 4  # Ana and Mia (manager) share a group; Bo and Cy do not
ana = Person(ANA, "agent", frozenset({ANA, MIA}))
bo = Person(BO, "agent", frozenset({BO}))
mia = Person(MIA, "manager", frozenset({ANA, MIA}))
boss = Person(CY, "admin")


def _documented() -> list[tuple[str, dict[str, bool]]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- privileges:")[1].split("<!-- end privileges -->")[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header == ["privilege", *ROLES]
    table = []
    for line in rows[1:]:
        name, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        table.append((name, {role: cell == "yes" for role, cell in zip(ROLES, cells, strict=True)}))
    return table


def test_the_documented_table_is_the_code_table() -> None:
    assert _documented() == privileges_table()
    assert len(PRIVILEGES) == 16


def test_agents_create_sequences_only_when_the_setting_says_so() -> None:
    assert not may(ana, "create sequences") and not may(ana, "clone sequences")
    creative = Person(ANA, "agent", agents_create=True)
    assert may(creative, "create sequences") and may(creative, "clone sequences")
    assert not may(creative, "delete sequences")
    with pytest.raises(KeyError):
        may(ana, "fly")


def test_a_private_sequence_is_its_owners_their_managers_and_the_admins() -> None:
    private = Shared(ANA, "private")
    assert reach(ana, private) == Reach.EDIT
    assert reach(mia, private) == Reach.EDIT
    assert reach(boss, private) == Reach.EDIT
    assert reach(bo, private) == Reach.NONE
    assert reach(Person(BO, "manager", frozenset({BO})), private) == Reach.NONE


def test_sharing_gives_its_access_to_everyone_or_to_the_owners_groupmates() -> None:
    assert reach(bo, Shared(ANA, "everyone", "view")) == Reach.VIEW
    assert reach(bo, Shared(ANA, "everyone", "edit")) == Reach.EDIT
    assert reach(bo, Shared(ANA, "team", "edit")) == Reach.NONE
    teammate = Person(BO, "agent", frozenset({BO, ANA}))
    assert reach(teammate, Shared(ANA, "team", "view")) == Reach.VIEW
    assert reach(bo, Shared(None, "team", "edit")) == Reach.NONE


def test_team_members_work_a_sequence_without_editing_it() -> None:
    shared = Shared(ANA, "private", members={BO})
    assert reach(bo, shared) == Reach.WORK
    assert allowed(bo, "enroll", shared)
    assert not allowed(bo, "activate, pause and end sequences", shared)
    assert may_complete(bo, shared, assignee_id=ANA)


def test_who_completes_a_task() -> None:
    viewable = Shared(ANA, "everyone", "view")
    assert may_complete(bo, viewable, assignee_id=BO)  # their own, whatever the sequence
    assert not may_complete(bo, viewable, assignee_id=ANA)
    assert not may_complete(bo, Shared(ANA, "everyone", "edit"), assignee_id=ANA)
    assert may_complete(ana, Shared(ANA, "private"), assignee_id=CY)  # the owner's sequence
    assert may_complete(mia, Shared(ANA, "private"), assignee_id=ANA)
    assert not may_complete(mia, Shared(BO, "private"), assignee_id=BO)
    assert may_complete(boss, None, assignee_id=BO)
    assert not may_complete(bo, None, assignee_id=ANA)


def test_a_users_own_plan_limit_replaces_their_roles() -> None:
    assert plan_limit(None, "agent", {"agent": 5}) == 5
    assert plan_limit(2, "agent", {"agent": 5}) == 2
    assert plan_limit(None, "admin", {"agent": 5}) is None


def test_the_table_names_only_roles() -> None:
    for roles in PRIVILEGES.values():
        assert roles <= set(ROLES)
    assert all(re.fullmatch(r"[a-z' ,]+", name) for name in PRIVILEGES)
