"""Tasks on people's to-do lists: listed, and completed with an outcome."""

from __future__ import annotations

from cadenza.services.tasks.completing import complete_task as complete_task
from cadenza.services.tasks.listing import TaskRow as TaskRow
from cadenza.services.tasks.listing import get_task as get_task
from cadenza.services.tasks.listing import list_tasks as list_tasks
from cadenza.services.tasks.listing import outcome_choices as outcome_choices
from cadenza.services.tasks.listing import remaining_by_sequence as remaining_by_sequence
