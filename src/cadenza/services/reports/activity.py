"""Reports across sequences and days: comparisons, the daily series, people and senders."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.errors import ValidationFailed
from cadenza.services.reports import counting
from cadenza.services.reports.figures import (
    OUTCOMES,
    reported_sequence,
    reported_sequences,
    summaries,
)
from cadenza.services.reports.metrics import WHOLE
from cadenza.services.reports.tally import Timeframe, rate
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import ReportCount, Sequence, Task, User

# Mailbox providers' thresholds: past them a sender's mail goes to spam or is refused.
COMPLAINT_LIMIT = 0.003
BOUNCE_LIMIT = 0.05
MAX_COMPARED = 50


def compare(
    *,
    session: Session,
    names: list[str],
    timeframe: Timeframe = Timeframe(),
    viewer: Viewer = OPERATOR,
) -> list[dict[str, Any]]:
    """The headline figures of several sequences side by side (one query for them all)."""
    names = list(dict.fromkeys(names))
    if not names:
        raise ValidationFailed("name at least one sequence to compare")
    if len(names) > MAX_COMPARED:
        raise ValidationFailed(f"compare at most {MAX_COMPARED} sequences at once")
    sequences = reported_sequences(session=session, names=names, viewer=viewer)
    return summaries(session, sequences, timeframe)


def series(
    *,
    session: Session,
    name: str,
    timeframe: Timeframe = Timeframe(),
    viewer: Viewer = OPERATOR,
) -> list[dict[str, Any]]:
    """Per day: messages sent (each step's send), contacts who replied, outcomes reached."""
    seq = reported_sequence(session=session, name=name, viewer=viewer)
    counting.current(session)
    c = ReportCount
    sends = (c.metric == "sent") & (c.step != WHOLE)
    whole = (c.step == WHOLE) & c.metric.in_(("replied", "outcome"))
    picked = (sends | whole) & (c.sequence_id == seq.id)
    query = (
        select(c.day, c.metric, c.detail, func.sum(c.n))
        .where(picked)
        .group_by(c.day, c.metric, c.detail)
        .order_by(c.day)
    )
    query = _within(query, timeframe)
    days: dict[str, dict[str, Any]] = {}
    for day, metric, detail, n in session.execute(query):
        row = days.setdefault(
            day.isoformat(),
            {"day": day.isoformat(), "sent": 0, "replied": 0} | dict.fromkeys(OUTCOMES, 0),
        )
        key = detail if metric == "outcome" else metric
        if key in row:
            row[key] += int(n)
    return list(days.values())


def senders(
    *, session: Session, timeframe: Timeframe = Timeframe(), viewer: Viewer = OPERATOR
) -> list[dict[str, Any]]:
    """Per sender: sends, bounces, complaints, unsubscribes and their rates, flagged past limits."""
    access.require(viewer, "see reports")
    counting.current(session)
    c = ReportCount
    metrics = ("sent", "bounced", "complained", "unsubscribed")
    query = (
        select(c.who, c.metric, func.sum(c.n))
        .where(c.step != WHOLE, c.who != "", c.metric.in_(metrics))
        .group_by(c.who, c.metric)
    )
    query = _within(_visible(query, viewer), timeframe)
    found: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(metrics, 0))
    for who, metric, n in session.execute(query):
        found[who][metric] += int(n)
    return [_sender(who, counts) for who, counts in sorted(found.items())]


def _sender(who: str, counts: dict[str, int]) -> dict[str, Any]:
    sent = counts["sent"]
    rates = {m: rate(counts[m], sent) for m in ("bounced", "complained", "unsubscribed")}
    flags = []
    if (rates["bounced"] or 0) >= BOUNCE_LIMIT:
        flags.append(f"bounces at or above {BOUNCE_LIMIT:.0%}")
    if (rates["complained"] or 0) >= COMPLAINT_LIMIT:
        flags.append(f"complaints at or above {COMPLAINT_LIMIT:.1%}")
    return {"sender": who, **counts, "rates": rates, "flags": flags}


def people(
    *, session: Session, timeframe: Timeframe = Timeframe(), viewer: Viewer = OPERATOR
) -> list[dict[str, Any]]:
    """Per rep: tasks completed by outcome, manual emails sent, calls logged."""
    access.require(viewer, "see reports")
    done = (
        select(User.email, Task.kind, Task.outcome, func.count())
        .join(User, User.id == Task.assignee_id)
        .where(Task.status == "done")
        .group_by(User.email, Task.kind, Task.outcome)
    )
    seen = access.row_visible(Task.sequence_id, viewer)
    if seen is not None:
        done = done.where(seen)
    if timeframe.since is not None:
        done = done.where(func.date(Task.completed_at) >= timeframe.since)
    if timeframe.until is not None:
        done = done.where(func.date(Task.completed_at) <= timeframe.until)
    reps: dict[str, dict[str, Any]] = {}
    for email, kind, outcome, n in session.execute(done):
        rep = reps.setdefault(email, _rep(email))
        rep["tasks_completed"]["total"] += n
        by = rep["tasks_completed"]["by_outcome"]
        by[outcome or "none"] = by.get(outcome or "none", 0) + n
        if kind == "manual_email":
            rep["manual_emails_sent"] += n
    counting.current(session)
    c = ReportCount
    calls = select(c.who, func.sum(c.n)).where(c.metric == "call_logged").group_by(c.who)
    for who, n in session.execute(_within(_visible(calls, viewer), timeframe)):
        reps.setdefault(who, _rep(who))["calls_logged"] += int(n)
    return [reps[k] for k in sorted(reps)]


def _rep(email: str) -> dict[str, Any]:
    return {
        "user": email,
        "tasks_completed": {"total": 0, "by_outcome": {}},
        "calls_logged": 0,
        "manual_emails_sent": 0,
    }


def _visible(query: Any, viewer: Viewer) -> Any:
    if viewer.sees_everything:
        return query
    seen = select(Sequence.id).where(access.visible_sequences(viewer))
    return query.where(ReportCount.sequence_id.in_(seen))


def _within(query: Any, timeframe: Timeframe) -> Any:
    if timeframe.since is not None:
        query = query.where(ReportCount.day >= timeframe.since)
    if timeframe.until is not None:
        query = query.where(ReportCount.day <= timeframe.until)
    return query
