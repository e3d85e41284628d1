"""The rep's workspace in a real browser (the system Chromium): filter the to-do list, open a
task, edit the contact in place, log a call, send an edited manual email that reaches the
loopback SMTP server, search history; screenshots at 1280 and 390 px."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import create_engine, text

from cadenza.services.demo import DEMO_PASSWORD
from tests.e2e.test_browser import (
    CADENZA,
    CHROMIUM,
    CHROMIUM_ARGS,
    START,
    Server,
    _environment,
    _free_port,
    _run,
    _wait_until_up,
)
from tests.smtp_server import smtp_catcher

NOW = "2026-03-02T16:00:00Z"  # Monday 10:00 in Chicago
HANDWRITTEN = """\
name: Handwritten intro
owner: ana@example.com
senders: {email: ana@example.com}
schedule: {timezone: contact, days: every_day, holidays: none}
steps:
  - key: intro
    action: manual_email
    assignee: contact_owner
    title: "Write to {{ contact.full_name }}"
    instructions: "Mention the webinar. Keep it short."
    subject: "Following up, {{ contact.first_name }}"
    body: "Hi {{ contact.first_name }},\\n\\nThanks for coming. {{ user.name }}"
  - key: ring
    action: call
    assignee: contact_owner
    wait: {days: 1}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The demo plus a sequence of handwritten emails, Maya enrolled; mail to a catcher."""
    port = _free_port()
    with smtp_catcher() as mail:
        env = _environment(tmp_path, port, mail)
        _run(env, "init")
        _run(env, "demo", "--now", START)
        definition = tmp_path / "handwritten.yaml"
        definition.write_text(HANDWRITTEN)
        _run(env, "apply", str(definition), "--now", START)
        _run(env, "enroll", "Handwritten intro", "--contact", "1", "--now", START)
        _run(env, "worker", "--once", "--no-send", "--now", NOW)
        command = [CADENZA, "serve", "--port", str(port), "--now", NOW]
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
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        running = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield running
        finally:
            running.close()


# Screenshots land where a person can open them after the run (var/ is not committed).
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = SHOTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def _tab(browser: Browser, width: int) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, timezone_id="America/Chicago"
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return tab


def _log_in(page: Page, url: str, email: str = "ana@example.com") -> None:
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_rep_works_the_queue_and_sends_a_manual_email(
    server: Server, browser: Browser, shots: Path
) -> None:
    page = _tab(browser, 1280)
    _log_in(page, server.url + "/tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    page.reload()  # the browser's zone is known from the first page on
    expect(page.locator("main")).to_contain_text("times in America/Chicago")
    types = page.get_by_role("navigation", name="Task types")
    expect(types.get_by_role("link", name=re.compile(r"^Manual emails 1$"))).to_be_visible()
    types.get_by_role("link", name=re.compile("^Manual emails")).click()
    expect(page).to_have_url(re.compile(r"type=manual_email"))
    todo = page.locator("table[aria-labelledby=todo]")
    expect(todo.locator("tbody tr")).to_have_count(1)
    page.screenshot(path=str(shots / "tasks-1280.png"), full_page=True)

    todo.get_by_role("link", name="Write to Maya Patel").click()
    expect(page.get_by_role("heading", name=re.compile("Write to Maya Patel"))).to_be_visible()
    card = page.locator("section[aria-labelledby=contact-card]")
    expect(card.get_by_role("link", name=re.compile(r"Call \+13125550134"))).to_have_attribute(
        "href", "tel:+13125550134"
    )
    expect(card).to_contain_text("Their time: Mon 10:00 CST")
    expect(page.locator("#script-text")).to_contain_text("Mention the webinar")
    expect(page.get_by_label("Message")).to_have_value(re.compile("Thanks for coming. Ana Alvarez"))

    # A field edited in place (htmx): saved without leaving the page, in history with who.
    card.get_by_text("Edit fields and flags").click()
    card.get_by_role("textbox", name="Company", exact=True).fill("Brightwave Freight")
    card.get_by_role("button", name="Save Company").click()
    expect(card.locator("#field-company [role=status]")).to_contain_text("Company saved.")
    expect(page).to_have_url(re.compile(r"/tasks/\d+"))

    page.get_by_label("Call outcome").select_option("connected")
    page.get_by_label("Minutes").fill("3")
    page.get_by_label("Call note").fill("Wants the pricing sheet")
    page.get_by_role("button", name="Log call").click()
    expect(page.get_by_role("status").first).to_contain_text("Call logged: Connected, 3:00.")

    page.keyboard.press("n")  # the note shortcut
    page.keyboard.type("Prefers email after 4pm")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("section[aria-labelledby=notes]")).to_contain_text("Prefers email")

    page.get_by_label("Subject").fill("The pricing sheet, Maya")
    page.get_by_label("Message").fill("Hi Maya,\n\nHere is the pricing sheet we spoke about.\nAna")
    page.screenshot(path=str(shots / "task-1280.png"), full_page=True)
    page.get_by_role("button", name=re.compile("^Send")).click()
    expect(page.get_by_role("status").first).to_contain_text("Sent to maya.patel@")
    _run(server.env, "worker", "--once", "--now", NOW)  # the dispatcher sends over SMTP
    [mail] = [m for m in server.mail.messages if m["Subject"] == "The pricing sheet, Maya"]
    assert mail["To"].addresses[0].addr_spec == "maya.patel@brightwave.example"
    assert "Here is the pricing sheet we spoke about." in mail.get_body(("html",)).get_content()

    page.get_by_role("link", name="History").click()
    page.get_by_role("searchbox", name="Contact").fill("Maya Patel")
    page.locator("select[name=type]").select_option("call_logged")
    page.locator("select[name=timeframe]").select_option("today")
    page.get_by_role("button", name="Search").click()
    # Once under each sequence Maya runs through (this one and the demo's inbound one).
    expect(page.get_by_role("heading", name="2 events")).to_be_visible()
    expect(page.locator("table tbody tr", has_text="Handwritten intro")).to_have_count(1)
    expect(page.locator("table")).to_contain_text("ana@example.com")
    expect(page.locator("table")).to_contain_text("Connected, 3 min")
    page.screenshot(path=str(shots / "history-1280.png"), full_page=True)


def test_the_outcome_buttons_fit_a_phone_and_the_next_task_opens(
    server: Server, browser: Browser, shots: Path
) -> None:
    page = _tab(browser, 390)
    _log_in(page, server.url + "/tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    types = page.get_by_role("navigation", name="Task types")
    types.get_by_role("link", name=re.compile("^Calls")).click()
    expect(page.locator("main")).to_contain_text("Nothing to do with these filters")
    types.get_by_role("link", name=re.compile("^All")).click()
    page.screenshot(path=str(shots / "tasks-390.png"), full_page=True)
    first = page.locator("table[aria-labelledby=todo] tbody tr").first
    title = first.locator("td[data-label=Task] a").inner_text()
    first.locator("td[data-label=Task] a").click()
    expect(page.get_by_role("heading", name=re.compile(re.escape(title)))).to_be_visible()
    page.screenshot(path=str(shots / "task-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the task page scrolls sideways on a phone ({width}px)"
    buttons = page.locator("section[aria-labelledby=mark-as] button[name=outcome]")
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    here = page.url
    page.keyboard.press("1")  # the first outcome, by its key
    expect(page.get_by_role("status").first).to_contain_text("Done:")
    assert page.url != here  # the next task of the list (or the list at its end)


HANDTEXT = """\
name: Handwritten text
owner: ana@example.com
senders: {sms: "+13125550100"}
schedule: {timezone: contact, days: every_day, holidays: none}
steps:
  - key: nudge
    action: manual_sms
    assignee: contact_owner
    title: "Text {{ contact.full_name }}"
    body: "Hi {{ contact.first_name }}, {{ user.name }} here."
  - {key: ring, action: call, assignee: contact_owner, wait: {days: 1}}
