"""Lead notification emails turned into contact fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.channels.errors import LeadParseError
from cadenza.channels.inbound_lead import LeadFields, parse_lead_email, split_name

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"


def test_a_plain_text_form_notification() -> None:
    lead = parse_lead_email((MAIL / "lead_text.eml").read_bytes())

    assert lead == LeadFields(
        first_name="María",
        last_name="López",
        email="maria.lopez@smallbiz.example",
        phone="(312) 555-0143",
        company="SmallBiz Bakery LLC",
        lead_source="Google search",
        fields={
            "page_url": "https://acme.example/pricing",
            "message": "We need a quote for 3 locations.\nPlease call after 2pm.",
        },
    )


def test_an_html_table_notification_with_labels_above_values() -> None:
    lead = parse_lead_email((MAIL / "lead_html.eml").read_bytes())

    assert lead.as_contact() == {
        "first_name": "Devon",
        "last_name": "O'Brien",
        "email": "devon@obrien-hvac.example",
        "phone": "(773) 555-0199",
        "company": "O'Brien HVAC & Sons",
        "lead_source": "Website - Pricing page",
        "fields": {
            "number_of_technicians": "12",
            "comments": "Looking for scheduling software\nbefore spring.",
        },
    }


def mail(body: str, content_type: str = "text/plain", headers: str = "") -> bytes:
    head = f"From: forms@acme.example\nTo: leads@in.example\nSubject: New lead\n{headers}"
    return f"{head}Content-Type: {content_type}; charset=utf-8\n\n{body}\n".encode()


def test_a_two_column_table_and_bold_labels() -> None:
    markup = (
        "<table><tr><th>Full Name:</th><td>Doe, Jane</td></tr>"
        "<tr><td>E-mail Address</td><td>Jane Doe &lt;JANE@corp.example&gt;</td></tr>"
        "<tr><td>Organization</td><td>Corp</td></tr>"
        "<tr><td>Budget</td><td>$10k</td></tr></table>"
    )
    lead = parse_lead_email(mail(markup, "text/html"))

    assert (lead.first_name, lead.last_name) == ("Jane", "Doe")
    assert lead.email == "jane@corp.example"
    assert lead.company == "Corp"
    assert lead.fields == {"budget": "$10k"}


def test_markdown_bold_labels_and_values_on_the_next_line() -> None:
    body = "**First Name:** Sam\n**Last Name:** Lee\nPhone:\n+1 312 555 0100\n\nComments:\nHi!"
    lead = parse_lead_email(mail(body))

    assert (lead.first_name, lead.last_name, lead.phone) == ("Sam", "Lee", "+1 312 555 0100")
    assert lead.fields == {"comments": "Hi!"}


def test_reply_to_stands_in_for_a_missing_email_field() -> None:
    lead = parse_lead_email(
        mail("Name: Kim Park\nMessage: call me", headers="Reply-To: kim@x.example\n")
    )
    assert lead.email == "kim@x.example"


def test_forwarded_header_lines_are_not_form_fields() -> None:
    body = "From: Ana <ana@x.example>\nSent: Monday\nSubject: Lead\n\nEmail: lee@y.example"
    lead = parse_lead_email(mail(body))
    assert lead.email == "lee@y.example"
    assert lead.fields == {}


def test_a_phone_field_without_a_number_is_ignored() -> None:
    with pytest.raises(LeadParseError, match="no email address or phone number"):
        parse_lead_email(mail("Name: Kim Park\nPhone: call me maybe"))


def test_no_contact_details_is_refused() -> None:
    with pytest.raises(LeadParseError):
        parse_lead_email(mail("Hello, please call me back.\nThanks"))


@pytest.mark.parametrize(
    ("full", "parts"),
    [
        ("Jane Doe", ("Jane", "Doe")),
        ("Jane van der Berg", ("Jane", "van der Berg")),
        ("Doe, Jane", ("Jane", "Doe")),
        ("Cher", ("Cher", None)),
        ("  ", (None, None)),
    ],
)
def test_split_name(full: str, parts: tuple[str | None, str | None]) -> None:
    assert split_name(full) == parts
