"""Accounts, saved views and audiences on both backends: what a person using them notices."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from cadenza.clock import FixedClock
from cadenza.core.access import Person
from cadenza.engine.runner import drain_once
from cadenza.errors import Conflict, DefinitionError, Forbidden, NotFound, ValidationFailed
from cadenza.services import accounts, audiences, enrollments
from cadenza.services.contacts import import_csv
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.services.sequences import apply_sources, lint_source
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.services.users.people import add_group, add_user
from cadenza.store.models import AudienceRun, Contact, Enrollment, Task
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

T0 = at("2026-12-01T15:00:00Z")
T1 = at("2026-12-01T15:20:00Z")
T2 = at("2026-12-01T15:40:00Z")

AUDIENCE = """
name: Webinar follow-up
senders: {{email: sales@example.com}}
enrollment:
  audience: {audience}
  every: {{minutes: 15}}
steps:
  - {{key: first, action: email, wait: {{days: 1}}, subject: Hello, body: Thanks}}
"""


def _tagged(session, email: str, tag: str, now) -> int:  # type: ignore[no-untyped-def]
    from cadenza.store.models import ContactTag

    contact_id = add_contact(session, now, email=email, phone=None)
    session.add(ContactTag(contact_id=contact_id, tag=tag))
    session.flush()
    return contact_id


def _enrolled(db: Database, sequence_name: str = "Webinar follow-up") -> list[int]:
    with db.sessions() as session:
        seq_id, _ = audiences.evaluating.sequence_definition(session=session, name=sequence_name)
        query = select(Enrollment.contact_id).where(Enrollment.sequence_id == seq_id.id)
        return sorted(session.scalars(query))


def test_account_crud_and_unique_domains(db: Database) -> None:
    with write(db) as session:
        add_user(session=session, email="ana@example.com", role="manager", now=T0)
        made = accounts.create_account(
            session=session, viewer=OPERATOR, name="Acme", domains=["acme.com", "WWW.Acme.io"],
            owner="ana@example.com", fields={"tier": "gold"}, now=T0,
        )  # fmt: skip
        account_id = made.id
    with write(db) as session:
        row = accounts.account_row(session=session, account="acme")
        assert (row.name, row.domains, row.owner) == (
            "Acme",
            ["acme.com", "acme.io"],
            "ana@example.com",
        )
        with pytest.raises(Conflict, match=r"acme\.com belongs to account 'Acme'"):
            accounts.create_account(
                session=session, viewer=OPERATOR, name="Other", domains=["acme.com"], now=T0
            )
    with write(db) as session, pytest.raises(ValidationFailed, match="free-mail"):
        accounts.create_account(
            session=session, viewer=OPERATOR, name="Other", domains=["gmail.com"], now=T0
        )
    with write(db) as session:
        accounts.update_account(
            session=session, viewer=OPERATOR, account=account_id, name="Acme Inc",
            domains=["acme.com"], now=T1,
        )  # fmt: skip
        page = accounts.page_accounts(session=session, search="acme")
        assert [(r.name, r.domains) for r in page.rows] == [("Acme Inc", ["acme.com"])]
        accounts.delete_account(session=session, viewer=OPERATOR, account="Acme Inc", now=T1)
    with db.sessions() as session, pytest.raises(NotFound):
        accounts.get_account(session=session, account=account_id)


def test_import_matches_accounts_by_domain_but_never_free_mail(
    db: Database, tmp_path: Path
) -> None:
    with write(db) as session:
        accounts.create_account(
            session=session, viewer=OPERATOR, name="Acme", domains=["acme.com"], now=T0
        )
    csv = tmp_path / "people.csv"
    csv.write_text("email,first_name\nbo@acme.com,Bo\ncy@gmail.com,Cy\ndi@ACME.com,Di\n")
    report = import_csv(
        session_factory=db.sessions, path=csv, mapping={}, default_region="US", now=T0,
        settings=SETTINGS, match_accounts=True,
    )  # fmt: skip
    assert report.matched_accounts == 2
    with db.sessions() as session:
        rows = session.execute(select(Contact.email, Contact.account_id).order_by(Contact.email))
        joined = {email: account_id is not None for email, account_id in rows}
        bo = session.scalar(select(Contact.id).where(Contact.email == "bo@acme.com"))
        assert bo is not None
        assert accounts.domains_for_contact(session=session, contact_id=bo) == ["acme.com"]
    assert joined == {"bo@acme.com": True, "cy@gmail.com": False, "di@acme.com": True}


def test_enrolling_an_account_enrolls_the_contacts_in_the_audience(db: Database) -> None:
    with write(db) as session:
        store(session, AUDIENCE.format(audience="{when: {tag: webinar}}"), T0)
        account = accounts.create_account(
            session=session, viewer=OPERATOR, name="Acme", domains=["acme.com"], now=T0
        )
        inside = _tagged(session, "in@acme.com", "webinar", T0)
        outside = add_contact(session, T0, email="out@acme.com", phone=None)
        blocked = _tagged(session, "dnc@acme.com", "webinar", T0)
        session.get(Contact, blocked).dnc = True  # type: ignore[union-attr]
        for contact_id in (inside, outside, blocked):
            accounts.set_contact_account(
                session=session, viewer=OPERATOR, contact_id=contact_id, account=account.id, now=T0
            )
    with write(db) as session:
        report = audiences.enroll_account(
            session=session, viewer=OPERATOR, sequence="Webinar follow-up", account="Acme",
            now=T0, settings=SETTINGS,
        )  # fmt: skip
    refused = dict(report.refused)
    assert report.enrolled == [inside]
    assert "not in the sequence's audience (tagged webinar)" in refused[outside]
    assert "do-not-contact" in refused[blocked] or "dnc" in refused[blocked]


def test_company_owner_is_the_accounts_owner(db: Database) -> None:
    text = """
