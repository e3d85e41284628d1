"""Lint of what templates say: unknown shortcodes."""

from __future__ import annotations

import pytest

from tests.unit.test_lint import HEAD, only, problems


def sms(body: str) -> str:
    """A definition whose one SMS step has this body, written as a block from line 6."""
    lines = "".join(f"      {line}\n" for line in body.splitlines())
    return HEAD + f"  - key: a\n    action: sms\n    body: |\n{lines}"


# --- shortcodes ------------------------------------------------------------------------------


def test_an_unknown_shortcode_is_reported_at_its_line_with_the_known_ones() -> None:
    found = only(sms("Hi [FirstName],\nyour parcel [TrackingNumber] is on its way"))
    assert found.startswith(
        "t.yaml:8:7: steps[0].body: unknown shortcode [TrackingNumber] would be sent as written "
        "(shortcodes are [FirstName], [LastName],"
    )
    assert "[SequenceName])" in found


def test_a_misspelt_shortcode_gets_the_closest_one() -> None:
    assert only(sms("Hi [FristName]")).endswith(
        "unknown shortcode [FristName] would be sent as written (did you mean [FirstName]?)"
    )


@pytest.mark.parametrize(
    "body",
    [
        "[firstname] and [COMPANY] are shortcodes",
        "see note [1], tick [ ] or [x1 2]",
        "read [the docs](https://example.com/docs)",
        "{{ '[Webinar]' }} is written in a template expression",
    ],
)
def test_what_is_not_an_unknown_shortcode(body: str) -> None:
    assert problems(sms(body)) == []


def test_a_shortcode_in_the_subject_is_located_on_its_line() -> None:
    text = HEAD + "  - key: a\n    action: email\n    subject: '[AgentName] here'\n    body: hi\n"
    assert only(text).startswith(
        "t.yaml:6:14: steps[0].subject: unknown shortcode [AgentName] would be sent as written "
        "(shortcodes are"
    )