"""


@pytest.fixture
def text_server(tmp_path: Path) -> Iterator[Server]:
    """The demo plus a sequence of handwritten texts, Maya enrolled; texts to the SMS sink."""
    port = _free_port()
    with smtp_catcher() as mail:
        env = _environment(tmp_path, port, mail)
        _run(env, "init")
        _run(env, "demo", "--now", START)
        definition = tmp_path / "handtext.yaml"
        definition.write_text(HANDTEXT)
        _run(env, "apply", str(definition), "--now", START)
        _run(env, "enroll", "Handwritten text", "--contact", "1", "--now", START)
        _run(env, "worker", "--once", "--no-send", "--now", NOW)
        command = [CADENZA, "serve", "--port", str(port), "--now", NOW]
        with subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as process:
            try:
                _wait_until_up(f"http://127.0.0.1:{port}", process)
                yield Server(f"http://127.0.0.1:{port}", env, env["CADENZA_DATABASE_URL"], mail)
            finally:
                process.terminate()
                process.communicate(timeout=30)


def _opted_out(url: str, value: bool) -> None:
    """Maya's SMS opt-out flag set behind the page's back (a STOP that just arrived)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE contacts SET sms_opted_out = :v WHERE id = 1"), {"v": value})
    engine.dispose()


def test_a_rep_sends_an_edited_text_and_a_refused_one_keeps_the_draft(
    text_server: Server, browser: Browser, shots: Path
) -> None:
    server = text_server
    page = _tab(browser, 1280)
    _log_in(page, server.url + "/tasks?type=manual_sms")
    todo = page.locator("table[aria-labelledby=todo]")
    todo.get_by_role("link", name="Text Maya Patel").click()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("Hi Maya, Ana Alvarez here.")
    edited = "Maya, the pricing sheet is in your inbox <3 - Ana"
    page.get_by_role("textbox", name="Message").fill(edited)
    _opted_out(server.database, True)
    page.get_by_role("button", name=re.compile("^Send")).click()
    refused = page.locator("#send-refused")
    expect(refused).to_contain_text("Nothing was sent")
    expect(refused).to_contain_text("opted out")
    # the rep's words are kept in the form
    expect(page.get_by_role("textbox", name="Message")).to_have_value(edited)
    page.screenshot(path=str(shots / "text-refused-1280.png"), full_page=True)

    _opted_out(server.database, False)
    page.get_by_role("button", name=re.compile("^Send")).click()
    expect(page.get_by_role("status").first).to_contain_text("Sent to +13125550134")
    _run(server.env, "worker", "--once", "--now", NOW)  # the dispatcher hands it to the sink
    sink = Path(server.env["CADENZA_SMS_SINK_PATH"])
    records = [json.loads(line) for line in sink.read_text().splitlines()]
    [sent] = [r for r in records if r["key"].startswith("task:")]  # beside the demo's own
    assert sent["to"] == "+13125550134" and sent["from"] == "+13125550100"
    assert sent["body"].startswith(edited) and sent["body"].endswith("Reply STOP to opt out.")
