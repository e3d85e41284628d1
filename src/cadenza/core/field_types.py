"""Typed custom fields: a definition's kind (text, number, date, choice) and its checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cadenza.core.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    FieldCondition,
    NotCondition,
)

KINDS = ("text", "number", "date", "choice")
TEXT_LIMIT = 2000
CHOICES_LIMIT = 200


@dataclass(frozen=True)
class FieldType:
    """What a custom field holds: its kind and, for a choice, the allowed values."""

    name: str
    kind: str
    choices: tuple[str, ...] = ()


def checked_value(field: FieldType, value: Any) -> Any:
    """The value as stored (a number as a number, a date as YYYY-MM-DD); ValueError if wrong.

    None and "" clear a field whatever its kind.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if field.kind == "number":
        return _number(value)
    if field.kind == "date":
        return _date(value).isoformat()
    text = value.strip() if isinstance(value, str) else str(value)
    if field.kind == "choice":
        found = next((c for c in field.choices if c.casefold() == text.casefold()), None)
        if found is None:
            raise ValueError(f"{text!r} is not one of {', '.join(field.choices)}")
        return found
    if len(text) > TEXT_LIMIT:
        raise ValueError(f"longer than {TEXT_LIMIT} characters")
    return text


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip().replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a number")
    return int(number) if number.is_integer() and "." not in text else number


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)") from None


def checked_definition(name: str, kind: str, choices: Any) -> FieldType:
    """A field definition as given by a person; ValueError naming what is wrong."""
    key = name.strip()
    if not key or len(key) > 100 or not key.replace("_", "").isalnum():
        raise ValueError(f"name {name!r}: 1 to 100 letters, digits or _")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if kind != "choice":
        if choices:
            raise ValueError("only a choice field has choices")
        return FieldType(key, kind)
    listed = [str(c).strip() for c in (choices or ()) if str(c).strip()]
    if not listed:
        raise ValueError("a choice field needs its choices")
    if len(listed) > CHOICES_LIMIT or any(len(c) > 200 for c in listed):
        raise ValueError(f"at most {CHOICES_LIMIT} choices of at most 200 characters")
    return FieldType(key, kind, tuple(dict.fromkeys(listed)))


def condition_problems(
    condition: Condition, path: tuple[str | int, ...], fields: Mapping[str, FieldType]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for each `fields.X` a condition names that is undefined or mistyped."""
    if isinstance(condition, AllCondition | AnyCondition):
        word = "all" if isinstance(condition, AllCondition) else "any"
        parts = condition.all if isinstance(condition, AllCondition) else condition.any
        for position, part in enumerate(parts):
            yield from condition_problems(part, (*path, word, position), fields)
        return
    if isinstance(condition, NotCondition):
        yield from condition_problems(condition.not_, (*path, "not"), fields)
        return
    if not isinstance(condition, FieldCondition) or not condition.field.startswith("fields."):
        return
    name = condition.field.removeprefix("fields.")
    field = fields.get(name)
    if field is None:
        known = ", ".join(sorted(fields)) or "none are defined"
        yield (*path, "field"), f"no custom field {name!r} is defined ({known})"
        return
    if condition.op == "exists" or condition.value is None:
        return
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    for value in values:
        if field.kind == "text" or (condition.op == "contains" and field.kind != "number"):
            continue
        try:
            checked_value(field, value)
        except ValueError as exc:
            yield (*path, "value"), f"fields.{name} is a {field.kind} field: {exc}"
