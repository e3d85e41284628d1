"""The UI shows and does what the person logged in may, by the same rules as the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services import sequences
from cadenza.services.users import add_user
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Sender, Sequence
from tests.conftest import Database
from tests.engine_helpers import store
from tests.integration.web_login import PASSWORD, logged_in

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PRIVATE = """
name: Ben's own
owner: ben@example.com
sharing: {mode: private, access: view}
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
"""


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        database_url=db.url, environment="test", sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    with writing(db.sessions) as session:
        for email, role in (
            ("ana@example.com", "admin"),
            ("ben@example.com", "agent"),
            ("cara@example.com", "agent"),
        ):
            add_user(session=session, email=email, role=role, now=NOW, password=PASSWORD)
        store(session, PRIVATE, NOW)
    yield settings


def _client(settings: Settings, email: str) -> tuple[TestClient, str]:
    client = TestClient(create_app(settings, clock=FixedClock(NOW)))
    client.__enter__()
    return client, logged_in(client, email)


def _status(db: Database) -> str:
    with db.sessions() as session:
        return session.scalar(select(Sequence.status).where(Sequence.name == "Ben's own")) or ""


def test_an_agent_neither_sees_nor_pauses_another_agents_private_sequence(
    app: Settings, db: Database
) -> None:
    cara, token = _client(app, "cara@example.com")
    try:
        assert "Ben&#39;s own" not in cara.get("/").text
        assert cara.get("/sequences/Ben's own").status_code == 404
        form = {"csrf": token, "back": "/"}
        cara.post("/sequences/Ben's own/pause", data=form, follow_redirects=False)
        assert _status(db) == "active"

        with writing(db.sessions) as session:  # shared with everyone, to view only
            sequences.change_sharing(session=session, name="Ben's own", mode="everyone", now=NOW)
        assert "Ben&#39;s own" in cara.get("/").text
        assert cara.get("/sequences/Ben's own").status_code == 200
        refused = cara.post("/sequences/Ben's own/pause", data=form, follow_redirects=True)
        assert "may not" in refused.text and _status(db) == "active"
        assert cara.get("/mailbox").status_code == 403  # every email sent: admins only
    finally:
        cara.__exit__(None, None, None)


def test_the_owner_and_an_admin_act_and_history_names_them(app: Settings, db: Database) -> None:
    for email in ("ben@example.com", "ana@example.com"):
        client, token = _client(app, email)
        try:
            assert "Ben&#39;s own" in client.get("/").text
            verb = "pause" if _status(db) == "active" else "resume"
            form = {"csrf": token, "back": "/"}
            client.post(f"/sequences/Ben's own/{verb}", data=form, follow_redirects=False)
            assert _status(db) == ("paused" if verb == "pause" else "active")
            assert email in client.get("/history?sequence=Ben's own").text
        finally:
            client.__exit__(None, None, None)


def test_the_owner_shares_from_the_sequence_page_and_a_stranger_cannot(
    app: Settings, db: Database
) -> None:
    ben, ben_token = _client(app, "ben@example.com")
    cara, cara_token = _client(app, "cara@example.com")
    try:
        page = ben.get("/sequences/Ben's own").text
        assert "Line used (email)" in page and "sales@example.com" in page
        assert "Save sharing" in page
        form = {"csrf": ben_token, "mode": "private", "level": "view", "team": "nobody@x.example"}
        refused = ben.post("/sequences/Ben's own/sharing", data=form)
        assert "no user nobody@x.example" in refused.text  # the form's mistake, said on the page
        form["team"] = "cara@example.com"
        shared = ben.post("/sequences/Ben's own/sharing", data=form)
        assert "team saved" in shared.text and "cara@example.com" in shared.text
        # Cara, now in the team, sees it and may work it, but not change who shares it.
        page = cara.get("/sequences/Ben's own").text
        assert "Save sharing" not in page
        form = {"csrf": cara_token, "mode": "everyone", "level": "edit", "team": ""}
        cara.post("/sequences/Ben's own/sharing", data=form)
        with db.sessions() as session:
            row = session.execute(
                select(Sequence.sharing, Sequence.sharing_access).where(
                    Sequence.name == "Ben's own"
                )
            ).one()
        assert tuple(row) == ("private", "view")
    finally:
        ben.__exit__(None, None, None)
        cara.__exit__(None, None, None)


def test_senders_are_listed_for_all_and_changed_by_an_administrator(
    app: Settings, db: Database
) -> None:
    ana, ana_token = _client(app, "ana@example.com")
    ben, ben_token = _client(app, "ben@example.com")
    try:
        form = {"csrf": ana_token, "kind": "email", "address": "sales@example.com",
                "name": "Sales", "per_hour": "50", "per_day": "abc"}  # fmt: skip
        assert "per day: &#39;abc&#39; is not a number" in ana.post("/senders", data=form).text
        form["per_day"] = "400"
        assert "Added email sender sales@example.com" in ana.post("/senders", data=form).text
        listed = ben.get("/senders").text
        assert "sales@example.com" in listed and "400" in listed and "Add a sender" not in listed
        ben_form = {"csrf": ben_token, "kind": "sms", "address": "+13125550100"}
        assert ben.post("/senders", data=ben_form).status_code == 403
        with db.sessions() as session:
            sender_id = session.scalars(select(Sender.id)).one()
        change = {"csrf": ana_token, "name": "Sales", "per_hour": "", "per_day": "300",
                  "people": "ben@example.com"}  # fmt: skip
        saved = ana.post(f"/senders/{sender_id}", data=change).text
        assert "assigned to ben@example.com" in saved
        # The sequence page shows the line it uses with its caps.
        assert "no/hour, 300/day cap" in ana.get("/sequences/Ben's own").text
    finally:
        ana.__exit__(None, None, None)
        ben.__exit__(None, None, None)
