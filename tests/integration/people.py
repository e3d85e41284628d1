"""The API as several people use it: an admin, a manager, two agents, each with a key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services.users import add_group, add_user, create_key
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import at, run_worker, write
from tests.integration.api_client import T0, Api

ROOT = "root@example.com"  # admin
MIA = "mia@example.com"  # manager, in the group "east" with Ana
ANA = "ana@example.com"  # agent A
BO = "bo@example.com"  # agent B, in no group with Ana
ROLES = {ROOT: "admin", MIA: "manager", ANA: "agent", BO: "agent"}

PRIVATE = """\
name: {name}
owner: {owner}
sharing: {{mode: private, access: view}}
senders: {{email: sales@example.com}}
schedule: {{timezone: America/Chicago, days: every_day, holidays: none}}
steps:
  - key: call
    action: task
    assignee: user:{owner}
    outcomes: {{none: next, positive: {{end: positive}}}}
  - {{key: hello, action: email, wait: {{days: 1}}, subject: Hi, body: "<p>Hello</p>"}}
"""
YAML = {"Content-Type": "application/yaml"}


@dataclass
class People:
    """Each person's client (anonymous too); they share one app, database and clock."""

    db: Database
    clock: FixedClock
    client: TestClient
    keys: dict[str, str]

    def as_(self, email: str) -> Api:
        return Api(self.db, self.clock, self.client, self.keys[email])

    def anonymous(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, "/api/v1" + path, **kwargs)


@contextmanager
def people_api(db: Database, tmp_path: Path, **settings: Any) -> Iterator[People]:
    """The app on `db` at T0 with the four people above and a key for each."""
    keys: dict[str, str] = {}
    with write(db) as session:
        for email, role in ROLES.items():
            add_user(session=session, email=email, name=email[:3], role=role, now=at(T0))
            keys[email] = create_key(session=session, name=email, user_email=email, now=at(T0))[1]
        add_group(session=session, name="east", member_emails=[ANA, MIA])
    configured = Settings(
        environment="test",
        database_url=db.url,
        sms_sink_path=str(tmp_path / "sms.jsonl"),
        **settings,
    )
    clock = FixedClock(at(T0))
    app = create_app(configured, clock=clock)
    try:
        with TestClient(app) as client:
            yield People(db, clock, client, keys)
    finally:
        app.state.engine.dispose()


def private_sequence(people: People, name: str, owner: str) -> dict[str, Any]:
    """A private sequence of `owner` (made by the admin) with one contact enrolled, its task
    open: the sequence, the enrollment and the task as the admin sees them."""
    root = people.as_(ROOT)
    text = PRIVATE.format(name=name, owner=owner)
    root.ok("POST", "/sequences", 201, content=text, headers=YAML)
    email = f"{name.lower().replace(' ', '.')}@lead.example"
    contact = root.ok("POST", "/contacts", 201, json={"first_name": "Lee", "email": email})
    root.ok("POST", "/enrollments", 201, json={"sequence": name, "contact_ids": [contact["id"]]})
    run_worker(people.db, people.clock.now())
    [enrollment] = root.ok("GET", "/enrollments", params={"sequence": name})
    [task] = [t for t in root.ok("GET", "/tasks") if t["sequence"] == name]
    return {"name": name, "enrollment": enrollment, "task": task, "contact": contact}
