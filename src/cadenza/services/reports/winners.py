"""The winner of an A/B step: once every variant had its sample, the best takes all sends.

The decision is kept (a `winner` row among the counters, and `variant_won` in history) so
that it never flips afterwards as the winner's own figures move.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Step
from cadenza.core.variants import variants_of
from cadenza.services import history
from cadenza.services.reports import counting
from cadenza.store.models import ReportCount
from cadenza.store.report_counts import keep_winner

_CACHE = "cadenza.report_winners"
_COUNTED = "cadenza.report_counted_in"  # the transaction that last counted for a decision


def winner(session: Session, sequence_id: int, step: Step, now: datetime) -> str | None:
    """The variant that takes all new sends of this step, if the test is decided."""
    rule = getattr(step, "winner", None)
    if rule is None:
        return None
    cache: dict[tuple[int, str], str] = session.info.setdefault(_CACHE, {})
    found = cache.get((sequence_id, step.key)) or _kept(session, sequence_id, step.key)
    if found is None:
        found = _decide(session, sequence_id, step, rule.metric, rule.after, now)
    if found is not None:
        cache[(sequence_id, step.key)] = found
    return found


def _kept(session: Session, sequence_id: int, step: str) -> str | None:
    c = ReportCount
    query = (
        select(c.detail)
        .where(c.sequence_id == sequence_id, c.metric == "winner", c.step == step)
        .order_by(c.day, c.id)
        .limit(1)
    )
    return session.scalar(query)


def _decide(
    session: Session, sequence_id: int, step: Step, metric: str, after: int, now: datetime
) -> str | None:
    # Up to date, unless another transaction is counting now (then a later step decides);
    # once per transaction: every undecided step of a worker's batch asks, and the first
    # one's count serves the rest of the batch.
    transaction = session.get_transaction()
    if session.info.get(_COUNTED) is not transaction:
        counting.catch_up(session, wait=False)
        session.info[_COUNTED] = transaction
    c = ReportCount
    query = (
        select(c.variant, c.metric, func.sum(c.n))
        .where(c.sequence_id == sequence_id, c.step == step.key, c.metric.in_(("sent", metric)))
        .group_by(c.variant, c.metric)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"sent": 0, metric: 0})
    for variant, name, n in session.execute(query):
        counts[variant][name] = int(n or 0)
    playing = [v.key for v in variants_of(step) if v.weight > 0]
    if any(counts[key]["sent"] < after for key in playing):
        return None
    best = max(playing, key=lambda key: counts[key][metric] / counts[key]["sent"])
    keep_winner(session, sequence_id, step.key, best, now.date())
    rates = {key: round(counts[key][metric] / counts[key]["sent"], 4) for key in playing}
    history.record(
        session,
        history.Subject(None, sequence_id),
        "variant_won",
        now,
        step=step.key,
        reason=f"{best} had the best {metric} rate after {after} sends of each variant",
        variant=best,
        metric=metric,
        rates=rates,
    )
    return best
