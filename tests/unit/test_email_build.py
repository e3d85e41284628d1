"""The MIME message built for an outgoing email, before any server is involved."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from cadenza.channels.email import build_email, html_to_text, message_id_for, reply_subject
from cadenza.channels.errors import InvalidMessage, PermanentError
from cadenza.channels.outgoing import OutgoingEmail
from cadenza.core.messages import message_id_for as engine_message_id_for
from cadenza.settings import Settings

SETTINGS = Settings(
    base_url="https://cadenza.example.com",
    secret_key="k",
    postal_address="Acme Inc.\n500 Market St\nChicago, IL 60601",
)


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "key": "1:intro:1",
        "sender": "ana@sales.example.com",
        "to": "jane@corp.example",
        "subject": "Hello",
        "html": "<p>Hi <b>Jane</b></p>",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def build(date: datetime | None = None, **overrides: Any) -> EmailMessage:
    built = build_email(outgoing(**overrides), SETTINGS, date=date)
    # Read back from bytes, as a recipient would.
    parsed = message_from_bytes(built.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects and not any(part.defects for part in parsed.walk())
    return parsed


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def test_message_id_depends_on_key_and_sender_domain_only() -> None:
    a = message_id_for("1:intro:1", "Ana <ana@sales.example.com>")
    assert a == message_id_for("1:intro:1", "bob@sales.example.com")
    assert a.endswith("@sales.example.com>")
    assert a != message_id_for("1:intro:2", "ana@sales.example.com")


@pytest.mark.parametrize("sender", ["ana@sales.example.com", "Ana@Sales.Example.COM", "a@b"])
def test_message_id_agrees_with_the_id_the_engine_stores_for_threading(sender: str) -> None:
    assert message_id_for("41:intro:1", sender) == engine_message_id_for("41:intro:1", sender)


def test_a_sender_without_domain_cannot_be_built() -> None:
    with pytest.raises(InvalidMessage):
        message_id_for("1:intro:1", "ana")
    with pytest.raises(PermanentError):  # the dispatcher sees a permanent failure
        build(to="not an address@@")
    with pytest.raises(InvalidMessage):
        build(cc=["a@corp.example, b@corp.example"])  # one address per entry, none dropped


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hello", "Re: Hello"),
        ("Re: Hello", "Re: Hello"),
        ("RE:Hello", "RE:Hello"),
        ("  re : Hello", "  re : Hello"),
        ("Regarding Hello", "Re: Regarding Hello"),
    ],
)
def test_reply_subject_is_prefixed_once(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_plain_text_is_derived_from_the_html_with_links_shown() -> None:
    text = html_to_text('<p>Hi <b>Jane</b>,</p><p>See <a href="https://x.example/">this</a>.</p>')
    assert text == "Hi Jane,\n\nSee [this](https://x.example/)."


def test_a_multiline_postal_address_keeps_its_lines_in_both_parts() -> None:
    message = build()
    assert "Acme Inc.<br>500 Market St<br>Chicago, IL 60601" in body(message, "html")
    assert "Acme Inc.\n500 Market St\nChicago, IL 60601" in body(message, "plain")


def test_footer_and_pixel_go_inside_the_body_element() -> None:
    markup = body(build(html="<html><body><p>Hi</p></body></html>", track_opens=True), "html")
    assert markup.rstrip().endswith("</body></html>")
    assert markup.index("Unsubscribe") < markup.index("<img") < markup.index("</body>")


def test_without_unsubscribe_there_is_no_link_and_no_list_headers() -> None:
    message = build(unsubscribe=False)
    assert "List-Unsubscribe" not in message and "List-Unsubscribe-Post" not in message
    assert "/u/" not in body(message, "html") and "Unsubscribe" not in body(message, "plain")
    assert "Acme Inc." in body(message, "plain")  # the postal address stays


def test_mailto_unsubscribe_goes_to_the_reply_to_mailbox() -> None:
    message = build(reply_to="Replies <replies@in.example.com>")
    assert message["Reply-To"] == "Replies <replies@in.example.com>"
    assert "<mailto:replies@in.example.com?subject=unsubscribe%20" in message["List-Unsubscribe"]


def test_references_end_with_the_parent_without_duplicates() -> None:
    message = build(in_reply_to="b@x", references=["<a@x>", "<b@x>"])
    assert message["In-Reply-To"] == "<b@x>"
    assert message["References"].split() == ["<a@x>", "<b@x>"]


def test_date_is_set_only_when_given() -> None:
    assert "Date" not in build()
    dated = build(date=datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    assert dated["Date"] == "Mon, 07 Dec 2026 15:00:00 +0000"


def test_the_same_message_is_the_same_bytes_and_a_stored_message_id_is_kept() -> None:
    msg = outgoing(track_opens=True, track_clicks=True, html='<a href="https://x.example">x</a>')
    first, again = (build_email(msg, SETTINGS).as_bytes() for _ in range(2))
    assert first == again
    stored = outgoing(message_id="<0123456789abcdef0123456789abcdef@sales.example.com>")
    built = build_email(stored, SETTINGS)
    assert built.message_id == stored.message_id
    assert build(message_id=stored.message_id)["Message-ID"] == stored.message_id


def test_a_body_that_looks_like_mime_stays_inside_its_part() -> None:
    fake = "--==\r\nContent-Type: text/plain\r\n\r\n--== spoof ==--\r\n"
    message = build(html=f"<pre>{fake}</pre>")
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert fake.replace("\r\n", "\n") in body(message, "html")


def test_a_header_value_cannot_add_a_header() -> None:
    with pytest.raises(PermanentError):
        build_email(outgoing(subject="Hello\r\nBcc: everyone@corp.example"), SETTINGS)
    with pytest.raises(PermanentError):
        build_email(outgoing(subject="Hi", in_reply_to="a@x>\nBcc: b@corp.example"), SETTINGS)


def test_long_and_non_ascii_headers_are_folded_and_read_back_whole() -> None:
    subject = "Une question rapide à propos de votre équipe commerciale, Zoë " * 3
    refs = [f"<ref{i}@mail.example.com>" for i in range(12)]
    cc = [f"person{i}@corp.example" for i in range(10)]
    message = build(subject=subject, in_reply_to="<p@x>", references=refs, cc=cc)
    assert message["Subject"] == "Re: " + subject
    assert message["References"].split() == [*refs, "<p@x>"]
    assert [a.addr_spec for a in message["Cc"].addresses] == cc


def test_non_ascii_names_and_subjects_survive_the_trip() -> None:
    message = build(
        sender_name="Zoë Müller", subject="Café à 10h ☕", to="José <jose@corp.example>"
    )
    assert message["From"] == "Zoë Müller <ana@sales.example.com>"
    assert message["Subject"] == "Café à 10h ☕"
    assert message["To"] == "José <jose@corp.example>"


def test_every_line_on_the_wire_is_short_and_seven_bit() -> None:
    long_html = "<p>" + "word " * 400 + "</p><p>Grüße</p>"
    raw = build_email(
        OutgoingEmail(
            key="1:x:1",
            sender="a@b.example",
            to="c@d.example",
            subject="s",
            html=long_html,
            track_opens=True,
            track_clicks=True,
        ),
        SETTINGS,
    ).as_bytes()
    raw.decode("ascii")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
