"""Sequences and their immutable versions: apply a definition, list and show sequences."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition, ManualStepBase, NotifyStep, SetOwnerStep
from cadenza.errors import NotFound
from cadenza.store.models import Group, Sequence, SequenceVersion, User

# Enrollments that count as "in" a sequence on listings.
ENROLLED_STATUSES = ("active", "waiting", "paused")


@dataclass(frozen=True)
class ApplyResult:
    name: str
    version: int
    created: bool
    changed: bool

    @property
    def verb(self) -> str:
        return "created" if self.created else "updated" if self.changed else "unchanged"


class UnknownReferences(NotFound):
    """A definition names users or groups that do not exist; nothing was written."""

    def __init__(self, name: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(f"sequence {name!r} refused: " + "; ".join(missing))


def canonical(definition: Definition) -> dict[str, Any]:
    """The stored form of a definition: the model's JSON, aliases as written."""
    return definition.model_dump(mode="json", by_alias=True)


def digest(stored: dict[str, Any]) -> str:
    """sha256 of the canonical JSON text (sorted keys, no spaces)."""
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply_definition(
    *, session: Session, definition: Definition, source: str, now: datetime
) -> ApplyResult:
    """Store a definition as its sequence's next version, unless the latest is the same.

    A new sequence starts `active`. Templates must already be inlined (`core.lint` does it).
    A definition naming a user or group that does not exist raises UnknownReferences.
    """
    owner_id = _check_references(session=session, definition=definition)
    stored = canonical(definition)
    fingerprint = digest(stored)
    sequence = session.scalar(select(Sequence).where(Sequence.name == definition.name))
    created = sequence is None
    if sequence is None:
        sequence = Sequence(name=definition.name, status="active", created_at=now, updated_at=now)
        session.add(sequence)
        session.flush()
    latest = _latest(session=session, sequence_id=sequence.id)
    if latest is not None and latest.digest == fingerprint:
        return ApplyResult(definition.name, latest.number, created=False, changed=False)
    number = 1 if latest is None else latest.number + 1
    session.add(
        SequenceVersion(
            sequence_id=sequence.id,
            number=number,
            definition=stored,
            digest=fingerprint,
            source=source,
            created_at=now,
        )
    )
    sequence.owner_id = owner_id
    sequence.updated_at = now
    session.flush()
    return ApplyResult(definition.name, number, created=created, changed=True)


def references(definition: Definition) -> tuple[dict[str, str], dict[str, str]]:
    """The users (by email) and groups a definition names, each with where it is named."""
    users: dict[str, str] = {}
    groups: dict[str, str] = {}
    if definition.owner:
        users.setdefault(definition.owner.strip().lower(), "owner")
    for index, step in enumerate(definition.steps):
        rule = _rule_of(step)
        if rule is None:
            continue
        kind, _, value = rule[1].partition(":")
        where = f"steps[{index}].{rule[0]}"
        if kind == "user":
            users.setdefault(value.strip().lower(), where)
        elif kind in ("round_robin", "group"):
            groups.setdefault(value.strip(), where)
    return users, groups


def _rule_of(step: object) -> tuple[str, str] | None:
    if isinstance(step, ManualStepBase) and step.assignee:
        return "assignee", step.assignee
    if isinstance(step, SetOwnerStep):
        return "owner", step.owner
    if isinstance(step, NotifyStep):
        return "to", step.to
    return None


def _check_references(*, session: Session, definition: Definition) -> int | None:
    """The owner's user id; raise UnknownReferences listing every missing user and group."""
    users, groups = references(definition)
    user_rows = session.execute(select(User.email, User.id).where(User.email.in_(users)))
    found_users: dict[str, int] = {row[0]: row[1] for row in user_rows}
    found_groups = set(session.scalars(select(Group.name).where(Group.name.in_(groups))))
    missing = [
        f"no user {email} ({where})" for email, where in users.items() if email not in found_users
    ]
    missing += [
        f"no group {name} ({where})" for name, where in groups.items() if name not in found_groups
    ]
    if missing:
        raise UnknownReferences(definition.name, missing)
    return found_users.get(definition.owner.strip().lower()) if definition.owner else None


def _latest(*, session: Session, sequence_id: int) -> SequenceVersion | None:
    return session.scalar(
        select(SequenceVersion)
        .where(SequenceVersion.sequence_id == sequence_id)
        .order_by(SequenceVersion.number.desc())
        .limit(1)
    )
