"""Every lint check, each with a broken definition: the problem is at its line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.core.lint import lint_file, lint_text
from cadenza.errors import NotFound

EXAMPLES = Path(__file__).parents[2] / "examples"

HEAD = """\
name: Test
senders: {email: sales@example.com, sms: "+13125550100"}
steps:
"""


def problems(text: str, path: str = "t.yaml") -> list[str]:
    return [str(p) for p in lint_text(text, path)[1]]


def only(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --- YAML ----------------------------------------------------------------------------------


def test_yaml_syntax_error_is_located() -> None:
    found = only("name: x\nsteps:\n  - key: a\n   action: sms\n")
    assert found.startswith("t.yaml:4:")
    assert "not valid YAML" in found


def test_duplicate_yaml_key_is_reported_at_the_second_key() -> None:
    text = HEAD + "  - key: a\n    action: sms\n    body: one\n    body: two\n"
    assert only(text) == "t.yaml:7:5: duplicate key 'body' (first on line 6)"


def test_a_document_that_is_not_a_mapping() -> None:
    assert "a definition is a mapping" in only("- just\n- a list\n")
    assert "a definition is a mapping" in only("")


def test_json_is_yaml_too() -> None:
    text = json.dumps(
        {
            "name": "J",
            "senders": {"sms": "+13125550100"},
            "steps": [{"key": "a", "action": "sms", "body": "hi"}],
        }
    )
    definition, found = lint_text(text, "t.json")
    assert found == [] and definition is not None


def test_on_is_a_key_not_a_boolean() -> None:
    text = "name: x\nenrollment:\n  triggers:\n    - {on: tag_added, tag: web}\n" + (
        "steps:\n  - {key: a, action: add_tag, tag: hi}\n"
    )
    definition, found = lint_text(text, "t.yaml")
    assert found == []
    assert definition is not None and definition.enrollment.triggers[0].on == "tag_added"


# --- the model, mapped back to lines ---------------------------------------------------------


def test_unknown_action_names_the_choices() -> None:
    found = only(HEAD + "  - key: a\n    action: smss\n    body: hi\n")
    assert found.startswith("t.yaml:5:13: steps[0].action: unknown action 'smss'")
    assert "did you mean 'sms'?" in found and "expected one of add_line, add_tag," in found


def test_missing_action_points_at_the_step() -> None:
    assert only(HEAD + "  - key: a\n    body: hi\n").startswith(
        "t.yaml:4:5: steps[0]: missing field 'action'"
    )


def test_unknown_field_points_at_its_key() -> None:
    found = only(HEAD + "  - key: a\n    action: sms\n    body: hi\n    bodyy: x\n")
    assert found.startswith("t.yaml:7:5: steps[0]: unknown field 'bodyy' (did you mean 'body'?")


def test_missing_field_points_at_the_enclosing_mapping() -> None:
    found = only(HEAD + "  - key: a\n    action: email\n    body: hi\n")
    assert found == "t.yaml:4:5: steps[0]: missing field 'subject'"


def test_union_tags_are_stripped_from_the_path() -> None:
    found = only(HEAD + "  - key: a\n    action: sms\n    body: hi\n    wait: {weeks: 2}\n")
    assert found.startswith("t.yaml:7:12: steps[0].wait: unknown field 'weeks'")


def test_bad_wait_value() -> None:
    found = only(
        HEAD + "  - key: a\n    action: sms\n    body: hi\n    wait: {day: 0, at: '10:00'}\n"
    )
    assert found.startswith("t.yaml:7:17: steps[0].wait.day: input should be greater than")


def test_bad_time_of_day() -> None:
    found = only(
        HEAD + "  - key: a\n    action: sms\n    body: hi\n    wait: {days: 1, at: '25:00'}\n"
    )
    assert found == ("t.yaml:7:25: steps[0].wait.at: '25:00' is not a time of day (00:00 to 23:59)")


def test_unknown_time_zone_at_its_line() -> None:
    text = (
        "name: x\nschedule:\n  timezone: Mars/Base\nsteps:\n  - {key: a, action: add_tag, tag: x}\n"
    )
    assert only(text).startswith("t.yaml:3:13: schedule.timezone: unknown time zone 'Mars/Base'")


def test_unknown_holiday_calendar_at_its_line() -> None:
    text = (
        "name: x\nschedule:\n  holidays: atlantis\nsteps:\n  - {key: a, action: add_tag, tag: x}\n"
    )
    assert only(text).startswith("t.yaml:3:13: schedule.holidays: unknown holiday calendar")


def test_bad_condition_op() -> None:
    text = HEAD + "  - key: a\n    action: sms\n    body: hi\n    when: {field: x, op: equals}\n"
    assert only(text).startswith("t.yaml:7:26: steps[0].when.op: 'equals' is not one of eq, ne")


def test_bad_route_value() -> None:
    text = HEAD + (
        "  - key: a\n    action: call\n    assignee: contact_owner\n"
        "    outcomes:\n      no_answer: 5\n      interested: {end: great}\n"
    )
    found = problems(text)
    assert found == [
        "t.yaml:8:18: steps[0].outcomes.no_answer: 5 is not a route: "
        "expected next, a step key, or {end: positive|negative|neutral}",
        "t.yaml:9:25: steps[0].outcomes.interested.end: 'great' is not one of positive, "
        "negative or neutral",
    ]


# --- the step graph --------------------------------------------------------------------------


def test_duplicate_step_key() -> None:
    text = HEAD + "  - {key: a, action: sms, body: one}\n  - {key: a, action: sms, body: two}\n"
    assert only(text) == "t.yaml:5:11: steps[1].key: duplicate step key 'a' (first on line 4)"


@pytest.mark.parametrize(
    ("step", "where"),
    [
        (
            "  - key: c\n    action: call\n    assignee: contact_owner\n"
            "    outcomes: {no_answer: nowhere, interested: {end: positive}}\n",
            "t.yaml:8:27: steps[1].outcomes.no_answer",
        ),
        (
            "  - key: w\n    action: wait_for\n    events: [opened]\n    timeout: {days: 1}\n"
            "    routes: {opened: nowhere}\n",
            "t.yaml:9:22: steps[1].routes.opened",
        ),
        (
            "  - key: b\n    action: branch\n    branches:\n      - when: {tag: vip}\n"
            "        to: nowhere\n",
            "t.yaml:9:13: steps[1].branches[0].to",
        ),
        (
            "  - key: b\n    action: branch\n    branches: [{when: {tag: vip}, to: a}]\n"
            "    otherwise: nowhere\n",
            "t.yaml:8:16: steps[1].otherwise",
        ),
    ],
)
def test_unknown_step_key_in_a_route(step: str, where: str) -> None:
    found = only(HEAD + "  - {key: a, action: sms, body: hi, wait: {hours: 1}}\n" + step)
    assert found.startswith(f"{where}: unknown step 'nowhere'")


@pytest.mark.parametrize(
    "blocker",
    [
        "  - {key: stop, action: end, outcome: positive}\n",
        "  - key: call\n    action: call\n    assignee: contact_owner\n"
        "    outcomes: {no_answer: a, interested: {end: positive}}\n",
        "  - key: b\n    action: branch\n    branches: [{when: {tag: x}, to: a}]\n"
        "    otherwise: {end: neutral}\n",
    ],
)
def test_unreachable_step(blocker: str) -> None:
    text = HEAD + "  - {key: a, action: sms, body: hi, wait: {days: 1}}\n" + blocker
    text += "  - {key: lost, action: sms, body: never}\n"
    line = text.count("\n")
    found = only(text)
    assert found.startswith(f"t.yaml:{line}:5: steps[2]: step 'lost' is unreachable")


def test_a_step_with_a_when_falls_through() -> None:
    text = HEAD + (
        "  - {key: stop, action: end, when: {tag: done}}\n  - {key: more, action: sms, body: hi}\n"
    )
    assert problems(text) == []


def test_loop_with_no_wait() -> None:
    text = HEAD + (
        "  - {key: a, action: add_tag, tag: x}\n"
        "  - key: b\n    action: branch\n    branches: [{when: {tag: x}, to: a}]\n"
    )
    assert only(text) == (
        "t.yaml:4:5: steps[0]: loop with no wait in it: a → b → a "
        "(every step in it runs at once; add a wait)"
    )


@pytest.mark.parametrize(
    "first",
    [
        "  - {key: a, action: add_tag, tag: x, wait: {hours: 1}}\n",
        "  - {key: a, action: task, assignee: initiator}\n",
    ],
)
def test_a_loop_that_waits_or_blocks_is_fine(first: str) -> None:
    text = (
        HEAD + first + "  - key: b\n    action: branch\n    branches: [{when: {tag: x}, to: a}]\n"
    )
    assert problems(text) == []


def test_day_wait_going_backwards() -> None:
    text = HEAD + (
        "  - {key: a, action: sms, body: hi, wait: {day: 5, at: '10:00'}}\n"
        "  - {key: b, action: sms, body: hi, wait: {day: 3, at: '10:00'}}\n"
    )
    found = only(text)
    assert found.startswith("t.yaml:5:43: steps[1].wait: day 3 at 10:00 comes after day 5")


def test_unknown_template_variable_inline() -> None:
    text = HEAD + "  - key: a\n    action: sms\n    body: 'Hi {{ contact.frist_name }}'\n"
    assert only(text) == (
        "t.yaml:6:11: steps[0].body: unknown variable contact.frist_name "
        "(did you mean contact.first_name?)"
    )


def test_unknown_template_variable_in_a_block_scalar_is_at_its_own_line() -> None:
    text = HEAD + (
        "  - key: a\n    action: email\n    subject: Hello\n    body: |\n"
        "      Hi [FirstName],\n\n      Your budget: {{ contact.budget }}\n"
    )
    assert only(text) == (
        "t.yaml:10:7: steps[0].body: unknown variable contact.budget "
        "(custom fields are contact.fields.budget)"
    )


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ("action: task\n    assignee: initiator\n    title: '{{ usr.name }}'", "steps[0].title"),
        (
            "action: webhook\n    url: https://x.example/hook\n    headers: {X-A: '{{ foo }}'}",
            "steps[0].headers.X-A",
        ),
        ("action: notify\n    to: owner\n    body: '{{ sequence.title }}'", "steps[0].body"),
    ],
)
def test_unknown_variable_in_other_templated_fields(fields: str, where: str) -> None:
    found = only(HEAD + f"  - key: a\n    {fields}\n")
    assert f"{where}: unknown variable" in found


def test_template_syntax_error() -> None:
    text = HEAD + "  - key: a\n    action: sms\n    body: |\n      Hi\n      {% if %}\n"
    assert only(text).startswith("t.yaml:8:7: steps[0].body: template syntax error:")


def test_outcome_with_no_route() -> None:
    text = HEAD + (
        "  - key: a\n    action: call\n    assignee: contact_owner\n"
        "    outcomes:\n      no_answer:\n      interested: {end: positive}\n"
    )
    assert only(text).startswith("t.yaml:8:7: steps[0].outcomes.no_answer: outcome has no route")


def test_manual_step_without_an_assignee() -> None:
    text = HEAD + "  - key: a\n    action: call\n"
    assert only(text).startswith("t.yaml:4:5: steps[0]: a call step needs an assignee")


def test_webhook_url_that_is_not_http() -> None:
    text = HEAD + "  - key: a\n    action: webhook\n    url: ftp://example.com/x\n"
    assert only(text) == (
        "t.yaml:6:10: steps[0].url: webhook URL 'ftp://example.com/x' must start with "
        "http:// or https://"
    )


def test_wait_for_route_for_an_event_it_does_not_wait_for() -> None:
    text = HEAD + (
        "  - key: a\n    action: wait_for\n    events: [opened]\n    timeout: {days: 2}\n"
        "    routes: {opened: next, clicked: next}\n"
    )
    assert only(text).startswith(
        "t.yaml:8:28: steps[0].routes.clicked: route for 'clicked', which this step does not"
    )


def test_unknown_event_names() -> None:
    text = HEAD + (
        "  - key: a\n    action: sms\n    body: hi\n    when: {not: {event: replyed, step: zz}}\n"
    )
    assert problems(text) == [
        "t.yaml:7:25: steps[0].when.not.event: unknown event 'replyed' (did you mean 'replied'?)",
        "t.yaml:7:40: steps[0].when.not.step: unknown step 'zz' (steps are: a)",
    ]


# --- template files --------------------------------------------------------------------------


def test_template_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "seq.yaml"
    path.write_text(HEAD + "  - key: a\n    action: email\n    subject: Hi\n    body: t/x.html\n")
    found = [str(p) for p in lint_file(path)[1]]
    assert found == [f"{path}:7:11: steps[0].body: template file '{tmp_path}/t/x.html' not found"]


def test_template_file_is_checked_and_inlined(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.html").write_text("<p>Hi {{ contact.first_name }}</p>\n{{ user.nme }}\n")
    path = tmp_path / "seq.yaml"
    path.write_text(HEAD + "  - key: a\n    action: email\n    subject: Hi\n    body: t/x.html\n")
    definition, found = lint_file(path)
    assert [str(p) for p in found] == [
        f"{tmp_path}/t/x.html:2:1: unknown variable user.nme (did you mean user.name?)"
    ]
    assert definition is not None
    assert definition.steps[0].body.startswith("<p>Hi {{ contact.first_name }}")  # type: ignore[union-attr]


# --- all together ----------------------------------------------------------------------------


def test_every_problem_is_reported_sorted_by_line() -> None:
    text = """\
