"""Keeping the reports' counters: history is counted after it is written, in large batches.

Counting used to ride in every transaction that wrote history (a statement per batch of
steps, of opens, of replies); now history is written alone, and what was written since the
mark (store/report_marks.py) is counted later: by the worker about once a second, by
`worker --once` when it is done, before `prune` removes anything, and by any report before
it reads (`current`), so a report always equals a count over the history there is.
Counting the same event twice adds nothing: an enrollment's first of each figure is kept
once (`report_firsts`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cadenza.services.reports.metrics import MESSAGE_METRICS, STEP_EVENTS, Facts, hits_of
from cadenza.store import report_counts, report_marks
from cadenza.store.report_counts import First

log = logging.getLogger(__name__)
# The event types some report counts (`metrics.hits` yields nothing for any other): a batch
# of other events costs a set look-up a row and no statement.
COUNTED = frozenset(
    {*MESSAGE_METRICS, *STEP_EVENTS}
    | {"enrolled", "completed", "exited", "task_completed", "call_logged", "manual_call"}
)


def catch_up(
    session: Session, *, wait: bool = True, complete: bool = True, limit: int = report_marks.CHUNK
) -> int | None:
    """Count the history written since the mark, in the session's transaction: all of it, or
    (`complete` off) one window of about `limit` ids. The events counted, or None when
    another transaction is counting and `wait` is off."""
    mark = report_marks.lock(session, wait=wait)
    if mark is None:
        return None
    counted = 0
    while True:
        rows, more = report_marks.window(session, mark, COUNTED, limit)
        _count(session, rows)
        counted += len(rows)
        if not (more and complete):
            break
    report_marks.save(session, mark)
    return counted


def current(session: Session) -> None:
    """Count what is left before a report reads the counters.

    In a savepoint: on SQLite a reader whose snapshot is older than the last commit cannot
    take the write lock; the report then reads the counters as the worker last left them
    (a second old at most while the worker runs), rather than failing. Nor does a report
    wait for another transaction that is counting (a worker, another report): reports read
    side by side, never queued one behind the other on the mark.
    """
    if not report_marks.behind(session):
        return
    try:
        with session.begin_nested():
            catch_up(session, wait=False)
    except OperationalError as exc:
        log.info("reports read without counting the newest history: %s", exc.orig)


def _count(session: Session, rows: Iterable[Sequence[Any]]) -> None:
    """Add a window's rows (a day, then the facts `metrics.hits_of` reads) to the counters."""
    firsts: dict[tuple[int, str, str, str], First] = {}
    for day, *values in rows:
        row = Facts(*values)
        enrollment_id, sequence_id = row.enrollment_id, row.sequence_id
        if enrollment_id is None or sequence_id is None:
            continue  # of no enrollment: counts for nothing (the window reads none such)
        for hit in hits_of(row):
            key = (enrollment_id, hit.metric, hit.step, hit.detail)
            known = firsts.get(key)
            if known is None or day < known.day:
                firsts[key] = First(*key, day, hit.variant, hit.who, sequence_id)
    if firsts:
        report_counts.add(session, list(firsts.values()))


def take_back(session: Session, enrollment_ids: Iterable[int]) -> None:
    """Enrollments whose history is deleted leave every figure. The mark is taken first, so
    that no count of their history is in flight while it goes."""
    ids = list(enrollment_ids)
    if ids:
        report_marks.lock(session)
        report_counts.take_back(session, ids)
