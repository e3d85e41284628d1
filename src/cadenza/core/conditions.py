"""Conditions over a contact's fields, tags and events: evaluation and plain-words description.

Comparison rules, chosen to match what a person filtering a CRM expects:
- text compares case-insensitively and ignoring surrounding blanks;
- a number and a numeric string compare as numbers (`"42" gt 7` is true);
- ISO dates and datetimes compare as times; other mixed types are never ordered (false);
- a missing field (absent, None or "") makes every op false except `ne`, `not_in` and
  `exists: false` (and `eq`/`in` against null);
- a list-valued field (tags, multi-selects) matches `eq`/`in`/`contains` when any item does;
- an event counts only when it happened at or before `now` (simulations pass future events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from cadenza.core.contact import ContactView
from cadenza.core.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    Duration,
    EventCondition,
    FieldCondition,
    NotCondition,
    TagCondition,
)
from cadenza.core.events import EventRecord


def evaluate(
    condition: Condition, contact: ContactView, events: Sequence[EventRecord], now: datetime
) -> bool:
    """True when the contact (with the events seen so far) meets the condition at `now`."""
    if type(condition) is TagCondition:  # the worker's commonest question, minus isinstance
        return _has_tag(contact, condition.tag)
    if isinstance(condition, FieldCondition):
        return field_matches(condition, contact.value(condition.field))
    if isinstance(condition, TagCondition):
        return _has_tag(contact, condition.tag)
    if isinstance(condition, EventCondition):
        return _event_seen(condition, events, now)
    if isinstance(condition, AllCondition):
        return all(evaluate(c, contact, events, now) for c in condition.all)
    if isinstance(condition, AnyCondition):
        return any(evaluate(c, contact, events, now) for c in condition.any)
    return not evaluate(condition.not_, contact, events, now)


def _has_tag(contact: ContactView, tag: str) -> bool:
    wanted = _text(tag)
    for held in contact.tags:
        if _text(held) == wanted:
            return True
    return False


def _event_seen(condition: EventCondition, events: Sequence[EventRecord], now: datetime) -> bool:
    since = now - _delta(condition.within) if condition.within else None
    for event in events:
        if event.type != condition.event or event.time > now:
            continue
        if condition.step is not None and event.step != condition.step:
            continue
        if since is None or event.time >= since:
            return True
    return False


def _delta(duration: Duration) -> timedelta:
    return timedelta(minutes=duration.total_minutes)


def field_matches(condition: FieldCondition, actual: Any) -> bool:
    """Apply a field condition's op to the field's value."""
    if condition.op == "exists":
        wanted = True if condition.value is None else bool(condition.value)
        return _present(actual) == wanted
    if not _present(actual):
        return _missing_matches(condition)
    return _OPS[condition.op](actual, condition.value)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _missing_matches(condition: FieldCondition) -> bool:
    value = condition.value
    if condition.op == "eq":
        return value is None
    if condition.op == "ne":
        return value is not None
    if condition.op == "in":
        return None in value
    if condition.op == "not_in":
        return None not in value
    return False


def _text(value: Any) -> str:
    return str(value).strip().casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_equal(item, expected) for item in actual)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return _boolean(actual) is not None and _boolean(actual) == _boolean(expected)
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right
    if expected is None:
        return False
    return _text(actual) == _text(expected)


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    return True if text in ("true", "yes", "1") else False if text in ("false", "no", "0") else None


def _compare(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1 when the two can be ordered, else None."""
    left_n, right_n = _number(actual), _number(expected)
    if left_n is not None and right_n is not None:
        return (left_n > right_n) - (left_n < right_n)
    left_t, right_t = _instant(actual), _instant(expected)
    if left_t is not None and right_t is not None:
        if (left_t.tzinfo is None) != (right_t.tzinfo is None):
            return None  # an aware and a naive time cannot be ordered honestly
        return (left_t > right_t) - (left_t < right_t)
    if isinstance(actual, str) and isinstance(expected, str):
        a, b = _text(actual), _text(expected)
        return (a > b) - (a < b)
    return None


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return any(_text(key) == _text(expected) for key in actual)
    return _text(expected) in _text(actual)


def _ordered(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        result = _compare(actual, expected)
        return result is not None and test(result)

    return check


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "ne": lambda actual, expected: not _equal(actual, expected),
    "in": lambda actual, expected: any(_equal(actual, item) for item in expected),
    "not_in": lambda actual, expected: not any(_equal(actual, item) for item in expected),
    "contains": _contains,
    "gt": _ordered(lambda r: r > 0),
    "gte": _ordered(lambda r: r >= 0),
    "lt": _ordered(lambda r: r < 0),
    "lte": _ordered(lambda r: r <= 0),
}


def describe(condition: Condition) -> str:
    """The condition in plain words, for history reasons ("disposition eq closed_won")."""
    if isinstance(condition, FieldCondition):
        if condition.op == "exists":
            negated = condition.value is not None and not condition.value
            return f"{condition.field} {'missing' if negated else 'exists'}"
        return f"{condition.field} {condition.op} {_show(condition.value)}"
    if isinstance(condition, TagCondition):
        return f"tagged {condition.tag}"
    if isinstance(condition, EventCondition):
        text = condition.event
        if condition.step:
            text += f" on step {condition.step}"
        if condition.within:
            text += f" within {describe_duration(condition.within)}"
        return text
    if isinstance(condition, AllCondition):
        return " and ".join(_grouped(c) for c in condition.all)
    if isinstance(condition, AnyCondition):
        return " or ".join(_grouped(c) for c in condition.any)
    assert isinstance(condition, NotCondition)
    inner = condition.not_
    if isinstance(inner, FieldCondition) and inner.op == "exists":
        flipped = inner.value is not None and not inner.value
        return f"{inner.field} {'exists' if flipped else 'missing'}"
    return f"not {_grouped(inner)}"


def _grouped(condition: Condition) -> str:
    text = describe(condition)
    return f"({text})" if isinstance(condition, AllCondition | AnyCondition) else text


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_duration(duration: Duration) -> str:
    """`{days: 1, hours: 2}` -> "1 day 2 hours"."""
    return duration.in_words()
