"""The transition function (DESIGN.md sections 1 and 5): one pure decision per call.

Given an enrollment's state, its definition, the contact, the events seen and *now*, each entry
point returns a `Decision`: the next state, the effects to apply (outbox messages, contact
changes, tasks) and the history to write. Every change of an enrollment's status is one of
these functions; the worker, people's operations, `cadenza simulate` and the tests all call
them, and none of them reads a clock, a database or the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.core.machine.flow import advance as advance
    from cadenza.core.machine.flow import complete_task as complete_task
    from cadenza.core.machine.flow import enroll as enroll
    from cadenza.core.machine.flow import fail_step as fail_step
    from cadenza.core.machine.flow import on_event as on_event
    from cadenza.core.machine.people import exit as exit
    from cadenza.core.machine.people import migrate as migrate
    from cadenza.core.machine.people import pause as pause
    from cadenza.core.machine.people import remove as remove
    from cadenza.core.machine.people import resume as resume
    from cadenza.core.machine.people import retry as retry
    from cadenza.core.machine.people import skip as skip
    from cadenza.core.machine.people import stop as stop
    from cadenza.core.machine.situation import MAX_STEPS_PER_CALL as MAX_STEPS_PER_CALL
    from cadenza.core.machine.situation import Directory as Directory
    from cadenza.core.machine.situation import Limiter as Limiter
    from cadenza.core.machine.situation import Renderer as Renderer
    from cadenza.core.machine.situation import Situation as Situation
else:
    __getattr__, __dir__ = exports(__name__)
