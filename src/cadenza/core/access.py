"""Who may do what: THE table of privileges by role, and how far a person reaches a sequence.

Two questions decide every action. Does the person's role carry the privilege at all
(`PRIVILEGES`, the same table as the README's)? And how far do they reach the sequence it
touches (`reach`): not at all (it answers 404), to view it, to work its tasks, or to edit it.
Pure: the services gather the facts from the database and ask here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum

ROLES = ("admin", "manager", "agent")
SHARING_MODES = ("private", "team", "everyone")
SHARING_ACCESS = ("view", "edit")

# privilege -> the roles that have it. Where a privilege concerns a sequence, the person
# must also reach that sequence far enough (`NEEDS`).
PRIVILEGES: dict[str, frozenset[str]] = {
    "view sequences": frozenset({"admin", "manager", "agent"}),
    "create sequences": frozenset({"admin", "manager"}),  # + agent: AGENTS_CREATE_SEQUENCES
    "edit sequences": frozenset({"admin", "manager", "agent"}),
    "activate, pause and end sequences": frozenset({"admin", "manager", "agent"}),
    "clone sequences": frozenset({"admin", "manager"}),  # a clone is a creation
    "delete sequences": frozenset({"admin", "manager"}),
    "enroll": frozenset({"admin", "manager", "agent"}),
    "complete others' tasks": frozenset({"admin", "manager"}),
    "edit contacts": frozenset({"admin", "manager", "agent"}),
    "delete contacts": frozenset({"admin", "manager"}),
    "manage users, groups, senders and keys": frozenset({"admin"}),
    "manage webhook subscriptions": frozenset({"admin"}),  # they send contacts' data out
    "see reports": frozenset({"admin", "manager"}),
    "manage contact fields": frozenset({"admin", "manager"}),  # types every import obeys
    "manage lists": frozenset({"admin", "manager"}),  # members: whoever edits contacts
    "manage blocked domains": frozenset({"admin", "manager"}),
}
# The privileges an agent also has when agents may create sequences (a setting).
CREATING = ("create sequences", "clone sequences")


class Reach(IntEnum):
    """How far a person reaches one sequence; each level includes the ones below."""

    NONE = 0  # does not see it: every question about it answers 404
    VIEW = 1  # sees it, its enrollments, tasks, messages and history
    WORK = 2  # also enrolls and works its tasks and enrollments (team members)
    EDIT = 3  # also changes it: new versions, sharing, status, deletion


# How far a sequence must be reached for each privilege that touches one.
NEEDS: dict[str, Reach] = {
    "view sequences": Reach.VIEW,
    "edit sequences": Reach.EDIT,
    "activate, pause and end sequences": Reach.EDIT,
    "clone sequences": Reach.VIEW,
    "delete sequences": Reach.EDIT,
    "enroll": Reach.WORK,
    "complete others' tasks": Reach.WORK,
}


@dataclass(frozen=True)
class Person:
    """Who acts: a user (id None for the operator at the CLI) and the users they team with."""

    user_id: int | None
    role: str
    groupmates: frozenset[int] = frozenset()  # users sharing a group with them (themselves too)
    agents_create: bool = False  # the setting AGENTS_CREATE_SEQUENCES


@dataclass(frozen=True)
class Shared:
    """What decides who reaches a sequence: its owner, its sharing and its team."""

    owner_id: int | None
    mode: str = "everyone"  # private | team | everyone
    access: str = "view"  # view | edit
    members: Collection[int] = ()


def may(person: Person, privilege: str) -> bool:
    """Whether the person's role carries the privilege (anywhere they reach)."""
    if privilege not in PRIVILEGES:
        raise KeyError(f"no privilege {privilege!r}")
    if person.role == "agent" and privilege in CREATING:
        return person.agents_create
    return person.role in PRIVILEGES[privilege]


def reach(person: Person, sequence: Shared) -> Reach:
    """How far the person reaches the sequence.

    Admins reach everything; owners edit their own; managers edit what the members of their
    groups own. Sharing gives its access to everyone (`everyone`) or to the owner's
    groupmates (`team`); a team member works the sequence's tasks at least.
    """
    if person.role == "admin":
        return Reach.EDIT
    owner = sequence.owner_id
    if owner is not None and owner == person.user_id:
        return Reach.EDIT
    if person.role == "manager" and owner is not None and owner in person.groupmates:
        return Reach.EDIT
    level = Reach.NONE
    if sequence.mode == "everyone" or (
        sequence.mode == "team" and owner is not None and owner in person.groupmates
    ):
        level = Reach.EDIT if sequence.access == "edit" else Reach.VIEW
    if person.user_id is not None and person.user_id in sequence.members:
        level = max(level, Reach.WORK)
    return level


def allowed(person: Person, privilege: str, sequence: Shared) -> bool:
    """Whether the person may use the privilege on this sequence."""
    return may(person, privilege) and reach(person, sequence) >= NEEDS.get(privilege, Reach.NONE)


def may_complete(person: Person, sequence: Shared | None, assignee_id: int | None) -> bool:
    """Whether the person may complete a task: their own, or one of a sequence they work on.

    A sequence's owner and team members work its tasks whoever they are assigned to; others
    need the privilege to complete others' tasks.
    """
    if assignee_id is not None and assignee_id == person.user_id:
        return True
    if sequence is None:
        return may(person, "complete others' tasks")
    level = reach(person, sequence)
    if level < Reach.WORK:
        return False
    own_team = person.user_id is not None and (
        person.user_id == sequence.owner_id or person.user_id in sequence.members
    )
    return own_team or may(person, "complete others' tasks")


def privileges_table() -> list[tuple[str, dict[str, bool]]]:
    """The table as the docs print it: each privilege and which roles have it."""
    return [(name, {role: role in roles for role in ROLES}) for name, roles in PRIVILEGES.items()]


def plan_limit(own: int | None, role: str, by_role: dict[str, int]) -> int | None:
    """A user's plan limit: their own when set, else their role's; None means no limit."""
    return own if own is not None else by_role.get(role)
