"""Enrolling from the UI: pick contacts by search, tag or condition, see beforehand who would
be enrolled and who refused and why (the very rules `enroll` applies, nothing written), then
enroll them set-wise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import yaml
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.conditions import evaluate
from cadenza.core.definition import Condition
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services.contacts.records import contact_names
from cadenza.services.enrollments.bulk import CHUNK, Enroller, EnrollReport, Target
from cadenza.services.enrollments.enrolling import ENROLLABLE, enroll
from cadenza.services.enrollments.queue import matching_contacts
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store import candidates
from cadenza.store.bulk import chunks
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Contact, ContactTag

SAMPLE = 50  # refused contacts named on the preview (the reasons are counted for all)


@dataclass(frozen=True)
class Pick:
    """Which contacts: all of these criteria that are given must hold (none given: nobody)."""

    search: str | None = None
    tag: str | None = None
    where: Condition | None = None

    @property
    def empty(self) -> bool:
        return not (self.search and self.search.strip()) and not self.tag and self.where is None


@dataclass
class Preview:
    """What enrolling the picked contacts would do now."""

    sequence: str
    picked: int = 0
    enrollable: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, reason

    @property
    def refused_count(self) -> int:
        return self.picked - self.enrollable


def picked_contacts(*, session: Session, pick: Pick, now: datetime) -> list[int]:
    """The ids of the contacts the pick names, in id order."""
    if pick.empty:
        return []
    query = select(Contact.id).order_by(Contact.id)
    if pick.search and pick.search.strip():
        query = query.where(Contact.id.in_(matching_contacts(pick.search)))
    if pick.tag:
        tagged = select(ContactTag.contact_id).where(ContactTag.tag == pick.tag.strip())
        query = query.where(Contact.id.in_(tagged))
    ids = list(session.scalars(query))
    if pick.where is None:
        return ids
    matched: list[int] = []
    for batch in chunks(ids):
        views = load_views(session=session, contact_ids=batch)
        matched.extend(i for i in batch if evaluate(pick.where, views[i], (), now))
    return matched


def _enroller(
    session: Session, sequence: str, now: datetime, settings: Settings, viewer: Viewer
) -> Enroller:
    seq = access.sequence_for(session=session, viewer=viewer, name=sequence, privilege="enroll")
    if seq.status not in ENROLLABLE:
        raise Conflict(f"sequence {sequence!r} is {seq.status}: nobody can be enrolled")
    version = latest_version(session, seq)
    definition = definition_for(session=session, version_id=version.id)
    target = Target(seq.id, version.id, definition, paused=seq.status == "paused")
    return Enroller(
        target, now, settings.quiet_hours, initiator_id=viewer.user_id, actor=viewer.actor, depth=0
    )


def preview_enrollment(
    *,
    session: Session,
    sequence: str,
    pick: Pick,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> Preview:
    """Who of the picked contacts would be enrolled and who refused with the reason: read only."""
    enroller = _enroller(session, sequence, now, settings, viewer)
    ids = picked_contacts(session=session, pick=pick, now=now)
    preview = Preview(sequence, picked=len(ids))
    sample: list[tuple[int, str]] = []
    for batch in chunks(ids, CHUNK):
        found = candidates.load(session, enroller.target.sequence_id, batch)
        for contact_id in batch:
            candidate = found.get(contact_id)
            reason = "no such contact" if candidate is None else enroller.refusal(candidate)
            if reason is None:
                preview.enrollable += 1
                continue
            preview.reasons[reason] += 1
            if len(sample) < SAMPLE:
                sample.append((contact_id, reason))
    names = contact_names(session=session, contact_ids=[c for c, _ in sample])
    preview.refused = [(c, names.get(c, f"contact {c}"), reason) for c, reason in sample]
    return preview


def enroll_picked(
    *,
    session: Session,
    sequence: str,
    pick: Pick,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> EnrollReport:
    """Enroll the picked contacts (refusals recorded with their reasons, as `enroll` does)."""
    _enroller(session, sequence, now, settings, viewer)  # the same checks as the preview
    ids = picked_contacts(session=session, pick=pick, now=now)
    return enroll(
        session=session,
        sequence=sequence,
        contact_ids=ids,
        now=now,
        settings=settings,
        initiator_id=viewer.user_id,
        actor=viewer.actor,
    )


def parse_condition(text: str) -> Condition | None:
    """A condition typed as YAML or JSON (`{field: company, op: eq, value: Acme}`); None when
    empty; ValidationFailed naming what is wrong."""
    if not text.strip():
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"the condition is not YAML or JSON: {exc}") from None
    try:
        return TypeAdapter(Condition).validate_python(data)
    except ValidationError as exc:
        reasons = "; ".join(
            ".".join(str(part) for part in e["loc"]) + f": {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
        raise ValidationFailed(f"not a condition: {reasons}") from None
