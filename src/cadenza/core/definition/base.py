"""Shared pieces of the definition model: the frozen base model, local times, words."""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

STEP_KEY = r"^[a-z0-9][a-z0-9_\-]*$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Outcome = Literal["positive", "negative", "neutral"]
Channel = Literal["email", "sms", "mms", "call", "voicemail", "none"]


class Model(BaseModel):
    # Validators are built on first use: the worker only ever validates whole definitions,
    # so the fifty part-models never build (and keep) validators of their own there.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, str):
        # ":00" seconds are accepted so that a stored definition, whose times
        # model_dump() writes as HH:MM:SS, validates again.
        if not re.fullmatch(r"\d{1,2}:\d{2}(:00)?", value.strip()):
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        hours, minutes = (int(p) for p in value.strip().split(":")[:2])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59)")
        return time(hours, minutes)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 10:00 as the sexagesimal number 600.
        return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
    return value


class LocalTime(Model):
    """A window of local time, open inclusive, close exclusive, within one day."""

    open: time
    close: time

    _hhmm = field_validator("open", "close", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _same_day(self) -> LocalTime:
        if self.close <= self.open:
            raise ValueError(
                f"closing time {self.close:%H:%M} is not after opening time {self.open:%H:%M}: "
                "hours that cross midnight are not supported"
            )
        return self
