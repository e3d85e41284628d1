"""Invitations and password resets: single-use, expiring links, emailed through the outbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.server import create_app
from cadenza.services import outbox
from cadenza.services.users import add_user, links
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Message, UserToken
from tests.conftest import Database
from tests.integration.web_login import PASSWORD, form_token, log_in
from tests.smtp_server import Catcher, free_port, smtp_catcher

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CARA = "cara@example.com"
NEW = "a brand new passphrase"
LINK = re.compile(r"https?://[\w.:-]+/(?:invite|reset)/[\w-]+")


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


@dataclass
class Site:
    client: TestClient
    db: Database
    clock: FixedClock
    settings: Settings
    catcher: Catcher

    def deliver(self) -> list[str]:
        """Run the dispatcher once; the links in the emails it sent, in order."""
        dispatcher = Dispatcher(self.db.sessions, self.clock, self.settings)
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()
        bodies = [_text(message) for message in self.catcher.messages]
        self.catcher.messages.clear()
        return [url for body in bodies for url in dict.fromkeys(LINK.findall(body))]

    def issue(self, purpose: str, email: str = CARA) -> links.IssuedLink:
        with writing(self.db.sessions) as session:
            return links.issue(
                session=session, email=email, purpose=purpose, now=self.clock.now(),
                settings=self.settings,
            )  # fmt: skip


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    with smtp_catcher() as catcher:
        settings = Settings(
            database_url=db.url,
            environment="test",
            smtp_port=catcher.port,
            base_url="http://testserver",
            mail_from="cadenza@acme.example",
            sms_sink_path=str(tmp_path / "sms.jsonl"),
        )
        with writing(db.sessions) as session:
            add_user(session=session, email=CARA, name="Cara", now=NOW)  # no password yet
        clock = FixedClock(NOW)
        with TestClient(create_app(settings, clock=clock)) as client:
            yield Site(client, db, clock, settings, catcher)


def _path(url: str) -> str:
    return urlsplit(url).path


def _set(site: Site, path: str, password: str, confirm: str | None = None) -> object:
    page = site.client.get(path)
    form = {"csrf": form_token(page.text), "password": password, "confirm": confirm or password}
    return site.client.post(path, data=form, follow_redirects=False)


def test_an_invitation_is_emailed_and_sets_a_password_once(site: Site) -> None:
    issued = site.issue("invite")
    assert issued.expires_at == NOW + timedelta(hours=site.settings.invite_link_hours)
    # The outbox never shows the link to whoever lists it; the table keeps only its hash.
    with site.db.sessions() as session:
        [row] = outbox.list_messages(session=session)
        tokens = session.scalars(select(UserToken.token_hash)).all()
    assert row["to"] == CARA and issued.url not in row["body"]
    token = issued.url.rsplit("/", 1)[1]
    assert token not in tokens[0]
    [url] = site.deliver()
    assert url == issued.url
    [envelope] = site.catcher.envelopes
    assert envelope == ("cadenza@acme.example", [CARA])
    with site.db.sessions() as session:
        assert session.scalars(select(Message.status)).all() == ["sent"]
    page = site.client.get(_path(url))
    assert page.status_code == 200 and "Choose your password" in page.text and CARA in page.text
    differ = _set(site, _path(url), NEW, "something else entirely")
    assert differ.status_code == 422 and "The two passwords differ." in differ.text  # type: ignore[attr-defined]
    short = _set(site, _path(url), "short")
    assert short.status_code == 422 and "at least 10 characters" in short.text  # type: ignore[attr-defined]
    done = _set(site, _path(url), NEW)
    assert done.status_code == 303 and done.headers["location"] == "/login"  # type: ignore[attr-defined]
    assert log_in(site.client, CARA, NEW).status_code == 303
    again = site.client.get(_path(url))
    assert again.status_code == 410 and "already used" in again.text
    site.client.cookies.clear()
    assert _post_anyway(site, _path(url)) == 410


def _post_anyway(site: Site, path: str) -> int:
    token = form_token(site.client.get("/login").text)
    form = {
        "csrf": token,
        "password": "yet another passphrase",
        "confirm": "yet another passphrase",
    }
    return site.client.post(path, data=form, follow_redirects=False).status_code


def test_links_expire_and_a_newer_one_replaces_the_older(site: Site) -> None:
    older = site.issue("reset")
    newer = site.issue("reset")
    assert "already used (or a newer one replaced it)" in site.client.get(_path(older.url)).text
    site.clock.advance(timedelta(minutes=site.settings.reset_link_minutes, seconds=1))
    expired = site.client.get(_path(newer.url))
    assert expired.status_code == 410 and "has expired" in expired.text
    assert _post_anyway(site, _path(newer.url)) == 410
    assert site.client.get("/reset/not-a-token").status_code == 410


def test_a_reset_sets_a_new_password_and_ends_other_sessions(site: Site) -> None:
    with writing(site.db.sessions) as session:
        add_user(session=session, email="dan@example.com", now=NOW, password=PASSWORD)
    other = TestClient(site.client.app)
    assert log_in(other, "dan@example.com").status_code == 303
    issued = site.issue("reset", "dan@example.com")
    assert _set(site, _path(issued.url), NEW).status_code == 303  # type: ignore[attr-defined]
    assert other.get("/", follow_redirects=False).status_code == 303  # logged out everywhere
    assert log_in(site.client, "dan@example.com", PASSWORD).status_code == 401
    assert log_in(site.client, "dan@example.com", NEW).status_code == 303


def test_forgot_answers_the_same_whether_or_not_the_address_exists(site: Site) -> None:
    answers = []
    for email in ("nobody@example.com", CARA):
        page = site.client.get("/forgot")
        form = {"csrf": form_token(page.text), "email": email}
        response = site.client.post("/forgot", data=form)
        assert response.status_code == 200
        answers.append(response.text)
    assert answers[0] == answers[1] and "is on its way" in answers[0]
    # Only the real one got a link; asking again at once does not send a second.
    token = form_token(site.client.get("/forgot").text)
    assert site.client.post("/forgot", data={"csrf": token, "email": CARA}).text == answers[0]
    [url] = site.deliver()
    assert _path(url).startswith("/reset/")
    [envelope] = site.catcher.envelopes
    assert envelope[1] == [CARA]
    assert _set(site, _path(url), NEW).status_code == 303  # type: ignore[attr-defined]
    assert log_in(site.client, CARA, NEW).status_code == 303


def test_system_mail_has_no_unsubscribe_and_no_contact(site: Site) -> None:
    site.issue("invite")
    dispatcher = Dispatcher(site.db.sessions, site.clock, site.settings)
    try:
        assert dispatcher.drain() == 1
    finally:
        dispatcher.close()
    [message] = site.catcher.messages
    assert message["List-Unsubscribe"] is None and "unsubscribe" not in str(message).lower()
    assert message["Subject"] == "You are invited to Cadenza"


def test_the_dev_mailbox_page_never_shows_a_working_link(db: Database, tmp_path: Path) -> None:
    settings = Settings(
        database_url=db.url,
        environment="test",
        smtp_port=free_port(),  # where the app's own dev mailbox listens
        dev_mailbox=str(tmp_path / "mailbox"),
        sms_sink_path=str(tmp_path / "sms.jsonl"),
    )
    with writing(db.sessions) as session:
        add_user(session=session, email="ana@example.com", role="admin", now=NOW, password=PASSWORD)
        add_user(session=session, email=CARA, now=NOW)
    clock = FixedClock(NOW)
    with TestClient(create_app(settings, clock=clock)) as client:  # serves the dev mailbox
        site = Site(client, db, clock, settings, Catcher())
        issued = site.issue("reset")
        dispatcher = Dispatcher(db.sessions, clock, settings)
        try:
            assert dispatcher.drain() == 1
        finally:
            dispatcher.close()
        assert log_in(client, "ana@example.com").status_code == 303
        html = client.get("/mailbox").text
    token = issued.url.rsplit("/", 1)[1]
    assert "Set a new Cadenza password" in html and "/reset/…" in html and token not in html
