"""Lint of what templates say: unknown shortcodes and what could run without bound."""

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


# --- unbounded templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        (
            "Hi\n{% for x in contact.tags recursive %}{{ loop(x) }}{% endfor %}",
            8,
            "a recursive loop",
        ),
        (
            "{% macro again(n) %}\n{{ again(n) }}\n{% endmacro %}{{ again(1) }}",
            7,
            "macro 'again' calls itself",
        ),
        (
            "{% macro ping() %}{{ pong() }}{% endmacro %}\n"
            "{% macro pong() %}{{ ping() }}{% endmacro %}",
            7,
            "macro 'ping' calls itself",
        ),
        (
            "{% for a in contact.tags %}\n{% for b in contact.tags %}\n"
            "{% for c in contact.tags %}{{ c }}{% endfor %}{% endfor %}{% endfor %}",
            9,
            "loops nested more than 2 deep",
        ),
        ("x\n{% for i in range(100000) %}.{% endfor %}", 8, "range(100000) has more than 10,000"),
        ("{{ range(0, 50000, 2) | list }}", 7, "range(0, 50000, 2) has more than 10,000"),
        ("{{ 2 ** contact.fields.n }}", 7, "** (a power can be astronomically large"),
    ],
)
def test_unbounded_templates_are_refused_at_their_line(body: str, line: int, what: str) -> None:
    found = problems(sms(body))
    assert any(
        p.startswith(f"t.yaml:{line}:7: steps[0].body: unbounded template: {what}") for p in found
    ), found


def test_a_mutual_recursion_reports_each_macro_once() -> None:
    body = (
        "{% macro ping() %}{{ pong() }}{% endmacro %}\n{% macro pong() %}{{ ping() }}{% endmacro %}"
    )
    assert [p.split(": ", 2)[2] for p in problems(sms(body))] == [
        "unbounded template: macro 'ping' calls itself",
        "unbounded template: macro 'pong' calls itself",
    ]


def test_bounded_loops_macros_and_ranges_pass() -> None:
    body = (
        "{% macro tag(t) %}#{{ t }}{% endmacro %}"
        "{% for a in contact.tags %}{% for b in range(3) %}{{ tag(a) }}{% endfor %}{% endfor %}"
        "{{ range(10000) | length }} {{ 3 * 4 }}"
    )
    assert problems(sms(body)) == []
