"""Senders as managed objects (mailboxes and lines, their caps and users) and capacity:
sequence throttles and the caps of mailboxes and lines, counted in shared rows so that every
worker sees one total."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.senders.configuring import dkim_record as dkim_record
    from cadenza.services.senders.configuring import find_sender as find_sender
    from cadenza.services.senders.configuring import make_dkim as make_dkim
    from cadenza.services.senders.configuring import set_paused as set_paused
    from cadenza.services.senders.configuring import set_provider as set_provider
    from cadenza.services.senders.configuring import set_stagger as set_stagger
    from cadenza.services.senders.configuring import set_warmup as set_warmup
    from cadenza.services.senders.health import health_of as health_of
    from cadenza.services.senders.health import pauses as pauses
    from cadenza.services.senders.limits import Limits as Limits
    from cadenza.services.senders.limits import SequenceLimiter as SequenceLimiter
    from cadenza.services.senders.limits import sender_hold as sender_hold
    from cadenza.services.senders.managing import add_sender as add_sender
    from cadenza.services.senders.managing import assign_sender as assign_sender
    from cadenza.services.senders.managing import assigned_users as assigned_users
    from cadenza.services.senders.managing import change_sender as change_sender
    from cadenza.services.senders.managing import get_sender as get_sender
    from cadenza.services.senders.managing import health_figures as health_figures
    from cadenza.services.senders.managing import list_senders as list_senders
    from cadenza.services.senders.managing import remove_sender as remove_sender
    from cadenza.services.senders.managing import sender_row as sender_row
else:
    __getattr__, __dir__ = exports(__name__)
