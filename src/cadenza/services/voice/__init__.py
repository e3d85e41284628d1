"""Voice: the calls dialer steps and the power dialer place, their TwiML flows, their logs."""

from __future__ import annotations
