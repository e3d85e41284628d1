"""Advancing due enrollments: a claimed batch decided by the machine, inside the claim.

Everything the machine reads of a batch is loaded in a few statements (definitions by
version, the contacts that came with the claim, their events when a condition reads them,
capacity per sequence); each enrollment is then decided on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.definition import uses_events
from cadenza.services.enrollments.applying import Applier, ref_of, state_of
from cadenza.services.outbox.rendering import Lines, StepRenderer
from cadenza.services.senders.limits import Limits
from cadenza.services.users.people import Directory
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.claims import Claimed
from cadenza.store.db import is_database_error
from cadenza.store.machine_reads import blocked_domains, load_events, views_of_claimed

log = logging.getLogger(__name__)


def decide_batch(
    session: Session, rows: Sequence[Claimed], now: datetime, settings: Settings
) -> Applier:
    """Decide every claimed enrollment inside the claiming transaction.

    Limits are written as they are decided; the states, tasks, history and outbox rows wait
    in the returned Applier for its `flush`, and what reaches beyond the enrollments (contact
    changes, hand-overs) is what that flush hands back.
    """
    definitions = {
        v: definition_for(session=session, version_id=v) for v in {row.version_id for row in rows}
    }
    contacts = views_of_claimed(rows, blocked_domains(session))
    with_events = {v for v, d in definitions.items() if uses_events(d)}
    needing = [row for row in rows if row.version_id in with_events]
    events = (
        load_events(
            session=session,
            contact_ids=(r.contact_id for r in needing),
            since=min(r.enrolled_at for r in needing),
        )
        if needing
        else {}
    )
    limits = Limits(session, settings)
    limiters = {
        v: limits.for_sequence(row.sequence_id, definitions[v])
        for v, row in {row.version_id: row for row in rows}.items()
    }
    directory = Directory(session)
    applier = Applier(session, now, people=directory)
    quiet = settings.quiet_hours
    lines = Lines(session, [row.contact_id for row in rows])
    for row in by_priority(rows):
        definition = definitions[row.version_id]
        state = state_of(row)
        ref = ref_of(row, row.sequence_name, state)
        contact = contacts[row.contact_id]
        limiter = limiters[row.version_id]
        limiter.begin(row.id)
        renderer = StepRenderer(
            session,
            settings,
            now,
            row.id,
            row.sequence_id,
            row.sequence_name,
            row.contact_id,
            definition,
            limiter.choice,
            lines,
        )
        sit = machine.Situation(
            definition,
            contact,
            now,
            events.get(row.contact_id, ()),
            row.sequence_status,
            quiet,
            limiter,
            directory,
            renderer,
        )
        try:
            decision = machine.advance(sit, state, owned=True)
        except Exception as exc:
            if is_database_error(exc):
                raise  # the batch rolls back whole and is claimed again
            # A bug met by one enrollment: its step waits for a person; the batch goes on.
            log.exception("step failed", extra={"enrollment": row.id, "step": row.step})
            sit.contact = contact
            decision = machine.fail_step(sit, state_of(row), f"the step failed: {exc!r}"[:500])
        applier.apply(ref, definition, decision)
    limits.flush()
    # The round robins' turns, now the batch is decided: taking them locks their groups,
    # which the batch before may hold until its COMMIT (it was written meanwhile).
    directory.take_turns()
    return applier


def by_priority(rows: Sequence[Claimed]) -> list[Claimed]:
    """Enrollments already under way before first steps, each group in its claimed order:
    when a mailbox's daily cap binds, the contacts already in a conversation get its room."""
    return sorted(rows, key=lambda row: row.last_step_at is None)
