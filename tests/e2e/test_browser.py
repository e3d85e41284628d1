"""The UI in a real browser: the system Chromium driven by Playwright against `cadenza serve`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import update

from cadenza.services.demo import DEMO_PASSWORD
from cadenza.store.db import make_engine, writing
from cadenza.store.db import session_factory as sessions_of
from cadenza.store.models import WebSession
from tests.smtp_server import Catcher, smtp_catcher

CADENZA = str(Path(sys.executable).with_name("cadenza"))
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that reaches the network or writes outside the profile.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START = "2026-03-02T15:00:00Z"  # a Monday, 09:00 in Chicago: the demo is loaded
PASSES = (START, "2026-03-03T16:00:00Z", "2026-03-04T16:00:00Z")  # then the worker runs
NOW = PASSES[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    database: str
    mail: Catcher


def _environment(folder: Path, port: int, mail: Catcher) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = f"sqlite:///{folder / 'cadenza.db'}"
    env["CADENZA_SMS_SINK_PATH"] = str(folder / "sms.jsonl")
    env["CADENZA_VOICE_SINK_PATH"] = str(folder / "voice.jsonl")
    env["CADENZA_ENVIRONMENT"] = "development"  # serve refuses the public secret otherwise
    env["CADENZA_BASE_URL"] = f"http://127.0.0.1:{port}"  # where emailed links lead
    env["CADENZA_WEBHOOK_ALLOW"] = '["127.0.0.1"]'  # the tests' own receivers, on loopback
    env.update(mail.env())
    return env


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([CADENZA, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _wait_until_up(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("cadenza serve did not answer within 30 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`cadenza serve` on the demo, after the worker ran on three days; mail to a catcher."""
    port = _free_port()
    with smtp_catcher() as mail:
        env = _environment(tmp_path, port, mail)
        _run(env, "init")
        assert DEMO_PASSWORD in _run(env, "demo", "--now", START)  # what `make run` prints
        for instant in PASSES:
            _run(env, "worker", "--once", "--no-send", "--now", instant)
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


@pytest.fixture
def page() -> Iterator[Page]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("no system Chromium: apt-get install -y chromium (make test does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(15_000)
        # A script error (a syntax error in cadenza.js stops every behaviour) fails the test.
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield tab
        finally:
            browser.close()
        assert not errors, errors


def _log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_person_works_a_sequence_in_the_browser(
    server: Server, page: Page, tmp_path: Path
) -> None:
    page.goto(server.url + "/")
    _log_in(page, "ana@example.com")
    expect(page.get_by_role("heading", name="Sequences")).to_be_visible()
    for name in ("Classic launch email cadence", "Inbound lead follow-up"):
        expect(page.get_by_role("link", name=name)).to_be_visible()

    page.get_by_role("link", name="Inbound lead follow-up").click()
    expect(page.get_by_role("heading", name=re.compile("Inbound lead follow-up"))).to_be_visible()
    steps = page.locator("table[aria-labelledby=steps]")
    expect(steps).to_contain_text("first_call")
    expect(steps).to_contain_text("1 day at 10:00")
    page.get_by_label("Sample contact's time zone").select_option("America/Chicago")
    page.wait_for_url(re.compile(r"tz=America%2FChicago"))  # the chooser submits on change
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("times in America/Chicago")
    expect(timeline).to_contain_text("Thu 2026-03-05 10:00 CST")
    page.screenshot(path=str(tmp_path / "sequence.png"), full_page=True)

    page.get_by_role("link", name="Tasks").click()
    todo = page.locator("table[aria-labelledby=todo]")
    call = todo.locator("tr", has_text="Maya Patel")
    expect(call).to_contain_text("first_call")
    call.get_by_role("button", name=re.compile("^No answer")).click()
    expect(page.get_by_role("status")).to_contain_text("No answer")
    expect(page.get_by_role("status")).to_contain_text("now active at step follow_up")
    expect(todo.locator("tr", has_text="Maya Patel")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "tasks.png"), full_page=True)

    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Search").fill("Maya")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Maya Patel").click()
    enrollment = page.locator("table[aria-labelledby=in-sequences] tr", has_text="Inbound")
    expect(enrollment).to_contain_text("follow_up")
    expect(enrollment).to_contain_text("Active")
    # History names the person who clicked.
    page.get_by_role("link", name="History").click()
    expect(page.locator("table")).to_contain_text("ana@example.com")


