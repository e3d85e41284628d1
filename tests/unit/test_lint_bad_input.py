"""Bad input is a located problem, never a traceback: control characters, depth, odd values."""

from __future__ import annotations

import json

import pytest

from cadenza.core.lint import lint_text
from tests.unit.test_lint import only


@pytest.mark.parametrize(
    ("text", "where", "code"),
    [
        ('name: "a\x07b"\nsteps: []\n', "t.yaml:1:9:", "#x0007"),
        ("name: x\nsteps:\n  - {key: a, action: sms, body: 'h\x00i'}\n", "t.yaml:3:35:", "#x0000"),
        (json.dumps({"name": "x", "steps": []})[:-1] + ', "\x1b": 1}', "t.yaml:1:29:", "#x001b"),
    ],
)
def test_a_control_character_is_a_located_problem(text: str, where: str, code: str) -> None:
    assert only(text) == (
        f"{where} not valid YAML: character {code} is not allowed (a control character?)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"a": ' * 5_000 + "1" + "}" * 5_000,
        "a:\n" + "".join(" " * depth + "b:\n" for depth in range(1, 3_000)),
    ],
)
def test_deep_nesting_is_a_located_problem(text: str) -> None:
    definition, found = lint_text(text, "t.yaml")
    assert definition is None
    assert len(found) == 1
    assert "nested too deeply: more than 64 levels of lists and mappings" in found[0].message


def test_nesting_a_definition_needs_is_fine() -> None:
    condition = "{tag: vip}"
    for _ in range(20):
        condition = "{not: " + condition + "}"
    text = f"name: x\nsteps:\n  - {{key: a, action: add_tag, tag: x, when: {condition}}}\n"
    assert lint_text(text, "t.yaml")[1] == []


@pytest.mark.parametrize(
    ("value", "where", "message"),
    [
        ("[2026-13-45]", "t.yaml:2:29:", "month must be in 1..12"),
        ("[!!int twelve]", "t.yaml:2:29:", "invalid literal for int()"),
        ("['2026-12-24', " + "9" * 5_000 + "]", "t.yaml:2:43:", "Exceeds the limit"),
    ],
)
def test_a_value_its_tag_cannot_read_is_located(value: str, where: str, message: str) -> None:
    text = f"name: x\nschedule: {{extra_holidays: {value}}}\nsteps: []\n"
    found = only(text)
    assert found.startswith(f"{where} not valid YAML: {message}")
