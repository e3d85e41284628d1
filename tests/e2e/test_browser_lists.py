"""The lists pages in a real browser: a manager makes a list, adds contacts by tag to a list a
sequence serves (they are enrolled), removes one (their enrollment pauses)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_browser import Server, _log_in, _run, page, server  # noqa: F401  (fixtures)

ROLLUP = """
name: Rollup
owner: ben@example.com
senders: {email: sales@example.com}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
enrollment: {list: Webinar <leads>}
steps:
  - {key: hello, action: email, wait: {days: 1}, subject: Hi, body: "<p>Hello</p>"}
"""


def test_a_manager_keeps_a_list_that_a_sequence_serves(
    server: Server,  # noqa: F811  (the fixture imported above)
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    _run(server.env, "lists", "add", "Webinar <leads>", "--now", "2026-03-04T16:00:00Z")
    definition = tmp_path / "rollup.yaml"
    definition.write_text(ROLLUP, encoding="utf-8")
    _run(server.env, "apply", str(definition), "--now", "2026-03-04T16:00:00Z")

    page.goto(server.url + "/lists")
    _log_in(page, "ben@example.com")
    expect(page.get_by_role("heading", name="Lists")).to_be_visible()
    row = page.locator("tr", has_text="Webinar <leads>")  # the name is shown as text, escaped
    expect(row).to_contain_text("Rollup")

    page.get_by_label("Name").fill("Trade show")
    page.get_by_role("button", name="Add list").click()
    expect(page.get_by_role("status")).to_contain_text("Added the list Trade show")
    expect(page.get_by_role("link", name="Trade show")).to_be_visible()

    page.get_by_role("link", name="Webinar <leads>").click()
    expect(page.get_by_role("heading", name="Webinar <leads>")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Serves the sequence Rollup")
    page.get_by_label("And/or everyone with the tag").fill("webinar")
    page.get_by_role("button", name="Add to list").click()
    expect(page.get_by_role("status")).to_contain_text("2 added")  # the demo's webinar leads
    expect(page.get_by_role("status")).to_contain_text("2 enrolled")
    members = page.locator("table[aria-labelledby=members]")
    expect(members).to_contain_text("Priya Nair")
    expect(members.locator("tbody tr")).to_have_count(2)

    page.get_by_role("button", name=re.compile("Remove priya")).click()
    expect(page.get_by_role("status")).to_contain_text("1 removed")
    expect(page.get_by_role("status")).to_contain_text("1 paused")
    expect(members.locator("tbody tr")).to_have_count(1)
    expect(members).not_to_contain_text("Priya Nair")

    page.get_by_label("Contact ids").fill("12x")
    page.get_by_role("button", name="Add to list").click()
    expect(page.get_by_role("alert")).to_contain_text("not a contact id: 12x")
