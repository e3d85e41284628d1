"""Who sees and does what through the API, with real keys of real users (docs/access.md)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cadenza.errors import NotFound
from cadenza.services.enrollments import pause_enrollment
from cadenza.services.sequences import list_sequences, pause
from cadenza.services.tasks import complete_task, list_tasks
from cadenza.services.users import add_group, create_key, get_user_by_email
from cadenza.services.users.access import viewer_of
from cadenza.settings import Settings
from cadenza.store.models import Sequence, User
from tests.conftest import Database
from tests.engine_helpers import at, cadenza_command, write
from tests.integration.api_client import T0, Api, problem
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


@pytest.fixture
def people(db: Database, tmp_path: Path) -> Iterator[People]:
    with people_api(db, tmp_path) as running:
        yield running


def _names(api: Api) -> list[str]:
    return [row["name"] for row in api.ok("GET", "/sequences")]


def _status(people: People, name: str) -> str:
    with people.db.sessions() as session:
        return str(session.scalar(select(Sequence.status).where(Sequence.name == name)))


def _cannot_see(bo: Api, seq: dict[str, Any]) -> None:
    name, enrollment, task = seq["name"], seq["enrollment"]["id"], seq["task"]["id"]
    assert name not in _names(bo)
    for method, path, body in (
        ("GET", f"/sequences/{name}", None),
        ("POST", f"/sequences/{name}/pause", None),
        ("POST", f"/sequences/{name}/simulate", {"contact": {}}),
        ("PUT", f"/sequences/{name}/sharing", {"mode": "everyone"}),
        ("POST", "/enrollments", {"sequence": name, "contact_ids": [seq["contact"]["id"]]}),
        ("POST", f"/enrollments/{enrollment}/pause", None),
        ("DELETE", f"/enrollments/{enrollment}", None),
        ("POST", f"/tasks/{task}/complete", {"outcome": "positive"}),
    ):
        body_kw = {"json": body} if body is not None else {}
        detail = problem(bo.request(method, path, **body_kw), 404)["detail"]
        assert "no " in detail, detail
    assert bo.ok("GET", "/enrollments") == []
    assert [t for t in bo.ok("GET", "/tasks") if t["sequence"] == name] == []
    # A sequence one may not see is, as a filter, one that does not exist: the same 422.
    hidden = problem(bo.get("/history", params={"sequence": name}), 422)["detail"]
    assert hidden == problem(bo.get("/history", params={"sequence": "Nope"}), 422)[
        "detail"
    ].replace("'Nope'", repr(name))
    assert bo.ok("GET", "/messages") == []


def test_an_agent_cannot_see_change_or_work_another_agents_private_sequence(
    people: People,
) -> None:
    seq = private_sequence(people, "Ana private", ANA)
    _cannot_see(people.as_(BO), seq)
    assert _status(people, "Ana private") == "active"
    ana = people.as_(ANA)
    [created] = ana.ok("GET", "/history", params={"type": "sequence_created"})
    assert (created["actor"], created["reason"]) == (ROOT, f"version 1 applied by {ROOT}")
    assert _names(ana) == ["Ana private"]
    assert [t["id"] for t in ana.ok("GET", "/tasks")] == [seq["task"]["id"]]


def test_sharing_with_view_lets_see_and_with_edit_lets_change(people: People) -> None:
    seq = private_sequence(people, "Ana private", ANA)
    ana, bo = people.as_(ANA), people.as_(BO)
    shared = ana.ok("PUT", "/sequences/Ana private/sharing", json={"mode": "everyone"})
    assert (shared["sharing"], shared["access"], shared["owner"]) == ("everyone", "view", ANA)
    assert bo.ok("GET", "/sequences/Ana private")["name"] == "Ana private"
    assert [e["id"] for e in bo.ok("GET", "/enrollments")] == [seq["enrollment"]["id"]]
    refused = problem(bo.post("/sequences/Ana private/pause"), 403)["detail"]
    assert "needs edit access" in refused and BO in refused, refused
    problem(bo.post(f"/tasks/{seq['task']['id']}/complete", json={"outcome": "positive"}), 403)
    problem(bo.post(f"/enrollments/{seq['enrollment']['id']}/pause"), 403)
    problem(bo.put("/sequences/Ana private/sharing", json={"access": "edit"}), 403)
    assert _status(people, "Ana private") == "active"

    ana.ok("PUT", "/sequences/Ana private/sharing", json={"access": "edit"})
    assert bo.ok("POST", "/sequences/Ana private/pause")["status"] == "paused"
    [paused] = bo.ok(
        "GET", "/history", params={"sequence": "Ana private", "type": "sequence_paused"}
    )
    assert paused["actor"] == BO
    [change] = bo.ok("GET", "/history", params={"type": "sequence_shared"})[-1:]
    assert change["actor"] == ANA and change["data"]["access"] == "edit"


def test_a_team_member_works_its_tasks_but_does_not_change_it(people: People) -> None:
    seq = private_sequence(people, "Ana private", ANA)
    ana, bo = people.as_(ANA), people.as_(BO)
    detail = ana.ok("PUT", "/sequences/Ana private/sharing", json={"team": [BO]})
    assert detail["team"] == [BO] and detail["sharing"] == "private"
    assert _names(bo) == ["Ana private"]
    done = bo.ok("POST", f"/tasks/{seq['task']['id']}/complete", json={"outcome": "none"})
    assert done["status"] == "done"
    problem(bo.post("/sequences/Ana private/end"), 403)
    history = ana.ok("GET", "/history", params={"type": "task_completed"})
    assert [h["actor"] for h in history if h["sequence"] == "Ana private"] == [BO]


def test_a_manager_sees_and_runs_the_work_of_their_group_only(people: People) -> None:
    private_sequence(people, "Ana private", ANA)
    private_sequence(people, "Bo private", BO)
    mia = people.as_(MIA)
    assert _names(mia) == ["Ana private"]
    assert mia.ok("POST", "/sequences/Ana private/pause")["status"] == "paused"
    problem(mia.post("/sequences/Bo private/pause"), 404)
    assert {e["sequence"] for e in mia.ok("GET", "/enrollments")} == {"Ana private"}
    assert _names(people.as_(ROOT)) == ["Ana private", "Bo private"]
    assert _names(people.as_(BO)) == ["Bo private"]


def test_team_sharing_reaches_the_owners_groupmates(people: People) -> None:
    private_sequence(people, "Mia team", MIA)
    mia = people.as_(MIA)
    mia.ok("PUT", "/sequences/Mia team/sharing", json={"mode": "team", "access": "view"})
    assert _names(people.as_(ANA)) == ["Mia team"]
    assert _names(people.as_(BO)) == []


MINE = PRIVATE.format(name="Mine", owner=ANA).replace(f"owner: {ANA}\n", "")


def test_agents_may_not_create_sequences_by_default(people: People) -> None:
    ana = people.as_(ANA)
    refused = problem(ana.post("/sequences", content=MINE, headers=YAML), 403)
    assert "agent ana@example.com may not create sequences" in refused["detail"]
    private_sequence(people, "Ana private", ANA)
    problem(ana.post("/sequences/Ana private/clone", json={"name": "Copy"}), 403)
    problem(ana.delete("/sequences/Ana private"), 403)
    assert _names(people.as_(ROOT)) == ["Ana private"]


def test_agents_create_sequences_they_own_when_the_setting_lets_them(
    db: Database, tmp_path: Path
) -> None:
    with people_api(db, tmp_path, agents_create_sequences=True) as people:
        ana = people.as_(ANA)
        ana.ok("POST", "/sequences", 201, content=MINE, headers=YAML)
        assert ana.ok("GET", "/sequences/Mine")["owner"] == ANA
        assert ana.ok("POST", "/sequences/Mine/clone", 201, json={"name": "Copy"})["owner"] == ANA
        assert _names(people.as_(BO)) == []


def test_a_key_of_no_user_is_refused_with_403_saying_how_to_make_one(people: People) -> None:
    with write(people.db) as session:
        _, token = create_key(session=session, name="old", now=at(T0))
    response = people.anonymous("GET", "/sequences", headers={"Authorization": f"Bearer {token}"})
    detail = problem(response, 403)["detail"]
    assert "belongs to no user" in detail and "--user" in detail


def test_the_definition_carries_owner_sharing_and_team(people: People) -> None:
    root = people.as_(ROOT)
    text = PRIVATE.format(name="Declared", owner=ANA).replace(
        "sharing: {mode: private, access: view}",
        f"sharing: {{mode: everyone, access: edit}}\nteam: [{BO}]",
    )
    root.ok("POST", "/sequences", 201, content=text, headers=YAML)
    detail = people.as_(BO).ok("GET", "/sequences/Declared")
    assert (detail["owner"], detail["sharing"], detail["access"]) == (ANA, "everyone", "edit")
    assert detail["team"] == [BO]
    assert detail["senders"] == [
        {
            "kind": "email",
            "address": "sales@example.com",
            "name": "",
            "per_hour": None,
            "per_day": None,
            "managed": False,
        }
    ]
    unknown = text.replace(f"team: [{BO}]", "team: [ghost@example.com]")
    refused = problem(root.post("/sequences", content=unknown, headers=YAML), 422)
    assert "no user ghost@example.com (team[0])" in refused["errors"]


def test_the_cli_acts_as_an_admin_and_names_who_with_as(people: People) -> None:
    private_sequence(people, "Ana private", ANA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = people.db.url

    def cadenza(*args: str) -> subprocess.CompletedProcess[str]:
        command = cadenza_command(*args)
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    paused = cadenza("--as", MIA, "sequences", "pause", "Ana private")
    assert paused.returncode == 0, paused.stderr
    resumed = cadenza("sequences", "resume", "Ana private")
    assert resumed.returncode == 0, resumed.stderr
    history = people.as_(ROOT).ok("GET", "/history", params={"sequence": "Ana private"})
    actors = {h["type"]: h["actor"] for h in history}
    assert (actors["sequence_paused"], actors["sequence_resumed"]) == (MIA, "cli")
    ghost = cadenza("--as", "ghost@example.com", "sequences", "pause", "Ana private")
    assert ghost.returncode == 1 and "no user ghost@example.com" in ghost.stderr
    assert "Traceback" not in ghost.stderr and _status(people, "Ana private") == "active"


def test_a_deactivated_users_keys_are_refused(people: People) -> None:
    with write(people.db) as session:
        session.execute(update(User).where(User.email == BO).values(active=False))
    detail = problem(people.as_(BO).get("/sequences"), 403)["detail"]
    assert f"{BO} is deactivated" in detail
    assert people.as_(ANA).get("/sequences").status_code == 200


def test_a_changed_role_or_group_takes_effect_at_the_next_request(people: People) -> None:
    private_sequence(people, "Ana private", ANA)
    bo = people.as_(BO)
    assert _names(bo) == []
    with write(people.db) as session:  # as `cadenza users` would, from another process
        session.execute(update(User).where(User.email == BO).values(role="admin"))
    assert _names(bo) == ["Ana private"]
    with write(people.db) as session:
        session.execute(update(User).where(User.email == BO).values(role="manager"))
    assert _names(bo) == []
    with write(people.db) as session:
        add_group(session=session, name="west", member_emails=[ANA, BO])
    assert _names(bo) == ["Ana private"]


def test_an_agent_sharing_edit_rights_cannot_take_the_sequence_over(people: People) -> None:
    private_sequence(people, "Ana private", ANA)
    people.as_(ANA).ok(
        "PUT", "/sequences/Ana private/sharing", json={"mode": "everyone", "access": "edit"}
    )
    bo = people.as_(BO)
    mine = PRIVATE.format(name="Ana private", owner=BO)
    refused = problem(bo.post("/sequences", content=mine, headers=YAML), 403)
    assert "a manager or an admin changes owners" in refused["detail"]
    same = PRIVATE.format(name="Ana private", owner=ANA).replace("Hello", "Hello again")
    same = same.replace("mode: private, access: view", "mode: everyone, access: edit")
    assert bo.ok("POST", "/sequences", content=same, headers=YAML)["result"] == "updated"
    assert bo.ok("GET", "/sequences/Ana private")["owner"] == ANA
    given = PRIVATE.format(name="Ana private", owner=MIA)
    assert people.as_(ROOT).ok("POST", "/sequences", content=given, headers=YAML)
    assert people.as_(ROOT).ok("GET", "/sequences/Ana private")["owner"] == MIA


def test_the_services_check_the_viewer_themselves_for_every_surface(people: People) -> None:
    seq = private_sequence(people, "Ana private", ANA)
    settings = Settings(environment="test")
    with write(people.db) as session:
        bo_user = get_user_by_email(session=session, email=BO)
        assert bo_user is not None
        bo = viewer_of(session=session, user=bo_user, settings=settings)
        assert list_sequences(session=session, viewer=bo) == []
        assert list_tasks(session=session, viewer=bo) == []
        now = people.clock.now()
        with pytest.raises(NotFound):
            complete_task(
                session=session,
                task_id=seq["task"]["id"],
                outcome="none",
                now=now,
                settings=settings,
                viewer=bo,
            )
        with pytest.raises(NotFound):
            pause_enrollment(
                session=session, enrollment_id=seq["enrollment"]["id"], now=now, viewer=bo
            )
        with pytest.raises(NotFound):
            pause(session=session, name="Ana private", now=now, viewer=bo)
    assert _status(people, "Ana private") == "active"
