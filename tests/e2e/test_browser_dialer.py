"""The power dialer in a real browser: the demo's webinar call-down, worked by its owner."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_browser import Server, _log_in
from tests.e2e.test_browser import page as page
from tests.e2e.test_browser import server as server


def test_a_rep_calls_the_next_contact_and_logs_the_outcome(
    server: Server,
    page: Page,
    tmp_path: Path,
) -> None:
    page.goto(server.url + "/")
    _log_in(page, "ben@example.com")
    page.get_by_role("link", name="Dialer").click()
    expect(page.get_by_role("heading", name="Power dialer")).to_be_visible()
    card = page.locator("section[aria-labelledby=current]")
    expect(card.get_by_role("heading", name="Next: Priya Nair")).to_be_visible()
    expect(page.locator("#script")).to_contain_text("Hi Priya, it's about the webinar")
    queue = page.locator("#queue-list li")
    expect(queue).to_have_count(2)
    expect(queue.first).to_contain_text("Priya Nair")
    expect(queue.last).to_contain_text("Benjamin Foster")

    page.get_by_role("button", name="Call next").click()
    expect(page.get_by_role("status")).to_contain_text("Calling your phone")
    expect(page.locator("#call-status")).to_contain_text("development sink")
    sink = Path(server.env["CADENZA_VOICE_SINK_PATH"])
    [call] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert (call["to"], call["from"]) == ("+13125550102", "+13125550100")  # Ben's own phone

    page.get_by_role("button", name="Interested", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(re.compile("Logged: .*Interested"))
    expect(card.get_by_role("heading", name="Next: Benjamin Foster")).to_be_visible()
    expect(queue).to_have_count(1)
    page.screenshot(path=str(tmp_path / "dialer.png"), full_page=True)
    page.get_by_role("link", name="History").click()
    expect(page.locator("table")).to_contain_text("Call logged")
