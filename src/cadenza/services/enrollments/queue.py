"""A sequence's queue: who is in it, at which step, what comes next, when and why then.

One page of rows with a true total; the conditions that pick the rows are the same ones a
bulk operation on "all matching" uses (`QueueFilter.conditions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cadenza.core.calendar import recipient_zone
from cadenza.core.decisions import LIVE_OR_PAUSED
from cadenza.core.definition import (
    BranchStep,
    Definition,
    EndRoute,
    EndStep,
    ManualStepBase,
    Route,
    WaitForStep,
)
from cadenza.errors import ValidationFailed
from cadenza.services import history_report
from cadenza.store.catalog import definition_for
from cadenza.store.models import Contact, Enrollment, Event, Sequence, SequenceVersion, Task

PAGE = 50
MAX_PAGE = 200
SEARCHED = 1000  # contacts a queue search names, looked up by id; more: a join
# The events whose reason says why an enrollment is due when it is (or held).
REASONED = (
    "deferred",
    "scheduled",
    "paused",
    "stopped",
    "resumed",
    "skipped",
    "enrolled",
    "migrated",
)


@dataclass(frozen=True)
class QueueFilter:
    """Which of a sequence's running enrollments: a status, a step, a name or email."""

    status: str | None = None
    step: str | None = None
    search: str | None = None

    def conditions(self, sequence_id: int) -> list[ColumnElement[bool]]:
        """The WHERE of these enrollments (running ones only: the queue never shows others)."""
        if self.status and self.status not in LIVE_OR_PAUSED:
            raise ValidationFailed(
                f"status {self.status!r} is not one of {', '.join(LIVE_OR_PAUSED)}"
            )
        found: list[ColumnElement[bool]] = [Enrollment.sequence_id == sequence_id]
        found.append(
            Enrollment.status == self.status
            if self.status
            else Enrollment.status.in_(LIVE_OR_PAUSED)
        )
        if self.step:
            found.append(Enrollment.step == self.step)
        if self.search and self.search.strip():
            # The history report's rule (a name's words at the start of the first or last
            # name, an email whole or its start, a phone's digits): the names' indexes answer.
            named = history_report.contact_matches(self.search)
            found.append(Enrollment.contact_id.in_(select(Contact.id).where(named)))
        return found


def contact_matches(text: str) -> ColumnElement[bool]:
    """Contacts whose name, email or phone contains the text (case-insensitive)."""
    words = text.strip().lower()
    pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    full = func.lower(Contact.first_name + " " + Contact.last_name)
    return or_(
        full.like(pattern, escape="\\"),
        func.lower(func.coalesce(Contact.email, "")).like(pattern, escape="\\"),
        func.coalesce(Contact.phone, "").like(pattern, escape="\\"),
    )


def matching_contacts(text: str) -> Any:
    """The ids of the contacts whose name, email or phone contains the text."""
    return select(Contact.id).where(contact_matches(text))


