"""Every page route x {agent B, agent A, manager, admin}: the expected answer.

The routes come from the app's own route table, so a new page without a rule here fails the
suite (anonymous visitors are `test_web_login`'s: every page but the public ones sends them
to the login). Answers are classes: 403, 404, or `ok` (the access check let the request
through: a page, or a redirect back with what happened or why not).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Route

from cadenza.clock import FixedClock
from cadenza.core.access import Person
from cadenza.server import create_app
from cadenza.services import (
    accounts,
    audiences,
    contacts,
    enrollments,
    lists,
    senders,
    subscriptions,
)
from cadenza.services.users import add_group, add_user
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.integration.people import ANA, BO, MIA, PRIVATE, ROLES, ROOT
from tests.integration.web_login import PASSWORD, logged_in

T0 = "2026-03-02T15:00:00Z"
PERSONAS = (BO, ANA, MIA, ROOT)  # the refused first: nothing changed for them
OK = "ok"
EVERYONE = {BO: OK, ANA: OK, MIA: OK, ROOT: OK}
ANAS = {BO: 404, ANA: OK, MIA: OK, ROOT: OK}  # agent A's private sequence and its rows
ADMINS = {BO: 403, ANA: 403, MIA: 403, ROOT: OK}
MANAGERS = {BO: 403, ANA: 403, MIA: OK, ROOT: OK}  # who sees reports
READERS = {BO: 404, ANA: 403, MIA: OK, ROOT: OK}  # reports of agent A's private sequence
SEQ = "/sequences/{name:path}"
CREATORS = {BO: 403, ANA: 403, MIA: OK, ROOT: OK}  # agents create only when the setting says
CLONERS = {BO: 404, ANA: 403, MIA: OK, ROOT: OK}  # a clone is a creation of what one sees

# (method, path) -> (expected answers, the request: path values and form)
RULES: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {
    ("GET", "/"): (EVERYONE, {}),
    ("GET", SEQ): (ANAS, {}),
    ("POST", SEQ + "/sharing"): (ANAS, {"form": {"mode": "private", "level": "view"}}),
    ("POST", SEQ + "/{verb}"): (ANAS, {"verb": "pause"}),
    ("GET", "/sequences"): (EVERYONE, {}),
    ("GET", "/sequences/new"): (CREATORS, {}),
    # Let through, the unfinished text comes back in the editor with its problems (422).
    ("POST", "/sequences/new"): (
        {BO: 403, ANA: 403, MIA: 422, ROOT: 422},
        {"form": {"text": "name: x"}},
    ),
    ("POST", "/sequences/lint"): (EVERYONE, {"form": {"text": "name: x"}}),
    ("POST", "/sequences/dry-run"): (EVERYONE, {"form": {"text": "name: x"}}),
    ("POST", "/sequences/preview"): (EVERYONE, {"form": {"text": "name: x"}}),
    ("GET", SEQ + "/edit"): (ANAS, {}),
    ("POST", SEQ + "/edit"): ({BO: 404, ANA: 422, MIA: 422, ROOT: 422}, {"form": {"text": "x"}}),
    ("POST", SEQ + "/migrate"): (ANAS, {}),
    ("POST", SEQ + "/clone"): (CLONERS, {"form": {"new_name": "Clone"}}),
    ("GET", SEQ + "/enroll"): (ANAS, {}),
    ("POST", SEQ + "/enroll"): (ANAS, {"form": {"q": "nobody-matches"}}),
    ("POST", SEQ + "/queue"): (ANAS, {"form": {"verb": "pause", "scope": "all"}}),
    ("GET", "/tasks"): (EVERYONE, {}),
    ("POST", "/tasks/{task_id}/complete"): (ANAS, {"form": {"outcome": "none"}}),
    ("POST", "/tasks/{task_id}/retry"): (ANAS, {}),
    ("GET", "/dialer"): (EVERYONE, {}),
    ("POST", "/dialer/{task_id}/call"): (ANAS, {}),
    ("POST", "/dialer/phone"): (EVERYONE, {"form": {"phone": "+13125550177"}}),
    ("POST", "/dialer/{task_id}/outcome"): (ANAS, {"form": {"outcome": "none"}}),
    ("GET", "/tasks/{task_id}"): (ANAS, {}),
    # Let through, refused (the task is a call): the page comes back with the text kept (409).
    ("POST", "/tasks/{task_id}/send"): (
        {BO: 404, ANA: 409, MIA: 409, ROOT: 409},
        {"form": {"body": "Hello"}},
    ),
    ("POST", "/tasks/{task_id}/call"): (ANAS, {"form": {"result": "no_answer", "minutes": "2"}}),
    ("POST", "/tasks/{task_id}/reschedule"): (ANAS, {"form": {"due": "2026-03-09T10:00"}}),
    ("POST", "/tasks/{task_id}/skip"): (ANAS, {}),
    ("POST", "/contacts/{contact_id}/edit"): (
        EVERYONE,
        {"form": {"field": "company", "value": "Acme"}},
    ),
    ("POST", "/contacts/{contact_id}/notes"): (EVERYONE, {"form": {"body": "Met at the fair"}}),
    ("GET", "/contacts/new"): (EVERYONE, {}),
    # Everyone may add one; after the first, the same phone comes back with its problem.
    ("POST", "/contacts/new"): (
        {BO: OK, ANA: 422, MIA: 422, ROOT: 422},
        {"form": {"phone": "+13125550188"}},
    ),
    # The manager merges the spare contact in; for the admin it is gone (said on the page).
    ("POST", "/contacts/{contact_id}/merge"): (MANAGERS, {"form": {"duplicate_id": "{spare}"}}),
    # The manager deletes the contact: for the admin after them, there is none (404).
    ("POST", "/contacts/{contact_id}/delete"): ({BO: 403, ANA: 403, MIA: OK, ROOT: 404}, {}),
    ("GET", "/contact-fields"): (EVERYONE, {}),
    ("POST", "/contact-fields"): (MANAGERS, {"form": {"name": "score", "kind": "number"}}),
    ("POST", "/contact-fields/{field_name}/delete"): ({BO: 403, ANA: 403, MIA: OK, ROOT: 404}, {}),
    ("GET", "/history/export.csv"): (EVERYONE, {}),
    ("GET", "/contacts"): (EVERYONE, {}),
    ("GET", "/contacts/{contact_id}"): (EVERYONE, {}),
    ("POST", "/enrollments/{enrollment_id}/{verb}"): (ANAS, {"verb": "pause"}),
    ("GET", "/messages"): (EVERYONE, {}),
    ("GET", "/senders"): (EVERYONE, {}),
    ("POST", "/senders"): (ADMINS, {"form": {"kind": "email", "address": "x@acme.example"}}),
    ("POST", "/senders/{sender_id}"): (ADMINS, {"form": {"per_hour": "10"}}),
    ("POST", "/senders/{sender_id}/remove"): (ADMINS, {}),
    ("POST", "/senders/{sender_id}/pause"): (ADMINS, {"form": {"paused": "1", "reason": "dns"}}),
    ("GET", "/mailbox"): (ADMINS, {}),
    ("GET", "/texts"): (ADMINS, {}),
    ("GET", "/history"): (EVERYONE, {}),
    ("GET", "/subscriptions"): (ADMINS, {}),
    ("POST", "/subscriptions"): (ADMINS, {"form": {"url": "http://127.0.0.1:9/hook"}}),
    ("POST", "/subscriptions/{subscription_id}/test"): (ADMINS, {}),
    ("POST", "/subscriptions/{subscription_id}/{verb}"): (ADMINS, {"verb": "off"}),
    ("GET", "/reports"): (MANAGERS, {}),
    ("GET", "/reports/compare"): (MANAGERS, {}),
    ("GET", "/reports/sequences/{name:path}"): (READERS, {}),
    ("GET", "/reports/export/{name:path}"): (READERS, {}),
    ("GET", "/lists"): (EVERYONE, {}),
    ("POST", "/lists"): (MANAGERS, {"form": {"name": "Fresh"}}),
    ("GET", "/lists/{list_name}"): (EVERYONE, {}),
    ("POST", "/lists/{list_name}/members"): (EVERYONE, {"form": {"contacts": "1"}}),
    ("POST", "/lists/{list_name}/members/remove"): (EVERYONE, {"form": {"contact_id": "1"}}),
    ("POST", "/lists/{list_name}/delete"): (MANAGERS, {}),
    ("GET", "/domains"): (MANAGERS, {}),
    ("POST", "/domains"): (MANAGERS, {"form": {"domain": "blocked.example"}}),
    ("POST", "/domains/{domain}/unblock"): (MANAGERS, {}),
    ("GET", "/logout"): (EVERYONE, {}),
    ("POST", "/logout"): (EVERYONE, {}),
    # Each person's own profile: there is no one else's to reach.
    ("GET", "/profile"): (EVERYONE, {}),
    ("POST", "/profile"): (EVERYONE, {"form": {"timezone": "Europe/Paris"}}),
    # A browser session never reads metrics: the metrics token or an admin's API key does
    # (tests/integration/test_operations.py).
    ("GET", "/metrics"): ({BO: 401, ANA: 401, MIA: 401, ROOT: 401}, {}),
    ("GET", "/accounts"): (EVERYONE, {}),
    ("POST", "/accounts"): (EVERYONE, {"form": {"name": "Acme", "domains": "acme.io"}}),
    ("GET", "/accounts/{account_id}"): (EVERYONE, {}),
    ("POST", "/accounts/{account_id}"): (EVERYONE, {"form": {"name": "Kept", "owner": ""}}),
    ("POST", "/accounts/{account_id}/enroll"): (ANAS, {"form": {"sequence": "Ana private"}}),
    ("POST", "/accounts/{account_id}/delete"): (
        {BO: 403, ANA: 403, MIA: OK, ROOT: OK},
        {"doomed": {"account_id": "doomed_accounts"}},
    ),
    ("GET", "/views"): (EVERYONE, {}),
    ("POST", "/views"): (EVERYONE, {"form": {"name": "V", "kind0": "tag", "field0": "x"}}),
    ("GET", "/views/{view_id}"): (ANAS, {}),
    ("POST", "/views/{view_id}/enroll"): (ANAS, {"form": {"sequence": "Ana private"}}),
    ("POST", "/views/{view_id}/delete"): (ANAS, {"doomed": {"view_id": "doomed_views"}}),
}
PUBLIC = ("/login", "/forgot", "/invite/{token}", "/reset/{token}", "/static/{name:path}")
API_DOCS = "/docs/oauth2-redirect"  # the API documentation's own page: no data, no form
# What takes away what the rest is about.
LAST = (
    "/senders/{sender_id}/remove", "/contacts/{contact_id}/delete",
    "/lists/{list_name}/delete", "/logout",
)


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with write(db) as session:
        for email, role in ROLES.items():
            add_user(session=session, email=email, role=role, now=at(T0), password=PASSWORD)
        add_group(session=session, name="east", member_emails=[ANA, MIA])
        store(session, PRIVATE.format(name="Ana private", owner=ANA), at(T0))
        contact = add_contact(session, at(T0))
        spare = add_contact(session, at(T0), email="spare@example.com", phone=None)
        contacts.define_field(session=session, name="doomed", kind="text", now=at(T0))
        enrollments.enroll(
            session=session,
            sequence="Ana private",
            contact_ids=[contact],
            now=at(T0),
            settings=SETTINGS,
        )
        sender = senders.add_sender(session=session, kind="sms", address="+13125550100")
        hook = subscriptions.create(
            session=session, url="http://127.0.0.1:9/hook", now=at(T0), allow=["127.0.0.1"]
        )
        kept = accounts.create_account(session=session, viewer=OPERATOR, name="Kept", now=at(T0))
        doomed_accounts = {
            who: accounts.create_account(
                session=session, viewer=OPERATOR, name=f"Doomed {who}", now=at(T0)
            ).id
            for who in PERSONAS
        }
        ana = Viewer(Person(session.scalar(select(User.id).where(User.email == ANA)), "agent"), ANA)
        view = audiences.create_view(
            session=session, viewer=ana, name="Ana's", condition={"tag": "vip"}, now=at(T0)
        )
        doomed_views = {
            who: audiences.create_view(
                session=session, viewer=ana, name=f"Doomed {who}", condition={"tag": "x"},
                now=at(T0),
            ).id
            for who in PERSONAS
        }  # fmt: skip
        lists.create_list(session=session, name="Plain", now=at(T0))
    run_worker(db, T0)
    with db.sessions() as session:
        task_id = session.scalars(select(Task.id)).one()
        enrollment_id = session.scalars(select(Enrollment.id)).one()
    world = {
        "name": "Ana private",
        "task_id": task_id,
        "enrollment_id": enrollment_id,
        "contact_id": contact,
        "spare": spare,
        "field_name": "doomed",
        "sender_id": sender.id,
        "subscription_id": hook.id,
        "account_id": kept.id,
        "doomed_accounts": doomed_accounts,
        "view_id": view.id,
        "doomed_views": doomed_views,
        "list_name": "Plain",
        "domain": "blocked.example",
    }
    settings = Settings(
        database_url=db.url,
        environment="test",
        sms_sink_path=str(tmp_path / "sms.jsonl"),
        webhook_allow=["127.0.0.1"],
    )
    with TestClient(create_app(settings, clock=FixedClock(at(T0)))) as client:
        yield client, world


def _doomed(rule: dict[str, Any]) -> list[tuple[str, str]]:
    """The path values a deletion takes from each person's own doomed row."""
    return [(key, doomed) for key, doomed in rule.get("doomed", {}).items()]


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found = [
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        if not route.path.startswith("/api/")
        and route.path not in PUBLIC
        and route.path not in ("/healthz", "/readyz", API_DOCS)
        and not route.path.startswith(("/t/", "/u/"))  # tracking and unsubscribe
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    return sorted(found, key=lambda r: (r[1] in LAST, r[1] == "/logout", r[1], r[0]))


def _answer(status: int) -> Any:
    if status in (403, 404):
        return status
    assert status < 500, status
    return OK if status in (200, 303) else status


def test_every_page_answers_each_person_as_its_rule_says(
    db: Database, site: tuple[TestClient, dict[str, Any]]
) -> None:
    client, world = site
    routes = _routes(client)
    unruled = [r for r in routes if r not in RULES]
    assert not unruled, f"pages without an access rule in this test: {unruled}"
    assert not [r for r in RULES if r not in routes], "rules for pages that do not exist"
    sessions: dict[str, tuple[TestClient, str]] = {}
    for who in PERSONAS:
        persona = TestClient(client.app)
        sessions[who] = (persona, logged_in(persona, who))
    wrong = []
    for method, path in routes:
        expected, rule = RULES[(method, path)]
        for who in PERSONAS:
            values = {**world, **{key: world[doomed][who] for key, doomed in _doomed(rule)}}
            url = path.replace(":path", "").format(**values, verb=rule.get("verb", ""))
            persona, token = sessions[who]
            given = {k: str(v).format(**world) for k, v in rule.get("form", {}).items()}
            form = {"csrf": token, "back": "/", **given}
            kwargs: dict[str, Any] = {"data": form} if method == "POST" else {}
            response = persona.request(method, url, follow_redirects=False, **kwargs)
            got = _answer(response.status_code)
            if got != expected[who]:
                wrong.append((method, path, who, expected[who], response.status_code))
    assert not wrong, "\n".join(map(str, wrong))
