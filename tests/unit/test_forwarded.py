"""Forwarded emails: the subject prefixes of many languages and the original's headers."""

from __future__ import annotations

import pytest

from cadenza.channels.forwarded import Forwarded, find_forwarded, is_forward_subject


@pytest.mark.parametrize(
    "subject",
    ["Fwd: Hi", "FW: Hi", "Fw: Hi", "WG: Hi", "TR: Hi", "RV: Hi", "ENC: Hi", "I: Hi", "Re: Fwd: Hi",
     "VS: Hi", "Doorst: Hi", "PD: Hi"],
)  # fmt: skip
def test_forward_subjects_are_recognised(subject: str) -> None:
    assert is_forward_subject(subject)


@pytest.mark.parametrize("subject", ["Re: Hi", "Hi", "Forward planning", "Information: hi"])
def test_other_subjects_are_not_forwards(subject: str) -> None:
    assert not is_forward_subject(subject)


def test_apple_mail_block_in_french() -> None:
    text = (
        "Voir ci-dessous.\n\nDébut du message réexpédié :\n\n"
        "De: Ana Ruiz <ANA@sales.example.com>\nObjet: Bonjour\n"
        "À: Jeanne <jeanne@acme.example>\nMessage-Id: <abc@sales.example.com>\n"
    )
    assert find_forwarded("TR: Bonjour", text) == Forwarded(
        "ana@sales.example.com", ["jeanne@acme.example"], "<abc@sales.example.com>"
    )


def test_outlook_headers_without_a_marker_line_when_the_subject_says_forward() -> None:
    text = "FYI\n\n*From:* Ana <ana@sales.example.com>\n*Sent:* Monday\n*To:* bo@acme.example\n"
    found = find_forwarded("FW: pricing", text)
    assert found == Forwarded("ana@sales.example.com", ["bo@acme.example"], None)


def test_a_plain_reply_is_no_forward() -> None:
    assert find_forwarded("Re: pricing", "Sounds good.\n\nFrom: me@x.example\n") is None
