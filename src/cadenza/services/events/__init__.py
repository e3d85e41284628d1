"""Events arriving for a contact: recorded in history, applied to the contact, its
enrollments and the triggers of active sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.events.propagation import propagate as propagate
    from cadenza.services.events.propagation import settle as settle
    from cadenza.services.events.propagation import written_later as written_later
    from cadenza.services.events.recording import Incoming as Incoming
    from cadenza.services.events.recording import contacts_created as contacts_created
    from cadenza.services.events.recording import record_event as record_event
    from cadenza.services.events.recording import record_events as record_events
else:
    __getattr__, __dir__ = exports(__name__)
