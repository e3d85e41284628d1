"""Accounts, saved views and audiences in a real browser (the system Chromium): add an
account and put a contact in it, enroll the account, build a view of two conditions and see
who it shows, and read a sequence's audience on its page."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import (
    CADENZA,
    START,
    Server,
    _environment,
    _free_port,
    _log_in,
    _run,
    _wait_until_up,
    page,
)
from tests.smtp_server import smtp_catcher

__all__ = ["page"]  # the browser tab fixture, failing on any script error

NOW = "2026-03-02T16:00:00Z"
AUDIENCE = """\
name: Webinar audience
owner: ana@example.com
senders: {email: ana@example.com}
enrollment:
  audience: {when: {tag: webinar}}
  every: {minutes: 15}
steps:
  - {key: hello, action: email, wait: {days: 1}, subject: Hello, body: Thanks for coming}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The demo and a sequence with an audience, evaluated once by the worker."""
    port = _free_port()
    with smtp_catcher() as mail:
        env = _environment(tmp_path, port, mail)
        _run(env, "init")
        _run(env, "demo", "--now", START)
        definition = tmp_path / "audience.yaml"
        definition.write_text(AUDIENCE)
        _run(env, "apply", str(definition), "--now", START)
        _run(env, "worker", "--once", "--no-send", "--now", START)
        command = [CADENZA, "serve", "--port", str(port), "--no-worker", "--now", NOW]
        with subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as process:
            try:
                _wait_until_up(f"http://127.0.0.1:{port}", process)
                yield Server(f"http://127.0.0.1:{port}", env, env["CADENZA_DATABASE_URL"], mail)
            finally:
                process.terminate()
                process.communicate(timeout=30)


def test_an_account_its_contacts_a_view_and_an_audience(server: Server, page: Page) -> None:
    page.goto(server.url + "/contacts?q=Priya")
    _log_in(page, "ana@example.com")
    priya = page.get_by_role("link", name="Priya Nair").get_attribute("href")
    assert priya is not None
    priya_id = priya.rsplit("/", 1)[1]

    page.goto(server.url + "/accounts")
    add = page.locator("form[aria-labelledby=add]")
    add.get_by_label("Name").fill("Kestrel <Analytics>")
    add.get_by_label("Domains").fill("kestrel.example, gmail.com")
    add.get_by_role("button", name="Add account").click()
    expect(page.locator(".flash")).to_contain_text("gmail.com is a free-mail domain")
    add.get_by_label("Name").fill("Kestrel <Analytics>")  # nothing was kept: the page is new
    add.get_by_label("Domains").fill("kestrel.example")
    add.get_by_label("Owner").fill("ben@example.com")
    add.get_by_role("button", name="Add account").click()
    expect(page.locator(".flash")).to_contain_text("Added account Kestrel <Analytics>")
    page.get_by_role("link", name="Kestrel <Analytics>").click()
    expect(page.get_by_role("heading", name="Kestrel <Analytics>")).to_be_visible()
    expect(page.locator("dl")).to_contain_text("ben@example.com")

    edit = page.locator("form[aria-labelledby=edit]")
    edit.get_by_label("Add a contact").fill(priya_id)
    edit.get_by_role("button", name="Save").click()
    people = page.locator("table[aria-labelledby=people]")
    expect(people.get_by_role("link", name="Priya Nair")).to_be_visible()

    enroll = page.locator("form[aria-labelledby=enroll]")
    enroll.get_by_label("Sequence").fill("Webinar audience")
    enroll.get_by_role("button", name="Enroll its contacts").click()
    # Priya (tagged webinar) entered with the audience's first evaluation: not twice.
    expect(page.locator(".flash")).to_contain_text("Enrolled 0 into Webinar audience")
    expect(page.locator(".flash")).to_contain_text("already enrolled once")

    page.goto(server.url + "/views")
    builder = page.locator("form[aria-labelledby=build]")
    builder.get_by_label("Name").fill("Webinar at Kestrel")
    builder.get_by_label("Kind of condition 1").select_option("tag")
    builder.get_by_label("Field or tag of condition 1").fill("webinar")
    builder.get_by_label("Field or tag of condition 2").fill("company")
    builder.get_by_label("Operator of condition 2").select_option("contains")
    builder.get_by_label("Value of condition 2").fill("kestrel")
    builder.get_by_label("Sharing").select_option("everyone")
    builder.get_by_role("button", name="Save view").click()
    expect(page.locator(".flash")).to_contain_text("Saved view Webinar at Kestrel")
    page.get_by_role("link", name="Webinar at Kestrel").click()
    expect(page.locator("main")).to_contain_text("tagged webinar and company contains kestrel")
    shown = page.locator("table[aria-labelledby=shown]")
    expect(shown.locator("tbody tr")).to_have_count(1)
    expect(shown.get_by_role("link", name="Priya Nair")).to_be_visible()

    page.goto(server.url + "/sequences/Webinar%20audience")
    audience = page.locator("section[aria-labelledby=audience]")
    expect(audience).to_contain_text("tagged webinar")
    expect(audience.locator(".audience-count")).to_have_text(re.compile(r"^\d+$"))
    expect(audience).to_contain_text("Next evaluation by")
