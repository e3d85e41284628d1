"""Changes to contacts (by steps or by people), made for a whole batch at once.

A batch of changes is applied in memory, in the order given, to the contacts as they were
read in one query, and then written in a few statements: tags added and removed, dialer
entries, and the changed columns of each contact. Each change yields the events it makes
(none when it changed nothing) with the contact as it stood right after it, which is what
the contact's other enrollments see of it: the same as if the changes had been made and
read back one at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.errors import NotFound, ValidationFailed
from cadenza.store import bulk
from cadenza.store.bulk import chunks
from cadenza.store.claims import CONTACT_VIEW_COLUMNS, VIEW_FIELDS
from cadenza.store.machine_reads import among, load_tags
from cadenza.store.models import Contact, ContactTag, DialerEntry, User

BUILTIN_FIELDS = {
    "first_name",
    "last_name",
    "email",
    "phone",
    "timezone",
    "company",
    "lead_source",
    "disposition",
}
# Actions that change a contact's own columns (and so lock its row while the batch runs):
# the steps' own, and what incoming events set (a flag, the time the contact last wrote).
COLUMN_ACTIONS = {
    "set_disposition",
    "set_field",
    "set_owner",
    "mark_dnc",
    "set_dnc",
    "set_flag",
    "touch_inbound",
    "add_line",
}
FLAGS = ("dnc", "sms_opted_out", "email_unsubscribed", "email_bounced")
CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
TAGS: Table = ContactTag.__table__  # type: ignore[assignment]
DIALER: Table = DialerEntry.__table__  # type: ignore[assignment]
ACTIONS = {*COLUMN_ACTIONS, "add_tag", "remove_tag", "add_to_dialer", "remove_from_dialer"}


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one contact: a contact-change step's action and parameters."""

    contact_id: int
    action: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Applied:
    """The events a change made (none if it changed nothing), and the contact right after."""

    records: list[EventRecord]
    contact: ContactView


@dataclass(slots=True)
class _Contact:
    """A contact being changed: its view's values, tags, owner, and what changed."""

    values: dict[str, Any]
    tags: set[str]
    owner_id: int | None
    columns: dict[str, Any] = field(default_factory=dict)
    tags_before: frozenset[str] = frozenset()

    def view(self) -> ContactView:
        return ContactView.trusted({**self.values, "tags": sorted(self.tags)})


def apply(session: Session, changes: Sequence[Change], now: datetime) -> list[Applied]:
    """Make every change, in order; for each, the events it made and the contact after it."""
    planned = plan(session, changes, now)
    planned.write(session)
    return planned.applied


@dataclass(slots=True)
class Planned:
    """Changes made in memory, with what they made, and not yet written (`write`)."""

    applied: list[Applied]
    contacts: dict[int, _Contact]
    dialer: dict[tuple[int, str], bool]
    now: datetime

    def write(self, session: Session) -> None:
        """Write what changed: statements whose answers nobody reads."""
        if self.applied:
            _write(session, self.contacts, self.dialer, self.now)


def plan(session: Session, changes: Sequence[Change], now: datetime) -> Planned:
    """Read the contacts (locked) and make every change in memory, in order."""
    if not changes:
        return Planned([], {}, {}, now)
    for change in changes:
        if change.action not in ACTIONS:
            raise ValidationFailed(f"not a contact change: {change.action}")
    lock = any(change.action in COLUMN_ACTIONS for change in changes)
    contacts = _load(session, {change.contact_id for change in changes}, lock=lock)
    owners = _owners(session, changes)
    dialer: dict[tuple[int, str], bool] = {}
    made: list[Applied] = []
    for position, change in enumerate(changes):
        contact = contacts.get(change.contact_id)
        if contact is None:
            raise NotFound(f"no contact {change.contact_id}")
        records = _one(contact, change, now, owners.get(position), dialer)
        made.append(Applied(records, contact.view()))
    return Planned(made, contacts, dialer, now)


def _one(
    contact: _Contact,
    change: Change,
    now: datetime,
    owner: tuple[int, str] | None,
    dialer: dict[tuple[int, str], bool],
) -> list[EventRecord]:
    action, params = change.action, change.params
    if action == "add_tag":
        tag = str(params["tag"])
        if tag in contact.tags:
            return []
        contact.tags.add(tag)
        contact.columns["updated_at"] = now  # audiences read contacts changed since a time
        return [EventRecord("tag_added", now, data={"tag": tag})]
    if action == "remove_tag":
        tag = str(params["tag"])
        if tag not in contact.tags:
            return []
        contact.tags.discard(tag)
        contact.columns["updated_at"] = now
        return [EventRecord("tag_removed", now, data={"tag": tag})]
    if action == "set_disposition":
        value = params.get("disposition")
        return _disposition(contact, None if value is None else str(value), now)
    if action == "set_field":
        return _field(contact, str(params["field"]), params.get("value"), now)
    if action in ("mark_dnc", "set_dnc"):
        value = bool(params.get("dnc", True))
        if contact.values["dnc"] == value:
            return []
        _set(contact, "dnc", value, now)
        return [EventRecord("dnc_changed", now, data={"dnc": value})]
    if action == "set_flag":
        flag, value = str(params["flag"]), bool(params["value"])
        if flag not in FLAGS:
            raise ValidationFailed(f"not a flag: {flag}")
        _set(contact, flag, value, now)
        return []
    if action == "touch_inbound":  # the time the contact last wrote (skip_if_communicating)
        contact.columns["last_inbound_at"] = now
        return []
    if action == "set_owner":
        assert owner is not None, "every set_owner change has its user"
        user_id, email = owner
        contact.owner_id, contact.values["owner"] = user_id, email
        contact.columns["owner_id"], contact.columns["updated_at"] = user_id, now
        return [EventRecord("owner_changed", now, data={"owner": email})]
    if action == "add_line":
        line = str(params["line"])
        # Not a field of the contact's view: steps never read it, the outbox does.
        contact.columns["line"], contact.columns["updated_at"] = line, now
        return [EventRecord("line_assigned", now, data={"line": line})]
    add, name = action == "add_to_dialer", str(params["list"])
    dialer[(change.contact_id, name)] = add
    return [EventRecord("dialer_added" if add else "dialer_removed", now, data={"list": name})]


