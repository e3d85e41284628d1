"""Evaluating a sequence's audience: new matches enroll, nobody twice, refusals recorded.

An evaluation reads only the contacts changed (`contacts.updated_at`, indexed) since the
high-water mark of the one before, less those the sequence already holds (in SQL), and
evaluates what is left; the first evaluation, and the first after the rule changed (a new
version, an edited view), reads every contact. Its cost grows with the changes and the
matches, not with the contacts in the database. A rule that reads events (`{event: opened,
within: {days: 3}}`) can come true with no change to the contact, by an event or by the
passing of time: its scheduled evaluations (`every`) read every contact.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.core.conditions import describe
from cadenza.core.decisions import LIVE_OR_PAUSED
from cadenza.core.definition import Condition, Definition
from cadenza.errors import NotFound
from cadenza.services import enrollments
from cadenza.services.audiences.matching import CHUNK, candidates, matches, uses_events
from cadenza.services.audiences.views import condition_of, stored
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.db import writing
from cadenza.store.machine_reads import among
from cadenza.store.models import AudienceRun, Contact, Enrollment, SavedView, Sequence

ACTOR = "audience"


@dataclass(frozen=True)
class Rule:
    """An audience's rule as evaluated: its condition, in words, and its digest."""

    condition: Condition
    words: str
    digest: str
    view: str | None = None


@dataclass
class Evaluation:
    """What one evaluation did."""

    sequence: str
    full: bool
    examined: int = 0
    matched: int = 0
    enrolled: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None


def rule_of(*, session: Session, definition: Definition) -> Rule | None:
    """The audience rule of a definition (None: it has none); NotFound for an unknown view."""
    audience = definition.enrollment.audience
    if audience is None:
        return None
    if audience.view is not None:
        query = select(SavedView).where(func.lower(SavedView.name) == audience.view.lower())
        view = session.execute(query).scalar_one_or_none()
        if view is None or view.kind != "contacts":
            raise NotFound(f"no view of contacts named {audience.view!r}")
        condition = condition_of(view)
        label = f"view {view.name}: {describe(condition)}"
    else:
        assert audience.when is not None
        condition, label = audience.when, describe(audience.when)
    text = json.dumps({"view": audience.view, "when": stored(condition)}, sort_keys=True)
    return Rule(condition, label, hashlib.sha256(text.encode()).hexdigest(), audience.view)


def audience_sequences(*, session: Session) -> list[tuple[Sequence, Definition]]:
    """The active sequences whose latest version has an audience."""
    found: list[tuple[Sequence, Definition]] = []
    for sequence in session.scalars(select(Sequence).where(Sequence.status == "active")):
        definition = definition_for(
            session=session, version_id=latest_version(session, sequence).id
        )
        if definition.enrollment.audience is not None:
            found.append((sequence, definition))
    return found


def is_due(*, session: Session, sequence_id: int, now: datetime, top: datetime | None) -> bool:
    """Due when its time came (`every`), a contact changed since, or never evaluated."""
    run = session.get(AudienceRun, sequence_id)
    if run is None or run.next_at <= now:
        return True
    if top is None:
        return False
    if run.high_water is None or top > run.high_water:
        return True
    # Changed at the very instant of the mark (a fixed clock): more contacts there than read.
    listed = (run.at_mark or {}).get("ids")
    if top != run.high_water or listed is None:
        return False
    return _count_at(session, top) > len(listed)


def _count_at(session: Session, instant: datetime) -> int:
    query = select(Contact.id).where(Contact.updated_at == instant).limit(MARK_LIMIT + 1)
    return len(list(session.scalars(query)))


def latest_change(session: Session) -> datetime | None:
    """The latest contacts.updated_at: one step down its index."""
    return session.scalar(select(func.max(Contact.updated_at)))


