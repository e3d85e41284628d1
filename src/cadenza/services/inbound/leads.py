"""Lead intake by email: a form's notification sent to a sequence's intake address.

A sequence's intake address is `<slug of its name>@<intake domain>`; a tag before a `+`
is allowed (`leads+pricing@…`), so one mailbox can forward for every sequence. The lead
becomes a contact (or updates the one with the same email, else the same phone, as an
import would), `lead_email_received` is recorded and the contact is enrolled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.errors import LeadParseError
from cadenza.channels.inbound_lead import LeadFields, parse_lead_email
from cadenza.core.contact_fields import Draft, clean
from cadenza.errors import CadenzaError, ValidationFailed
from cadenza.services import contacts, enrollments, history
from cadenza.services.events.recording import record_event
from cadenza.services.inbound.matching import (
    ACTOR,
    InboundResult,
    clean_text,
    cleaned,
    record_unmatched,
)
from cadenza.settings import Settings
from cadenza.store.models import Contact, Sequence


def intake_domain(settings: Settings) -> str:
    """The domain of intake addresses (CADENZA_INTAKE_DOMAIN)."""
    return settings.intake_domain.strip().lower()


def slugify(name: str) -> str:
    """`Inbound lead follow-up` -> `inbound-lead-follow-up` (accents dropped)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def intake_address_of(sequence_name: str, settings: Settings) -> str:
    """The address whose mail becomes leads for this sequence."""
    return f"{slugify(sequence_name)}@{intake_domain(settings)}"


def intake_address(addresses: Iterable[str], settings: Settings) -> str | None:
    """The first of `addresses` in the intake domain, lowercased, if any."""
    domain = intake_domain(settings)
    for address in addresses:
        local, at, host = address.strip().strip("<>").lower().rpartition("@")
        if local and at and host == domain:
            return f"{local}@{host}"
    return None


def sequences_for(session: Session, address: str) -> list[Sequence]:
    """The sequences whose name slugs to the address's local part (after any `+`)."""
    slug = address.partition("@")[0].rpartition("+")[2]
    # Sequences are few (hundreds): comparing slugs here beats storing them.
    found = session.scalars(select(Sequence).order_by(Sequence.id))
    return [sequence for sequence in found if slugify(sequence.name) == slug]


def handle_lead(
    *, session: Session, raw: bytes, address: str, now: datetime, settings: Settings
) -> InboundResult:
    """A lead email to `address`: contact created or updated, then enrolled (or refused)."""
    found = sequences_for(session, address)
    if len(found) != 1:
        names = ", ".join(s.name for s in found)
        why = f"several sequences ({names})" if found else "no sequence"
        return record_unmatched(session, now, "email", f"lead email to {address}: {why}")
    sequence = found[0]
    lead = _read_lead(raw)
    if isinstance(lead, str):
        return record_unmatched(session, now, "email", f"lead email to {address}: {lead}")
    try:
        contact_id, created = save_lead(session, lead, now, settings)
    except ValidationFailed as exc:
        return record_unmatched(session, now, "email", f"lead email to {address}: {exc}")
    record_event(
        session=session,
        contact_id=contact_id,
        name="lead_email_received",
        data={"sequence": sequence.name, "address": address, "created": created},
        now=now,
        settings=settings,
        actor=ACTOR,
    )
    detail = _enroll(session, sequence, contact_id, now, settings)
    action = "created" if created else "updated"
    return InboundResult("lead", contact_id=contact_id, detail=f"contact {action}; {detail}")


def _read_lead(raw: bytes) -> LeadFields | str:
    """The lead in the email, or why there is none (NULs the parser decoded removed)."""
    try:
        return cleaned(parse_lead_email(raw))
    except LeadParseError as exc:
        return clean_text(str(exc))
    except Exception as exc:  # the stdlib's header parser crashes on some malformed headers
        return clean_text(f"unreadable: {type(exc).__name__}: {exc}")


def save_lead(
    session: Session, lead: LeadFields, now: datetime, settings: Settings
) -> tuple[int, bool]:
    """The lead's contact id, and whether it is new; ValidationFailed without email or phone."""
    draft = _draft(lead, settings.default_region)
    contact = _same_person(session, draft)
    if contact is None:
        data: dict[str, Any] = {**draft.values, "fields": draft.fields}
        created = contacts.create_contact(
            session=session, data=data, now=now, settings=settings, actor=ACTOR
        )
        return created.id, True
    # As an import would: what the form says wins, custom fields merge, a known zone stays.
    for name, value in draft.values.items():
        setattr(contact, name, value)
    contact.fields = {**(contact.fields or {}), **draft.fields}
    contact.timezone = contact.timezone or draft.zone_guess
    contact.updated_at = now
    session.flush()
    return contact.id, False


def _draft(lead: LeadFields, region: str) -> Draft:
    """The lead checked by the contacts rules; a bad value is dropped, not the whole lead."""
    record = {k: str(v) for k, v in lead.as_contact().items() if k != "fields"}
    record.update({f"fields.{k}": v for k, v in lead.fields.items()})
    draft, problems = clean(record, region=region, owners={})
    bad = {name for name, _ in problems if name}
    if bad:
        record = {k: v for k, v in record.items() if k not in bad}
        draft, problems = clean(record, region=region, owners={})
    if problems:
        raise ValidationFailed("; ".join(f"{k}: {why}" if k else why for k, why in problems))
    return draft


def _same_person(session: Session, draft: Draft) -> Contact | None:
    """Same email; else the first with the same phone whose email does not disagree."""
    if draft.email is not None:
        found = session.scalar(select(Contact).where(Contact.email == draft.email))
        if found is not None:
            return found
    if draft.phone is None:
        return None
    query = select(Contact).where(Contact.phone == draft.phone).order_by(Contact.id)
    for candidate in session.scalars(query):
        if candidate.email is None or draft.email is None:
            return candidate
    return None


def _enroll(
    session: Session, sequence: Sequence, contact_id: int, now: datetime, settings: Settings
) -> str:
    """Enroll the contact; a refusal is recorded in history and described, never raised."""
    try:
        report = enrollments.enroll(
            session=session,
            sequence=sequence.name,
            contact_ids=[contact_id],
            now=now,
            settings=settings,
            actor="intake",
        )
    except CadenzaError as exc:
        history.record(
            session,
            history.Subject(contact_id, sequence.id),
            "enroll_refused",
            now,
            reason=str(exc),
            actor="intake",
        )
        return f"not enrolled in {sequence.name}: {exc}"
    if report.enrolled:
        return f"enrolled in {sequence.name}"
    return f"not enrolled in {sequence.name}: {report.refused[0][1]}"
