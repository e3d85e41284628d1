"""The sequences workspace in a real browser: write a sequence in the editor (a lint problem
shown at its line, then fixed, a dry run read), save it, enroll from the UI with a refused
contact shown, and pause and resume from the queue; screenshots at 1280 and 390 px."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import update

from cadenza.store.db import make_engine, writing
from cadenza.store.db import session_factory as sessions_of
from cadenza.store.models import Contact
from tests.e2e.test_browser import Server, _log_in, page, server  # noqa: F401 (fixtures)

# Where a person finds the screenshots after a run (never committed).
SHOTS = Path(os.environ.get("CADENZA_SCREENSHOTS", "/tmp/cadenza-screenshots")) / "sequences"
WIDTHS = (1280, 390)
NAME = "Webinar follow-up"
DEFINITION = """\
name: Webinar follow-up
description: Thank the attendees, then call them
owner: ben@example.com
senders: {email: sales@example.com}
schedule: {timezone: contact, fallback_timezone: America/Chicago, days: business}
steps:
  - key: thanks
    action: email
    subject: "Thanks for coming, {{ contact.first_name }}"
    body: "<p>Slides attached.</p>"
  - key: call
    action: call
    wait: {business_days: 1}
    assignee: contact_owner
"""
BROKEN = DEFINITION.replace("action: call", "action: telegraph")


def _shots(tab: Page, name: str) -> None:
    """The page as it is now at each width, full length."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        tab.set_viewport_size({"width": width, "height": 900})
        tab.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        if width == 390:  # nothing may make a phone scroll sideways
            wide = tab.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390 + 1, (name, wide)
    tab.set_viewport_size({"width": 1280, "height": 900})


def _do_not_contact(running: Server, email: str) -> None:
    engine = make_engine(running.database)
    try:
        with writing(sessions_of(engine)) as session:
            session.execute(update(Contact).where(Contact.email == email).values(dnc=True))
    finally:
        engine.dispose()


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_write_save_enroll_and_work_the_queue(server: Server, page: Page) -> None:  # noqa: F811
    _do_not_contact(server, "maya.patel@brightwave.example")
    page.on("dialog", _accept)  # every confirmation is answered yes
    page.goto(server.url + "/sequences")
    _log_in(page, "ben@example.com")
    expect(page.get_by_role("columnheader", name="Process on")).to_be_visible()
    _shots(page, "list")

    page.get_by_role("link", name="New sequence").click()
    editor = page.get_by_label("Sequence definition")
    editor.fill(BROKEN)
    problems = page.locator("#problems")
    expect(problems).to_contain_text("telegraph")
    line = BROKEN.splitlines().index("    action: telegraph") + 1
    expect(problems.get_by_role("link", name=re.compile(f"line {line}:"))).to_be_visible()
    expect(page.locator(".gutter .bad-line")).to_have_text(str(line))
    _shots(page, "editor-problem")
    editor.fill(DEFINITION)
    expect(problems).to_contain_text("No problems.")
    expect(page.locator(".gutter .bad-line")).to_have_count(0)

    page.get_by_label("Contact id").fill("1")
    page.get_by_role("button", name="Run the timeline").click()
    timeline = page.locator("#dry-run")
    expect(timeline).to_contain_text("contact 1 enrolled now")
    expect(timeline).to_contain_text("thanks")
    page.get_by_label("Message step").select_option("thanks")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Thanks for coming, Maya")
    _shots(page, "editor-dry-run")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("status")).to_contain_text(f"{NAME} created, a draft")

    page.get_by_role("link", name="Enroll contacts").click()
    page.get_by_label("Search").fill("example")
    page.get_by_role("button", name="Preview").click()
    refused = page.locator("table.refused")
    expect(refused.locator("tr", has_text="Maya Patel")).to_contain_text("do-not-contact")
    expect(page.get_by_test_id("would-refuse")).to_have_text("1")
    count = page.get_by_test_id("would-enroll").inner_text()
    _shots(page, "enroll-preview")
    page.get_by_role("button", name=re.compile("^Enroll \\d+ contacts")).click()
    expect(page.get_by_role("status")).to_contain_text(f"{count} enrolled in {NAME}; 1 refused")

    queue = page.locator("table.queue")
    expect(page.locator("#queue")).to_contain_text(f"({count} running)")
    for row in range(2):
        queue.locator("tbody tr").nth(row).get_by_role("checkbox").check()
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("2 of 2 enrollments paused.")
    page.get_by_label("Status").select_option("paused")
    page.get_by_role("button", name="Filter").click()
    expect(queue.locator("tbody tr")).to_have_count(2)
    _shots(page, "queue-paused")
    page.get_by_label(re.compile("all 2 matching")).check()
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("2 of 2 enrollments resumed.")
    expect(page.locator("#queue")).to_contain_text("(0 matching)")
    expect(page.locator("p.empty", has_text="Nobody matches")).to_be_visible()