def evaluate(
    *, session: Session, sequence: Sequence, definition: Definition, now: datetime,
    settings: Settings,
) -> Evaluation:  # fmt: skip
    """Evaluate the sequence's audience once and enroll its new matches."""
    run = session.get(AudienceRun, sequence.id)
    every = timedelta(minutes=definition.enrollment.audience_minutes)
    try:
        rule = rule_of(session=session, definition=definition)
    except NotFound as exc:
        # Recorded, not raised: the page says why, and the next evaluation tries again.
        _record(session, sequence.id, run, now, every, digest="", error=str(exc))
        return Evaluation(sequence.name, full=False, error=str(exc))
    assert rule is not None, "evaluate only sequences with an audience"
    full = (
        run is None
        or run.digest != rule.digest
        or (run.next_at <= now and uses_events(rule.condition))
    )
    top = latest_change(session)
    ids, mark = _changed(session, sequence.id, definition, rule, None if full else run, top)
    found = matches(session=session, condition=rule.condition, ids=ids, now=now)
    result = Evaluation(sequence.name, full, len(ids), len(found))
    if found:
        report = enrollments.enroll(
            session=session, sequence=sequence.name, contact_ids=found, now=now,
            settings=settings, actor=ACTOR,
        )  # fmt: skip
        result.enrolled, result.refused = report.enrolled, report.refused
    high = top if top is not None else (run.high_water if run is not None else None)
    _record(
        session, sequence.id, run, now, every, rule.digest, result=result, high_water=high,
        mark=mark if top is not None else (run.at_mark if run is not None else {}),
    )  # fmt: skip
    return result


MARK_LIMIT = 10_000  # contacts changed at the high-water instant that are listed by id


def _changed(
    session: Session,
    sequence_id: int,
    definition: Definition,
    rule: Rule,
    run: AudienceRun | None,
    top: datetime | None,
) -> tuple[list[int], dict[str, Any]]:
    """The candidates — contacts changed since the last high-water mark (all, without one)
    up to `top`, less those the sequence holds (reentry `never`: ever held) — and the mark of
    the contacts changed at `top` itself."""
    if top is None:
        return [], {}
    at_top = list(
        session.scalars(select(Contact.id).where(Contact.updated_at == top).limit(MARK_LIMIT + 1))
    )
    mark: dict[str, Any] = {"all": True} if len(at_top) > MARK_LIMIT else {"ids": at_top}
    query = select(Contact.id).where(Contact.updated_at <= top)
    held = select(Enrollment.contact_id).where(Enrollment.sequence_id == sequence_id)
    if definition.enrollment.reentry != "never":  # who left may enter again: live ones stay out
        held = held.where(Enrollment.status.in_(LIVE_OR_PAUSED))
    if run is None or run.high_water is None:
        # Every contact: narrowed by the rule where SQL can, the held ones left out by the
        # database in one anti-join.
        whole = query.where(~exists(held.where(Enrollment.contact_id == Contact.id)))
        return list(session.scalars(candidates(rule.condition, whole))), mark
    # The changed contacts are few and found by their index; those held are looked up by
    # the enrollments' (contact, sequence) index. One anti-join would leave the plan to
    # statistics that enrollments just made stale (a nested loop over the whole sequence).
    before = run.at_mark or {}
    if before.get("all"):
        since = query.where(Contact.updated_at > run.high_water)
    else:
        since = query.where(Contact.updated_at >= run.high_water)
    read = set(before.get("ids", ()))  # read at the mark already: not again
    mark_at = run.high_water
    rows = session.execute(since.add_columns(Contact.updated_at).order_by(Contact.id))
    changed = [i for i, at in rows if not (at == mark_at and i in read)]
    taken: set[int] = set()
    dialect = session.get_bind().dialect.name
    for start in range(0, len(changed), CHUNK):
        batch = changed[start : start + CHUNK]
        taken.update(session.scalars(held.where(among(Enrollment.contact_id, batch, dialect))))
    return [contact_id for contact_id in changed if contact_id not in taken], mark


