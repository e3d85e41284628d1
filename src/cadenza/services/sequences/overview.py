"""The sequences page's table (Aloware's columns): one row per sequence with its true counts,
when it runs, the lines it uses and why it cannot run, in a fixed number of grouped queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core import reach
from cadenza.services.history import HistoryRow
from cadenza.services.sequences.listing import ENROLLED_STATUSES
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Enrollment, Event, Group, Sequence, SequenceVersion, Task, User

OPEN_TASKS = ("open", "error")
DAYS = {"business": "Business days", "every_day": "Every day"}


@dataclass
class OverviewRow:
    """A sequence as the sequences page lists it."""

    id: int
    name: str
    status: str
    version: int
    steps: int
    process_on: str
    lines: list[str]
    enrolled: int
    remaining: int
    owner: str | None
    description: str
    problems: list[str] = field(default_factory=list)

    @property
    def shown_status(self) -> str:
        """`invalid` when it would run but cannot; otherwise its own status."""
        if self.problems and self.status in ("active", "paused", "draft"):
            return "invalid"
        return self.status


def sequence_overview(
    *, session: Session, viewer: Viewer = OPERATOR, archived: bool = False
) -> list[OverviewRow]:
    """Every sequence the viewer sees (archived ones only when asked), with its true counts."""
    latest = (
        select(SequenceVersion.sequence_id, func.max(SequenceVersion.number).label("number"))
        .group_by(SequenceVersion.sequence_id)
        .subquery()
    )
    query = (
        select(Sequence, SequenceVersion.number, SequenceVersion.definition, User.email)
        .join(latest, latest.c.sequence_id == Sequence.id)
        .join(
            SequenceVersion,
            (SequenceVersion.sequence_id == Sequence.id)
            & (SequenceVersion.number == latest.c.number),
        )
        .outerjoin(User, User.id == Sequence.owner_id)
        .where(access.visible_sequences(viewer))
        .order_by(Sequence.name)
    )
    if not archived:
        query = query.where(Sequence.status != "archived")
    found = session.execute(query).all()
    ids = [row[0].id for row in found]
    enrolled = _grouped(session, Enrollment.sequence_id, Enrollment.status, ENROLLED_STATUSES, ids)
    remaining = _grouped(session, Task.sequence_id, Task.status, OPEN_TASKS, ids)
    checker = ReferenceCheck.load(session, [row[2] for row in found])
    return [
        OverviewRow(
            id=seq.id,
            name=seq.name,
            status=seq.status,
            version=number,
            steps=len(definition.get("steps", [])),
            process_on=process_on(definition),
            lines=lines_used(definition),
            enrolled=enrolled.get(seq.id, 0),
            remaining=remaining.get(seq.id, 0),
            owner=owner,
            description=str(definition.get("description") or ""),
            problems=checker.problems(definition),
        )
        for seq, number, definition, owner in found
    ]


def _grouped(
    session: Session, key: Any, status: Any, statuses: tuple[str, ...], ids: list[int]
) -> dict[int, int]:
    """Rows per sequence in these statuses: one grouped query (an index answers it)."""
    if not ids:
        return {}
    query = select(key, func.count()).where(status.in_(statuses)).group_by(key)
    return {row[0]: row[1] for row in session.execute(query) if row[0] is not None}


def process_on(definition: dict[str, Any]) -> str:
    """When a sequence runs, in a few words: days, hours and holidays."""
    schedule = definition.get("schedule") or {}
    days = schedule.get("days", "business")
    text = DAYS.get(days, days) if isinstance(days, str) else ", ".join(d.title() for d in days)
    hours = schedule.get("hours")
    text += f", {hours['open'][:5]} to {hours['close'][:5]}" if hours else ", any hour"
    if schedule.get("run_on_holidays") or schedule.get("holidays") == "none":
        return text + ", holidays included"
    return text + ", not on holidays"


def lines_used(definition: dict[str, Any]) -> list[str]:
    """The senders a definition names (its defaults, then any step's own)."""
    lines = [str(v) for v in (definition.get("senders") or {}).values() if v]
    for step in definition.get("steps", []):
        if step.get("sender"):
            lines.append(str(step["sender"]))
    return list(dict.fromkeys(lines))


@dataclass
class ReferenceCheck:
    """Who and what definitions name, against the users and groups there are now."""

    active_users: set[str]
    inactive_users: set[str]
    groups: set[str]

    @classmethod
    def load(cls, session: Session, definitions: list[dict[str, Any]]) -> ReferenceCheck:
        """The named users and groups that exist: two queries for every definition at once."""
        emails: set[str] = set()
        groups: set[str] = set()
        for definition in definitions:
            named_users, named_groups = _named(definition)
            emails |= named_users
            groups |= named_groups
        users = session.execute(select(User.email, User.active).where(User.email.in_(emails)))
        found: dict[str, bool] = {row[0]: row[1] for row in users}
        known = set(session.scalars(select(Group.name).where(Group.name.in_(groups))))
        return cls(
            {e for e, a in found.items() if a}, {e for e, a in found.items() if not a}, known
        )

    def problems(self, definition: dict[str, Any]) -> list[str]:
        """Why this definition cannot run as it stands (empty when it can)."""
        problems: list[str] = []
        users, groups = _named(definition)
        for email in sorted(users - self.active_users):
            state = "is deactivated" if email in self.inactive_users else "does not exist"
            problems.append(f"user {email} {state}")
        problems += [f"group {name} does not exist" for name in sorted(groups - self.groups)]
        defaults = definition.get("senders") or {}
        for step in definition.get("steps", []):
            kind = _sender_kind(str(step.get("action")))
            if kind and not step.get("sender") and not defaults.get(kind):
                problems.append(f"step {step.get('key')!r} has no {kind} sender")
        return problems


def _sender_kind(action: str) -> str | None:
    return reach.of(action).sender


def _named(definition: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The user emails and group names a stored definition refers to."""
    users: set[str] = set()
    groups: set[str] = set()
    if definition.get("owner"):
        users.add(str(definition["owner"]).strip().lower())
    users |= {str(email).strip().lower() for email in definition.get("team") or ()}
    for step in definition.get("steps", []):
        for name in ("assignee", "owner", "to"):
            kind, _, value = str(step.get(name) or "").partition(":")
            if kind == "user" and value:
                users.add(value.strip().lower())
            elif kind in ("round_robin", "group") and value:
                groups.add(value.strip())
    return users, groups


def recent_events(*, session: Session, sequence: Sequence, limit: int = 25) -> list[HistoryRow]:
    """The sequence's latest events, newest first, read along its (sequence, time) index."""
    query = (
        select(Event)
        .where(Event.sequence_id == sequence.id)
        .order_by(Event.time.desc(), Event.id.desc())
        .limit(limit)
    )
    return [
        {
            "time": event.time.isoformat(),
            "type": event.type,
            "sequence": sequence.name,
            "contact_id": event.contact_id,
            "enrollment_id": event.enrollment_id,
            "step": event.step,
            "actor": event.actor,
            "reason": event.reason,
            "data": event.data,
        }
        for event in session.scalars(query)
    ]
