"""The contact page in a real browser: a manager defines a field type, creates two contacts,
edits one in place, merges the other into it and deletes it; an agent cannot."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_browser import Server, _log_in, page, server  # noqa: F401  (fixtures)


def _new_contact(page: Page, url: str, **values: str) -> None:  # noqa: F811
    """The new-contact form, opened from the list and filled in (not yet sent)."""
    page.goto(url + "/contacts")
    page.get_by_role("link", name="New contact").click()
    expect(page.get_by_role("heading", name="New contact")).to_be_visible()
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def test_a_manager_creates_edits_merges_and_deletes_a_contact(
    server: Server,  # noqa: F811
    page: Page,  # noqa: F811
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(server.url + "/contact-fields")
    _log_in(page, "ben@example.com")
    page.get_by_label("Name").fill("score")
    page.get_by_label("Type").select_option("number")
    page.get_by_role("button", name="Define").click()
    expect(page.locator("table")).to_contain_text("fields.score")

    # A bad typed value comes back with the form and its reason; nothing is created.
    _new_contact(page, server.url, **{"First name": "Zoe", "Email": "zoe@x.example"})
    page.get_by_role("button", name="Add contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+$"))
    survivor = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Zoe #\d+"))
    _new_contact(page, server.url, **{"Email": "zed@x.example", "Phone": "3125550177"})
    page.get_by_label("Score").fill("lots")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("alert")).to_contain_text("'lots' is not a number")
    page.get_by_label("Score").fill("12")
    page.get_by_label("External id", exact=True).fill("crm-42")
    page.get_by_role("button", name="Add contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+$"))
    duplicate_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#last-contacted")).to_have_text("Not contacted")

    page.goto(survivor)
    card = page.locator("section[aria-labelledby=contact-card]")
    card.get_by_role("textbox", name="Company", exact=True).fill("Acme <Labs>")
    card.get_by_role("button", name="Save Company").click()
    expect(card.locator("#field-company [role=status]")).to_contain_text("Company saved.")

    page.get_by_label("Duplicate contact #").fill(duplicate_id)
    page.get_by_role("button", name="Merge into this contact").click()
    expect(page.get_by_role("status").first).to_contain_text(
        f"Contact {duplicate_id} merged into this one."
    )
    facts = page.locator("section[aria-labelledby=fields]")
    expect(facts).to_contain_text("crm-42")
    expect(facts).to_contain_text("12")
    expect(card).to_contain_text("Acme <Labs>")  # typed text stays text
    expect(card.get_by_role("link", name=re.compile(r"Call \+13125550177"))).to_be_visible()
    expect(page.locator("table", has_text="Merged")).to_be_visible()
    page.goto(f"{server.url}/contacts/{duplicate_id}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    page.goto(survivor)
    page.get_by_role("button", name="Delete this contact").click()
    expect(page).to_have_url(re.compile(r"/contacts$"))
    expect(page.get_by_role("status").first).to_contain_text("deleted")
    page.goto(survivor)
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_an_agent_sees_no_merge_or_delete(server: Server, page: Page) -> None:  # noqa: F811
    page.goto(server.url + "/contacts/1")
    _log_in(page, "cara@example.com")
    expect(page.locator("section[aria-labelledby=fields]")).to_contain_text("Last contacted")
    expect(page.get_by_role("button", name="Delete this contact")).to_have_count(0)
    expect(page.get_by_role("button", name="Merge into this contact")).to_have_count(0)
    page.goto(server.url + "/contact-fields")
    expect(page.get_by_role("button", name="Define")).to_have_count(0)
