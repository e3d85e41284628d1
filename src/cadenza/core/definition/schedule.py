"""The send policy: time zone, days, hours, holidays, begin and end; the throttle."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cadenza.core.definition.base import LocalTime, Model, Weekday
from cadenza.core.zones import is_holiday_calendar, is_timezone


class Schedule(Model):
    """When steps may fire: the send policy."""

    timezone: str = "contact"
    fallback_timezone: str = "America/New_York"
    days: Literal["every_day", "business"] | list[Weekday] = "business"
    hours: LocalTime | None = None
    holidays: str = "us-sales"
    extra_holidays: list[date] = Field(default_factory=list)
    run_on_holidays: bool = False
    begin: datetime | None = None
    end: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value != "contact" and not is_timezone(value):
            raise ValueError(f"unknown time zone {value!r} (use 'contact' or an IANA name)")
        return value

    @field_validator("fallback_timezone")
    @classmethod
    def _fallback(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @field_validator("holidays")
    @classmethod
    def _calendar(cls, value: str) -> str:
        if not is_holiday_calendar(value):
            raise ValueError(
                f"unknown holiday calendar {value!r} "
                "(use us-sales, none, or a country code such as US, GB or CA-ON)"
            )
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("days must name at least one weekday")
        return value

    @field_validator("begin", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("begin and end need a UTC offset, e.g. 2026-12-01T08:00:00-05:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.begin and self.end and self.end <= self.begin:
            raise ValueError("end must be after begin")
        return self


class Limits(Model):
    throttle_per_minute: int | None = Field(default=None, gt=0)
