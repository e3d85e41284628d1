"""A contact's computed fields, kept current from the history rows being written.

`last_contacted_at` / `last_contacted_mode`: the last time we and the contact reached each
other, and how (Freshsales' "Last contacted mode"):

- `not_contacted`   nothing sent, no answer, no call yet
- `no_reply`        we sent an email; no answer since
- `opened_no_reply` they opened or clicked our email; no answer since
- `sms_sent`        we sent a text; no answer since
- `voicemail_left`  we dropped a ringless voicemail; no answer since
- `replied`         they answered (a reply to an email or an incoming text)
- `incoming_call`   a call from them was logged
- `outgoing_call`   a call to them was logged

`last_activity_type` / `last_activity_at`: the latest thing that involved the contact at
all, one of ACTIVITIES' values (an open or a note counts here, not as contacting).

`apply` is called by `history.write` for every batch of rows, whoever writes them: one
UPDATE per batch on PostgreSQL (its values one JSON document), one executed for each contact
touched on SQLite (executemany, in-process); never a query per event. An event older than
what a contact already shows does not move it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.store.bulk import driver_cursor, dumps, sqlite_time

MODES = (
    "not_contacted",
    "no_reply",
    "opened_no_reply",
    "sms_sent",
    "voicemail_left",
    "replied",
    "incoming_call",
    "outgoing_call",
)
# A sent message's channel -> (activity, contacted mode); webhooks and calls reach nobody
# by being sent (a placed call counts when it is logged).
SENT = {
    "email": ("email_sent", "no_reply"),
    "sms": ("sms_sent", "sms_sent"),
    "mms": ("sms_sent", "sms_sent"),
    "voicemail": ("voicemail_sent", "voicemail_left"),
}
# Event type -> (activity, contacted mode or None). message_sent and calls are decided above
# and in `_meaning` from their data.
ACTIVITIES: dict[str, tuple[str, str | None]] = {
    "replied": ("replied", "replied"),
    "inbound_message": ("message_received", "replied"),
    "opened": ("email_opened", None),
    "clicked": ("link_clicked", None),
    "task_completed": ("task_completed", None),
    "note_added": ("note_added", None),
    "meeting_booked": ("meeting_booked", None),
    "appointment_scheduled": ("meeting_booked", None),
}
OPENS = frozenset({"opened", "clicked"})
WATCHED = frozenset({"message_sent", "call_logged", "manual_call", *ACTIVITIES})


@dataclass(slots=True)
class _Latest:
    """What a batch says of one contact: its latest activity and latest contact."""

    activity: str
    activity_at: datetime
    mode: str = ""  # "" when the batch holds no contacting event
    contacted_at: datetime | None = None
    opened_at: datetime | None = None  # an open after the batch's last contact (or any)

    def see(self, activity: str, mode: str | None, at: datetime, opened: bool) -> None:
        if at >= self.activity_at:
            self.activity, self.activity_at = activity, at
        if mode is not None and (self.contacted_at is None or at >= self.contacted_at):
            self.mode, self.contacted_at = mode, at
            if self.opened_at is not None and self.opened_at < at:
                self.opened_at = None
        if opened and (self.contacted_at is None or at >= self.contacted_at):
            if self.mode == "no_reply":
                self.mode = "opened_no_reply"
            self.opened_at = max(at, self.opened_at or at)


def _meaning(row: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(activity, contacted mode or None) of a history row, or None when it is neither."""
    kind = row["type"]
    if kind == "message_sent":
        return SENT.get((row["data"] or {}).get("channel", ""))
    if kind in ("call_logged", "manual_call"):
        inbound = (row["data"] or {}).get("direction") == "inbound"
        return "call", "incoming_call" if inbound else "outgoing_call"
    return ACTIVITIES.get(kind)


def summarise(rows: Iterable[Mapping[str, Any]]) -> dict[int, _Latest]:
    """Per contact, what these rows change of its computed fields."""
    latest: dict[int, _Latest] = {}
    for row in rows:
        contact_id = row["contact_id"]
        if contact_id is None or row["type"] not in WATCHED:
            continue
        meaning = _meaning(row)
        if meaning is None:
            continue
        activity, mode = meaning
        at: datetime = row["time"]
        seen = latest.get(contact_id)
        if seen is None:
            seen = latest[contact_id] = _Latest(activity, at)
        seen.see(activity, mode, at, row["type"] in OPENS)
    return latest


# Run on the driver's cursor: it runs for every batch of history, often of one row (an open,
# a reply), where SQLAlchemy's per-statement work would cost more than the database does.
_NEWER_ACTIVITY = "(last_activity_at IS NULL OR last_activity_at <= {at})"
_NEWER_CONTACT = "({mode} <> '' AND (last_contacted_at IS NULL OR last_contacted_at <= {cat}))"
_OPENED = "({opened} = 1 AND last_contacted_mode = 'no_reply' AND last_contacted_at <= {oat})"
_SET = f"""
 last_activity_type = CASE WHEN {_NEWER_ACTIVITY} THEN {{type}} ELSE last_activity_type END,
 last_activity_at = CASE WHEN {_NEWER_ACTIVITY} THEN {{at}} ELSE last_activity_at END,
 last_contacted_mode = CASE WHEN {_NEWER_CONTACT} THEN {{mode}}
   WHEN {_OPENED} THEN 'opened_no_reply' ELSE last_contacted_mode END,
 last_contacted_at = CASE WHEN {_NEWER_CONTACT} THEN {{cat}} ELSE last_contacted_at END"""
_KEYS = ("type", "at", "mode", "cat", "opened", "oat")
# SQLite: one UPDATE per contact (executemany, in-process). PostgreSQL: one UPDATE for the
# batch, its values one JSON document; the rows are locked first, in id order (the order
# the contacts' other writers lock them in), so two batches never deadlock.
_UPDATE = "UPDATE contacts SET" + _SET.format(**{k: f":{k}" for k in _KEYS}) + " WHERE id = :id"
_PG_UPDATE = (
    "UPDATE contacts SET"
    + _SET.format(**{k: f"v.{k}" for k in _KEYS})
    + " FROM (SELECT v.* FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, type text,"
    " at timestamptz, mode text, cat timestamptz, opened int, oat timestamptz)"
    " JOIN contacts AS c ON c.id = v.id ORDER BY v.id FOR UPDATE OF c) AS v"
    " WHERE contacts.id = v.id"
)


def apply(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Bring the computed fields of the contacts these history rows concern up to date."""
    latest = summarise(rows)
    if not latest:
        return
    sqlite = session.get_bind().dialect.name == "sqlite"
    time = sqlite_time if sqlite else _same
    params = [
        {
            "id": contact_id,
            "type": seen.activity,
            "at": time(seen.activity_at),
            "mode": seen.mode,
            "cat": time(seen.contacted_at or seen.activity_at),
            "opened": 1 if seen.opened_at is not None else 0,
            "oat": time(seen.opened_at or seen.activity_at),
        }
        for contact_id, seen in sorted(latest.items())  # one lock order: no deadlocks
    ]
    cursor = driver_cursor(session)
    try:
        if sqlite:
            cursor.executemany(_UPDATE, params)
        else:
            cursor.execute(_PG_UPDATE, (dumps(params),))
    finally:
        cursor.close()


def _same(value: datetime) -> datetime:
    return value
