"""When an enrollment must leave its sequence: the exit checks of DESIGN.md section 5.

A flag exits a sequence only when the sequence's exit rules name the flag's exit; without
`exit.on` a sequence exits on a reply, on do-not-contact, and on the opt-outs of the
channels its steps reach (an email-only sequence goes on after a STOP: texting was never
its business, and its emails are still wanted).
"""

from __future__ import annotations

from cadenza.core import reach
from cadenza.core.conditions import describe, evaluate
from cadenza.core.decisions import EnrollmentState
from cadenza.core.definition import Definition
from cadenza.core.events import EventRecord
from cadenza.core.machine.situation import Situation

ALWAYS = ("replied", "dnc")


# Per definition object (immutable once loaded, and few); the entry keeps its definition, so
# that its id cannot be reused meanwhile. Hashing a definition would walk all of it.
_exits: dict[int, tuple[Definition, frozenset[str]]] = {}


def exit_events(definition: Definition) -> frozenset[str]:
    """The exit names this sequence leaves on: `exit.on`, or the default for its channels."""
    found = _exits.get(id(definition))
    if found is not None and found[0] is definition:
        return found[1]
    written = definition.exit.on
    names: set[str] = set(ALWAYS)
    if written is not None:
        names = set(written)
    else:
        for step in definition.steps:
            names.update(reach.FLAGS[flag].exit for flag in reach.of(step.action).blocked_by)
    if any(getattr(step, "remove_if_answered", False) for step in definition.steps):
        names.add("call_answered")  # a dialer step's "remove lead if they answer"
    if len(_exits) >= 4096:
        _exits.clear()
    _exits[id(definition)] = (definition, frozenset(names))
    return frozenset(names)


def exit_reason(sit: Situation, state: EnrollmentState) -> str | None:
    """Why the enrollment must exit before running its due step, if it must."""
    if sit.sequence_status == "ended":
        return "the sequence was ended"
    end = sit.definition.schedule.end
    if end is not None and sit.now >= end:
        return f"past the sequence's end ({end.isoformat()})"
    exits = exit_events(sit.definition)
    if reach.any_flag(sit.contact):
        name = reach.flag_exits(sit.contact, exits)
        if name is not None:
            return f"contact is {name.replace('_', ' ')}"
    for event in sit.events:
        if event.time >= state.enrolled_at and not exits.isdisjoint(reach.exit_names(event.type)):
            return f"{event.type} at {event.time.isoformat()}"
    return exit_when(sit)


def exit_when(sit: Situation) -> str | None:
    """The exit condition's reason when it holds."""
    when = sit.definition.exit.when
    if when is not None and evaluate(when, sit.contact, sit.events, sit.now):
        return f"exit condition met: {describe(when)}"
    return None


def exit_reason_for_event(sit: Situation, event: EventRecord) -> str | None:
    """Why an arriving event makes the enrollment exit, if it does."""
    name = "dnc" if event.type == "dnc_changed" and event.data.get("dnc") else event.type
    if not exit_events(sit.definition).isdisjoint(reach.exit_names(name)):
        return f"{name} at {event.time.isoformat()}"
    return None
