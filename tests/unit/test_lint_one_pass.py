"""One pass lists every problem: a step that does not parse hides none of the others."""

from __future__ import annotations

from cadenza.core.lint import lint_text
from tests.unit.test_lint import HEAD, problems

BROKEN = (
    HEAD
    + """\
  - key: intro
    action: smss
    body: hi
    outcomes: {no_answer: gone}
  - key: call
    action: call
    assignee: contact_owner
    wait: {weeks: 1}
  - key: follow_up
    action: email
    subject: "Hi {{ contact.frist_name }}"
    body: hello
    when: {event: opened, step: intro2}
  - key: follow_up
    action: branch
    branches: [{when: {tag: vip}, to: nowhere}]
    otherwise: call
  - key: hook
    action: webhook
    url: ftp://example.com/x
"""
)


def test_structural_errors_hide_no_template_key_route_or_step_problem() -> None:
    found = problems(BROKEN)
    assert [p.split(" (")[0] for p in found] == [
        "t.yaml:5:13: steps[0].action: unknown action 'smss'",
        "t.yaml:7:27: steps[0].outcomes.no_answer: unknown step 'gone'",
        "t.yaml:11:12: steps[1].wait: unknown field 'weeks'",
        "t.yaml:14:14: steps[2].subject: unknown variable contact.frist_name",
        "t.yaml:16:33: steps[2].when.step: unknown step 'intro2'",
        "t.yaml:17:10: steps[3].key: duplicate step key 'follow_up'",
        "t.yaml:19:39: steps[3].branches[0].to: unknown step 'nowhere'",
        "t.yaml:23:10: steps[4].url: webhook URL 'ftp://example.com/x' must start with http:// "
        "or https://",
    ]
    assert lint_text(BROKEN, "t.yaml")[0] is None


def test_each_problem_is_reported_once() -> None:
    found = problems(BROKEN)
    assert len(found) == len(set(found))


def test_a_step_that_did_not_parse_makes_no_other_step_unreachable() -> None:
    # Only the broken branch leads to `c`: without it `c` would look unreachable.
    text = HEAD + (
        "  - key: a\n    action: branch\n    branches: [{when: {tag: vip}, to: c}]\n"
        "    otherwise: {end: neutral}\n    colour: red\n"
        "  - {key: b, action: end}\n"
        "  - {key: c, action: add_tag, tag: x}\n"
    )
    assert [p.split(" (")[0] for p in problems(text)] == [
        "t.yaml:8:5: steps[0]: unknown field 'colour'"
    ]


def test_when_every_step_parses_the_whole_graph_is_checked_despite_other_errors() -> None:
    text = "name: ''\nsteps:\n  - {key: a, action: end}\n  - {key: b, action: add_tag, tag: x}\n"
    assert problems(text) == [
        "t.yaml:1:7: name: string should have at least 1 character, got ''",
        "t.yaml:4:5: steps[1]: step 'b' is unreachable: no route leads to it and the step "
        "before it never falls through",
    ]


def test_a_missing_template_file_is_reported_next_to_a_broken_step() -> None:
    text = HEAD + (
        "  - {key: a, action: smss}\n"
        "  - {key: b, action: email, subject: Hi, body: t/missing.html, wait: {days: 1}}\n"
    )
    found = problems(text)
    assert found[0].startswith("t.yaml:4:22: steps[0].action: unknown action 'smss'")
    assert found[1] == "t.yaml:5:48: steps[1].body: template file 't/missing.html' not found"
