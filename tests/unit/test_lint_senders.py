"""A message the dispatcher sends needs a sender: lint refuses it before any enrollment stops."""

from __future__ import annotations

import pytest

from tests.unit.test_lint import only, problems

NO_SENDERS = "name: Test\nsteps:\n"


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        ("{key: hello, action: email, subject: Hi, body: hi}", "email"),
        ("{key: hello, action: sms, body: hi}", "sms"),
        ("{key: hello, action: mms, media: ['https://x.example/a.png']}", "sms"),
        ("{key: hello, action: voicemail, audio: 'https://x.example/a.mp3'}", "sms"),
    ],
)
def test_a_sent_message_without_a_sender_names_the_step_and_what_to_set(
    step: str, kind: str
) -> None:
    action = step.split("action: ")[1].split(",")[0]
    assert only(NO_SENDERS + f"  - {step}\n") == (
        f"t.yaml:3:5: steps[0]: step 'hello' ({action}) has no {kind} sender: "
        f"set senders.{kind} or the step's sender"
    )


def test_the_sequence_sender_or_the_step_sender_is_enough() -> None:
    text = (
        "name: Test\nsenders: {email: sales@example.com}\nsteps:\n"
        "  - {key: a, action: email, subject: Hi, body: hi}\n"
        "  - {key: b, action: sms, body: hi, sender: '+13125550100'}\n"
    )
    assert problems(text) == []


def test_the_other_channel_sender_does_not_count() -> None:
    text = "name: Test\nsenders: {sms: '+13125550100'}\nsteps:\n" + (
        "  - {key: a, action: email, subject: Hi, body: hi}\n"
    )
    assert "has no email sender" in only(text)


@pytest.mark.parametrize(
    "step",
    [
        "{key: a, action: manual_email, assignee: contact_owner}",
        "{key: a, action: manual_sms, assignee: contact_owner}",
        "{key: a, action: call, assignee: contact_owner}",
        "{key: a, action: notify, to: owner}",
        "{key: a, action: webhook, url: 'https://x.example/hook'}",
    ],
)
def test_what_a_person_or_a_webhook_does_needs_no_sender(step: str) -> None:
    assert problems(NO_SENDERS + f"  - {step}\n") == []


def test_a_sender_is_required_in_a_file_with_other_errors_too() -> None:
    text = NO_SENDERS + "  - {key: a, action: smss}\n  - {key: b, action: sms, body: hi}\n"
    assert [p.split(": ")[1] for p in problems(text)] == ["steps[0].action", "steps[1]"]
