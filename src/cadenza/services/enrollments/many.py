"""One transition applied to many enrollments of a sequence at once (pause, resume, end, exit).

The rows are read with the columns the machine needs, locked, decided one by one by the same
transition a single enrollment would get, and written back in a few statements. Holds,
releases and exits read nothing of the contact: each decision gets a bare view of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.contact import ContactView
from cadenza.core.decisions import Decision, EnrollmentState, Refused
from cadenza.services.enrollments.applying import Applier, ref_of, state_of
from cadenza.store.catalog import definition_for
from cadenza.store.claims import ENROLLMENT_COLUMNS
from cadenza.store.models import Enrollment, Sequence

Transition = Callable[[machine.Situation, EnrollmentState], Decision]
# What a state and a Ref are read from: the claim's columns, and who held it and from what.
COLUMNS = (*ENROLLMENT_COLUMNS, Enrollment.paused_from, Enrollment.paused_by)


@dataclass(frozen=True)
class Changed:
    """An enrollment a transition moved."""

    id: int
    contact_id: int
    step: str | None


def transition_all(
    session: Session,
    sequence: Sequence,
    transition: Transition,
    *,
    where: list[ColumnElement[bool]],
    now: datetime,
    actor: str,
    sequence_status: str | None = None,
) -> list[Changed]:
    """Apply `transition` to the sequence's enrollments matching `where`; those it moved.

    `sequence_status`: the status the machine is to see the sequence in (the one it is
    taking, for a sequence-wide change), else the sequence's own. An enrollment whose state
    refuses the transition is left as it is.
    """
    query = (
        select(*COLUMNS)
        .where(Enrollment.sequence_id == sequence.id, *where)
        .order_by(Enrollment.id)
        .with_for_update()
    )
    applier = Applier(session, now, actor)
    changed: list[Changed] = []
    status = sequence_status or sequence.status
    for row in session.execute(query):
        state = state_of(row)
        definition = definition_for(session=session, version_id=row.version_id)
        sit = machine.Situation(
            definition, ContactView(id=row.contact_id), now=now, sequence_status=status
        )
        try:
            decision = transition(sit, state)
        except Refused:
            continue
        if not decision.history:
            continue  # nothing happened to it
        ref = ref_of(row, sequence.name, state)
        applier.apply(ref, definition, decision)
        changed.append(Changed(row.id, row.contact_id, row.step))
    applier.flush()  # holds and exits set off no contact change
    return changed