def _disposition(contact: _Contact, value: str | None, now: datetime) -> list[EventRecord]:
    before = contact.values["disposition"]
    if before == value:
        return []
    _set(contact, "disposition", value, now)
    return [EventRecord("disposition_changed", now, data={"from": before, "to": value})]


def _field(contact: _Contact, name: str, value: Any, now: datetime) -> list[EventRecord]:
    if name == "disposition":
        return _disposition(contact, value, now)
    if name in BUILTIN_FIELDS:
        _set(contact, name, value, now)
    else:
        _set(contact, "fields", {**contact.values["fields"], name: value}, now)
    return [EventRecord("field_changed", now, data={"field": name, "value": value})]


def _set(contact: _Contact, column: str, value: Any, now: datetime) -> None:
    contact.values[column] = value
    contact.columns[column], contact.columns["updated_at"] = value, now


def _load(session: Session, ids: set[int], *, lock: bool) -> dict[int, _Contact]:
    """The contacts as the machine sees them, with their owner's id (rows locked if asked)."""
    tags = load_tags(session, ids)
    found: dict[int, _Contact] = {}
    connection = session.connection()
    for batch in chunks(sorted(ids)):
        query = (
            select(*CONTACT_VIEW_COLUMNS, Contact.owner_id)
            .outerjoin(User, User.id == Contact.owner_id)
            .where(among(Contact.id, batch, connection.dialect.name))
            .order_by(Contact.id)
        )
        if lock:
            query = query.with_for_update(of=Contact)
        for row in connection.execute(query):
            values = dict(zip(VIEW_FIELDS, row, strict=False))
            values["first_name"] = values["first_name"] or ""
            values["last_name"] = values["last_name"] or ""
            values["fields"] = values["fields"] or {}
            own = set(tags.get(row[0], ()))
            found[row[0]] = _Contact(values, own, row[-1], tags_before=frozenset(own))
    return found


def _owners(session: Session, changes: Sequence[Change]) -> dict[int, tuple[int, str]]:
    """The user each `set_owner` change names (by its position): id and email.

    The machine names the user by the time a change is applied (`user:<email>`; a round
    robin's pick is made once, in the pass that decided it), so one query finds them all.
    """
    named = {
        i: str(c.params["owner"]).partition(":")[2]
        for i, c in enumerate(changes)
        if c.action == "set_owner"
    }
    if not named:
        return {}
    query = select(User.email, User.id).where(User.email.in_(set(named.values())))
    users: dict[str, int] = dict(session.execute(query).all())
    missing = sorted(set(named.values()) - set(users))
    if missing:
        raise NotFound(f"no user {missing[0]}")
    return {i: (users[email], email) for i, email in named.items()}


def _write(
    session: Session,
    contacts: dict[int, _Contact],
    dialer: dict[tuple[int, str], bool],
    now: datetime,
) -> None:
    """Write what changed: tags, dialer entries, and each contact's changed columns.

    One statement for each kind of write, whatever the batch's size (`bulk`: one JSON
    document for the rows on PostgreSQL, executemany on SQLite), in contact id order.
    """
    ordered = sorted(contacts.items())
    added = [
        {"contact_id": cid, "tag": tag}
        for cid, contact in ordered
        for tag in sorted(contact.tags - contact.tags_before)
    ]
    removed = [
        {"contact_id": cid, "tag": tag}
        for cid, contact in ordered
        for tag in sorted(contact.tags_before - contact.tags)
    ]
    bulk.insert_rows(session, TAGS, added, skip_existing=True)
    bulk.delete_rows(session, TAGS, removed)
    adds = [
        {"contact_id": cid, "list_name": name, "added_at": now}
        for (cid, name), add in sorted(dialer.items())
        if add
    ]
    drops = [
        {"contact_id": cid, "list_name": name}
        for (cid, name), add in sorted(dialer.items())
        if not add
    ]
    bulk.insert_rows(session, DIALER, adds, skip_existing=True)
    bulk.delete_rows(session, DIALER, drops)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for contact_id, contact in ordered:
        if contact.columns:
            names = tuple(sorted(contact.columns))
            by_columns[names].append({"_id": contact_id, **contact.columns})
    for rows in by_columns.values():
        bulk.update_rows(session, CONTACTS, rows)
