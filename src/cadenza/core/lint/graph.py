"""Checks over a parsed definition's step graph: keys, routes, reachability, loops, waits.

A step leads to the steps its routes name. It also falls through to the next step when it
can be skipped (it has a `when`), when it is an automatic step, or when it is a manual step
created as a reminder. `end` never falls through.

The rules of one step (an assignee, a sender, a webhook URL, known events) need only that
step and the step keys, so they also run on the steps of a definition that did not parse.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from cadenza.core import reach
from cadenza.core.definition import (
    AllCondition,
    AnyCondition,
    BranchStep,
    Condition,
    EndRoute,
    EndStep,
    EventCondition,
    ManualStepBase,
    NotCondition,
    Route,
    Senders,
    Step,
    WaitBusinessDays,
    WaitDayAt,
    WaitDaysAt,
    WaitForStep,
    WebhookStep,
)
from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.core.lint.model import display
from cadenza.core.lint.yamlmap import Path, SourceMap
from cadenza.errors import Problem

KNOWN_EVENTS = CONTACT_EVENTS | ENROLLMENT_EVENTS
END = -1
ROUTES = "next, a step key, or {end: positive|negative|neutral}"
_ASSIGNEES = "initiator, contact_owner, company_owner, user:<email> or round_robin:<group>"


@dataclass(frozen=True)
class Edge:
    source: int
    route: Route | None
    path: Path  # where the route is written (the step itself for a default route)


class Report:
    """Problems found, each located at a path of the definition."""

    def __init__(self, source: SourceMap, file: str) -> None:
        self.source, self.file, self.problems = source, file, list[Problem]()

    def at(self, path: Path, message: str, *, key: bool = False) -> None:
        mark = self.source.key_at(path) if key else self.source.at(path)
        self.problems.append(Problem(self.file, mark.line, mark.col, f"{display(path)}: {message}"))


def graph_problems(
    steps: Sequence[Step],
    exit_when: Condition | None,
    senders: Senders | None,
    source: SourceMap,
    file: str,
) -> list[Problem]:
    """Every problem of the step graph (keys, routes, reachability, loops, waits, rules)."""
    report = Report(source, file)
    known = keys(enumerate(step.key for step in steps), report)
    targets = _targets(steps, known, report)
    _unreachable(steps, targets, report)
    _instant_loops(steps, targets, report)
    _day_order(steps, targets, report)
    step_rules(dict(enumerate(steps)), exit_when, senders, known, report)
    return report.problems


def keys(written: Iterable[tuple[int, str]], report: Report) -> dict[str, int]:
    """Each step key and the step it names (the first); a repeated key is reported."""
    found: dict[str, int] = {}
    for index, key in written:
        if key in found:
            first = report.source.at(("steps", found[key], "key")).line
            report.at(
                ("steps", index, "key"), f"duplicate step key {key!r} (first on line {first})"
            )
        else:
            found[key] = index
    return found


def edges(index: int, step: Step) -> list[Edge]:
    """The routes out of a step, falling through included (as a `next` route)."""
    here: Path = ("steps", index)
    found = [Edge(index, "next", (*here, "when"))] if step.when is not None else []
    if isinstance(step, EndStep):
        return found
    if isinstance(step, ManualStepBase) and not step.reminder:
        written = step.outcomes is not None
        return found + [
            Edge(index, route, (*here, "outcomes", name) if written else here)
            for name, route in step.outcome_routes().items()
        ]
    if isinstance(step, WaitForStep):
        return found + [
            Edge(
                index,
                step.route_for(event),
                (*here, "routes", event) if event in step.routes else here,
            )
            for event in [*step.events, "timeout"]
        ]
    if isinstance(step, BranchStep):
        cases = [
            Edge(index, c.to, (*here, "branches", n, "to")) for n, c in enumerate(step.branches)
        ]
        return [*found, *cases, Edge(index, step.otherwise, (*here, "otherwise"))]
    return [*found, Edge(index, "next", here)]


def _targets(steps: Sequence[Step], keys: dict[str, int], report: Report) -> dict[int, set[int]]:
    """Each step's successors (END for the end of the sequence); unknown keys are reported."""
    last = len(steps) - 1
    targets: dict[int, set[int]] = {}
    for index, step in enumerate(steps):
        targets[index] = set()
        for edge in edges(index, step):
            if edge.route is None or isinstance(edge.route, EndRoute):
                continue
            if edge.route == "next":
                targets[index].add(index + 1 if index < last else END)
            elif edge.route in keys:
                targets[index].add(keys[edge.route])
            else:
                unknown_step(edge.path, edge.route, keys, report)
    return targets


