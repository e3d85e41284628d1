"""The UI in a real browser: the system Chromium driven by Playwright against `cadenza serve`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

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


def _environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = f"sqlite:///{folder / 'cadenza.db'}"
    env["CADENZA_SMS_SINK_PATH"] = str(folder / "sms.jsonl")
    env["CADENZA_ENVIRONMENT"] = "development"  # serve refuses the public secret otherwise
    return env


def _run(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([CADENZA, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (args, result.stdout, result.stderr)


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
def server(tmp_path: Path) -> Iterator[str]:
    """`cadenza serve` on the demo, after the worker ran on three days; its base URL."""
    env = _environment(tmp_path)
    _run(env, "init")
    _run(env, "demo", "--now", START)
    for instant in PASSES:
        _run(env, "worker", "--once", "--no-send", "--now", instant)
    port = _free_port()
    command = [CADENZA, "serve", "--port", str(port), "--no-worker", "--now", NOW]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", process)
            yield f"http://127.0.0.1:{port}"
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
        try:
            yield tab
        finally:
            browser.close()


def test_a_person_works_a_sequence_in_the_browser(server: str, page: Page, tmp_path: Path) -> None:
    page.goto(server + "/")
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
