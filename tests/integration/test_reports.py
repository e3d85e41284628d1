"""Reports of a scenario with known figures: counts, unique contacts, rates, removals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cadenza.errors import NotFound, ValidationFailed
from cadenza.services import enrollments, reports
from cadenza.store.models import Enrollment
from tests.conftest import Database
from tests.engine_helpers import at, write
from tests.integration.report_scenario import play


def test_a_sequence_report_counts_unique_contacts_and_rates(db: Database) -> None:
    play(db)
    with db.sessions() as session:
        report = reports.sequence_report(session=session, name="Outreach")
    assert report["enrolled"] == 5
    messages = {k: (v["count"], v["rate"]) for k, v in report["messages"].items()}
    assert messages["sent"] == (5, 1.0)
    assert messages["opened"] == (3, 0.6)  # three opens by one contact count once
    assert messages["clicked"] == (1, 0.2)
    assert messages["replied"] == (1, 0.2)
    assert messages["bounced"] == (1, 0.2)
    assert messages["delivered"] == (4, 0.8)
    assert messages["unsubscribed"] == (1, 0.2)
    assert report["exited"]["total"] == 3
    assert report["now"]["exited"] == 3 and report["now"]["active"] == 2
    hello = next(s for s in report["steps"] if s["step"] == "hello")
    assert (hello["reached"], hello["ran"]) == (5, 5)
    assert hello["messages"]["opened"]["count"] == 3


def test_removing_an_enrollment_takes_it_out_of_every_figure(db: Database) -> None:
    people = play(db)["people"]
    with write(db) as session:
        gone = session.scalar(select(Enrollment.id).where(Enrollment.contact_id == people[0]))
        assert gone is not None
        enrollments.remove(session=session, enrollment_id=gone, now=at("2026-12-02T10:00:00Z"))
    with db.sessions() as session:
        report = reports.sequence_report(session=session, name="Outreach")
    assert report["enrolled"] == 4
    assert report["messages"]["opened"]["count"] == 2
    assert report["messages"]["sent"]["count"] == 4


def test_a_timeframe_counts_only_its_days(db: Database) -> None:
    play(db)
    with db.sessions() as session:
        before = reports.timeframe_of(None, "2026-11-30")
        empty = reports.sequence_report(session=session, name="Outreach", timeframe=before)
        series = reports.series(session=session, name="Outreach")
    assert empty["enrolled"] == 0 and empty["messages"]["sent"]["count"] == 0
    assert series == [
        {"day": "2026-12-01", "sent": 5, "replied": 1, "positive": 0, "negative": 0, "neutral": 0}
    ]


def test_sequences_compare_side_by_side(db: Database) -> None:
    play(db)
    with db.sessions() as session:
        rows = reports.compare(session=session, names=["Outreach", "Other"])
    assert [(r["sequence"], r["messages"]["replied"]["rate"]) for r in rows] == [
        ("Outreach", 0.2),
        ("Other", 0.5),
    ]


def test_bad_report_requests_are_refused(db: Database) -> None:
    play(db)
    with db.sessions() as session:
        with pytest.raises(NotFound):
            reports.sequence_report(session=session, name="Nope")
        with pytest.raises(ValidationFailed):
            reports.timeframe_of("yesterday", None)
        with pytest.raises(ValidationFailed, match="comes after"):
            reports.timeframe_of("2026-12-02", "2026-12-01")


def test_senders_are_flagged_past_the_bounce_threshold(db: Database) -> None:
    play(db)
    with db.sessions() as session:
        [sender] = reports.senders(session=session)
    assert sender["sender"] == "sales@acme.example"
    assert (sender["sent"], sender["bounced"]) == (7, 1)
    assert sender["flags"] == ["bounces at or above 5%"]
