"""Filter conditions as written: field, tag, event, and their all/any/not combinations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from cadenza.core.definition.base import Model
from cadenza.core.definition.waits import Duration

FieldOp = Literal["eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "exists"]


class FieldCondition(Model):
    field: str
    op: FieldOp = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits(self) -> FieldCondition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        return self


class TagCondition(Model):
    tag: str


class EventCondition(Model):
    event: str
    step: str | None = None
    within: Duration | None = None


class AllCondition(Model):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Model):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Model):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not", "tag", "event", "field"):
            if key in value:
                return key
        return None
    kinds: dict[type, str] = {
        AllCondition: "all",
        AnyCondition: "any",
        NotCondition: "not",
        TagCondition: "tag",
        EventCondition: "event",
        FieldCondition: "field",
    }
    return kinds.get(type(value))


Condition = Annotated[
    Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[FieldCondition, Tag("field")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition needs one of: field, tag, event, all, any, not",
    ),
]


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
