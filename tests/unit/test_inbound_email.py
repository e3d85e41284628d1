"""Inbound email classification on real-world shaped samples (tests/fixtures/mail)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cadenza.channels.bounce_reason import severity
from cadenza.channels.email import message_id_for
from cadenza.channels.inbound_email import classify_email
from cadenza.channels.quoting import strip_quoted
from cadenza.channels.return_date import find_return_date, prefers_day_first

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
INTRO = message_id_for("41:intro:1", "ana@sales.example.com")
FOLLOW_UP = message_id_for("41:follow_up:1", "ana@sales.example.com")


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def test_a_gmail_reply_keeps_only_the_new_text_and_its_thread() -> None:
    email = classify_email(fixture("gmail_reply.eml"))

    assert email.kind == "reply"
    assert email.from_address == "jane@corp.example"
    assert email.subject == "Re: Quick question, Jane"
    assert email.text == (
        "Hi Ana,\n\nThanks — Tuesday at 2pm works for me. Can you send an invite?\n\nJane"
    )
    assert email.in_reply_to == FOLLOW_UP
    assert email.references == [INTRO, FOLLOW_UP]
    assert email.thread_ids() == [FOLLOW_UP, INTRO]  # the nearest ancestor first


def test_an_outlook_reply_drops_the_original_below_the_header_block() -> None:
    email = classify_email(fixture("outlook_reply.eml"))

    assert email.kind == "reply"
    assert email.from_address == "rsmith@bigcorp.example"
    assert email.text.startswith("Hi Ana,\n\nNot a good time for us")
    assert email.text.endswith("Direct: (312) 555-0187")
    assert "Do you have 15 minutes" not in email.text
    assert email.thread_ids() == [INTRO]
    assert email.to_addresses == ["ana@sales.example.com", "klee@bigcorp.example"]


def test_a_postfix_dsn_is_a_hard_bounce_matched_by_the_returned_headers() -> None:
    email = classify_email(fixture("postfix_bounce_hard.eml"))

    assert email.kind == "bounce"
    assert email.bounce_kind == "hard"
    assert email.bounced_recipient == "jdoe@corp.example"
    assert email.status == "5.1.1"
    assert email.diagnostic == (
        "550 5.1.1 <jdoe@corp.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    breakup = message_id_for("41:breakup:1", "ana@sales.example.com")
    assert email.original_message_id == breakup
    assert email.thread_ids() == [breakup]


def test_a_full_mailbox_is_a_soft_bounce_matched_by_the_returned_message() -> None:
    email = classify_email(fixture("soft_bounce_mailbox_full.eml"))

    assert (email.kind, email.bounce_kind, email.status) == ("bounce", "soft", "4.2.2")
    assert email.bounced_recipient == "mlopez@smallbiz.example"
    assert email.diagnostic == "452 4.2.2 <mlopez@smallbiz.example>: Mailbox full"
    assert email.original_message_id == "<d2a9b1c4e5f60718293a4b5c6d7e8f90@sales.example.com>"


def test_an_exchange_auto_reply_states_its_return_date() -> None:
    email = classify_email(fixture("exchange_auto_reply.eml"))

    assert email.kind == "auto_reply"
    assert email.return_date == date(2026, 12, 7)  # "back on Monday, December 7", sent Dec 1
    assert email.thread_ids() == [INTRO]


def test_a_gmail_vacation_responder_is_known_by_its_header_alone() -> None:
    email = classify_email(fixture("gmail_vacation.eml"), reference=date(2026, 12, 3))

    assert email.subject == "Re: Quick question, Priya"  # nothing in the subject gives it away
    assert email.kind == "auto_reply"
    assert email.return_date == date(2026, 12, 7)  # "returning 12/07/2026"


def raw(headers: str, body: str) -> bytes:
    head = "From: Wei Chen <wchen@enterprise.example>\nTo: ana@sales.example.com\n" + headers
    return f"{head}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n".encode()


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: Out of Office: Quick question\n",
        "Subject: Automatic reply: Quick question\n",
        "Subject: Abwesenheitsnotiz: Kurze Frage\n",
        "Subject: =?utf-8?q?R=C3=A9ponse_automatique=3A_Question?=\n",
        "Subject: Re: Quick question\nX-Autoreply: yes\n",
        "Subject: Re: Quick question\nX-Autorespond: yes\n",
        "Subject: Re: Quick question\nPrecedence: auto_reply\n",
        "Subject: Re: Quick question\nAuto-Submitted: auto-replied; owner-email=w@x.example\n",
    ],
)
def test_auto_replies_are_recognised_by_headers_or_subject(headers: str) -> None:
    assert classify_email(raw(headers, "I am away.")).kind == "auto_reply"


def test_auto_submitted_no_is_a_person_writing() -> None:
    email = classify_email(raw("Subject: Re: Quick question\nAuto-Submitted: no\n", "Sure!"))
    assert email.kind == "reply"


def test_without_a_stated_date_an_auto_reply_has_no_return_date() -> None:
    email = classify_email(raw("Subject: Out of office\n", "I am travelling this week."))
    assert email.return_date is None


def test_an_unsubscribe_mail_carries_the_token_from_list_unsubscribe() -> None:
    email = classify_email(raw("Subject: unsubscribe eyJrIjoiNDEifQ.c2ln\n", ""))
    assert (email.kind, email.unsubscribe_token) == ("unsubscribe", "eyJrIjoiNDEifQ.c2ln")
    assert classify_email(raw("Subject: Unsubscribe\n", "")).unsubscribe_token is None


def test_a_delivery_receipt_is_a_notice_not_a_bounce() -> None:
    report = (
        "From: MAILER-DAEMON@mail.sales.example.com\nTo: ana@sales.example.com\n"
        "Subject: Successful Mail Delivery Report\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nDelivered.\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail\n\n"
        "Final-Recipient: rfc822; jane@corp.example\nAction: delivered\nStatus: 2.0.0\n"
        "--b--\n"
    )
    email = classify_email(report.encode())
    assert email.kind == "notice"
    assert email.bounce_kind is None


def test_a_bounce_without_a_report_is_read_from_its_text() -> None:
    bounce = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\n"
        "To: ana@sales.example.com\nSubject: Delivery Status Notification (Failure)\n"
        "Content-Type: text/plain\n\n"
        "Your message wasn't delivered to nobody@corp.example because the address couldn't"
        " be found.\n\nThe response was:\n550 5.1.1 The email account that you tried to reach"
        " does not exist.\n\nMessage-ID: <7f1cd0d1e9cafe62967e6da2c1b4b07a@sales.example.com>\n"
    )
    email = classify_email(bounce.encode())
    assert (email.kind, email.bounce_kind, email.status) == ("bounce", "hard", "5.1.1")
    assert email.bounced_recipient == "nobody@corp.example"
    assert email.original_message_id == "<7f1cd0d1e9cafe62967e6da2c1b4b07a@sales.example.com>"


def test_a_reply_quoting_undeliverable_in_its_subject_is_still_a_reply() -> None:
    email = classify_email(raw("Subject: Re: Undeliverable: Quick question\n", "Got it, thanks"))
    assert email.kind == "reply"


def test_an_html_only_reply_is_read_as_text() -> None:
    message = (
        "From: jane@corp.example\nSubject: Re: hi\nContent-Type: text/html; charset=utf-8\n\n"
        "<p>Yes, <b>Tuesday</b>.</p><div>On Mon, Dec 7, 2026 Ana wrote:</div>"
        "<blockquote><p>Hi</p></blockquote>"
    )
    assert classify_email(message.encode()).text == "Yes, Tuesday."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sure.\n\n-----Original Message-----\nFrom: Ana\nSent: Monday", "Sure."),
        ("Ja.\n\nVon: Ana Ruiz <ana@x.example>\nGesendet: Montag, 7. Dezember 2026", "Ja."),
        ("Ok\n\nAm Mo., 7. Dez. 2026 um 10:02 Uhr schrieb Ana Ruiz <ana@x.example>:\n> Hi", "Ok"),
        ("Oui\n\nLe lun. 7 déc. 2026 à 10:02, Ana Ruiz <ana@x.example> a écrit :\n> Hi", "Oui"),
        ("> Can you do Tuesday?\nYes.\n> And 2pm?\nAlso yes.", "Yes.\nAlso yes."),
        ("On second thought, call me.", "On second thought, call me."),
    ],
)
def test_quoted_history_is_cut_in_common_client_formats(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected


REFERENCE = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on Monday, December 7.", date(2026, 12, 7)),
        ("I am returning 12/07/2026.", date(2026, 12, 7)),
        ("Back on 7 December 2026.", date(2026, 12, 7)),
        ("Out of the office until Dec 7th.", date(2026, 12, 7)),
        ("Back on 2026-12-07", date(2026, 12, 7)),
        ("I'll be back January 4.", date(2027, 1, 4)),  # next year, said in December
        ("Ich bin ab dem 7. Dezember wieder im Büro.", date(2026, 12, 7)),
        ("Abwesend bis 07.12.2026", date(2026, 12, 7)),
        ("Je serai de retour le lundi 7 décembre.", date(2026, 12, 7)),
        ("Back Monday.", date(2026, 12, 7)),  # the Monday after Tuesday, December 1
        ("Back tomorrow", date(2026, 12, 2)),
        ("I will return on 31/12", date(2026, 12, 31)),  # 31 cannot be a month
        ("Out since December 1 with no access to email.", None),  # not a return
        ("Back on February 30.", None),
    ],
)
def test_return_dates_are_read_after_a_return_phrase(text: str, expected: date | None) -> None:
    assert find_return_date(text, REFERENCE) == expected


def test_a_date_without_year_needs_a_reference() -> None:
    assert find_return_date("back on December 7", None) is None
    assert find_return_date("back on December 7, 2026", None) == date(2026, 12, 7)


@pytest.mark.parametrize(
    "body", ["Please remove me from your list.", "unsubscribe", "Stop emailing me, thanks"]
)
def test_a_short_answer_asking_to_be_left_alone_is_an_unsubscribe(body: str) -> None:
    assert classify_email(raw("Subject: Re: Quick question", body)).kind == "unsubscribe"


def test_a_longer_reply_that_mentions_removing_is_still_a_reply() -> None:
    body = "Sounds good. Could you remove me from the cc and send it to my colleague instead?"
    assert classify_email(raw("Subject: Re: Quick question", body)).kind == "reply"


def test_a_return_date_may_be_in_the_subject_alone() -> None:
    headers = "Subject: Out of office until 12/7\nDate: Tue, 1 Dec 2026 10:00:00 -0600"
    email = classify_email(raw(headers, "I have no access to email."))
    assert (email.kind, email.return_date) == ("auto_reply", date(2026, 12, 7))


def test_an_encapsulated_exchange_address_is_not_the_bounced_recipient() -> None:
    report = (
        "From: postmaster@corp.example\nTo: ana@sales.example.com\nSubject: Undeliverable\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; b"
        'oundary="b"\n\n--b\nContent-Type: text/plain\n\nFailed.\n'
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; corp\n\n"
        "Original-Recipient: rfc822;IMCEAEX-_O=CORP_OU=EXCH_CN=RECIPIENTS_CN=JDOE@corp.example\n"
        "Final-Recipient: rfc822;jdoe@corp.example\nAction: failed\nStatus: 5.1.1\n--b--\n"
    )
    assert classify_email(report.encode()).bounced_recipient == "jdoe@corp.example"


def test_a_header_the_parser_cannot_read_is_left_out_and_the_rest_still_read() -> None:
    bounce = (
        b"From: MAILER-DAEMON@mx.isp.example\nTo: x@\nSubject: failure notice\n\n"
        b"<olga@isp.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
    )
    email = classify_email(bounce)
    assert (email.label, email.recipient) == ("hard_bounce", "olga@isp.example")
    assert "unreadable header To left out" in email.reasons


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Hi Ana, we received your email and we are interested. Call me.", "reply"),
        ("I'll be out of the office next week but let's talk after.", "reply"),
        ("I will be out of the office until December 9 with no email.", "auto_reply"),
        ("Thanks for your message. I am currently on leave until Monday.", "auto_reply"),
        ("We have received your request. Your ticket number is 4821.", "auto_reply"),
    ],
)
def test_only_an_autoresponder_s_own_sentences_make_an_auto_reply(body: str, kind: str) -> None:
    assert classify_email(raw("Subject: Re: Quick question", body)).kind == kind


@pytest.mark.parametrize(
    ("text", "language", "sender", "expected"),
    [
        ("Back on 04/01/2027.", "en-GB", "j@firm.example", date(2027, 1, 4)),
        ("Back on 04/01/2027.", "", "j@firm.co.uk", date(2027, 1, 4)),
        ("Back on 04/01/2027.", "en-US", "j@firm.co.uk", date(2027, 4, 1)),  # language first
        ("Je suis absente jusqu'au 09/12/2026.", "", "c@societe.example", date(2026, 12, 9)),
        ("Back on 12/09/2026, the total is due then.", "", "m@corp.com", date(2026, 12, 9)),
        # Month first would be March 12, before the message: the other reading is taken.
        ("Back on 03/12/2026.", "", "m@corp.com", date(2026, 12, 3)),
        ("Out until 11/20/2026.", "", "m@corp.com", None),  # before the message, either way
    ],
)
def test_numeric_dates_follow_the_writer_s_language_and_never_precede_the_message(
    text: str, language: str, sender: str, expected: date | None
) -> None:
    day_first = prefers_day_first(text, language, sender)
    found = find_return_date(text, REFERENCE, day_first=day_first, not_before=REFERENCE)
    assert found == expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        ("5.2.2", "552 5.2.2 Mailbox full", "soft"),
        ("5.1.1", "550 5.1.1 <x@corp.example>... User unknown", "hard"),
        ("5.0.0", "550 Requested action not taken: mailbox unavailable", "hard"),
        ("4.0.0", "421, Too many connections; try again later", "soft"),
        ("5.7.1", "554 5.7.1 Service unavailable; blocked using zen.spamhaus.org", "soft"),
        (
            "5.1.8",
            "550 5.1.8 <ana@sales.example.com>: Sender address rejected: Domain not found",
            "soft",
        ),
        ("5.3.2", "521 5.3.2 Service not accepting mail", "hard"),
        ("5.1.2", "", "hard"),
        ("5.0.0", "554 Transaction failed", "soft"),  # a cause we cannot read is not hard
        (None, "", "soft"),
    ],
)
def test_severity_comes_from_the_cause_then_the_full_status(
    status: str | None, diagnostic: str, kind: str
) -> None:
    assert severity(status, diagnostic).kind == kind


def test_a_raw_latin1_subject_is_still_read() -> None:
    message = (
        b"From: Luc <luc@agence.fr>\nSubject: R\xe9ponse automatique\n"
        b"Content-Type: text/plain; charset=iso-8859-1\n\nMerci.\n"
    )
    email = classify_email(message)
    assert (email.kind, email.subject) == ("auto_reply", "Réponse automatique")
