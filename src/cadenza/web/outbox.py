"""What was sent: the outbox, the dev mailbox (what arrived) and the SMS sink."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from cadenza.channels.devmail import read_mailbox
from cadenza.channels.sms import read_sink
from cadenza.services import contacts, outbox
from cadenza.services.users import access
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
SHOWN = 500
STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "held")
CHANNELS = ("email", "sms", "mms", "voicemail", "call", "webhook", "notify")
# An invitation or reset in the mailbox is someone else's way in: its token is not shown.
SIGN_IN_LINK = re.compile(r"/(invite|reset)/[\w-]+")


@router.get("/messages")
def messages_page(
    request: Request, viewer: PageViewer, status: str = "", channel: str = ""
) -> Response:
    """Outbox rows the person may see, newest first, filtered by status and channel."""
    with request.app.state.sessions() as session:
        rows = outbox.list_messages(
            session=session,
            status=status or None,
            channel=channel or None,
            limit=SHOWN,
            newest_first=True,
            viewer=viewer,
        )
        names = contacts.contact_names(
            session=session, contact_ids={r["contact_id"] for r in rows if r["contact_id"]}
        )
    context = {
        "messages": rows,
        "names": names,
        "status": status,
        "channel": channel,
        "statuses": STATUSES,
        "channels": CHANNELS,
        "shown": SHOWN,
    }
    return page(request, "messages.html", context)


# The development sinks show what every sequence sent: whoever manages the senders reads them.
SINKS = "manage users, groups, senders and keys"


@router.get("/mailbox")
def mailbox_page(request: Request, viewer: PageViewer) -> Response:
    """The emails the dev SMTP mailbox received, newest first (sign-in links blanked).

    It holds every email sent, whoever's sequence sent it: an administrator's page."""
    access.require(viewer, SINKS)
    folder = request.app.state.settings.dev_mailbox
    entries = read_mailbox(Path(folder), limit=SHOWN) if folder else []
    shown = [replace(entry, text=SIGN_IN_LINK.sub(r"/\1/…", entry.text)) for entry in entries]
    return page(request, "mailbox.html", {"folder": folder, "entries": shown})


@router.get("/texts")
def texts_page(request: Request, viewer: PageViewer) -> Response:
    """The texts the SMS sink recorded, newest first (every text sent: an administrator's)."""
    access.require(viewer, SINKS)
    path = request.app.state.settings.sms_sink_path
    texts = read_sink(Path(path))[::-1][:SHOWN]
    return page(request, "texts.html", {"path": path, "texts": texts})
