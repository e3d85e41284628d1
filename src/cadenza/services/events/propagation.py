"""What applied decisions set off: contact changes, and what those changes reach.

The enrollments layer writes its decisions and hands back their consequences; this module
applies them: each contact change is made, recorded, and reaches the contact's other
enrollments and the triggers of active sequences; `enroll` and `unenroll` steps hand the
contact to another sequence or take it out of one. A chain of sequences handing a contact
on is cut at the trigger depth guard (`triggers.MAX_DEPTH`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from cadenza.services.enrollments import enrolling
from cadenza.services.enrollments.applying import Applier, Consequences
from cadenza.services.events import changes, triggers
from cadenza.services.events.recording import Arrival, record_arrivals, running_of
from cadenza.settings import Settings


def settle(session: Session, applier: Applier, settings: Settings) -> None:
    """Write an applier's decisions, then apply what they set off."""
    propagate(session, applier.flush(), applier.now, settings)


def written_later(
    session: Session, applier: Applier, settings: Settings
) -> Callable[[], None] | None:
    """Read now what an applier's contact changes need; their writes, for later, or None.

    When the changes hand nobody over and fire no trigger, everything they read (contacts,
    tags, owners, the trigger index, the contacts' running enrollments as the decisions
    leave them) is read here, before the decisions are written; what is returned then
    writes the decisions and the changes with statements whose answers nobody waits for,
    as the decisions alone would be. When they fire a trigger, the triggers read as they
    write: the decisions, the changes and what they set off are written here, from the
    changes as read once, and what is returned writes the decisions' history and outbox
    rows. None when the decisions hand contacts over themselves (`enroll`, `unenroll`
    steps): `settle` reads as it writes.
    """
    consequences = applier.consequences
    if consequences.enroll or consequences.unenroll or not consequences.changes:
        return None
    now = applier.now
    wanted = [
        changes.Change(ref.contact_id, change.action, change.params)
        for ref, change in consequences.changes
    ]
    planned = changes.plan(session, wanted, now)
    arrivals = _arrivals(consequences, planned.applied)
    index = triggers.index(session)
    if any(index.matching(arrival.record) for arrival in arrivals):
        # The decisions' history (nothing here reads it, and most of what they write) goes
        # last, with the COMMIT, under the ids it has now.
        _consequences, history_later = applier.flush_holding_history()
        planned.write(session)
        record_arrivals(session, arrivals, settings, index=index)
        return history_later
    running = running_of(session, {arrival.contact_id for arrival in arrivals})
    for lives in running.values():
        for live in lives:
            decided = applier.decided.get(live.ref.id)
            if decided is not None:  # this batch's own decision, not yet written
                live.state, live.ref.depth = decided, decided.depth

    def write() -> None:
        applier.flush()
        planned.write(session)
        record_arrivals(session, arrivals, settings, index=index, running=running)

    return write


def _arrivals(consequences: Consequences, applied: list[changes.Applied]) -> list[Arrival]:
    return [
        Arrival(ref.contact_id, r, f"sequence:{ref.sequence_name}", ref, ref.depth, done.contact)
        for (ref, _change), done in zip(consequences.changes, applied, strict=True)
        for r in done.records
    ]


def propagate(
    session: Session, consequences: Consequences, now: datetime, settings: Settings
) -> None:
    """Apply contact changes and hand-overs, in the order the decisions made them.

    The changes of a whole batch are made at once, then their events recorded at once
    (`record_arrivals`): a few statements for the batch, whatever its size.
    """
    if consequences.changes:
        wanted = [
            changes.Change(ref.contact_id, change.action, change.params)
            for ref, change in consequences.changes
        ]
        applied = changes.apply(session, wanted, now)
        record_arrivals(session, _arrivals(consequences, applied), settings)
    for ref, name in consequences.enroll:
        enrolling.enroll(
            session=session,
            sequence=name,
            contact_ids=[ref.contact_id],
            now=now,
            settings=settings,
            depth=ref.depth + 1,
            actor=f"sequence:{ref.sequence_name}",
        )
    for ref, name in consequences.unenroll:
        enrolling.exit_contact(
            session=session,
            sequence=name,
            contact_id=ref.contact_id,
            now=now,
            reason=f"unenrolled by {ref.sequence_name}",
        )
