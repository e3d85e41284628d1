"""Typed custom fields: values as stored, and conditions checked against the types."""

from __future__ import annotations

import pytest
import yaml

from cadenza.core.definition import Definition
from cadenza.core.field_types import FieldType, checked_definition, checked_value
from cadenza.core.lint.fields import field_problems

SCORE = FieldType("score", "number")
STAGE = FieldType("stage", "choice", ("Lead", "Customer"))
RENEWAL = FieldType("renewal", "date")
TYPES = {f.name: f for f in (SCORE, STAGE, RENEWAL)}


def test_values_are_stored_as_their_type_says() -> None:
    assert checked_value(SCORE, "1,200") == 1200
    assert checked_value(SCORE, "2.5") == 2.5
    assert checked_value(STAGE, " customer ") == "Customer"
    assert checked_value(RENEWAL, "2027-03-01T10:00:00Z") == "2027-03-01"
    assert checked_value(SCORE, "") is None  # a blank clears whatever the type
    for field, wrong in ((SCORE, "lots"), (SCORE, True), (STAGE, "VIP"), (RENEWAL, "03/01")):
        with pytest.raises(ValueError):
            checked_value(field, wrong)


def test_a_definition_is_refused_with_what_is_wrong() -> None:
    assert checked_definition("tier", "choice", ["A", "B", "A"]).choices == ("A", "B")
    for name, kind, choices, words in (
        ("tier", "choice", None, "needs its choices"),
        ("tier", "colour", None, "kind 'colour'"),
        ("bad name", "text", None, "letters, digits or _"),
        ("score", "number", ["1"], "only a choice field"),
    ):
        with pytest.raises(ValueError, match=words):
            checked_definition(name, kind, choices)


TEXT = """\
name: Typed
senders: {email: sales@example.com}
exit:
  when: {field: fields.stage, op: in, value: [Customer, Partner]}
steps:
  - key: hello
    action: email
    when: {not: {field: fields.region, op: eq, value: west}}
    subject: Hi
    body: Hello
  - key: check
    action: branch
    branches:
      - {when: {field: fields.renewal, op: lt, value: "2027-01-01"}, to: hello}
      - {when: {field: fields.score, op: exists}, to: hello}
"""


def test_conditions_naming_undefined_or_mistyped_fields_are_found_at_their_line() -> None:
    definition = Definition.model_validate(yaml.safe_load(TEXT))
    problems = [str(p) for p in field_problems(definition, TEXT, "t.yaml", TYPES)]
    assert problems == [
        "t.yaml:4:46: exit.when.value: fields.stage is a choice field: "
        "'Partner' is not one of Lead, Customer",
        "t.yaml:8:25: steps[0].when.not.field: no custom field 'region' is defined "
        "(renewal, score, stage)",
    ]
