"""Open pixel, click redirect and unsubscribe links of a really sent email, followed via the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cadenza.channels.tokens import sign_token
from cadenza.channels.tracking import PIXEL_GIF
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.history import list_history
from cadenza.settings import Settings
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

START = "2026-12-01T10:00:00-06:00"
TRACKED = """
name: Tracked
senders: {email: "ana@sales.example.com"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", track: {opens: true, clicks: true},
     body: '<p>See <a href="https://acme.example/pricing?plan=pro">pricing</a></p>'}
  - {key: watch, action: wait_for, events: [opened], timeout: {days: 3},
     routes: {opened: thanks, timeout: nudge}}
  - {key: nudge, action: email, subject: "Did you see it?", body: "<p>Nudge</p>"}
  - {key: thanks, action: email, subject: "Glad you looked", body: "<p>Thanks</p>"}
"""


@dataclass
class Scene:
    db: Database
    settings: Settings
    catcher: Catcher
    client: TestClient
    contact_id: int = 0

    def run(self, now: str) -> None:
        run_worker(self.db, now)
        dispatcher = Dispatcher(self.db.sessions, FixedClock(at(now)), self.settings)
        try:
            dispatcher.drain()
        finally:
            dispatcher.close()

    def sent(self) -> EmailMessage:
        (message,) = self.catcher.messages
        return message

    def link(self, pattern: str) -> str:
        """The path of the first link in the sent email's HTML that matches `pattern`."""
        body = self.sent().get_body(("html",))
        assert body is not None
        found = re.search(r'"https://c\.example(' + pattern + r'[^"]+)"', body.get_content())
        assert found is not None, pattern
        return found.group(1)

    def unsubscribe_path(self) -> str:
        found = re.search(r"<https://c\.example(/u/[^>]+)>", str(self.sent()["List-Unsubscribe"]))
        assert found is not None
        return found.group(1)

    def history(self, *types: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            return list_history(session=session, types=list(types))

    def enrollment(self) -> dict[str, Any]:
        with self.db.sessions() as session:
            (row,) = enrollments.list_enrollments(session=session)
        return row

    def contact(self) -> Contact:
        with self.db.sessions() as session:
            found = session.get(Contact, self.contact_id)
        assert found is not None
        return found


@pytest.fixture
def scene(db: Database, tmp_path: Path) -> Iterator[Scene]:
    """An email sent through the dispatcher to a real SMTP server, and the API to follow it."""
    with smtp_catcher() as catcher:
        settings = Settings(
            environment="test",
            database_url=db.url,
            smtp_port=catcher.port,
            base_url="https://c.example",
            secret_key="s3cret",
            sms_sink_path=str(tmp_path / "sink.jsonl"),
        )
        app = create_app(settings, clock=FixedClock(at("2026-12-01T10:05:00-06:00")))
        with write(db) as session:
            store(session, TRACKED, at(START))
            contact_id = add_contact(session, at(START))
            enrollments.enroll(
                session=session,
                sequence="Tracked",
                contact_ids=[contact_id],
                now=at(START),
                settings=SETTINGS,
            )
        running = Scene(db, settings, catcher, TestClient(app), contact_id)
        running.run(START)
        try:
            yield running
        finally:
            app.state.engine.dispose()


def test_the_open_pixel_records_opened_with_its_step_and_routes_the_waiting_step(
    scene: Scene,
) -> None:
    assert scene.enrollment()["status"] == "waiting"
    response = scene.client.get(scene.link("/t/o/"))
    assert response.status_code == 200 and response.content == PIXEL_GIF
    assert response.headers["content-type"] == "image/gif"
    (opened,) = scene.history("opened")
    assert opened["step"] == "hello" and opened["contact_id"] == scene.contact_id
    enrollment = scene.enrollment()
    assert (enrollment["status"], enrollment["step"]) == ("active", "thanks")
    scene.run("2026-12-01T10:06:00-06:00")
    assert scene.catcher.by_header("Subject") == ["Hello", "Glad you looked"]


def test_a_bad_pixel_token_still_gets_the_gif_and_records_nothing(scene: Scene) -> None:
    body, _, _signature = scene.link("/t/o/").removeprefix("/t/o/").partition(".")
    for path in ("/t/o/garbage.gif", f"/t/o/{body}.AAAAAAAAAAAAAAAAAAAAAA.gif"):
        response = scene.client.get(path)
        assert response.status_code == 200 and response.content == PIXEL_GIF
    assert scene.history("opened") == []
    assert scene.enrollment()["status"] == "waiting"


def test_a_click_redirects_to_the_original_url_and_records_clicked(scene: Scene) -> None:
    response = scene.client.get(scene.link("/t/c/"), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://acme.example/pricing?plan=pro"
    (clicked,) = scene.history("clicked")
    assert clicked["step"] == "hello"
    assert clicked["data"]["url"] == "https://acme.example/pricing?plan=pro"


def test_a_forged_click_token_is_404_and_redirects_nowhere(scene: Scene) -> None:
    key = scene.history("message_sent")[0]["data"]["key"]
    evil = {"p": "c", "k": key, "u": "https://evil.example/login"}
    _, _, signature = scene.link("/t/c/").removeprefix("/t/c/").partition(".")
    forged_body = sign_token(evil, "s3cret").partition(".")[0]
    paths = [
        "/t/c/" + sign_token(evil, "not-our-secret"),  # signed by someone else
        f"/t/c/{forged_body}.{signature}",  # our signature on another URL
        scene.link("/t/o/").removesuffix(".gif").replace("/t/o/", "/t/c/"),  # an open token
    ]
    for path in paths:
        response = scene.client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert "location" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
    assert scene.history("clicked") == []


def test_get_unsubscribe_only_confirms_and_one_click_post_unsubscribes(scene: Scene) -> None:
    path = scene.unsubscribe_path()
    page = scene.client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text
    assert not scene.contact().email_unsubscribed
    one_click = {"List-Unsubscribe": "One-Click"}  # RFC 8058's body
    for _ in range(2):  # mail clients retry; the second POST changes nothing
        done = scene.client.post(path, data=one_click)
        assert done.status_code == 200 and "unsubscribed" in done.text
    assert scene.contact().email_unsubscribed
    (event,) = scene.history("unsubscribed")
    assert event["step"] == "hello" and event["data"]["via"] == "link"
    assert scene.enrollment()["status"] == "exited"


def test_unsubscribe_links_that_we_did_not_issue_are_404(scene: Scene) -> None:
    forged = "/u/" + sign_token({"p": "u", "k": "1:hello:1", "c": scene.contact_id}, "nope")
    assert scene.client.get(forged).status_code == 404
    assert scene.client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert not scene.contact().email_unsubscribed