def unknown_step(path: Path, key: str, keys: Mapping[str, int], report: Report) -> None:
    """Report a step key that names no step, with the closest key or the list of them."""
    report.at(path, f"unknown step {key!r}{_suggest(key, keys)}")


def _suggest(word: str, keys: Mapping[str, int]) -> str:
    close = difflib.get_close_matches(word, list(keys), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (steps are: {', '.join(keys)})"


def _reachable(targets: dict[int, set[int]]) -> set[int]:
    seen, todo = {0}, [0]
    while todo:
        for nxt in targets[todo.pop()]:
            if nxt != END and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _unreachable(steps: Sequence[Step], targets: dict[int, set[int]], report: Report) -> None:
    seen = _reachable(targets)
    for index, step in enumerate(steps):
        if index not in seen:
            report.at(
                ("steps", index),
                f"step {step.key!r} is unreachable: no route leads to it and the step "
                "before it never falls through",
            )


def _instant(step: Step) -> bool:
    """True when the step neither waits nor blocks: a loop of such steps would spin."""
    if isinstance(step, WaitForStep) or (isinstance(step, ManualStepBase) and not step.reminder):
        return False
    wait = step.wait
    # A day-N wait already passed on the second lap, and a zero wait is no wait.
    return (
        wait == "none"
        or isinstance(wait, WaitDayAt)
        or (isinstance(wait, WaitBusinessDays) and wait.business_days == 0)
        or (isinstance(wait, WaitDaysAt) and wait.days == 0)
    )


def _instant_loops(steps: Sequence[Step], targets: dict[int, set[int]], report: Report) -> None:
    instant = {i for i, step in enumerate(steps) if _instant(step)}
    graph = {i: {t for t in targets[i] if t in instant} for i in instant}
    for component in _cycles(graph):
        names = [steps[i].key for i in sorted(component)]
        loop = " → ".join([*names, names[0]])
        report.at(
            ("steps", min(component)),
            f"loop with no wait in it: {loop} (every step in it runs at once; add a wait)",
        )


def _cycles(graph: dict[int, set[int]]) -> list[set[int]]:
    """Strongly connected components that contain a cycle (Tarjan's algorithm, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    found: list[set[int]] = []
    for root in sorted(graph):
        if root not in index:
            _strongconnect(root, graph, index, low, stack, found)
    return found


def _strongconnect(
    root: int,
    graph: dict[int, set[int]],
    index: dict[int, int],
    low: dict[int, int],
    stack: list[int],
    found: list[set[int]],
) -> None:
    work: list[tuple[int, Iterator[int]]] = [(root, iter(sorted(graph[root])))]
    index[root] = low[root] = len(index)
    stack.append(root)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is not None:
            if child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
            component: set[int] = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(component)


def _day_order(steps: Sequence[Step], targets: dict[int, set[int]], report: Report) -> None:
    """A `{day: N}` wait earlier than a day wait before it on some path fires at once."""
    latest: dict[int, tuple[int, time, int]] = {}  # step -> (day, at, step that set it)
    for index, step in enumerate(steps):
        before = latest.get(index)
        wait = step.wait
        if isinstance(wait, WaitDayAt) and before and (wait.day, wait.at) < before[:2]:
            earlier = steps[before[2]].key
            report.at(
                ("steps", index, "wait"),
                f"day {wait.day} at {wait.at:%H:%M} comes after day {before[0]} at "
                f"{before[1]:%H:%M} (step {earlier!r}): day waits count from enrollment, "
                "so this step would fire at once",
            )
        mine = (wait.day, wait.at, index) if isinstance(wait, WaitDayAt) else None
        carried = max(filter(None, [before, mine]), default=None)
        for target in targets[index]:
            if target > index and carried and (target not in latest or latest[target] < carried):
                latest[target] = carried


def step_rules(
    steps: Mapping[int, Step],
    exit_when: Condition | None,
    senders: Senders | None,
    keys: Mapping[str, int],
    report: Report,
) -> None:
    """The rules each step (and each condition) must follow on its own."""
    for index, step in steps.items():
        _step_rules(index, step, report)
        if senders is not None:
            _sender_rule(index, step, senders, report)
    for condition, path in _conditions(steps, exit_when):
        _condition_rules(condition, path, keys, report)


def _step_rules(index: int, step: Step, report: Report) -> None:
    here: Path = ("steps", index)
    if isinstance(step, ManualStepBase):
        if step.assignee is None:
            report.at(here, f"a {step.action} step needs an assignee: {_ASSIGNEES}")
        if step.outcomes is not None and not step.outcomes:
            report.at((*here, "outcomes"), "a manual step needs at least one outcome")
        for name, route in (step.outcomes or {}).items():
            if route is None:
                report.at(
                    (*here, "outcomes", name),
                    f"outcome has no route (use {ROUTES})",
                    key=True,
                )
    if isinstance(step, WaitForStep):
        _wait_for_rules(step, here, report)
    if isinstance(step, WebhookStep) and not step.url.lower().startswith(("http://", "https://")):
        report.at((*here, "url"), f"webhook URL {step.url!r} must start with http:// or https://")


def _sender_rule(index: int, step: Step, senders: Senders, report: Report) -> None:
    """A message the dispatcher sends needs a sender, else every enrollment stops there."""
    kind = reach.of(step.action).sender
    if not reach.of(step.action).sent or kind is None:
        return
    if getattr(step, "sender", None) or getattr(senders, kind):
        return
    if kind == "email" and senders.email_rotation:
        return
    report.at(
        ("steps", index),
        f"step {step.key!r} ({step.action}) has no {kind} sender: "
        f"set senders.{kind} or the step's sender",
    )


def _wait_for_rules(step: WaitForStep, here: Path, report: Report) -> None:
    for position, event in enumerate(step.events):
        if event not in KNOWN_EVENTS:
            report.at((*here, "events", position), f"unknown event {event!r}{_known(event)}")
    for event in step.routes:
        if event != "timeout" and event not in step.events:
            report.at(
                (*here, "routes", event),
                f"route for {event!r}, which this step does not wait for "
                f"(events: {', '.join(step.events)}; or timeout)",
                key=True,
            )


def _known(event: str) -> str:
    close = difflib.get_close_matches(event, sorted(KNOWN_EVENTS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _conditions(
    steps: Mapping[int, Step], exit_when: Condition | None
) -> Iterator[tuple[Condition, Path]]:
    if exit_when is not None:
        yield from _walk(exit_when, ("exit", "when"))
    for index, step in steps.items():
        if step.when is not None:
            yield from _walk(step.when, ("steps", index, "when"))
        if isinstance(step, BranchStep):
            for number, case in enumerate(step.branches):
                yield from _walk(case.when, ("steps", index, "branches", number, "when"))


def _walk(condition: Condition, path: Path) -> Iterator[tuple[Condition, Path]]:
    yield condition, path
    if isinstance(condition, AllCondition | AnyCondition):
        word = "all" if isinstance(condition, AllCondition) else "any"
        parts = condition.all if isinstance(condition, AllCondition) else condition.any
        for position, part in enumerate(parts):
            yield from _walk(part, (*path, word, position))
    elif isinstance(condition, NotCondition):
        yield from _walk(condition.not_, (*path, "not"))


def _condition_rules(
    condition: Condition, path: Path, keys: Mapping[str, int], report: Report
) -> None:
    if not isinstance(condition, EventCondition):
        return
    if condition.event not in KNOWN_EVENTS:
        report.at((*path, "event"), f"unknown event {condition.event!r}{_known(condition.event)}")
    if condition.step is not None and condition.step not in keys:
        unknown_step((*path, "step"), condition.step, keys, report)
