"""Adding contacts to a list and taking them off: the sequence it serves follows.

Adding a contact enrolls them in the active sequence the list serves (through the
enrollment service, with its refusals), or resumes the enrollment their removal paused, at
the step it was paused on: no step runs twice, since an enrollment's visits and their
idempotency keys carry on where they were. Taking a contact off pauses their enrollment
there, with the reason in history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.decisions import LIVE
from cadenza.errors import NotFound
from cadenza.services.enrollments import many
from cadenza.services.enrollments.enrolling import audience, enroll
from cadenza.services.lists.binding import bound_sequence, list_id
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.models import Contact, ContactListMember, Enrollment, Sequence


@dataclass
class MembersReport:
    """What adding or removing members did: to the list, and to the sequence it serves."""

    list_name: str
    sequence: str | None = None
    changed: list[int] = field(default_factory=list)  # added, or removed
    unchanged: list[int] = field(default_factory=list)  # already members, or not members
    enrolled: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "list": self.list_name,
            "sequence": self.sequence,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "enrolled": self.enrolled,
            "resumed": self.resumed,
            "paused": self.paused,
            "refused": [{"contact_id": c, "reason": r} for c, r in self.refused],
        }


def add_members(
    *,
    session: Session,
    name: str,
    contact_ids: list[int],
    tag: str | None = None,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> MembersReport:
    """Add contacts (by id and/or tag) to a list; enroll or resume them in its sequence."""
    found, ids, served = _prepare(session, name, contact_ids, tag, now, viewer)
    report = MembersReport(name, served.name if served else None)
    members = _members(session, found, ids)
    report.changed = [i for i in ids if i not in members]
    report.unchanged = [i for i in ids if i in members]
    bulk.insert_rows(
        session,
        ContactListMember.__table__,  # type: ignore[arg-type]
        [{"list_id": found, "contact_id": i, "added_at": now} for i in report.changed],
    )
    if served is None or not report.changed:
        return report
    reason = f"added back to list {name!r} by {viewer.actor}"
    resumed = many.transition_all(
        session,
        served,
        lambda sit, state: machine.resume(sit, state, by="list", reason=reason),
        where=[
            Enrollment.contact_id.in_(report.changed),
            Enrollment.status == "paused",
            Enrollment.paused_by == "list",
        ],
        now=now,
        actor=viewer.actor,
    )
    report.resumed = [c.contact_id for c in resumed]
    fresh = [i for i in report.changed if i not in set(report.resumed)]
    enrolled = enroll(
        session=session,
        sequence=served.name,
        contact_ids=fresh,
        now=now,
        settings=settings,
        initiator_id=viewer.user_id,
        actor=viewer.actor,
    )
    report.enrolled, report.refused = enrolled.enrolled, enrolled.refused
    return report


def remove_members(
    *,
    session: Session,
    name: str,
    contact_ids: list[int],
    tag: str | None = None,
    now: datetime,
    viewer: Viewer = OPERATOR,
) -> MembersReport:
    """Take contacts off a list; their enrollments in its sequence pause at their step."""
    found, ids, served = _prepare(session, name, contact_ids, tag, now, viewer)
    report = MembersReport(name, served.name if served else None)
    members = _members(session, found, ids)
    report.changed = [i for i in ids if i in members]
    report.unchanged = [i for i in ids if i not in members]
    for batch in bulk.chunks(report.changed):
        session.execute(
            delete(ContactListMember).where(
                ContactListMember.list_id == found, ContactListMember.contact_id.in_(batch)
            )
        )
    if served is None or not report.changed:
        return report
    reason = f"removed from list {name!r} by {viewer.actor}"
    paused = many.transition_all(
        session,
        served,
        lambda sit, state: machine.pause(sit, state, by="list", reason=reason),
        where=[Enrollment.contact_id.in_(report.changed), Enrollment.status.in_(LIVE)],
        now=now,
        actor=viewer.actor,
    )
    report.paused = [c.contact_id for c in paused]
    return report


def enroll_members(
    *, session: Session, sequence: Sequence, list_name: str, now: datetime, settings: Settings,
    actor: str,
) -> MembersReport:  # fmt: skip
    """Enroll the list's members never enrolled in the sequence (it became active on it)."""
    found = list_id(session, list_name)
    ever = select(Enrollment.contact_id).where(Enrollment.sequence_id == sequence.id)
    ids = list(
        session.scalars(
            select(ContactListMember.contact_id)
            .where(ContactListMember.list_id == found, ContactListMember.contact_id.not_in(ever))
            .order_by(ContactListMember.contact_id)
        )
    )
    report = MembersReport(list_name, sequence.name)
    if ids:
        done = enroll(
            session=session,
            sequence=sequence.name,
            contact_ids=ids,
            now=now,
            settings=settings,
            actor=actor,
        )
        report.enrolled, report.refused = done.enrolled, done.refused
    return report


def _prepare(
    session: Session,
    name: str,
    contact_ids: list[int],
    tag: str | None,
    now: datetime,
    viewer: Viewer,
) -> tuple[int, list[int], Sequence | None]:
    """The list's id, the contacts meant (each once, all existing) and the sequence served;
    refused before anything changes when the viewer may not enroll into that sequence."""
    access.require(viewer, "edit contacts")
    found = list_id(session, name)
    ids = list(dict.fromkeys(contact_ids))
    missing = sorted(set(ids) - _existing(session, ids))
    if missing:
        raise NotFound("no contact " + ", ".join(str(i) for i in missing[:20]))
    if tag is not None:
        ids = list(dict.fromkeys([*ids, *audience(session=session, tag=tag, now=now)]))
    served = bound_sequence(session=session, list_name=name)
    if served is not None:
        access.sequence_for(session=session, viewer=viewer, name=served.name, privilege="enroll")
    return found, ids, served


def _existing(session: Session, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for batch in bulk.chunks(ids):
        found.update(session.scalars(select(Contact.id).where(Contact.id.in_(batch))))
    return found


def _members(session: Session, list_id_: int, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for batch in bulk.chunks(ids):
        query = select(ContactListMember.contact_id).where(
            ContactListMember.list_id == list_id_, ContactListMember.contact_id.in_(batch)
        )
        found.update(session.scalars(query))
    return found
