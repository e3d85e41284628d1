"""Typed tables for every noun of DESIGN.md section 3."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cadenza.limits import MAX_ID as MAX_ID

# The types and statuses live beside the tables read without the ORM (store/columns.py).
from cadenza.store.types import ENROLLMENT_STATUSES as ENROLLMENT_STATUSES
from cadenza.store.types import MESSAGE_STATUSES as MESSAGE_STATUSES
from cadenza.store.types import SEQUENCE_STATUSES as SEQUENCE_STATUSES
from cadenza.store.types import TASK_STATUSES as TASK_STATUSES
from cadenza.store.types import BigID as BigID
from cadenza.store.types import UTCDateTime as UTCDateTime

# Named constraints so that Alembic batch migrations on SQLite can find them again.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Statuses whose enrollments the worker looks at; the due index covers only these.
LIVE_STATUSES = ("active", "waiting")

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="agent")
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # Login: an argon2id hash (None: the user cannot log in until invited or given one);
    # failures in a row and, past the threshold, when the account opens again.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    # Plan limits of this user (None: the role's limit from the settings applies).
    max_active_sequences: Mapped[int | None]
    max_emails_per_day: Mapped[int | None]
    # The zone the workspace shows times in (None: the browser's, then the server's).
    timezone: Mapped[str | None] = mapped_column(String(64))


class WebSession(Base):
    """A logged-in browser: the cookie holds a token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class UserToken(Base):
    """A single-use, expiring link sent to a user: an invitation or a password reset."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Position of the last member given work by round-robin; advanced under a row lock.
    rr_cursor: Mapped[int] = mapped_column(default=-1)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    # What the key may call, space-separated: `api` (the REST API), `inbound` (webhooks).
    scopes: Mapped[str] = mapped_column(String(100), default="api")


class Sender(Base):
    __tablename__ = "senders"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # email | sms
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    per_second: Mapped[float | None]
    per_hour: Mapped[int | None]
    per_day: Mapped[int | None]
    # Deliverability (0005): the email provider and where its credentials are (names of
    # environment variables, never the secrets), the DKIM key for direct SMTP, an automatic
    # or manual pause, the warm-up ramp and the stagger between sends.
    provider: Mapped[str] = mapped_column(String(16), default="smtp")
    provider_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dkim_selector: Mapped[str | None] = mapped_column(String(63))
    dkim_key: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)
    warmup: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stagger_seconds: Mapped[float | None]


class SenderUser(Base):
    """A sender assigned to a user (Aloware's lines per user)."""

    __tablename__ = "sender_users"

    sender_id: Mapped[int] = mapped_column(
        ForeignKey("senders.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    company: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lead_source: Mapped[str | None] = mapped_column(String(200))
    disposition: Mapped[str | None] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dnc: Mapped[bool] = mapped_column(default=False)
    sms_opted_out: Mapped[bool] = mapped_column(default=False)
    email_unsubscribed: Mapped[bool] = mapped_column(default=False)
    email_bounced: Mapped[bool] = mapped_column(default=False)
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The contact's sticky outbound number (`add_line`): their texts and calls come from it.
    line: Mapped[str | None] = mapped_column(String(32))
    # The contact's company (an Account): whose owner `company_owner` names.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    # The contact's id in another system (a CRM's): an upsert key, unique when set (0013).
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True, index=True)
    # Kept current from history by services.contacts.computed (0013): the last time we and
    # the contact reached each other and how, and the last activity of any kind.
    last_contacted_at: Mapped[datetime | None]
    last_contacted_mode: Mapped[str] = mapped_column(
        String(32), default="not_contacted", server_default="not_contacted"
    )
    last_activity_type: Mapped[str | None] = mapped_column(String(32))
    last_activity_at: Mapped[datetime | None]


class ContactTag(Base):
    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class DialerEntry(Base):
    __tablename__ = "dialer_entries"

    contact_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    list_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    added_at: Mapped[datetime]


class Sequence(Base):
    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sharing: Mapped[str] = mapped_column(String(16), default="everyone")
    sharing_access: Mapped[str] = mapped_column(String(8), default="view")  # view | edit
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SequenceMember(Base):
    """An additional team member of a sequence: may see it and work its tasks."""

    __tablename__ = "sequence_members"

    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class SequenceVersion(Base):
    __tablename__ = "sequence_versions"
    __table_args__ = (
        UniqueConstraint("sequence_id", "number"),
        # What an enrollment's (version, sequence) pair refers to: see Enrollment.
        UniqueConstraint("id", "sequence_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    number: Mapped[int]
    definition: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # The worker's claim reads only live rows in due order: cost depends on what is due.
        Index(
            "ix_enrollments_due",
            "due_at",
            postgresql_where=text("status IN ('active', 'waiting')"),
            sqlite_where=text("status IN ('active', 'waiting')"),
        ),
        Index("ix_enrollments_contact", "contact_id", "sequence_id"),
        Index("ix_enrollments_sequence_status", "sequence_id", "status"),
        # One key for the version and its sequence: the version must belong to the sequence.
        # Deleting a sequence deletes its versions, and with them its enrollments. On
        # PostgreSQL this key and the contact's are not declared but checked by triggers,
        # once per statement instead of once per row (migration 0003): the per-row checks
        # took a third of the time a bulk enrollment took.
        ForeignKeyConstraint(
            ["version_id", "sequence_id"],
            ["sequence_versions.id", "sequence_versions.sequence_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sequence_id: Mapped[int]
    version_id: Mapped[int]
    contact_id: Mapped[int] = mapped_column(BigID, ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    step: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    exit_reason: Mapped[str | None] = mapped_column(String(500))
    # A paused enrollment remembers what it was and who paused it, so that resuming a
    # sequence does not resume the enrollments a person paused on their own.
    paused_from: Mapped[str | None] = mapped_column(String(16))
    paused_by: Mapped[str | None] = mapped_column(String(16))
    initiator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    enrolled_at: Mapped[datetime]
    last_step_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Per-step visit counts, the open wait_for, pause deadline...: machine-owned state.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_assignee_status", "assignee_id", "status"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    enrollment_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(BigID, ForeignKey("contacts.id", ondelete="CASCADE"))
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    step: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    reminder: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_status_next", "status", "next_attempt_at"),
        Index("ix_messages_contact", "contact_id", "created_at"),
        # Provider events name the provider's id for a message (0005).
        Index("ix_messages_provider_id", "provider_id"),
        # A reply names what it answers by Message-ID, whoever sends it (0015).
        Index("ix_messages_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    enrollment_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("contacts.id", ondelete="CASCADE")
    )
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    step: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str | None] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(2048))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    # Channel-specific extras: threading ids, cc/bcc, media, webhook payload and headers.
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # An email's own Message-ID (also in `meta`), lowercased: what replies in its thread name.
    message_id: Mapped[str | None] = mapped_column(String(255))


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_sequence_time", "sequence_id", "time"),
        Index("ix_events_contact_time", "contact_id", "time"),
    )

    # On PostgreSQL the table is partitioned by month (migration 0020, store/partitions.py)
    # and its key is (id, time), as a partitioned key must hold the partition's column; ids
    # come from one sequence there too, so `id` alone still names a row.
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    time: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(BigID)
    sequence_id: Mapped[int | None]
    enrollment_id: Mapped[int | None] = mapped_column(BigID)
    step: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(320), default="system")
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RateBucket(Base):
    """Counts per scope and window, shared by every worker (throttles, sender caps)."""

    __tablename__ = "rate_buckets"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


# --- Webhook subscriptions: history events out to a CRM -------------------------------
# Which events a subscription gets is matched by the database itself: a trigger on `events`
# (migration 0005_subscriptions) adds a delivery row for each matching subscription in the
# transaction that records the event, whichever path wrote it.


class Subscription(Base):
    """An outbound webhook for history events: where to, signed with what, and whether on."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))  # whsec_…, Standard Webhooks signing key
    active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class SubscriptionTopic(Base):
    """One (event type, sequence) pair a subscription takes; NULL means any."""

    __tablename__ = "subscription_topics"
    __table_args__ = (Index("ix_subscription_topics_type", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str | None] = mapped_column(String(64))
    sequence_id: Mapped[int | None]


class WebhookDelivery(Base):
    """One event to one subscription: pending until delivered, retried with backoff, logged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigID)  # None: a test send
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # None: as soon as possible
    last_attempt_at: Mapped[datetime | None]
    response_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]
    created_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A write sent with an `Idempotency-Key`: its request's fingerprint and, once done, its
    answer, so that a retry gets the same answer instead of doing the write again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))  # whose key: "user:ID" and the route
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request
    state: Mapped[str] = mapped_column(String(16))  # running | done
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


