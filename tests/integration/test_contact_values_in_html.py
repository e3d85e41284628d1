"""A contact's own values reach an HTML email as text: never as markup, never as a tracked link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.channels.tracking import read_click_token
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import enrollments
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

NOW = "2026-12-01T15:00:00Z"
NEWS = """
name: News
senders: {email: "news@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: hello
    action: email
    subject: "Hello {{ contact.first_name }}"
    body: >-
      <p>Hi {{ contact.first_name }}, see <a href="https://acme.example/offer">our offer</a>
      or your site <a href="{{ contact.fields.site }}">{{ contact.fields.site }}</a>.</p>
    track: {opens: false, clicks: true}
"""
EVIL = '<a href="https://evil.example/steal">claim your prize</a>'


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as running:
        yield running


def test_a_contacts_markup_is_escaped_and_only_the_templates_own_links_are_tracked(
    db: Database, catcher: Catcher, tmp_path: Path
) -> None:
    settings = Settings(
        environment="test",
        smtp_port=catcher.port,
        base_url="https://c.example",
        secret_key="s3cret",
        sms_sink_path=str(tmp_path / "sms.jsonl"),
    )
    with write(db) as session:
        store(session, NEWS, at(NOW))
        contact = add_contact(
            session, at(NOW), first_name=EVIL, fields={"site": "https://evil.example/site"}
        )
        enrollments.enroll(
            session=session, sequence="News", contact_ids=[contact], now=at(NOW),
            settings=settings,
        )  # fmt: skip
    run_worker(db, NOW)
    dispatcher = Dispatcher(db.sessions, FixedClock(at(NOW)), settings)
    try:
        assert dispatcher.drain() == 1
    finally:
        dispatcher.close()
    [message] = catcher.messages
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert EVIL not in html and "&lt;a href=&#34;https://evil.example/steal&#34;&gt;" in html
    hrefs = re.findall(r'href="([^"]+)"', html)
    tracked = [h for h in hrefs if h.startswith("https://c.example/t/c/")]
    # The template's own link is tracked; the contact's site is left as it is, untracked:
    # a contact's value never becomes a signed redirect.
    assert [read_click_token(h.rsplit("/", 1)[1], "s3cret").url for h in tracked] == [
        "https://acme.example/offer"
    ]
    assert "https://evil.example/site" in hrefs
    assert all("evil.example/steal" not in h for h in hrefs)