name: Many problems
senders: {email: sales@example.com, sms: "+13125550100"}
schedule:
  timezone: Nowhere/City
steps:
  - key: a
    action: smss
    body: hi
  - key: b
    action: email
    subject: "{{ contact.nope }}"
    body: hello
    body: again
"""
    found = problems(text)
    # The structural errors (time zone, action) hide nothing: the template is checked too.
    assert [p.split(": ")[0] for p in found] == [
        "t.yaml:4:13",
        "t.yaml:7:13",
        "t.yaml:11:14",
        "t.yaml:13:5",
    ]
    text = text.replace("Nowhere/City", "UTC").replace("smss", "sms")
    found = problems(text)
    assert [p.split(" ")[0] for p in found] == ["t.yaml:11:14:", "t.yaml:13:5:"]


def test_missing_file_is_not_found() -> None:
    with pytest.raises(NotFound, match="no such file"):
        lint_file("/nonexistent/seq.yaml")


@pytest.mark.parametrize("name", ["inbound-lead.yaml", "classic-email.yaml", "recruiting.yaml"])
def test_examples_pass_lint(name: str) -> None:
    definition, found = lint_file(EXAMPLES / name)
    assert [str(p) for p in found] == []
    assert definition is not None


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    import time

    from cadenza.core.lint import lint_text

    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("name: bomb")
    lines.append("steps: *a7")
    started = time.perf_counter()
    definition, problems = lint_text("\n".join(lines), "bomb.yaml")
    assert time.perf_counter() - started < 5
    assert definition is None
    assert any("expands to more than" in p.message for p in problems)
