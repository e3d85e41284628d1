"""A sequence's report: who is where, outcomes, tasks, message rates, the per-step funnel,
its versions and the variants of its A/B steps. Every figure counts unique enrollments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core.access import may
from cadenza.core.definition import Definition
from cadenza.core.stats import two_proportions
from cadenza.errors import NotFound
from cadenza.services.reports.metrics import WHOLE
from cadenza.services.reports.tally import Tally, Timeframe, load, rate
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.models import Enrollment, Sequence, SequenceVersion, Task

STATUSES = ("active", "waiting", "paused", "completed", "exited")
OUTCOMES = ("positive", "negative", "neutral")
TESTED = ("replied", "opened", "clicked")  # the rates an A/B step's variants are tested on
PRIVILEGE = "see reports"


def reported_sequence(*, session: Session, name: str, viewer: Viewer = OPERATOR) -> Sequence:
    """The sequence once the viewer may read its reports (404 unseen, 403 without the right)."""
    return access.sequence_for(session=session, viewer=viewer, name=name, privilege=PRIVILEGE)


def reported_sequences(
    *, session: Session, names: list[str], viewer: Viewer = OPERATOR
) -> list[Sequence]:
    """Sequences by name, in that order, in one query: 404 for one the viewer does not see,
    then 403 unless the viewer reads reports (what `reported_sequence` says of each)."""
    query = select(Sequence).where(Sequence.name.in_(names), access.visible_sequences(viewer))
    found = {seq.name: seq for seq in session.scalars(query)}
    missing = [name for name in names if name not in found]
    if missing:
        raise NotFound(f"no sequence named {missing[0]!r}")
    access.require(viewer, PRIVILEGE)
    return [found[name] for name in names]


def sequence_report(
    *,
    session: Session,
    name: str,
    timeframe: Timeframe = Timeframe(),
    viewer: Viewer = OPERATOR,
) -> dict[str, Any]:
    """The whole report of one sequence: summary, funnel, versions and A/B variants."""
    seq = reported_sequence(session=session, name=name, viewer=viewer)
    tally = load(session, [seq.id], timeframe)[seq.id]
    [report] = summaries(session, [seq], timeframe)
    definition = definition_for(session=session, version_id=latest_version(session, seq).id)
    report["steps"] = steps(tally, definition)
    report["versions"] = versions(session, seq, tally)
    return report


def summaries(
    session: Session, sequences: list[Sequence], timeframe: Timeframe
) -> list[dict[str, Any]]:
    """The headline figures of sequences (what comparisons put side by side): four queries."""
    ids = [seq.id for seq in sequences]
    tallies = load(session, ids, timeframe)
    now, tasks = now_by_status(session, ids), open_tasks(session, ids)
    return [
        _summary(seq, tallies[seq.id], timeframe, now[seq.id], tasks.get(seq.id, 0))
        for seq in sequences
    ]


def _summary(
    seq: Sequence, tally: Tally, timeframe: Timeframe, now: dict[str, int], tasks_open: int
) -> dict[str, Any]:
    enrolled = tally.get("enrolled")
    return {
        "sequence": seq.name,
        **timeframe.as_dict(),
        "enrolled": enrolled,
        "now": now,
        "completed": tally.get("completed"),
        "exited": {"total": tally.get("exited"), "by_reason": tally.details("exited")},
        "outcomes": {o: tally.get("outcome", WHOLE, o) for o in OUTCOMES},
        "tasks": {"open": tasks_open, "completed": _task_outcomes(tally)},
        "messages": tally.messages(WHOLE, enrolled),
    }


def now_by_status(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """How many enrollments of each sequence are in each status now (the status index)."""
    query = (
        select(Enrollment.sequence_id, Enrollment.status, func.count())
        .where(Enrollment.sequence_id.in_(ids))
        .group_by(Enrollment.sequence_id, Enrollment.status)
    )
    found = {sid: dict.fromkeys(STATUSES, 0) for sid in ids}
    for sid, status, n in session.execute(query):
        if status in STATUSES:
            found[int(sid)][str(status)] = int(n)
    return found


def open_tasks(session: Session, ids: list[int]) -> dict[int, int]:
    """Open tasks per sequence."""
    query = (
        select(Task.sequence_id, func.count())
        .where(Task.sequence_id.in_(ids), Task.status == "open")
        .group_by(Task.sequence_id)
    )
    return {int(sid): int(n) for sid, n in session.execute(query) if sid is not None}


def _task_outcomes(tally: Tally, step: str | None = None) -> dict[str, Any]:
    steps = [step] if step is not None else tally.steps()
    by_outcome: dict[str, int] = {}
    for key in steps:
        for outcome, n in tally.details("task_completed", key).items():
            by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    return {"total": sum(by_outcome.values()), "by_outcome": by_outcome}


def steps(tally: Tally, definition: Definition) -> list[dict[str, Any]]:
    """The funnel: each step of the latest version (then any older step still counted)."""
    actions = {step.key: step.action for step in definition.steps}
    keys = [*actions, *(k for k in tally.steps() if k not in actions)]
    return [_step(tally, key, actions.get(key), definition) for key in keys]


def _step(tally: Tally, key: str, action: str | None, definition: Definition) -> dict[str, Any]:
    reached = tally.get("reached", key)
    row: dict[str, Any] = {
        "step": key,
        "action": action,
        "reached": reached,
        "ran": tally.get("ran", key),
        "skipped": {"total": tally.get("skipped", key), "by_reason": tally.details("skipped", key)},
        "deferred": {
            "total": tally.get("deferred", key),
            "by_reason": tally.details("deferred", key),
        },
        "errors": tally.get("error", key),
        "tasks_completed": _task_outcomes(tally, key),
        "messages": tally.messages(key, reached),
    }
    variants = tally.variants(key)
    if variants or _declared(definition, key):
        row["variants"] = variant_figures(tally, key, variants, definition)
    return row


def _declared(definition: Definition, key: str) -> list[str]:
    step = next((s for s in definition.steps if s.key == key), None)
    return [v.key for v in getattr(step, "variants", None) or []]


def variant_figures(
    tally: Tally, step: str, seen: list[str], definition: Definition
) -> list[dict[str, Any]]:
    """Each variant's message figures, each tested against the first (the control)."""
    declared = _declared(definition, step)
    keys = [*declared, *(v for v in seen if v not in declared)]
    if not keys:
        return []
    figures = {key: tally.only(variant=key).messages(step) for key in keys}
    control = figures[keys[0]]
    rows = []
    for key in keys:
        mine = figures[key]
        tests: dict[str, Any] = {}
        for metric in TESTED if key != keys[0] else ():
            test = two_proportions(
                mine[metric]["count"],
                mine["sent"]["count"],
                control[metric]["count"],
                control["sent"]["count"],
            )
            tests[metric] = (
                None
                if test is None
                else {
                    "z": round(test.z, 3),
                    "p": round(test.p_value, 4),
                    "significant": test.significant,
                }
            )
        rows.append({"variant": key, "messages": mine, "against_control": tests})
    return rows


