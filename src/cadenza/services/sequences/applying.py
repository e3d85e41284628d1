"""Sequences as code: lint definitions, then store each as its sequence's next version.

`lint_files` and `lint_source` are the first half of "lint then apply" (no database: the
API lints before its write transaction takes a lock), `apply_sources` the second; every
adapter goes through both, so a definition is refused the same way from a file, the API
or the demo.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition, ManualStepBase, NotifyStep, SetOwnerStep
from cadenza.core.lint import lint_file, lint_text
from cadenza.core.lint.yamlmap import load
from cadenza.errors import DefinitionError, Forbidden, NotFound, Problem
from cadenza.services import history, lists
from cadenza.services.sequences.plan import check_active_limit
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings, get_settings
from cadenza.store.models import Group, SavedView, SequenceMember, SequenceVersion, User
from cadenza.store.models import Sequence as SequenceRow


@dataclass(frozen=True)
class Source:
    """A linted definition: where it came from, its text, and what it defines."""

    name: str
    text: str
    definition: Definition


def lint_files(paths: Sequence[str | Path]) -> list[Source]:
    """Every file linted; DefinitionError with all their problems when any has one."""
    sources: list[Source] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            definition, found = lint_file(path)
        except NotFound as exc:
            problems.append(Problem(str(path), 1, 1, str(exc).removeprefix(f"{path}: ")))
            continue
        problems += found
        if definition is not None and not found:
            text = Path(path).read_text(encoding="utf-8")
            sources.append(Source(str(path), text, definition))
    if problems:
        raise DefinitionError(problems)
    return sources


def lint_source(text: str, name: str) -> Source:
    """A definition sent as text (no template file is read); DefinitionError on problems."""
    definition, problems = lint_text(text, name, read_files=False)
    if problems or definition is None:
        raise DefinitionError(problems)
    return Source(name, text, definition)


def apply_sources(
    *,
    session: Session,
    sources: Sequence[Source],
    now: datetime,
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> list[ApplyResult]:
    """Apply linted definitions, all or none: every unknown user or group of every one is named."""
    _check_fields(session, sources)
    results: list[ApplyResult] = []
    refused: list[UnknownReferences] = []
    view_problems = [p for source in sources for p in _unknown_views(session, source)]
    if view_problems:
        raise DefinitionError(view_problems)
    for source in sources:
        try:
            results.append(
                apply_definition(
                    session=session,
                    definition=source.definition,
                    source=source.text,
                    now=now,
                    viewer=viewer,
                    settings=settings,
                )
            )
        except UnknownReferences as exc:
            refused.append(exc)
    if len(refused) == 1:
        raise refused[0]
    if refused:
        missing = [item for exc in refused for item in exc.missing]
        raise UnknownReferences("; ".join(str(exc) for exc in refused), missing, whole=True)
    return results


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

    def __init__(self, name: str, missing: list[str], *, whole: bool = False) -> None:
        self.missing = missing
        super().__init__(name if whole else f"sequence {name!r} refused: " + "; ".join(missing))


def canonical(definition: Definition) -> dict[str, Any]:
    """The stored form of a definition: the model's JSON, aliases as written."""
    stored = definition.model_dump(mode="json", by_alias=True)
    for key in ("sharing", "team"):  # absent, as before they existed: digests stay the same
        if stored.get(key) is None:
            stored.pop(key, None)
    if stored.get("enrollment", {}).get("list", 0) is None:  # as before lists existed
        stored["enrollment"].pop("list")
    if stored.get("exit", {}).get("company_replies") is False:
        stored["exit"].pop("company_replies")
    for step in stored.get("steps", []):  # a step without A/B variants, as before them
        if step.get("variants") == []:
            step.pop("variants")
        if "winner" in step and step["winner"] is None:
            step.pop("winner")
    return stored


