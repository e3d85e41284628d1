"""The tables listings read, as SQLAlchemy Core clauses: no ORM import, no mapper to build.

`cadenza contacts list` and `cadenza sequences list` start in the time SQLAlchemy Core takes
to import, not the ORM's and `store.models`'s on top of it. These name only the columns the
listings read, with the types `store.models` declares them with; tests/unit/test_columns.py
fails when one is not a column of the model's table with that type, so they cannot drift.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Integer, String, column, table

from cadenza.store.types import BigID, UTCDateTime

contacts = table(
    "contacts",
    column("id", BigID),
    column("first_name", String),
    column("last_name", String),
    column("email", String),
    column("phone", String),
    column("timezone", String),
    column("company", String),
    column("owner_id", Integer),
    column("lead_source", String),
    column("disposition", String),
    column("fields", JSON),
    column("dnc", Boolean),
    column("sms_opted_out", Boolean),
    column("email_unsubscribed", Boolean),
    column("email_bounced", Boolean),
    column("external_id", String),
    column("last_contacted_at", UTCDateTime),
    column("last_contacted_mode", String),
    column("last_activity_type", String),
    column("last_activity_at", UTCDateTime),
)

contact_tags = table("contact_tags", column("contact_id", BigID), column("tag", String))

users = table("users", column("id", Integer), column("email", String))

sequences = table(
    "sequences",
    column("id", Integer),
    column("name", String),
    column("owner_id", Integer),
    column("sharing", String),
    column("sharing_access", String),
    column("status", String),
    column("created_at", UTCDateTime),
    column("updated_at", UTCDateTime),
)

sequence_versions = table(
    "sequence_versions",
    column("sequence_id", Integer),
    column("number", Integer),
    column("definition", JSON),
)

enrollments = table("enrollments", column("sequence_id", Integer), column("status", String))

TABLES = (contacts, contact_tags, users, sequences, sequence_versions, enrollments)
