"""Durations and waits: `none`, elapsed time, business days, days at, day N at."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from cadenza.core.definition.base import Model, _parse_hhmm


class Duration(Model):
    """An elapsed time: any of minutes, hours, days (added together)."""

    minutes: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Duration:
        if self.minutes == self.hours == self.days == 0:
            raise ValueError("a duration needs minutes, hours or days greater than 0")
        return self

    @property
    def total_minutes(self) -> int:
        return self.minutes + 60 * self.hours + 1440 * self.days

    def in_words(self) -> str:
        """`{days: 1, hours: 2}` -> "1 day 2 hours" (the one wording of a duration)."""
        parts = [(self.days, "day"), (self.hours, "hour"), (self.minutes, "minute")]
        return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n)


class WaitElapsed(Duration):
    """`{minutes|hours|days: N}`: elapsed time since the previous step."""


class WaitBusinessDays(Model):
    """`{business_days: N}`: the same local time N business days later."""

    business_days: int = Field(ge=0)


class WaitDaysAt(Model):
    """`{days: N, at: "HH:MM"}`: N calendar days later, at that local time."""

    days: int = Field(ge=0)
    at: time

    _hhmm = field_validator("at", mode="before")(_parse_hhmm)


class WaitDayAt(Model):
    """`{day: N, at: "HH:MM"}`: on day N of the enrollment (day 1 = enrollment's local date)."""

    day: int = Field(ge=1)
    at: time

    _hhmm = field_validator("at", mode="before")(_parse_hhmm)


def _wait_kind(value: Any) -> str:
    if value is None or value == "none":
        return "none"
    if isinstance(value, dict):
        if "business_days" in value:
            return "business_days"
        if "day" in value:
            return "day_at"
        if "at" in value:
            return "days_at"
        return "elapsed"
    if isinstance(value, BaseModel):
        return {
            WaitBusinessDays: "business_days",
            WaitDayAt: "day_at",
            WaitDaysAt: "days_at",
        }.get(type(value), "elapsed")
    return "none"


Wait = Annotated[
    Annotated[Literal["none"], Tag("none")]
    | Annotated[WaitElapsed, Tag("elapsed")]
    | Annotated[WaitBusinessDays, Tag("business_days")]
    | Annotated[WaitDaysAt, Tag("days_at")]
    | Annotated[WaitDayAt, Tag("day_at")],
    Discriminator(_wait_kind),
]
