"""The API documentation page works in a real browser with nothing fetched from elsewhere."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.conftest import Database
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.live_server import live_server


def test_swagger_ui_renders_the_api_under_the_strict_policy(
    sqlite_db: Database, tmp_path: Path
) -> None:
    with live_server(sqlite_db.url, tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
        response = page.goto(server.url + "/api/v1/docs")
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "cdn" not in policy
        expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("/api/v1/sequences").first).to_be_visible()
        browser.close()
    assert hosts == {server.url.split("/")[2]}
    assert not [p for p in problems if "Content Security Policy" in p], problems