def digest(stored: dict[str, Any]) -> str:
    """sha256 of the canonical JSON text (sorted keys, no spaces)."""
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply_definition(
    *,
    session: Session,
    definition: Definition,
    source: str,
    now: datetime,
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> ApplyResult:
    """Store a definition as its sequence's next version, unless the latest is the same.

    A new sequence starts `active`, owned by the definition's `owner` or else by whoever
    applies it. Templates must already be inlined (`core.lint` does it). A definition naming
    a user or group that does not exist raises UnknownReferences.
    """
    users = _check_references(session=session, definition=definition)
    stored = canonical(definition)
    fingerprint = digest(stored)
    sequence, created = _target(session, definition, users, now, viewer, settings)
    if sequence.status == "active":
        lists.check_binding(session=session, sequence=sequence, definition=definition)
    set_sharing(session, sequence, definition, users)
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
    sequence.updated_at = now
    session.flush()
    history.record(
        session,
        history.Subject(None, sequence.id),
        "sequence_created" if created else "sequence_updated",
        now,
        reason=f"version {number} applied by {viewer.actor}",
        actor=viewer.actor,
        version=number,
    )
    if sequence.status == "active" and definition.enrollment.list_ is not None:
        lists.enroll_members(
            session=session, sequence=sequence, list_name=definition.enrollment.list_, now=now,
            settings=settings or get_settings(), actor=viewer.actor,
        )  # fmt: skip
    return ApplyResult(definition.name, number, created=created, changed=True)


def _target(
    session: Session,
    definition: Definition,
    users: dict[str, int],
    now: datetime,
    viewer: Viewer,
    settings: Settings | None,
) -> tuple[SequenceRow, bool]:
    """The sequence a definition applies to (made when new) with its owner set, once the
    viewer may create or edit it and the owner's plan allows it; and whether it is new."""
    sequence = session.scalar(select(SequenceRow).where(SequenceRow.name == definition.name))
    owner_id = users.get(definition.owner.strip().lower()) if definition.owner else None
    if sequence is None:
        access.require(viewer, "create sequences")
        owner_id = owner_id if owner_id is not None else viewer.user_id
        check_active_limit(session, owner_id, settings, becoming=definition.name)
        _may_own(viewer, None, owner_id, definition.name)
        sequence = SequenceRow(
            name=definition.name, status="active", owner_id=owner_id, created_at=now, updated_at=now
        )
        session.add(sequence)
        session.flush()
        return sequence, True
    _may_edit(session, viewer, sequence)
    if owner_id is not None and owner_id != sequence.owner_id:
        _may_own(viewer, sequence.owner_id, owner_id, definition.name)
        if sequence.status == "active":
            check_active_limit(session, owner_id, settings, becoming=definition.name)
        sequence.owner_id = owner_id
    return sequence, False


def _may_edit(session: Session, viewer: Viewer, sequence: SequenceRow) -> None:
    try:
        access.check(session, viewer, sequence, "edit sequences")
    except NotFound:  # the name is taken: saying so tells no more than a refusal would
        raise Forbidden(
            f"a sequence named {sequence.name!r} already exists and {viewer.actor} may not edit it"
        ) from None


def _may_own(viewer: Viewer, current: int | None, owner_id: int | None, name: str) -> None:
    """Agents give sequences only to themselves, and only their own away: otherwise one could
    take over a sequence shared with them for editing."""
    if viewer.person.role != "agent":
        return
    if current is None and owner_id in (None, viewer.user_id):
        return
    if current is not None and current == viewer.user_id:
        return
    raise Forbidden(
        f"agent {viewer.actor} may not make someone else's sequence theirs or give one to "
        f"another user ({name!r}): a manager or an admin changes owners"
    )


def set_sharing(
    session: Session, sequence: SequenceRow, definition: Definition, users: dict[str, int]
) -> None:
    """What the definition says of sharing and team, stored (absent: left as it is)."""
    if definition.sharing is not None:
        sequence.sharing = definition.sharing.mode
        sequence.sharing_access = definition.sharing.access
    if definition.team is not None:
        team = {users[email.strip().lower()] for email in definition.team}
        replace_team(session, sequence.id, team)


def replace_team(session: Session, sequence_id: int, user_ids: set[int]) -> None:
    """A sequence's additional team members become exactly these users."""
    session.execute(delete(SequenceMember).where(SequenceMember.sequence_id == sequence_id))
    if user_ids:
        rows = [{"sequence_id": sequence_id, "user_id": uid} for uid in sorted(user_ids)]
        session.execute(insert(SequenceMember), rows)


def references(definition: Definition) -> tuple[dict[str, str], dict[str, str]]:
    """The users (by email) and groups a definition names, each with where it is named."""
    users: dict[str, str] = {}
    groups: dict[str, str] = {}
    if definition.owner:
        users.setdefault(definition.owner.strip().lower(), "owner")
    for index, email in enumerate(definition.team or ()):
        users.setdefault(email.strip().lower(), f"team[{index}]")
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


def _check_references(*, session: Session, definition: Definition) -> dict[str, int]:
    """The ids of the users named; raise UnknownReferences listing every missing user and group."""
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
    return found_users


def _latest(*, session: Session, sequence_id: int) -> SequenceVersion | None:
    return session.scalar(
        select(SequenceVersion)
        .where(SequenceVersion.sequence_id == sequence_id)
        .order_by(SequenceVersion.number.desc())
        .limit(1)
    )


def _unknown_views(session: Session, source: Source) -> list[Problem]:
    """An audience naming a view of contacts that does not exist, at its line."""
    audience = source.definition.enrollment.audience
    if audience is None or audience.view is None:
        return []
    query = select(SavedView.kind).where(func.lower(SavedView.name) == audience.view.lower())
    if session.scalar(query) == "contacts":
        return []
    mark = load(source.text).source.at(("enrollment", "audience", "view"))
    message = f"enrollment.audience.view: no view of contacts named {audience.view!r}"
    return [Problem(source.name, mark.line, mark.col, message)]


def _check_fields(session: Session, sources: Sequence[Source]) -> None:
    """DefinitionError when a condition names a custom field wrongly (once any is defined)."""
    from cadenza.core.lint.fields import field_problems
    from cadenza.services.contacts.fields import field_types

    types = field_types(session=session)
    if not types:
        return
    found = [p for s in sources for p in field_problems(s.definition, s.text, s.name, types)]
    if found:
        raise DefinitionError(found)