name: Calls
steps:
  - {key: call, action: call, wait: none, assignee: company_owner}
"""
    with write(db) as session:
        add_user(session=session, email="owner@example.com", role="agent", now=T0)
        add_user(session=session, email="rep@example.com", role="agent", now=T0)
        store(session, text, T0)
        account = accounts.create_account(
            session=session, viewer=OPERATOR, name="Acme", owner="owner@example.com", now=T0
        )
        contact_id = add_contact(session, T0, email="x@acme.com")
        accounts.set_contact_account(
            session=session, viewer=OPERATOR, contact_id=contact_id, account=account.id, now=T0
        )
        enrollments.enroll(
            session=session, sequence="Calls", contact_ids=[contact_id], now=T0, settings=SETTINGS
        )
    drain_once(db.sessions, FixedClock(T0), SETTINGS, send=False)
    with db.sessions() as session:
        task = session.scalars(select(Task)).one()
        owner = accounts.account_row(session=session, account="Acme").owner
        from cadenza.store.models import User

        assert session.get(User, task.assignee_id).email == owner == "owner@example.com"  # type: ignore[union-attr]


def test_views_are_shared_per_the_access_rules(db: Database) -> None:
    with write(db) as session:
        ana = add_user(session=session, email="ana@example.com", role="agent", now=T0)
        bob = add_user(session=session, email="bob@example.com", role="agent", now=T0)
        cy = add_user(session=session, email="cy@example.com", role="agent", now=T0)
        add_group(
            session=session, name="east", member_emails=["ana@example.com", "bob@example.com"]
        )
        ids = (ana.id, bob.id, cy.id)
    viewers = {
        name: Viewer(
            Person(uid, "agent", frozenset({ids[0], ids[1]}) if name != "cy" else frozenset({uid})),
            name,
        )
        for name, uid in zip(("ana", "bob", "cy"), ids, strict=True)
    }
    with write(db) as session:
        audiences.create_view(
            session=session, viewer=viewers["ana"], name="Mine", condition={"tag": "x"}, now=T0
        )
        audiences.create_view(
            session=session, viewer=viewers["ana"], name="Team", condition={"tag": "x"},
            sharing="team", now=T0,
        )  # fmt: skip
    with db.sessions() as session:
        seen = {
            name: [r.name for r in audiences.page_views(session=session, viewer=v).rows]
            for name, v in viewers.items()
        }
        assert seen == {"ana": ["Mine", "Team"], "bob": ["Team"], "cy": []}
        with pytest.raises(NotFound):
            audiences.view_for(session=session, viewer=viewers["cy"], name="Team")
        with pytest.raises(Forbidden):
            audiences.update_view(
                session=session, viewer=viewers["bob"], name="Team", condition={"tag": "y"}, now=T1
            )
    with write(db) as session, pytest.raises(ValidationFailed, match="not a condition"):
        audiences.create_view(
            session=session, viewer=viewers["ana"], name="Bad", condition={"nope": 1}, now=T0
        )


def test_audience_enrolls_new_and_changed_contacts_on_the_next_run_nobody_twice(
    db: Database,
) -> None:
    with write(db) as session:
        audiences.create_view(
            session=session, viewer=OPERATOR, name="Webinar", condition={"tag": "webinar"},
            sharing="everyone", now=T0,
        )  # fmt: skip
        first = _tagged(session, "a@example.com", "webinar", T0)
        add_contact(session, T0, email="b@example.com", phone=None)
        store(session, AUDIENCE.format(audience="{view: Webinar}"), T0)
    drain_once(db.sessions, FixedClock(T0), SETTINGS, send=False)
    assert _enrolled(db) == [first]
    with write(db) as session:  # after the sequence started: one new contact, one changed
        created = _tagged(session, "c@example.com", "webinar", T1)
        changed = session.scalar(select(Contact.id).where(Contact.email == "b@example.com"))
        from cadenza.services.events import changes

        changes.apply(
            session,
            [changes.Change(changed, "add_tag", {"tag": "webinar"})],  # type: ignore[arg-type]
            T1,
        )
        dnc = _tagged(session, "d@example.com", "webinar", T1)
        session.get(Contact, dnc).dnc = True  # type: ignore[union-attr]
    drain_once(db.sessions, FixedClock(T1), SETTINGS, send=False)
    assert _enrolled(db) == sorted([first, created, changed])
    with db.sessions() as session:
        run = session.scalars(select(AudienceRun)).one()
        assert (run.full, run.enrolled, run.refused) == (False, 2, 1)
        assert run.total == 4  # the refused one matched too
        refusals = list_history(session=session, types=["enroll_refused"], contact_id=dnc)
        assert len(refusals) == 1 and "do-not-contact" in refusals[0]["reason"]
    drain_once(db.sessions, FixedClock(T2), SETTINGS, send=False)  # nothing changed: nobody twice
    with db.sessions() as session:
        count = session.scalar(select(func.count()).select_from(Enrollment))
        run = session.scalars(select(AudienceRun)).one()
        assert (count, run.examined, run.enrolled) == (3, 0, 0)
        assert len(list_history(session=session, types=["enroll_refused"], contact_id=dnc)) == 1


def test_an_audience_on_events_sees_a_new_event_at_its_next_scheduled_run(db: Database) -> None:
    with write(db) as session:
        reader = add_contact(session, T0, email="reader@example.com", phone=None)
        add_contact(session, T0, email="idle@example.com", phone=None)
        rule = "{when: {event: opened, within: {days: 3}}}"
        store(session, AUDIENCE.format(audience=rule), T0)
    drain_once(db.sessions, FixedClock(T0), SETTINGS, send=False)
    assert _enrolled(db) == []
    with write(db) as session:  # an event, and no change to the contact's own row
        record_event(
            session=session, contact_id=reader, name="opened", data=None, now=T1,
            settings=SETTINGS,
        )  # fmt: skip
    drain_once(db.sessions, FixedClock(T2), SETTINGS, send=False)  # `every` 15 minutes came
    assert _enrolled(db) == [reader]


def test_an_audience_naming_an_unknown_view_is_refused_at_its_line(db: Database) -> None:
    text = AUDIENCE.format(audience="{view: Nowhere}")
    source = lint_source(text, "seq.yaml")
    with write(db) as session, pytest.raises(DefinitionError) as caught:
        apply_sources(session=session, sources=[source], now=T0)
    assert [str(p) for p in caught.value.problems] == [
        "seq.yaml:5:20: enrollment.audience.view: no view of contacts named 'Nowhere'"
    ]