def test_login_a_wrong_password_a_locked_account_and_logout(server: Server, page: Page) -> None:
    page.goto(server.url + "/contacts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcontacts$"))
    _log_in(page, "ben@example.com", "not my password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    expect(page.get_by_label("Email")).to_have_value("ben@example.com")
    for _ in range(4):
        _log_in(page, "ben@example.com", "still not it")
    expect(page.get_by_role("alert")).to_contain_text("locked after too many failed logins")
    expect(page.get_by_role("alert")).to_contain_text("try again in 15 minutes")
    _log_in(page, "ben@example.com")  # the right password waits for the lock too
    expect(page.get_by_role("alert")).to_contain_text("try again in 15 minutes")

    _log_in(page, "cara@example.com")
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()  # back where it was going
    expect(page.locator("header")).to_contain_text("Cara Lindqvist")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("cara@example.com is logged out")
    page.goto(server.url + "/tasks")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_an_expired_session_logs_in_again_and_goes_back(server: Server, page: Page) -> None:
    page.goto(server.url + "/")
    _log_in(page, "ana@example.com")
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    engine = make_engine(server.database)
    try:
        with writing(sessions_of(engine)) as session:
            ended = datetime(2026, 3, 1, tzinfo=UTC)
            session.execute(update(WebSession).values(expires_at=ended))
    finally:
        engine.dispose()
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
    _log_in(page, "ana@example.com")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(page).to_have_url(server.url + "/tasks")


def test_an_invitation_by_email_sets_a_password(server: Server, page: Page) -> None:
    _run(server.env, "users", "add", "nia@example.com", "--name", "Nia Novak", "--role", "agent")
    printed = _run(server.env, "users", "invite", "nia@example.com", "--now", NOW)
    _run(server.env, "worker", "--once", "--now", NOW)  # the dispatcher sends it over SMTP
    [invitation] = [m for m in server.mail.messages if m["To"] == "nia@example.com"]
    assert invitation["Subject"] == "You are invited to Cadenza"
    text = invitation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://[\w.:-]+/invite/[\w-]+", text)
    assert link is not None and link.group(0) in printed

    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password").fill("nia's own passphrase")
    page.get_by_label("The same again").fill("nia's own passphrase")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("status")).to_contain_text("is set: log in with it")
    _log_in(page, "nia@example.com", "nia's own passphrase")
    expect(page.locator("header")).to_contain_text("Nia Novak")
    page.goto(link.group(0))  # the link worked once
    expect(page.get_by_role("heading", name="Link no longer valid")).to_be_visible()


def test_an_administrator_describes_a_line_and_shares_a_sequence(
    server: Server, page: Page
) -> None:
    page.goto(server.url + "/senders")
    _log_in(page, "ana@example.com")
    expect(page.get_by_role("heading", name="Senders")).to_be_visible()
    page.get_by_label("Kind").select_option("sms")
    page.get_by_label(re.compile("^Address")).fill("(312) 555-0100")
    page.get_by_label("Name", exact=True).last.fill("Chicago line")
    page.get_by_label("Per hour").last.fill("100")
    page.get_by_role("button", name="Add sender").click()
    expect(page.get_by_role("status")).to_contain_text("Added sms sender +13125550100")
    expect(page.locator("table")).to_contain_text("Chicago line")

    page.get_by_role("link", name="Sequences").click()
    page.get_by_role("link", name="Inbound lead follow-up").click()
    lines = page.locator("section[aria-labelledby=sharing]")
    expect(lines).to_contain_text("+13125550100")
    expect(lines).to_contain_text("100/hour")
    page.get_by_text("Change who shares it").click()
    page.get_by_label("Shared with").select_option("everyone")
    page.get_by_role("button", name="Save sharing").click()
    expect(page.get_by_role("status")).to_contain_text("shared with everyone")


def test_an_administrator_subscribes_a_crm_and_sends_it_a_test(server: Server, page: Page) -> None:
    from tests.integration.test_webhooks import Receiver, serve

    with serve(Receiver()) as crm:
        page.goto(server.url + "/subscriptions")
        _log_in(page, "ana@example.com")
        expect(page.get_by_role("heading", name="Subscriptions", exact=True)).to_be_visible()
        page.get_by_role("textbox", name="URL").fill(f"http://127.0.0.1:{crm.port}/cadenza")
        page.get_by_label("Name", exact=True).fill("Our CRM")
        page.get_by_label(re.compile("^Event types")).select_option(["enrolled", "replied"])
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("status")).to_contain_text("its signing secret is shown below")
        card = page.locator("section", has_text="Our CRM")
        expect(card).to_contain_text("Takes enrolled, replied, of every sequence")
        card.get_by_role("button", name="Send a test").click()
        expect(page.get_by_role("status")).to_contain_text("Test delivered: HTTP 200")
        expect(card.locator("table")).to_contain_text("delivered")
        assert json.loads(crm.requests[-1].body)["type"] == "webhook.test"

    page.get_by_role("button", name="Log out").click()
    page.goto(server.url + "/")
    _log_in(page, "cara@example.com")
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Subscriptions")
    page.goto(server.url + "/subscriptions")
    expect(page.locator("main")).to_contain_text("may not manage webhook subscriptions")


def test_an_administrator_pauses_a_mailbox_and_sees_its_health(server: Server, page: Page) -> None:
    page.goto(server.url + "/senders")
    _log_in(page, "ana@example.com")
    page.get_by_label("Kind").select_option("email")
    page.get_by_label(re.compile("^Address")).fill("outreach@acme.example")
    page.get_by_role("button", name="Add sender").click()
    row = page.locator("tr", has_text="outreach@acme.example")
    expect(row).to_contain_text("smtp")
    expect(row).to_contain_text("0 sent · bounces 0.00% · complaints 0.00%")
    row.get_by_text("Edit").click()
    row.get_by_label("Reason").fill("<b>new domain</b> warming")
    row.get_by_role("button", name="Pause sending").click()
    expect(page.get_by_role("status")).to_contain_text("outreach@acme.example paused")
    notice = page.locator("section[aria-labelledby=paused-heading]")
    expect(notice).to_contain_text("sender outreach@acme.example paused: <b>new domain</b> warming")
    row = page.locator("tr", has_text="outreach@acme.example")
    expect(row).to_contain_text("Paused")
    row.get_by_text("Edit").click()
    row.get_by_role("button", name="Resume sending").click()
    expect(page.get_by_role("status")).to_contain_text("outreach@acme.example resumed")
    expect(page.locator("tr", has_text="outreach@acme.example")).to_contain_text("Sending")
