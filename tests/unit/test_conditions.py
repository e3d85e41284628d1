"""Conditions over fields, tags and events, and their descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from cadenza.core.conditions import describe, evaluate
from cadenza.core.contact import ContactView
from cadenza.core.definition import Condition
from cadenza.core.events import EventRecord

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CONTACT = ContactView(
    first_name="Ana",
    company="Brightwave",
    disposition="Closed_Won",
    tags=["web-lead", "VIP"],
    fields={
        "employees": "250",
        "score": 7.5,
        "renewal": "2026-06-01",
        "skills": ["python", "go"],
        "active": "yes",
    },
)
EVENTS = [
    EventRecord("opened", NOW - timedelta(days=5), step="intro"),
    EventRecord("clicked", NOW - timedelta(hours=2), step="follow_up"),
    EventRecord("replied", NOW + timedelta(hours=1)),  # not yet: simulations pass the future
]
_adapter: TypeAdapter[Condition] = TypeAdapter(Condition)


def check(raw: dict[str, Any], contact: ContactView = CONTACT) -> bool:
    return evaluate(_adapter.validate_python(raw), contact, EVENTS, NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"field": "disposition", "op": "eq", "value": "closed_won"}, True),
        ({"field": "disposition", "value": " CLOSED_WON "}, True),
        ({"field": "disposition", "op": "ne", "value": "closed_won"}, False),
        ({"field": "disposition", "op": "in", "value": ["new", "closed_won"]}, True),
        ({"field": "disposition", "op": "not_in", "value": ["new"]}, True),
        ({"field": "company", "op": "contains", "value": "wave"}, True),
        ({"field": "employees", "op": "gt", "value": 100}, True),
        ({"field": "employees", "op": "lte", "value": "99"}, False),
        ({"field": "employees", "op": "eq", "value": 250}, True),
        ({"field": "score", "op": "gte", "value": 7.5}, True),
        ({"field": "score", "op": "lt", "value": "10"}, True),
        ({"field": "renewal", "op": "lt", "value": "2026-07-01"}, True),
        ({"field": "renewal", "op": "gt", "value": 5}, False),
        ({"field": "company", "op": "gt", "value": 5}, False),
        ({"field": "skills", "op": "contains", "value": "Go"}, True),
        ({"field": "skills", "op": "eq", "value": "python"}, True),
        ({"field": "fields.active", "op": "eq", "value": True}, True),
        ({"field": "employees", "op": "exists"}, True),
        ({"field": "employees", "op": "exists", "value": False}, False),
    ],
)
def test_field_ops(raw: dict[str, Any], expected: bool) -> None:
    assert check(raw) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", "x", False),
        ("eq", None, True),
        ("ne", "x", True),
        ("in", ["x"], False),
        ("not_in", ["x"], True),
        ("contains", "x", False),
        ("gt", 1, False),
        ("lte", 1, False),
        ("exists", None, False),
        ("exists", False, True),
    ],
)
def test_a_missing_field(op: str, value: Any, expected: bool) -> None:
    for field in ("lead_source", "fields.nope", "nope"):
        assert check({"field": field, "op": op, "value": value}) is expected


def test_an_empty_string_is_missing() -> None:
    contact = CONTACT.model_copy(update={"company": ""})
    assert check({"field": "company", "op": "exists"}, contact) is False


def test_tags_are_case_insensitive() -> None:
    assert check({"tag": "vip"}) is True
    assert check({"tag": "webinar"}) is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"event": "opened"}, True),
        ({"event": "opened", "step": "intro"}, True),
        ({"event": "opened", "step": "follow_up"}, False),
        ({"event": "opened", "within": {"days": 3}}, False),
        ({"event": "opened", "within": {"days": 5}}, True),
        ({"event": "clicked", "within": {"hours": 3}}, True),
        ({"event": "replied"}, False),
    ],
)
def test_events(raw: dict[str, Any], expected: bool) -> None:
    assert check(raw) is expected


def test_combinations() -> None:
    assert check({"all": [{"tag": "vip"}, {"event": "opened"}]}) is True
    assert check({"all": [{"tag": "vip"}, {"event": "replied"}]}) is False
    assert check({"any": [{"tag": "nope"}, {"event": "clicked"}]}) is True
    assert check({"not": {"event": "replied"}}) is True


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ({"field": "disposition", "op": "eq", "value": "closed_won"}, "disposition eq closed_won"),
        ({"field": "stage", "op": "in", "value": ["a", "b"]}, "stage in [a, b]"),
        ({"field": "phone", "op": "exists"}, "phone exists"),
        ({"field": "phone", "op": "exists", "value": False}, "phone missing"),
        ({"not": {"event": "replied"}}, "not replied"),
        ({"not": {"field": "owner", "op": "exists"}}, "owner missing"),
        ({"tag": "vip"}, "tagged vip"),
        (
            {"event": "opened", "step": "intro", "within": {"days": 3, "hours": 1}},
            "opened on step intro within 3 days 1 hour",
        ),
        (
            {"all": [{"tag": "a"}, {"any": [{"tag": "b"}, {"not": {"tag": "c"}}]}]},
            "tagged a and (tagged b or not tagged c)",
        ),
    ],
)
def test_describe(raw: dict[str, Any], text: str) -> None:
    assert describe(_adapter.validate_python(raw)) == text
