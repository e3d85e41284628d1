"""Bounces, complaints and auto-replies from many mail systems, posted to the inbound endpoint.

Each message comes from the corpus (tests/fixtures/mail/corpus) with the Message-ID of what
the dispatcher really sent put in place of the one it returns, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from cadenza.services import enrollments
from tests.engine_helpers import SETTINGS, add_contact, at, store, write
from tests.integration import test_inbound_email as base
from tests.integration.test_inbound_email import MAIL, OUTREACH, START, Scene

scene = base.scene  # the fixture: a database, a real SMTP server and the API

CORPUS = MAIL / "corpus"
OUR_IDS = re.compile(rb"<[0-9a-f]{32}@sales\.example\.com>")
TOKENS = re.compile(rb"(unsubscribe%20|/u/)[\w.-]+")
LATER = "2026-12-01T10:05:00-06:00"


def answering(scene: Scene, name: str) -> bytes:
    """The corpus message `name`, about the one email the dispatcher sent."""
    (sent,) = scene.catcher.messages
    raw = (CORPUS / name).read_bytes()
    assert OUR_IDS.search(raw), name
    return OUR_IDS.sub(str(sent["Message-ID"]).encode(), raw)


def with_real_token(scene: Scene, raw: bytes) -> bytes:
    """`raw` with the unsubscribe token of the email really sent in its returned original."""
    (sent,) = scene.catcher.messages
    mailto = str(sent["List-Unsubscribe"]).split("<mailto:")[1].rstrip(">")
    token = unquote(mailto.split("subject=")[1]).split()[-1]
    return TOKENS.sub(lambda m: m.group(1) + token.encode(), raw)


def started(scene: Scene, email: str, definition: str = OUTREACH) -> int:
    with write(scene.db) as session:
        store(session, definition, at(START))
        contact_id = add_contact(session, at(START), email=email)
        enrollments.enroll(
            session=session,
            sequence="Outreach",
            contact_ids=[contact_id],
            now=at(START),
            settings=SETTINGS,
        )
    scene.run(START)
    assert len(scene.catcher.messages) == 1
    return contact_id


def test_an_arf_complaint_unsubscribes_exits_and_names_the_sending_mailbox(scene: Scene) -> None:
    contact_id = started(scene, "lisa.m@yahoo.com")

    result = scene.post(answering(scene, "complaint/yahoo_arf.eml"), LATER)

    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "complained",
        contact_id,
        "hello",
    )
    contact = scene.contact(contact_id)
    assert contact.email_unsubscribed and not contact.email_bounced
    enrollment = scene.enrollment()
    assert enrollment["status"] == "exited" and enrollment["exit_reason"].startswith("complained")
    (event,) = scene.history("complained")
    assert event["data"]["sender"] == "ana@sales.example.com"
    assert event["data"]["recipient"] == "lisa.m@yahoo.com"
    assert event["data"]["reported_by"] == "feedback@arf.mail.yahoo.com"
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.catcher.messages) == 1  # the follow-up is never sent


def test_a_complaint_hiding_the_address_is_matched_by_its_unsubscribe_token(
    scene: Scene,
) -> None:
    contact_id = started(scene, "someone@aol.com")
    raw = with_real_token(scene, answering(scene, "complaint/aol_arf_redacted.eml"))

    result = scene.post(raw, LATER)

    assert (result["outcome"], result["contact_id"]) == ("complained", contact_id)
    assert scene.contact(contact_id).email_unsubscribed
    assert scene.enrollment()["status"] == "exited"
    (event,) = scene.history("complained")
    assert event["data"]["sender"] == "ana@sales.example.com" and event["step"] == "hello"


def test_an_ses_json_complaint_is_a_complaint(scene: Scene) -> None:
    contact_id = started(scene, "mad@client.example")

    result = scene.post(answering(scene, "complaint/ses_json_complaint.eml"), LATER)

    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "complained",
        contact_id,
        "hello",
    )
    assert scene.contact(contact_id).email_unsubscribed
    assert scene.enrollment()["status"] == "exited"


def test_a_complaint_exits_only_where_exit_on_says_so_but_stops_email_anyway(
    scene: Scene,
) -> None:
    only_replies = OUTREACH + "exit: {on: [replied]}\n"
    contact_id = started(scene, "lisa.m@yahoo.com", only_replies)

    result = scene.post(answering(scene, "complaint/yahoo_arf.eml"), LATER)

    assert result["outcome"] == "complained"
    assert scene.contact(contact_id).email_unsubscribed
    assert scene.enrollment()["status"] == "active"  # exit.on does not name complaints
    scene.run("2026-12-01T12:00:00-06:00")
    assert len(scene.catcher.messages) == 1  # yet no email reaches an unsubscribed contact
    (skipped,) = scene.history("skipped")
    assert "unsubscribed" in skipped["reason"]


def test_a_complaint_about_nobody_we_know_is_kept_unmatched(scene: Scene) -> None:
    started(scene, "jane@corp.example")

    result = scene.post((CORPUS / "complaint/mailru_arf.eml").read_bytes(), LATER)

    assert result["outcome"] == "unmatched" and "ivan.p@mail.ru" in result["detail"]
    (kept,) = scene.history("inbound_unmatched")
    assert kept["data"]["sender"] == "ana@sales.example.com"
    assert scene.enrollment()["status"] == "active"


def test_a_full_mailbox_reported_as_failed_is_soft_and_the_sequence_goes_on(
    scene: Scene,
) -> None:
    contact_id = started(scene, "full.inbox@gmail.com")

    result = scene.post(answering(scene, "bounce/gmail_over_quota.eml"), LATER)

    assert (result["outcome"], result["contact_id"]) == ("soft_bounce", contact_id)
    assert not scene.contact(contact_id).email_bounced
    assert scene.enrollment()["status"] == "active"
    (event,) = scene.history("soft_bounce")
    assert event["step"] == "hello" and event["reason"] == "soft bounce: mailbox full"
    assert event["data"]["status"] == "5.2.2" and event["data"]["cause"] == "mailbox full"
    assert scene.history("bounced") == []
    scene.run("2026-12-01T11:00:00-06:00")
    assert len(scene.catcher.messages) == 2  # the follow-up still goes out


def test_a_policy_block_is_soft_too(scene: Scene) -> None:
    contact_id = started(scene, "vp.sales@gmail.com")

    result = scene.post(answering(scene, "bounce/gmail_unsolicited.eml"), LATER)

    assert result["outcome"] == "soft_bounce"
    assert not scene.contact(contact_id).email_bounced
    assert scene.enrollment()["status"] == "active"


def test_hard_bounces_from_other_systems_flag_the_contact_and_exit(scene: Scene) -> None:
    contact_id = started(scene, "d.brown@corp.example")

    result = scene.post(answering(scene, "bounce/o365_recipient_not_found.eml"), LATER)

    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "bounced",
        contact_id,
        "hello",
    )
    assert scene.contact(contact_id).email_bounced
    assert scene.enrollment()["status"] == "exited"
    (event,) = scene.history("bounced")
    assert event["data"]["status"] == "5.1.10" and event["data"]["cause"] == "recipient not found"


def test_an_ses_json_permanent_bounce_is_hard(scene: Scene) -> None:
    contact_id = started(scene, "gone@client.example")

    result = scene.post(answering(scene, "bounce/ses_json_permanent.eml"), LATER)

    assert (result["outcome"], result["contact_id"]) == ("bounced", contact_id)
    assert scene.contact(contact_id).email_bounced


def test_a_text_only_bounce_from_a_bare_mailer_daemon_is_matched_by_its_recipient(
    scene: Scene,
) -> None:
    contact_id = started(scene, "r.jackson@oldcorp.example")

    result = scene.post((CORPUS / "bounce/bare_mailer_daemon.eml").read_bytes(), LATER)

    assert (result["outcome"], result["contact_id"]) == ("bounced", contact_id)
    assert scene.enrollment()["status"] == "exited"


def test_an_auto_reply_marked_only_by_precedence_pauses_and_is_no_reply(scene: Scene) -> None:
    contact_id = started(scene, "bob@oldschool.example")

    result = scene.post(answering(scene, "auto_reply/precedence_junk_vacation.eml"), LATER)

    assert (result["outcome"], result["contact_id"]) == ("out_of_office", contact_id)
    assert scene.history("replied") == []
    enrollment = scene.enrollment()
    assert enrollment["status"] == "active"
    assert enrollment["due_at"] == at("2026-12-14T09:00:00-06:00").isoformat()
    (event,) = scene.history("out_of_office")
    assert event["data"]["return_date"] == "2026-12-14"


def test_a_french_auto_reply_is_read_day_first(scene: Scene) -> None:
    started(scene, "c.dubois@societe.fr")

    result = scene.post(answering(scene, "auto_reply/exchange_fr_jusquau.eml"), LATER)

    assert result["outcome"] == "out_of_office"
    assert scene.history("replied") == []
    (event,) = scene.history("out_of_office")
    assert event["data"]["return_date"] == "2026-12-14"  # 14/12/2026, not a month 14
    assert scene.enrollment()["status"] == "active"


def test_a_read_receipt_moves_nothing(scene: Scene) -> None:
    started(scene, "jane@corp.example")
    raw = (CORPUS / "receipt/outlook_read_receipt.eml").read_bytes()

    result = scene.post(raw, LATER)

    assert result["outcome"] == "ignored"
    assert scene.enrollment()["status"] == "active"


def test_exit_on_naming_complained_alone_exits_on_a_complaint(scene: Scene) -> None:
    started(scene, "lisa.m@yahoo.com", OUTREACH + "exit: {on: [complained]}\n")

    scene.post(answering(scene, "complaint/yahoo_arf.eml"), LATER)

    enrollment = scene.enrollment()
    assert enrollment["status"] == "exited" and enrollment["exit_reason"].startswith("complained")


def test_a_short_please_remove_me_unsubscribes(scene: Scene) -> None:
    contact_id = started(scene, "jane@corp.example")
    (sent,) = scene.catcher.messages
    request = (
        "From: Jane <jane@corp.example>\nTo: ana@sales.example.com\nSubject: Re: Quick question\n"
        f"In-Reply-To: {sent['Message-ID']}\nContent-Type: text/plain\n\n"
        "Please remove me from your list.\n"
    )

    result = scene.post(request.encode(), LATER)

    assert (result["outcome"], result["contact_id"], result["step"]) == (
        "unsubscribed",
        contact_id,
        "hello",
    )
    assert scene.contact(contact_id).email_unsubscribed
    assert scene.enrollment()["status"] == "exited"