def versions(session: Session, seq: Sequence, tally: Tally) -> list[dict[str, Any]]:
    """The headline figures per version of the sequence (the one its enrollments were on)."""
    query = select(SequenceVersion.id, SequenceVersion.number).where(
        SequenceVersion.sequence_id == seq.id
    )
    numbers = {int(row[0]): int(row[1]) for row in session.execute(query)}
    rows = []
    for version_id in tally.versions():
        part = tally.only(version=version_id)
        enrolled = part.get("enrolled")
        rows.append(
            {
                "version": numbers.get(version_id),
                "enrolled": enrolled,
                "completed": part.get("completed"),
                "outcomes": {o: part.get("outcome", WHOLE, o) for o in OUTCOMES},
                "messages": part.messages(WHOLE, enrolled),
            }
        )
    return sorted(rows, key=lambda r: r["version"] or 0)


def headlines(
    *,
    session: Session,
    names: list[str],
    timeframe: Timeframe = Timeframe(),
    viewer: Viewer = OPERATOR,
) -> dict[str, dict[str, float | int | None]]:
    """Headline rates per sequence name, in one query (none for a viewer without reports).

    The caller lists only sequences the viewer sees (their listing's names)."""
    if not may(viewer.person, PRIVILEGE) or not names:
        return {}
    query = select(Sequence.id, Sequence.name).where(Sequence.name.in_(names))
    ids = {int(row[0]): str(row[1]) for row in session.execute(query)}
    tallies = load(session, list(ids), timeframe)
    return {ids[sid]: _headline(tally) for sid, tally in tallies.items()}


def _headline(tally: Tally) -> dict[str, float | int | None]:
    """The few rates a sequence's list row and page show: all time, over enrollments sent to."""
    messages = tally.messages(WHOLE, tally.get("enrolled"))
    return {
        "enrolled": tally.get("enrolled"),
        "sent": messages["sent"]["count"],
        "opened": messages["opened"]["rate"],
        "clicked": messages["clicked"]["rate"],
        "replied": messages["replied"]["rate"],
        "bounced": messages["bounced"]["rate"],
        "positive": rate(tally.get("outcome", WHOLE, "positive"), tally.get("enrolled")),
        "negative": rate(tally.get("outcome", WHOLE, "negative"), tally.get("enrolled")),
    }
