"""A manager reads a sequence's report in a real browser (the system Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from cadenza.services.users import add_user
from tests.conftest import Database
from tests.e2e.test_browser import page as page  # the browser tab fixture
from tests.engine_helpers import at, write
from tests.integration.report_scenario import NOW, play
from tests.live_server import live_server

MANAGER, PASSWORD = "mia@example.com", "a long enough secret"


def test_a_manager_reads_the_report_of_a_sequence(
    sqlite_db: Database,
    tmp_path: Path,
    page: Page,
) -> None:
    play(sqlite_db)
    with write(sqlite_db) as session:
        add_user(session=session, email=MANAGER, role="manager", now=at(NOW), password=PASSWORD)
    with live_server(sqlite_db.url, tmp_path) as server:
        page.goto(server.url + "/")
        page.get_by_label("Email").fill(MANAGER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
        row = page.locator('#sequences tr[data-sequence="Outreach"]')
        expect(row).to_contain_text("60.0%")  # opened, over the five contacts sent to
        row.get_by_role("link", name="Outreach").click()
        expect(page.get_by_role("heading", name="Report: Outreach")).to_be_visible()
        figures = page.locator("#messages td[data-figure]")
        read = {cell.get_attribute("data-figure"): cell.inner_text() for cell in figures.all()}
        assert read["sent"] == "5 100.0%"
        assert read["opened"] == "3 60.0%"
        assert read["clicked"] == "1 20.0%"
        assert read["replied"] == "1 20.0%"
        assert read["bounced"] == "1 20.0%"
        assert read["unsubscribed"] == "1 20.0%"
        expect(page.locator('#summary td[data-figure="enrolled"]')).to_have_text("5")
        expect(page.locator("figure svg").first).to_be_visible()  # the funnel, drawn
        page.locator('#sequences, input[name="since"]').first.fill("2026-11-01")
        page.get_by_label("Until").fill("2026-11-30")
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"since=2026-11-01&until=2026-11-30"))
        expect(page.locator('#summary td[data-figure="enrolled"]')).to_have_text("0")
