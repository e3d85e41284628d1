"""Senders and capacity: sequence throttles and the per-hour and per-day caps of mailboxes
and lines, counted in shared rows so that every worker sees one total."""

from __future__ import annotations

from cadenza.services.senders.limits import Limits as Limits
from cadenza.services.senders.limits import SequenceLimiter as SequenceLimiter
from cadenza.services.senders.limits import sender_hold as sender_hold