@dataclass(frozen=True)
class QueueRow:
    """One enrolled contact as the queue shows it."""

    id: int
    contact_id: int
    contact: str
    status: str
    paused_by: str | None
    step: str | None
    action: str | None
    next_step: str | None
    next_note: str | None  # where the step leads when it is not one step: outcome, an end
    due_at: datetime | None
    zone: str
    reason: str | None
    version: int


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def queue_page(
    *,
    session: Session,
    sequence: Sequence,
    filters: QueueFilter,
    page: int = 1,
    per_page: int = PAGE,
    counts: dict[str, int] | None = None,
) -> QueuePage:
    """One page of the queue, soonest due first, with the total of all that match.

    `counts`: the sequence's enrollments per status, when the caller has them already (the
    total of a queue filtered by status alone is their sum: no second count)."""
    per_page = max(1, min(per_page, MAX_PAGE))
    page = max(1, page)
    where = filters.conditions(sequence.id)
    order = (Enrollment.due_at.is_(None), Enrollment.due_at, Enrollment.id)
    start = (page - 1) * per_page
    if filters.search:
        where = _searched(session, filters, sequence.id)
        # A search reads the matching enrollments once: the total and the page from one
        # pass rather than two (they are few; sorting them costs nothing).
        matched = list(session.scalars(select(Enrollment.id).where(*where).order_by(*order)))
        total, page_ids = len(matched), matched[start : start + per_page]
    else:
        total = _total(session, where, filters, counts)
        page_ids = _page_ids(session, where, start, per_page)
    chosen = select(Enrollment.id).where(Enrollment.id.in_(page_ids)).subquery()
    columns = (
        Enrollment.id,
        Enrollment.contact_id,
        Enrollment.status,
        Enrollment.paused_by,
        Enrollment.step,
        Enrollment.due_at,
        Enrollment.version_id,
    )
    query = (
        select(*columns, Contact.first_name, Contact.last_name, Contact.email, Contact.timezone)
        .join(chosen, chosen.c.id == Enrollment.id)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .order_by(*order)
    )
    found = session.execute(query).all()
    reasons = _reasons(session, [(r.id, r.contact_id) for r in found])
    versions = _version_numbers(session, {r.version_id for r in found})
    rows = [_row(session, r, reasons.get(r.id), versions) for r in found]
    return QueuePage(rows, total, page, per_page)


def _total(
    session: Session,
    where: list[ColumnElement[bool]],
    filters: QueueFilter,
    counts: dict[str, int] | None,
) -> int:
    if counts is not None and filters.step is None:
        statuses = (filters.status,) if filters.status else LIVE_OR_PAUSED
        return sum(counts.get(status, 0) for status in statuses)
    counted = select(func.count()).select_from(Enrollment).where(*where)
    return int(session.execute(counted).scalar_one())


def _searched(session: Session, filters: QueueFilter, sequence_id: int) -> list[Any]:
    """A search's conditions: the contacts it names first, then their enrollments by the
    contacts' index, rather than a look-up of every enrollment's contact (a big queue's
    50,000). A search naming very many contacts keeps the per-enrollment look-up."""
    rule = history_report.contact_matches(filters.search or "")
    named = list(session.scalars(select(Contact.id).where(rule).limit(SEARCHED + 1)))
    if len(named) > SEARCHED:
        return filters.conditions(sequence_id)
    plain = QueueFilter(filters.status, filters.step, None)
    return [*plain.conditions(sequence_id), Enrollment.contact_id.in_(named)]


def _page_ids(
    session: Session, where: list[ColumnElement[bool]], start: int, per_page: int
) -> list[int]:
    """The ids of one page, soonest due first and undated ones last: the dated ones read in
    order from `ix_enrollments_queue`, then the undated ones by id (no sort of the queue)."""
    dated = (
        select(Enrollment.id)
        .where(*where, Enrollment.due_at.is_not(None))
        .order_by(Enrollment.due_at, Enrollment.id)
    )
    ids = list(session.scalars(dated.offset(start).limit(per_page)))
    if len(ids) == per_page:
        return ids
    before = 0
    if start:
        counted = select(func.count()).select_from(Enrollment)
        before = session.execute(counted.where(*where, Enrollment.due_at.is_not(None))).scalar_one()
    undated = (
        select(Enrollment.id).where(*where, Enrollment.due_at.is_(None)).order_by(Enrollment.id)
    )
    skip = max(0, start - before)
    ids += session.scalars(undated.offset(skip).limit(per_page - len(ids)))
    return ids


def _row(session: Session, r: Any, reason: str | None, versions: dict[int, int]) -> QueueRow:
    definition = definition_for(session=session, version_id=r.version_id)
    action, following, note = _step_and_next(definition, r.step)
    zone = recipient_zone(definition.schedule, r.timezone).key
    name = f"{r.first_name} {r.last_name}".strip() or r.email or f"contact {r.contact_id}"
    return QueueRow(
        id=r.id,
        contact_id=r.contact_id,
        contact=name,
        status=r.status,
        paused_by=r.paused_by,
        step=r.step,
        action=action,
        next_step=following,
        next_note=note,
        due_at=r.due_at,
        zone=zone,
        reason=reason,
        version=versions.get(r.version_id, 0),
    )


