"""The sequence editor's services: lint as a person types, save through `apply`, and what a
migration of the running enrollments to the saved version would move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition
from cadenza.core.lint import lint_text
from cadenza.errors import NotFound, Problem, ValidationFailed
from cadenza.services.enrollments.queue import step_counts
from cadenza.services.sequences.applying import (
    ApplyResult,
    UnknownReferences,
    apply_sources,
    lint_source,
    references,
)
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.catalog import latest_version
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Group, Sequence, User

FILE = "definition.yaml"  # what problems call the text being edited
MAX_SOURCE = 200_000  # characters: a definition is a page or two, never megabytes

STARTER = """\
name: {name}
description: What this sequence is for
schedule:
  timezone: contact
  fallback_timezone: America/New_York
  days: business
  hours: {{open: "09:00", close: "17:00"}}
  holidays: us-sales
steps:
  - key: first_call
    action: call
    assignee: contact_owner
  - key: follow_up
    action: task
    wait: {{business_days: 2}}
    assignee: contact_owner
"""


@dataclass(frozen=True)
class Checked:
    """A text as the editor shows it: the definition (None when it does not parse) and every
    problem at its line, the users and groups it names that do not exist included."""

    definition: Definition | None
    problems: list[Problem]


def check_text(*, session: Session, text: str) -> Checked:
    """Lint an edited definition (no template file is read) and check who it names."""
    if len(text) > MAX_SOURCE:
        return Checked(None, [Problem(FILE, 1, 1, f"longer than {MAX_SOURCE} characters")])
    definition, problems = lint_text(text, FILE, read_files=False)
    if definition is not None and not problems:
        problems = _missing_references(session, definition, text)
    return Checked(definition, problems)


def _missing_references(session: Session, definition: Definition, text: str) -> list[Problem]:
    users, groups = references(definition)
    known_users = set(session.scalars(select(User.email).where(User.email.in_(users))))
    known_groups = set(session.scalars(select(Group.name).where(Group.name.in_(groups))))
    missing = [(f"no user {e}", e) for e in users if e not in known_users]
    missing += [(f"no group {g}", g) for g in groups if g not in known_groups]
    return [Problem(FILE, _line_of(text, word), 1, message) for message, word in missing]


def _line_of(text: str, word: str) -> int:
    """The first line naming `word` (where a person would fix it), else the first line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if word.lower() in line.lower():
            return number
    return 1


def editable_source(*, session: Session, name: str, viewer: Viewer = OPERATOR) -> str:
    """The text of a sequence's latest version, as it was written, for its editors."""
    seq = access.sequence_for(session=session, viewer=viewer, name=name, privilege="edit sequences")
    version = latest_version(session, seq)
    return version.source or ""


def save_text(
    *,
    session: Session,
    text: str,
    now: datetime,
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
    editing: str | None = None,
    draft: bool = False,
) -> ApplyResult:
    """Store an edited definition as a new version (as `cadenza apply` does); a new sequence
    starts as a draft when asked. `editing`: the sequence being edited, whose name stays."""
    # Who may save comes before what is wrong with the text: a refusal tells nothing of it.
    if editing is None:
        access.require(viewer, "create sequences")
    else:
        access.sequence_for(
            session=session, viewer=viewer, name=editing, privilege="edit sequences"
        )
    if len(text) > MAX_SOURCE:
        raise ValidationFailed(f"the definition is longer than {MAX_SOURCE} characters")
    source = lint_source(text, FILE)
    if editing is not None and source.definition.name != editing:
        raise ValidationFailed(
            f"the name must stay {editing!r} (clone the sequence to make another)"
        )
    if editing is None:
        taken = session.scalar(select(Sequence.id).where(Sequence.name == source.definition.name))
        if taken is not None:
            raise ValidationFailed(f"a sequence named {source.definition.name!r} already exists")
    try:
        [result] = apply_sources(
            session=session, sources=[source], now=now, viewer=viewer, settings=settings
        )
    except UnknownReferences as exc:
        raise ValidationFailed(str(exc)) from None
    if result.created and draft:
        seq = access.sequence_for(session=session, viewer=viewer, name=result.name)
        seq.status = "draft"
    return result


@dataclass(frozen=True)
class MigrationPlan:
    """Where the running enrollments of older versions sit, and the latest version's steps."""

    version: int
    steps: list[str]
    behind: list[tuple[int, str | None, int]]  # version, step, how many

    @property
    def count(self) -> int:
        return sum(n for _, _, n in self.behind)

    @property
    def old_steps(self) -> list[tuple[str, int]]:
        """Each step key of an older version and how many sit on it (all versions together)."""
        totals: dict[str, int] = {}
        for _, step, n in self.behind:
            totals[str(step)] = totals.get(str(step), 0) + n
        return sorted(totals.items())


def migration_plan(*, session: Session, name: str, viewer: Viewer = OPERATOR) -> MigrationPlan:
    """What moving this sequence's running enrollments to its latest version would move."""
    seq = access.sequence_for(session=session, viewer=viewer, name=name, privilege="edit sequences")
    version = latest_version(session, seq)
    definition = Definition.model_validate(version.definition)
    behind = [row for row in step_counts(session=session, sequence=seq) if row[0] != version.number]
    return MigrationPlan(version.number, [s.key for s in definition.steps], behind)


def contact_view(*, session: Session, contact_id: int) -> ContactView:
    """A contact as the machine (and a dry run) sees it."""
    found = load_views(session=session, contact_ids=[contact_id]).get(contact_id)
    if found is None:
        raise NotFound(f"no contact {contact_id}")
    return found
