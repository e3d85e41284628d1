"""The sequence-as-code model (DESIGN.md section 4), parsed and validated with pydantic v2.

This package checks the shape of a definition and each field on its own. Checks that look at
the whole step graph or at templates live in `core.lint`, which reports every problem at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.core.definition.base import STEP_KEY as STEP_KEY
    from cadenza.core.definition.base import Channel as Channel
    from cadenza.core.definition.base import LocalTime as LocalTime
    from cadenza.core.definition.base import Model as Model
    from cadenza.core.definition.base import Outcome as Outcome
    from cadenza.core.definition.base import Weekday as Weekday
    from cadenza.core.definition.conditions import AllCondition as AllCondition
    from cadenza.core.definition.conditions import AnyCondition as AnyCondition
    from cadenza.core.definition.conditions import Condition as Condition
    from cadenza.core.definition.conditions import EventCondition as EventCondition
    from cadenza.core.definition.conditions import FieldCondition as FieldCondition
    from cadenza.core.definition.conditions import FieldOp as FieldOp
    from cadenza.core.definition.conditions import NotCondition as NotCondition
    from cadenza.core.definition.conditions import TagCondition as TagCondition
    from cadenza.core.definition.schedule import Limits as Limits
    from cadenza.core.definition.schedule import Schedule as Schedule
    from cadenza.core.definition.sequence import Audience as Audience
    from cadenza.core.definition.sequence import Definition as Definition
    from cadenza.core.definition.sequence import EnrollmentPolicy as EnrollmentPolicy
    from cadenza.core.definition.sequence import ExitEvent as ExitEvent
    from cadenza.core.definition.sequence import ExitRules as ExitRules
    from cadenza.core.definition.sequence import Senders as Senders
    from cadenza.core.definition.sequence import Sharing as Sharing
    from cadenza.core.definition.sequence import Trigger as Trigger
    from cadenza.core.definition.sequence import TriggerEvent as TriggerEvent
    from cadenza.core.definition.sequence import uses_events as uses_events
    from cadenza.core.definition.steps import ACTIONS as ACTIONS
    from cadenza.core.definition.steps import ASSIGNEE_RULE as ASSIGNEE_RULE
    from cadenza.core.definition.steps import AUTOMATIC_MESSAGES as AUTOMATIC_MESSAGES
    from cadenza.core.definition.steps import CALL_ACTIONS as CALL_ACTIONS
    from cadenza.core.definition.steps import CALL_OUTCOMES as CALL_OUTCOMES
    from cadenza.core.definition.steps import CONTACT_CHANGES as CONTACT_CHANGES
    from cadenza.core.definition.steps import CONTROL_ACTIONS as CONTROL_ACTIONS
    from cadenza.core.definition.steps import DIALER_ACTIONS as DIALER_ACTIONS
    from cadenza.core.definition.steps import MANUAL_ACTIONS as MANUAL_ACTIONS
    from cadenza.core.definition.steps import POWER_DIALER_LIST as POWER_DIALER_LIST
    from cadenza.core.definition.steps import TASK_OUTCOMES as TASK_OUTCOMES
    from cadenza.core.definition.steps import AddLineStep as AddLineStep
    from cadenza.core.definition.steps import AddTagStep as AddTagStep
    from cadenza.core.definition.steps import AddToDialerStep as AddToDialerStep
    from cadenza.core.definition.steps import BranchCase as BranchCase
    from cadenza.core.definition.steps import BranchStep as BranchStep
    from cadenza.core.definition.steps import CallStep as CallStep
    from cadenza.core.definition.steps import DialerStepBase as DialerStepBase
    from cadenza.core.definition.steps import EmailStep as EmailStep
    from cadenza.core.definition.steps import EndRoute as EndRoute
    from cadenza.core.definition.steps import EndStep as EndStep
    from cadenza.core.definition.steps import EnrollStep as EnrollStep
    from cadenza.core.definition.steps import LinkedinStep as LinkedinStep
    from cadenza.core.definition.steps import ManualEmailStep as ManualEmailStep
    from cadenza.core.definition.steps import ManualSmsStep as ManualSmsStep
    from cadenza.core.definition.steps import ManualStepBase as ManualStepBase
    from cadenza.core.definition.steps import MarkDncStep as MarkDncStep
    from cadenza.core.definition.steps import MmsStep as MmsStep
    from cadenza.core.definition.steps import NotifyStep as NotifyStep
    from cadenza.core.definition.steps import PowerDialerStep as PowerDialerStep
    from cadenza.core.definition.steps import PreviewDialerStep as PreviewDialerStep
    from cadenza.core.definition.steps import ProgressiveDialerStep as ProgressiveDialerStep
    from cadenza.core.definition.steps import RemoveFromDialerStep as RemoveFromDialerStep
    from cadenza.core.definition.steps import RemoveTagStep as RemoveTagStep
    from cadenza.core.definition.steps import RinglessVoicemailStep as RinglessVoicemailStep
    from cadenza.core.definition.steps import Route as Route
    from cadenza.core.definition.steps import SetDispositionStep as SetDispositionStep
    from cadenza.core.definition.steps import SetFieldStep as SetFieldStep
    from cadenza.core.definition.steps import SetOwnerStep as SetOwnerStep
    from cadenza.core.definition.steps import SmsStep as SmsStep
    from cadenza.core.definition.steps import Step as Step
    from cadenza.core.definition.steps import StepBase as StepBase
    from cadenza.core.definition.steps import TaskStep as TaskStep
    from cadenza.core.definition.steps import Tracking as Tracking
    from cadenza.core.definition.steps import UnenrollStep as UnenrollStep
    from cadenza.core.definition.steps import Variant as Variant
    from cadenza.core.definition.steps import VoicemailStep as VoicemailStep
    from cadenza.core.definition.steps import WaitForStep as WaitForStep
    from cadenza.core.definition.steps import WebhookStep as WebhookStep
    from cadenza.core.definition.steps import Winner as Winner
    from cadenza.core.definition.waits import Duration as Duration
    from cadenza.core.definition.waits import Wait as Wait
    from cadenza.core.definition.waits import WaitBusinessDays as WaitBusinessDays
    from cadenza.core.definition.waits import WaitDayAt as WaitDayAt
    from cadenza.core.definition.waits import WaitDaysAt as WaitDaysAt
    from cadenza.core.definition.waits import WaitElapsed as WaitElapsed
else:
    __getattr__, __dir__ = exports(__name__)
