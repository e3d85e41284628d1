"""machine.enroll reads the contact only for its time zone.

Bulk enrollment (services/enrolling.py) relies on this to decide the first step once per
time zone instead of once per contact. Should the machine come to read anything else of the
contact when enrolling, this fails, and that shortcut must change with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.core import machine
from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition

START = datetime(2026, 1, 1, tzinfo=UTC)
DEFINITIONS = [
    Definition.model_validate(
        {
            "name": "Zoned",
            "senders": {"sms": "+13125550100", "email": "a@acme.example"},
            "schedule": {
                "timezone": zone,
                "days": "business",
                "hours": {"open": "09:00", "close": "17:00"},
            },
            "steps": [{"key": "first", "action": action, **step}, {"key": "end", "action": "end"}],
        }
    )
    for zone in ("contact", "Europe/Paris")
    for action, step in (
        ("sms", {"body": "Hi", "wait": {"hours": 3}}),
        ("email", {"subject": "Hi", "body": "<p>Hi</p>", "wait": {"business_days": 2}}),
        ("branch", {"branches": [{"when": {"tag": "vip"}, "to": "end"}]}),
        ("call", {"assignee": "contact_owner"}),
    )
]

contacts = st.builds(
    ContactView,
    id=st.integers(1, 10**6),
    first_name=st.text(max_size=5),
    email=st.none() | st.just("x@y.example"),
    phone=st.none() | st.just("+13125550101"),
    timezone=st.sampled_from([None, "America/Chicago", "Asia/Kolkata", "Nope/Nowhere"]),
    owner=st.none() | st.just("owner@acme.example"),
    tags=st.lists(st.sampled_from(["vip", "cold"]), unique=True),
    fields=st.dictionaries(st.sampled_from(["plan", "seats"]), st.integers(0, 9)),
    dnc=st.booleans(),
    sms_opted_out=st.booleans(),
    email_unsubscribed=st.booleans(),
    email_bounced=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    contact=contacts,
    definition=st.sampled_from(DEFINITIONS),
    minutes=st.integers(0, 60 * 24 * 400),
)
def test_enrolling_decides_the_same_for_any_contact_in_the_same_zone(
    contact: ContactView, definition: Definition, minutes: int
) -> None:
    now = START + timedelta(minutes=minutes)
    full = machine.enroll(machine.Situation(definition, contact, now=now))
    zone_only = machine.enroll(
        machine.Situation(definition, ContactView(timezone=contact.timezone), now=now)
    )
    assert full == zone_only