def _record(
    session: Session,
    sequence_id: int,
    run: AudienceRun | None,
    now: datetime,
    every: timedelta,
    digest: str,
    *,
    result: Evaluation | None = None,
    high_water: datetime | None = None,
    error: str | None = None,
    mark: dict[str, Any] | None = None,
) -> None:
    if run is None:
        run = AudienceRun(sequence_id=sequence_id, total=0)
        session.add(run)
    reasons: dict[str, Any] = (
        dict(Counter(reason for _, reason in result.refused)) if result else {}
    )
    run.digest, run.evaluated_at, run.next_at = digest, now, now + every
    run.error, run.reasons = error, reasons
    if error is None:
        run.high_water, run.at_mark = high_water, mark or {}
    elif run.at_mark is None:
        run.at_mark = {}
    run.full = bool(result and result.full)
    run.examined = result.examined if result else 0
    run.matched = result.matched if result else 0
    run.enrolled = len(result.enrolled) if result else 0
    run.refused = len(result.refused) if result else 0
    if result is not None:
        run.total = result.matched if result.full else (run.total or 0) + result.matched
    session.flush()


@dataclass(frozen=True)
class AudienceStatus:
    """What a sequence's page and resource show of its audience."""

    rule: str
    view: str | None
    every_minutes: int
    matched_total: int | None
    evaluated_at: datetime | None
    next_at: datetime | None
    last: dict[str, Any] | None
    error: str | None


def status(*, session: Session, sequence_id: int, definition: Definition) -> AudienceStatus | None:
    """The audience of a sequence's definition, its count and its last and next evaluation."""
    audience = definition.enrollment.audience
    if audience is None:
        return None
    try:
        rule = rule_of(session=session, definition=definition)
        words, error = (rule.words if rule else ""), None
    except NotFound as exc:
        words, error = f"view {audience.view}", str(exc)
    run = session.get(AudienceRun, sequence_id)
    last = None
    if run is not None:
        last = {
            "full": run.full, "examined": run.examined, "matched": run.matched,
            "enrolled": run.enrolled, "refused": run.refused, "reasons": run.reasons,
        }  # fmt: skip
    return AudienceStatus(
        words,
        audience.view,
        definition.enrollment.audience_minutes,
        run.total if run is not None else None,
        run.evaluated_at if run is not None else None,
        run.next_at if run is not None else None,
        last,
        error or (run.error if run is not None else None),
    )


def sequence_definition(*, session: Session, name: str) -> tuple[Sequence, Definition]:
    """A sequence by name and its latest definition."""
    sequence = session.execute(select(Sequence).where(Sequence.name == name)).scalar_one_or_none()
    if sequence is None:
        raise NotFound(f"no sequence named {name!r}")
    version = latest_version(session, sequence)
    return sequence, definition_for(session=session, version_id=version.id)


def run_due(sessions: sessionmaker[Session], now: datetime, settings: Settings) -> list[Evaluation]:
    """Evaluate every active sequence's audience that is due, each in its own transaction."""
    with sessions() as session:
        top = latest_change(session)
        due = [
            sequence.id
            for sequence, _ in audience_sequences(session=session)
            if is_due(session=session, sequence_id=sequence.id, now=now, top=top)
        ]
    done: list[Evaluation] = []
    for sequence_id in due:
        with writing(sessions) as session:
            # Locked: two workers evaluating one audience at once would both enroll its matches.
            query = select(Sequence).where(Sequence.id == sequence_id).with_for_update()
            sequence = session.execute(query).scalar_one_or_none()
            if sequence is None or sequence.status != "active":
                continue
            run = session.get(AudienceRun, sequence_id)
            if run is not None and not is_due(
                session=session, sequence_id=sequence_id, now=now, top=latest_change(session)
            ):
                continue  # another worker evaluated it while this one waited for the lock
            definition = definition_for(
                session=session, version_id=latest_version(session, sequence).id
            )
            if definition.enrollment.audience is not None:
                done.append(
                    evaluate(
                        session=session, sequence=sequence, definition=definition, now=now,
                        settings=settings,
                    )
                )  # fmt: skip
    return done
