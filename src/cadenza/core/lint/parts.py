"""A definition that did not validate, validated part by part so that lint can go on.

Pydantic stops at the definition: one bad step would hide every problem of the others. Each
step is validated on its own, and so are the senders and the exit rules; the template and
step rules then run on what parsed. Step keys and route targets are plain strings in the raw
data, which every step has even when it did not parse: duplicate keys and routes to missing
steps are reported from there. The rest of the graph (reachability, loops, day order) is
only checked when every step parsed, since a step that did not parse has unknown routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from cadenza.core.definition import Condition, Definition, ExitRules, Senders, Step
from cadenza.core.lint.graph import Report, keys, step_rules, unknown_step
from cadenza.core.lint.yamlmap import Path, SourceMap
from cadenza.errors import Problem


@dataclass(frozen=True)
class Parts:
    """What of a definition parsed: its steps by position, senders and exit condition."""

    steps: dict[int, Step]
    raw_steps: list[Any]
    senders: Senders | None  # None: they did not parse (and were reported)
    exit_when: Condition | None
    complete: bool  # every step parsed: the whole graph can be checked

    @classmethod
    def of(cls, definition: Definition) -> Parts:
        steps = dict(enumerate(definition.steps))
        return cls(steps, [], definition.senders, definition.exit.when, complete=True)


_Part = TypeVar("_Part", Senders, ExitRules)


@cache
def _step_adapter() -> TypeAdapter[Any]:
    # Built on first use, like the models' own validators: only lint of a broken file needs it.
    return TypeAdapter(Step)


def parts(data: dict[str, Any]) -> Parts:
    """Validate each part of a definition that failed as a whole."""
    written = data.get("steps")
    raw_steps: list[Any] = written if isinstance(written, list) else []
    steps: dict[int, Step] = {}
    for index, raw in enumerate(raw_steps):
        try:
            steps[index] = _step_adapter().validate_python(raw)
        except ValidationError:
            continue  # reported with the whole definition's errors
    senders = _valid(Senders, data.get("senders", {}))
    exit_rules = _valid(ExitRules, data.get("exit", {}))
    complete = bool(raw_steps) and len(steps) == len(raw_steps)
    exit_when = exit_rules.when if exit_rules is not None else None
    return Parts(steps, raw_steps, senders, exit_when, complete)


def _valid(model: type[_Part], value: Any) -> _Part | None:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def partial_graph_problems(found: Parts, source: SourceMap, file: str) -> list[Problem]:
    """What is certain about the graph of steps that did not all parse, and each step's rules."""
    report = Report(source, file)
    written = (
        (index, raw["key"])
        for index, raw in enumerate(found.raw_steps)
        if isinstance(raw, dict) and isinstance(raw.get("key"), str)
    )
    known = keys(written, report)
    for index, raw in enumerate(found.raw_steps):
        for path, target in _routes(index, raw):
            if isinstance(target, str) and target != "next" and target not in known:
                unknown_step(path, target, known, report)
    step_rules(found.steps, found.exit_when, found.senders, known, report)
    return report.problems


def _routes(index: int, raw: Any) -> Iterator[tuple[Path, Any]]:
    """The routes a raw step writes (outcomes, wait_for routes, branches) and where."""
    if not isinstance(raw, dict):
        return
    here: Path = ("steps", index)
    for field in ("outcomes", "routes"):
        table = raw.get(field)
        for name, route in table.items() if isinstance(table, dict) else ():
            yield (*here, field, name), route
    branches = raw.get("branches")
    for number, case in enumerate(branches if isinstance(branches, list) else []):
        if isinstance(case, dict):
            yield (*here, "branches", number, "to"), case.get("to")
    yield (*here, "otherwise"), raw.get("otherwise")
