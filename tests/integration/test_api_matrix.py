"""Every /api/v1 route x {anonymous, agent A, agent B, manager, admin}: the expected answer.

The routes come from the app's own route table, so a new route without a rule here fails
the suite. Answers are classes: 401, 403, 404, or `ok` (the access check let the request
through: 2xx, or a 409/422 about the request itself, never a 5xx).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from cadenza.services import lists, subscriptions
from cadenza.services.contacts.blocked_domains import block_domain
from tests.conftest import Database
from tests.integration.people import (
    ANA,
    BO,
    MIA,
    PRIVATE,
    ROOT,
    YAML,
    People,
    people_api,
    private_sequence,
)

PERSONAS = ("anonymous", BO, ANA, MIA, ROOT)  # the refused first: nothing changed for them
OK = "ok"
EVERYONE = {BO: OK, ANA: OK, MIA: OK, ROOT: OK}
ANAS = {BO: 404, ANA: OK, MIA: OK, ROOT: OK}  # agent A's private sequence and its rows
ADMINS = {BO: 403, ANA: 403, MIA: 403, ROOT: OK}
SEQ = "/api/v1/sequences/{name}"
ENR = "/api/v1/enrollments/{enrollment_id}"
SND = "/api/v1/senders/{sender_id}"
SUB = "/api/v1/subscriptions/{subscription_id}"
HOOK = "http://127.0.0.1:9/hook"  # the discard port: a test send fails, and says so
REP = "/api/v1/reports"
READERS = {BO: 404, ANA: 403, MIA: OK, ROOT: OK}  # reports of agent A's private sequence
MANAGERS = {BO: 403, ANA: 403, MIA: OK, ROOT: OK}
ACC = "/api/v1/accounts/{account_id}"
VIEW = "/api/v1/views/{view_id}"  # agent A's private view
LST = "/api/v1/lists/{list_name}"

# (method, path) -> (expected answers, the request: path values and body)
RULES: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {
    ("GET", "/api/v1/sequences"): (EVERYONE, {}),
    ("POST", "/api/v1/sequences"): ({BO: 403, ANA: OK, MIA: OK, ROOT: OK}, {"definition": True}),
    ("GET", SEQ): (ANAS, {}),
    ("PUT", SEQ + "/sharing"): (ANAS, {"json": {"access": "view"}}),
    ("POST", SEQ + "/clone"): ({BO: 404, ANA: 403, MIA: OK, ROOT: OK}, {"json": "clone"}),
    ("POST", SEQ + "/migrate"): (ANAS, {"json": {"to_version": 1}}),
    ("POST", SEQ + "/simulate"): (ANAS, {"json": {"contact": {}}}),
    ("POST", SEQ + "/{action}"): (ANAS, {"action": "pause"}),
    ("DELETE", SEQ): ({BO: 404, ANA: 403, MIA: OK, ROOT: OK}, {}),
    ("GET", "/api/v1/contacts"): (EVERYONE, {}),
    ("POST", "/api/v1/contacts"): (EVERYONE, {"json": {"email": "new@lead.example"}}),
    ("POST", "/api/v1/contacts/import"): (EVERYONE, {"files": True}),
    ("GET", "/api/v1/contacts/{contact_id}"): (EVERYONE, {}),
    ("PATCH", "/api/v1/contacts/{contact_id}"): (EVERYONE, {"json": {"company": "Acme"}}),
    # Each person who may delete deletes a contact of their own (the others are refused).
    ("DELETE", "/api/v1/contacts/{contact_id}"): (
        {BO: 403, ANA: 403, MIA: OK, ROOT: OK},
        {"doomed": True},
    ),
    ("POST", "/api/v1/contacts/{contact_id}/events"): (
        EVERYONE,
        {"json": {"name": "tag_added", "data": {"tag": "vip"}}},
    ),
    ("GET", "/api/v1/contacts/by-external-id/{external_id}"): (EVERYONE, {}),
    ("PUT", "/api/v1/contacts/by-external-id/{external_id}"): (
        EVERYONE,
        {"json": {"company": "Acme"}},
    ),
    ("POST", "/api/v1/contacts/upsert"): (EVERYONE, {"json": {"email": "up@lead.example"}}),
    # Each person who may merge folds a duplicate of their own into the same survivor.
    ("POST", "/api/v1/contacts/{contact_id}/merge"): (MANAGERS, {"merge": True}),
    ("GET", "/api/v1/contacts/{contact_id}/notes"): (EVERYONE, {}),
    ("POST", "/api/v1/contacts/{contact_id}/notes"): (EVERYONE, {"json": {"body": "Called"}}),
    # The admin's note, one per person: only who may delete contacts deletes another's.
    ("DELETE", "/api/v1/contacts/{contact_id}/notes/{note_id}"): (MANAGERS, {"note": True}),
    ("GET", "/api/v1/contact-fields"): (EVERYONE, {}),
    ("POST", "/api/v1/contact-fields"): (MANAGERS, {"json": {"name": "score", "kind": "number"}}),
    ("DELETE", "/api/v1/contact-fields/{name}"): (MANAGERS, {"field": True}),
    ("GET", "/api/v1/enrollments"): (EVERYONE, {}),
    ("POST", "/api/v1/enrollments"): (ANAS, {"json": "enroll"}),
    ("GET", ENR): (ANAS, {}),
    ("POST", ENR + "/{action}"): (ANAS, {"action": "pause"}),
    ("DELETE", ENR): (ANAS, {"spare": True}),
    ("GET", "/api/v1/tasks"): (EVERYONE, {}),
    ("POST", "/api/v1/tasks/{task_id}/complete"): (ANAS, {"json": {"outcome": "none"}}),
    ("GET", "/api/v1/messages"): (EVERYONE, {}),
    ("GET", "/api/v1/history"): (EVERYONE, {}),
    ("GET", "/api/v1/senders"): (EVERYONE, {}),
    ("POST", "/api/v1/senders"): (ADMINS, {"json": {"kind": "email", "address": "x@acme.example"}}),
    ("GET", SND): (EVERYONE, {}),
    ("PATCH", SND): (ADMINS, {"json": {"per_hour": 10}}),
    ("PUT", SND + "/users"): (ADMINS, {"json": {"users": [ANA]}}),
    ("POST", SND + "/dkim"): (ADMINS, {"json": {"selector": "s2026"}}),
    ("DELETE", SND): (ADMINS, {}),
    ("GET", "/api/v1/subscriptions"): (ADMINS, {}),
    ("POST", "/api/v1/subscriptions"): (ADMINS, {"json": {"url": HOOK}}),
    ("GET", SUB): (ADMINS, {}),
    ("PATCH", SUB): (ADMINS, {"json": {"active": True}}),
    ("GET", SUB + "/deliveries"): (ADMINS, {}),
    ("POST", SUB + "/test"): (ADMINS, {}),
    ("DELETE", SUB): (ADMINS, {}),
    ("GET", REP + "/sequences/{name}"): (READERS, {}),
    ("GET", REP + "/sequences/{name}/steps"): (READERS, {}),
    ("GET", REP + "/sequences/{name}/series"): (READERS, {}),
    ("GET", REP + "/compare"): (READERS, {"params": {"sequence": "{name}"}}),
    ("GET", REP + "/people"): (MANAGERS, {}),
    ("GET", REP + "/senders"): (MANAGERS, {}),
    ("GET", "/api/v1/accounts"): (EVERYONE, {}),
    ("POST", "/api/v1/accounts"): (EVERYONE, {"json": {"name": "Acme", "domains": ["acme.io"]}}),
    ("GET", ACC): (EVERYONE, {}),
    ("GET", ACC + "/contacts"): (EVERYONE, {}),
    ("PATCH", ACC): (EVERYONE, {"json": {"fields": {"tier": "gold"}}}),
    ("DELETE", ACC): ({BO: 403, ANA: 403, MIA: OK, ROOT: OK}, {"doomed_account": True}),
    ("GET", "/api/v1/views"): (EVERYONE, {}),
    ("POST", "/api/v1/views"): (EVERYONE, {"json": {"name": "V", "condition": {"tag": "x"}}}),
    ("GET", VIEW): (ANAS, {}),
    ("PATCH", VIEW): ({BO: 404, ANA: OK, MIA: OK, ROOT: OK}, {"json": {"sharing": "private"}}),
    ("DELETE", VIEW): (ANAS, {"doomed_view": True}),
    ("GET", "/api/v1/lists"): (EVERYONE, {}),
    ("POST", "/api/v1/lists"): (MANAGERS, {"json": {"name": "Fresh"}}),
    ("GET", LST): (EVERYONE, {}),
    ("GET", LST + "/members"): (EVERYONE, {}),
    ("POST", LST + "/members"): (EVERYONE, {"json": "members"}),
    ("POST", LST + "/members/remove"): (EVERYONE, {"json": "members"}),
    ("DELETE", LST): (MANAGERS, {"doomed_list": True}),
    ("GET", "/api/v1/blocked-domains"): (MANAGERS, {}),
    ("POST", "/api/v1/blocked-domains"): (MANAGERS, {"json": {"domain": "blocked.example"}}),
    ("DELETE", "/api/v1/blocked-domains/{domain}"): (MANAGERS, {"doomed_domain": True}),
}
PUBLIC = ("/api/v1/openapi.json", "/api/v1/docs")  # the API's own description
INBOUND = "/api/v1/inbound/"  # authenticated inbound has its own tests; here: no anonymous


def _routes(people: People) -> list[tuple[str, str]]:
    app = people.client.app
    found = [
        (method, route.path)
        for route in app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        if route.path.startswith("/api/v1/") and route.path not in PUBLIC
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    # Deletions last: what they take away is what the other routes are asked about.
    return sorted(found, key=lambda r: (r[0] == "DELETE", r[1], r[0]))


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def _world(people: People) -> dict[str, Any]:
    seq = private_sequence(people, "Ana private", ANA)
    root = people.as_(ROOT)
    spare = root.ok("POST", "/contacts", 201, json={"email": "spare@lead.example"})
    root.ok(
        "POST", "/enrollments", 201, json={"sequence": "Ana private", "contact_ids": [spare["id"]]}
    )
    enrolled = root.ok("GET", "/enrollments", params={"sequence": "Ana private"})
    sender = root.ok("POST", "/senders", 201, json={"kind": "sms", "address": "+13125550100"})
    with people.db.sessions() as session, session.begin():
        hook = subscriptions.create(
            session=session, url=HOOK, now=people.clock.now(), allow=["127.0.0.1"]
        )
    doomed = {
        who: root.ok("POST", "/contacts", 201, json={"email": f"doomed.{i}@lead.example"})["id"]
        for i, who in enumerate((BO, ANA, MIA, ROOT, "anonymous"))
    }
    account = root.ok("POST", "/accounts", 201, json={"name": "Kept", "domains": ["kept.io"]})
    doomed_accounts = {
        who: root.ok("POST", "/accounts", 201, json={"name": f"Doomed {i}"})["id"]
        for i, who in enumerate((BO, ANA, MIA, ROOT, "anonymous"))
    }
    ana = people.as_(ANA)
    view = {"condition": {"tag": "vip"}, "sharing": "private"}
    doomed_views = {
        who: ana.ok("POST", "/views", 201, json={**view, "name": f"Doomed {i}"})["id"]
        for i, who in enumerate((BO, ANA, MIA, ROOT, "anonymous"))
    }
    merged = {
        who: root.ok("POST", "/contacts", 201, json={"email": f"dup.{i}@lead.example"})["id"]
        for i, who in enumerate((BO, ANA, MIA, ROOT, "anonymous"))
    }
    root.ok("POST", "/contacts", 201, json={"email": "crm@lead.example", "external_id": "crm-1"})
    notes = {
        who: root.ok("POST", f"/contacts/{seq['contact']['id']}/notes", 201, json={"body": who})[
            "id"
        ]
        for who in (BO, ANA, MIA, ROOT, "anonymous")
    }
    fields = {who: f"doomed_{i}" for i, who in enumerate((BO, ANA, MIA, ROOT, "anonymous"))}
    for name in fields.values():
        root.ok("POST", "/contact-fields", 201, json={"name": name, "kind": "text"})
    who_all = (BO, ANA, MIA, ROOT, "anonymous")
    with people.db.sessions() as session, session.begin():
        for name in ("Plain", *(f"Doomed {i}" for i in range(len(who_all)))):
            lists.create_list(session=session, name=name, now=people.clock.now())
        for i in range(len(who_all)):
            block_domain(session=session, domain=f"doomed{i}.example", now=people.clock.now())
    return {
        "account_id": account["id"],
        "doomed_accounts": doomed_accounts,
        "view_id": ana.ok("POST", "/views", 201, json={**view, "name": "Ana's"})["id"],
        "doomed_views": doomed_views,
        "merged": merged,
        "notes": notes,
        "fields": fields,
        "external_id": "crm-1",
        "doomed_lists": {who: f"Doomed {i}" for i, who in enumerate(who_all)},
        "doomed_domains": {who: f"doomed{i}.example" for i, who in enumerate(who_all)},
        "list_name": "Plain",
        "domain": "none.example",
        "doomed": doomed,
        "name": seq["name"],
        "enrollment_id": seq["enrollment"]["id"],
        "spare_id": next(e["id"] for e in enrolled if e["contact_id"] == spare["id"]),
        "task_id": seq["task"]["id"],
        "contact_id": seq["contact"]["id"],
        "sender_id": sender["id"],
        "subscription_id": hook.id,
    }


def _request(rule: dict[str, Any], path: str, world: dict[str, Any], who: str) -> dict[str, Any]:
    values = {**world, "action": rule.get("action", "")}
    if rule.get("spare"):
        values["enrollment_id"] = world["spare_id"]
    if rule.get("doomed"):
        values["contact_id"] = world["doomed"][who]
    if rule.get("doomed_account"):
        values["account_id"] = world["doomed_accounts"][who]
    if rule.get("doomed_view"):
        values["view_id"] = world["doomed_views"][who]
    if rule.get("note"):
        values["note_id"] = world["notes"][who]
    if rule.get("field"):
        values["name"] = world["fields"][who]
    if rule.get("merge"):
        rule = {**rule, "json": {"duplicate_id": world["merged"][who]}}
    if rule.get("doomed_list"):
        values["list_name"] = world["doomed_lists"][who]
    if rule.get("doomed_domain"):
        values["domain"] = world["doomed_domains"][who]
    kwargs: dict[str, Any] = {"url": "/api/v1" + path.removeprefix("/api/v1").format(**values)}
    body = rule.get("json")
    if body == "clone":
        body = {"name": f"Copy by {who}"}
    elif body == "members":
        body = {"contact_ids": [world["contact_id"]]}
    elif body == "enroll":
        body = {"sequence": world["name"], "contact_ids": [world["contact_id"]]}
    if body is not None:
        kwargs["json"] = body
    if "params" in rule:
        kwargs["params"] = {k: v.format(**values) for k, v in rule["params"].items()}
    if rule.get("definition"):
        kwargs.update(content=PRIVATE.format(name=world["name"], owner=ANA), headers=YAML)
    if rule.get("files"):
        kwargs["files"] = {"file": ("c.csv", b"email\nimported@lead.example\n", "text/csv")}
    return kwargs


def _answer(status: int) -> Any:
    if status in (401, 403, 404):
        return status
    assert status < 500, status
    return OK if status < 300 or status in (409, 422) else status


def test_every_route_answers_each_person_as_its_rule_says(people: People) -> None:
    world = _world(people)
    routes = _routes(people)
    unruled = [r for r in routes if r not in RULES and not r[1].startswith(INBOUND)]
    assert not unruled, f"routes without an access rule in this test: {unruled}"
    assert not [r for r in RULES if r not in routes], "rules for routes that do not exist"
    wrong = []
    for method, path in routes:
        if path.startswith(INBOUND):
            continue
        expected, rule = RULES[(method, path)]
        for who in PERSONAS:
            kwargs = _request(rule, path, world, who)
            headers = {**kwargs.pop("headers", {})}
            if who != "anonymous":
                headers["Authorization"] = f"Bearer {people.keys[who]}"
            response = people.client.request(method, headers=headers, **kwargs)
            want = 401 if who == "anonymous" else expected[who]
            got = _answer(response.status_code)
            if got != want:
                wrong.append((method, path, who, want, response.status_code, response.text[:200]))
    assert not wrong, "\n".join(map(str, wrong))


def test_inbound_routes_refuse_anonymous_callers(people: People) -> None:
    inbound = [r for r in _routes(people) if r[1].startswith(INBOUND)]
    assert inbound
    for method, path in inbound:
        assert people.client.request(method, path, data={}).status_code == 401, path


# Provider webhooks: the inbound credentials, then the provider's own proof. With the
# credentials but no signature (or no key configured), a signed route is 403; Postmark's
# and SendGrid Inbound Parse's proof is the credentials themselves, so a body they cannot
# read is 422. A person's key without the inbound scope is 403 everywhere.
PROVIDER_HOOKS = {
    "/api/v1/inbound/providers/mailgun/events": 403,
    "/api/v1/inbound/providers/mailgun/mime": 403,
    "/api/v1/inbound/providers/sendgrid/events": 403,
    "/api/v1/inbound/providers/sendgrid/inbound": 422,
    "/api/v1/inbound/providers/ses": 403,
    "/api/v1/inbound/providers/postmark/events": 422,
    "/api/v1/inbound/providers/postmark/inbound": 422,
}


def test_provider_webhooks_need_the_inbound_credentials_and_the_providers_proof(
    db: Database, tmp_path: Path
) -> None:
    with people_api(db, tmp_path, inbound_secret="hook-secret") as people:
        found = {path for method, path in _routes(people) if "/inbound/providers/" in path}
        assert found == set(PROVIDER_HOOKS), "a provider webhook without a rule here"
        for path, unproven in PROVIDER_HOOKS.items():
            client = people.client
            bodies = {"json": {"signature": {}, "Type": "Notification", "Message": "{}"}}
            if path.endswith(("mime", "inbound")) and "postmark" not in path:
                bodies = {"data": {"timestamp": "1", "token": "t", "signature": "s"}}
            assert client.post(path, **bodies).status_code == 401, path
            bearer = {"Authorization": f"Bearer {people.keys[ROOT]}"}
            assert client.post(path, headers=bearer, **bodies).status_code == 403, path
            answer = client.post(path, auth=("inbound", "hook-secret"), **bodies)
            assert answer.status_code == unproven, (path, answer.text)