def _step_and_next(
    definition: Definition, key: str | None
) -> tuple[str | None, str | None, str | None]:
    """The step's action, the step it leads to (its routes followed) and, when that is not
    all, what it depends on or how it ends (None, None: past the last)."""
    keys = [step.key for step in definition.steps]
    if key not in keys:
        return None, None, None
    index = keys.index(key)
    step = definition.steps[index]
    following = keys[index + 1] if index + 1 < len(keys) else None
    if isinstance(step, EndStep):
        return step.action, None, f"ends {step.outcome}"
    if isinstance(step, BranchStep):
        return step.action, None, "depends on its conditions"
    routes: list[Route | None] = []
    if isinstance(step, ManualStepBase):
        routes = list(step.outcome_routes().values())
    elif isinstance(step, WaitForStep):
        routes = ["next", *step.routes.values()]  # the timeout goes on to the next step
    targets = {_target(route, following) for route in routes} or {(following, None)}
    if len(targets) > 1:  # the usual way on, if one outcome takes it, and that it depends
        usual = following if (following, None) in targets else None
        return step.action, usual, "depends on outcome"
    target, note = targets.pop()
    return step.action, target, note


def _target(route: Route | None, following: str | None) -> tuple[str | None, str | None]:
    """Where one route leads: a step's key, or how the enrollment ends."""
    if route is None or route == "next":
        return following, None
    if isinstance(route, EndRoute):
        return None, f"ends {route.end}"
    return str(route), None


def _reasons(session: Session, pairs: list[tuple[int, int]]) -> dict[int, str]:
    """The latest recorded reason of each enrollment (found through its contact's events)."""
    if not pairs:
        return {}
    ids = [p[0] for p in pairs]
    # Only the contacts' index narrows this well: the enrollment ids already say the sequence
    # (a condition on sequence_id would tempt a planner into its index, a million rows long).
    query = (
        select(Event.enrollment_id, Event.reason)
        .where(
            Event.contact_id.in_([p[1] for p in pairs]),
            Event.enrollment_id.in_(ids),
            Event.type.in_(REASONED),
            Event.reason.is_not(None),
        )
        .order_by(Event.time.desc(), Event.id.desc())
    )
    reasons: dict[int, str] = {}
    for enrollment_id, reason in session.execute(query):
        if enrollment_id is not None and reason:
            reasons.setdefault(enrollment_id, reason)
    return reasons


def _version_numbers(session: Session, version_ids: set[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    query = select(SequenceVersion.id, SequenceVersion.number).where(
        SequenceVersion.id.in_(version_ids)
    )
    return {row[0]: row[1] for row in session.execute(query)}


def step_counts(*, session: Session, sequence: Sequence) -> list[tuple[int, str | None, int]]:
    """How many running enrollments sit on each (version number, step): one grouped query."""
    query = (
        select(Enrollment.version_id, Enrollment.step, func.count())
        .where(Enrollment.sequence_id == sequence.id, Enrollment.status.in_(LIVE_OR_PAUSED))
        .group_by(Enrollment.version_id, Enrollment.step)
    )
    found = session.execute(query).all()
    numbers = _version_numbers(session, {row[0] for row in found})
    rows = [(numbers.get(row[0], 0), row[1], row[2]) for row in found]
    return sorted(rows, key=lambda row: (row[0], row[1] or ""))


def status_counts(*, session: Session, sequence: Sequence) -> dict[str, int]:
    """How many of the sequence's enrollments are in each status (its index answers)."""
    query = (
        select(Enrollment.status, func.count())
        .where(Enrollment.sequence_id == sequence.id)
        .group_by(Enrollment.status)
    )
    return {row[0]: row[1] for row in session.execute(query)}


def remaining_tasks(*, session: Session, sequence: Sequence) -> int:
    """The sequence's tasks still to do (open or in error)."""
    query = select(func.count()).where(
        Task.status.in_(("open", "error")), Task.sequence_id == sequence.id
    )
    return int(session.execute(query).scalar_one())