# --- voice: calls placed and logged (dialer steps, the power dialer) -------------------------


class VoiceCall(Base):
    """One phone call the provider placed, from its creation to its last status callback.

    `kind`: progressive | preview | power; `agent_index`: which of the ring group's agents
    is being dialed; durations in seconds (talk: bridged to a person; wait: before that).
    """

    __tablename__ = "voice_calls"
    __table_args__ = (Index("ix_voice_calls_contact", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    message_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    enrollment_id: Mapped[int | None] = mapped_column(BigID)
    sequence_id: Mapped[int | None]
    contact_id: Mapped[int] = mapped_column(BigID, ForeignKey("contacts.id", ondelete="CASCADE"))
    step: Mapped[str | None] = mapped_column(String(100))
    task_id: Mapped[int | None] = mapped_column(BigID)
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8), default="outbound")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_index: Mapped[int] = mapped_column(default=0)
    line: Mapped[str] = mapped_column(String(32))
    to: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    answered_by: Mapped[str | None] = mapped_column(String(32))
    digits: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(default=1)
    talk_seconds: Mapped[int] = mapped_column(default=0)
    wait_seconds: Mapped[int] = mapped_column(default=0)
    total_seconds: Mapped[int] = mapped_column(default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


# --- sequences workspace: what the sequences page counts -------------------------------------
# Remaining tasks per sequence (open or in error), counted from the index alone.
Index("ix_tasks_status_sequence", Task.status, Task.sequence_id)
# --- The rep's workspace: notes on contacts, and the indexes its lists and reports read. ---


class Note(Base):
    """A note a person wrote on a contact (from its page or while working one of its tasks)."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_contact_time", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigID, ForeignKey("contacts.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("tasks.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(320))  # who wrote it, as history names them
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# The to-do list reads open tasks in due order (everyone's, or one person's) and counts them
# per type from the index alone; a contact's page reads its tasks. The history report reads
# the newest events (of some types) first and counts them with the sequence each belongs to
# (what a person may see) from the index alone. Without these, a page sorts or reads the table.
Index("ix_tasks_status_due", Task.status, Task.due_at, Task.id, Task.kind)
Index("ix_tasks_assignee_due", Task.assignee_id, Task.status, Task.due_at, Task.id, Task.kind)
Index("ix_tasks_contact", Task.contact_id)
Index("ix_events_time", Event.time, Event.sequence_id)
Index("ix_events_type_time", Event.type, Event.time, Event.sequence_id)
# A search by name reads the names that start with what was typed, in any case.
Index("ix_contacts_first_name_lower", func.lower(Contact.first_name))
Index("ix_contacts_last_name_lower", func.lower(Contact.last_name))
# --- reports: counters kept in the transaction of the history they count ---------------------


class ReportFirst(Base):
    """The first time an enrollment did something countable (unique contacts, per enrollment).

    Its key makes "a contact who opens five times counts once"; its other columns say which
    counter it went into, so removing the enrollment takes exactly that back out.
    """

    __tablename__ = "report_firsts"

    enrollment_id: Mapped[int] = mapped_column(BigID, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    step: Mapped[str] = mapped_column(String(100), primary_key=True)
    detail: Mapped[str] = mapped_column(String(100), primary_key=True)
    sequence_id: Mapped[int]  # no index: nothing looks firsts up by sequence
    version_id: Mapped[int]
    day: Mapped[date] = mapped_column(Date)
    variant: Mapped[str] = mapped_column(String(50), default="")
    who: Mapped[str] = mapped_column(String(320), default="")


class ReportMark(Base):
    """How far the reports have counted history: every event id at or below `mark` is counted.

    History is counted after it is written, in batches (services/reports/counting.py), not in
    the transaction that writes it. On PostgreSQL ids are drawn before their transaction
    commits, so a later id can be seen first: `holes` lists the id ranges below the mark not
    yet seen, as JSON `[[first, last, xmax, seen_at], ...]`, read again until every
    transaction in flight when they were found has ended.
    """

    __tablename__ = "report_marks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger)
    holes: Mapped[str] = mapped_column(Text, default="[]")


class ReportCount(Base):
    """How many enrollments first did `metric` on `day`, per sequence, version, step...

    `shard`: concurrent workers add to different rows of the same figure (a report sums
    them), so that no transaction waits on another's counter.
    """

    __tablename__ = "report_counts"
    __table_args__ = (
        UniqueConstraint(
            "sequence_id", "day", "metric", "step", "detail", "variant", "who", "version_id",
            "shard",
        ),
        Index("ix_report_counts_day", "day"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sequence_id: Mapped[int]
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(100))
    variant: Mapped[str] = mapped_column(String(50))
    who: Mapped[str] = mapped_column(String(320))
    version_id: Mapped[int]
    shard: Mapped[int]
    n: Mapped[int] = mapped_column(BigInteger)


# Lists that scale: the orders listings page on (keyset pagination), so that any page of the
# to-do list or of history reads an index range instead of sorting the whole table.
Index("ix_tasks_due", Task.due_at, Task.id)


class Account(Base):
    """A company: its contacts belong to it; its owner is what `company_owner` names."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountDomain(Base):
    """A domain of an account's email addresses: one account per domain."""

    __tablename__ = "account_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )


class SavedView(Base):
    """A named filter over contacts or accounts, shared like a sequence."""

    __tablename__ = "views"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="contacts")  # contacts | accounts
    condition: Mapped[dict[str, Any]]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sharing: Mapped[str] = mapped_column(String(16), default="private")
    sharing_access: Mapped[str] = mapped_column(String(8), default="view")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AudienceRun(Base):
    """A sequence's audience: what its last evaluation saw and found, and when the next is due.

    `high_water` is the latest `contacts.updated_at` the last evaluation read: the next one
    reads only contacts changed after it. `digest` is the audience's rule as evaluated: when
    it changes (a new version, an edited view), the next evaluation reads every contact.
    """

    __tablename__ = "audience_runs"

    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64))
    high_water: Mapped[datetime | None]
    # The contacts changed at exactly `high_water` that it read ({"ids": [...]}, or {"all":
    # true} when too many to list): a contact changed at that same instant afterwards (a
    # fixed clock, or the same microsecond) is read by the next evaluation, these are not.
    at_mark: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluated_at: Mapped[datetime]
    next_at: Mapped[datetime]
    full: Mapped[bool] = mapped_column(default=False)
    examined: Mapped[int] = mapped_column(BigInteger, default=0)
    matched: Mapped[int] = mapped_column(BigInteger, default=0)
    enrolled: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # contacts it has matched
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)  # refusal reason -> count
    error: Mapped[str | None] = mapped_column(Text)


# Audiences read the contacts changed since their last evaluation by this index.
Index("ix_contacts_updated_at", Contact.updated_at)
# --- contacts: typed custom field definitions (0013) ------------------------------------------


class FieldDefinition(Base):
    """A custom field's type (text | number | date | choice) and, for a choice, its choices."""

    __tablename__ = "field_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime]


# --- lists and domain-level do-not-contact ----------------------------------------------------


class ContactList(Base):
    """A named set of contacts; a sequence binds to one with `enrollment.list`."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_by: Mapped[str] = mapped_column(String(320), default="system")
    created_at: Mapped[datetime]


class ContactListMember(Base):
    __tablename__ = "contact_list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime]


class BlockedDomain(Base):
    """An email domain nobody at which is reached (domain-level do-not-contact)."""

    __tablename__ = "blocked_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(320), default="system")
    created_at: Mapped[datetime]


# A sequence's queue pages its running enrollments soonest due first: an index range of the
# sequence in that order (status in the index, so the rows it skips are never read).
Index(
    "ix_enrollments_queue", Enrollment.sequence_id, Enrollment.due_at, Enrollment.id,
    Enrollment.status,
)  # fmt: skip
