"""Sequences as listings show them: every sequence, and one with its versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition
from cadenza.errors import NotFound
from cadenza.services.senders.limits import MESSAGE_SENDER

# The listing row is made where the listing's Core read makes it (pages.py).
from cadenza.services.sequences.pages import ENROLLED_STATUSES as ENROLLED_STATUSES
from cadenza.services.sequences.pages import SequenceRow as SequenceRow
from cadenza.services.sequences.pages import sequence_row
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import (
    Enrollment,
    Sender,
    Sequence,
    SequenceMember,
    SequenceVersion,
    User,
)


def list_sequences(*, session: Session, viewer: Viewer = OPERATOR) -> list[SequenceRow]:
    """Every sequence the viewer sees, with its latest version, steps and live enrollments."""
    latest_number = (
        select(SequenceVersion.sequence_id, func.max(SequenceVersion.number).label("number"))
        .group_by(SequenceVersion.sequence_id)
        .subquery()
    )
    rows = session.execute(
        select(Sequence, SequenceVersion, User.email)
        .join(latest_number, latest_number.c.sequence_id == Sequence.id)
        .join(
            SequenceVersion,
            (SequenceVersion.sequence_id == Sequence.id)
            & (SequenceVersion.number == latest_number.c.number),
        )
        .outerjoin(User, User.id == Sequence.owner_id)
        .where(access.visible_sequences(viewer))
        .order_by(Sequence.name)
    ).all()
    enrolled = _enrolled_counts(session=session)
    return [
        sequence_row(seq, version.definition, version.number, owner, enrolled.get(seq.id, 0))
        for seq, version, owner in rows
    ]


def _enrolled_counts(*, session: Session, sequence_id: int | None = None) -> dict[int, int]:
    query = (
        select(Enrollment.sequence_id, func.count())
        .where(Enrollment.status.in_(ENROLLED_STATUSES))
        .group_by(Enrollment.sequence_id)
    )
    if sequence_id is not None:
        query = query.where(Enrollment.sequence_id == sequence_id)
    return {row[0]: row[1] for row in session.execute(query)}


def get_sequence(
    *, session: Session, name: str, viewer: Viewer = OPERATOR
) -> tuple[Sequence, list[SequenceVersion]]:
    """A sequence by name with all its versions, oldest first; NotFound if the viewer sees none."""
    sequence = access.sequence_for(session=session, viewer=viewer, name=name)
    versions = session.scalars(
        select(SequenceVersion)
        .where(SequenceVersion.sequence_id == sequence.id)
        .order_by(SequenceVersion.number)
    )
    return sequence, list(versions)


def latest_definition(
    *, session: Session, name: str, viewer: Viewer = OPERATOR
) -> tuple[SequenceVersion, Definition]:
    """A sequence's latest version and its parsed definition."""
    _, versions = get_sequence(session=session, name=name, viewer=viewer)
    if not versions:
        raise NotFound(f"sequence {name!r} has no version")
    return versions[-1], Definition.model_validate(versions[-1].definition)


def sequence_detail(*, session: Session, name: str, viewer: Viewer = OPERATOR) -> dict[str, Any]:
    """`sequences show NAME --json`: the listing row, the team, the lines it sends from, the
    versions and the latest definition."""
    sequence, versions = get_sequence(session=session, name=name, viewer=viewer)
    if not versions:
        raise NotFound(f"sequence {name!r} has no version")
    owner = session.scalar(select(User.email).where(User.id == sequence.owner_id))
    enrolled = _enrolled_counts(session=session, sequence_id=sequence.id).get(sequence.id, 0)
    latest = versions[-1]
    detail = sequence_row(sequence, latest.definition, latest.number, owner, enrolled).as_dict()
    detail["versions"] = [
        {"number": v.number, "digest": v.digest, "created_at": v.created_at} for v in versions
    ]
    detail["team"] = team_of(session, sequence.id)
    detail["senders"] = lines_of(session, versions[-1].definition)
    detail["definition"] = versions[-1].definition
    return detail


def team_of(session: Session, sequence_id: int) -> list[str]:
    """The emails of a sequence's additional team members, sorted."""
    query = (
        select(User.email)
        .join(SequenceMember, SequenceMember.user_id == User.id)
        .where(SequenceMember.sequence_id == sequence_id)
        .order_by(User.email)
    )
    return list(session.scalars(query))


def lines_of(session: Session, definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The mailboxes and lines a definition sends from (Aloware's "Line Used"), with their caps;
    `managed` is false for an address no sender row describes (it sends without caps)."""
    wanted: dict[tuple[str, str], None] = {}
    senders = definition.get("senders") or {}
    for own in ("email", "sms"):
        if senders.get(own):
            wanted[(own, str(senders[own]))] = None
    for address in senders.get("email_rotation") or []:  # the mailboxes email rotates through
        wanted[("email", str(address))] = None
    for step in definition.get("steps", []):
        kind = MESSAGE_SENDER.get(str(step.get("action")))
        if kind and step.get("sender"):
            wanted[(kind, str(step["sender"]))] = None
    rows = []
    for kind, address in wanted:
        sender = session.scalar(
            select(Sender).where(Sender.kind == kind, Sender.address == address)
        )
        rows.append(
            {
                "kind": kind,
                "address": address,
                "name": sender.name if sender else "",
                "per_hour": sender.per_hour if sender else None,
                "per_day": sender.per_day if sender else None,
                "managed": sender is not None,
            }
        )
    return rows
