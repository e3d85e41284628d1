"""Tasks on people's to-do lists: listed, worked (sent, logged, skipped, moved), completed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.tasks import queue as queue
    from cadenza.services.tasks.completing import complete_task as complete_task
    from cadenza.services.tasks.listing import TaskRow as TaskRow
    from cadenza.services.tasks.listing import get_task as get_task
    from cadenza.services.tasks.listing import list_tasks as list_tasks
    from cadenza.services.tasks.listing import outcome_choices as outcome_choices
    from cadenza.services.tasks.listing import remaining_by_sequence as remaining_by_sequence
    from cadenza.services.tasks.queue import TaskFilter as TaskFilter
    from cadenza.services.tasks.sending import send_manual as send_manual
    from cadenza.services.tasks.working import CALL_RESULTS as CALL_RESULTS
    from cadenza.services.tasks.working import Place as Place
    from cadenza.services.tasks.working import assignee_email as assignee_email
    from cadenza.services.tasks.working import log_call as log_call
    from cadenza.services.tasks.working import place_of as place_of
    from cadenza.services.tasks.working import reschedule_task as reschedule_task
    from cadenza.services.tasks.working import skip_task as skip_task
    from cadenza.services.tasks.working import task_seen as task_seen
else:
    __getattr__, __dir__ = exports(__name__)
