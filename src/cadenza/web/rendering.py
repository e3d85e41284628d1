"""Templates, display filters, flash messages and redirects shared by every page."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cadenza import __version__

FLASH_COOKIE = "cadenza_flash"
NAVIGATION = (
    ("/", "Sequences"),
    ("/tasks", "Tasks"),
    ("/dialer", "Dialer"),
    ("/contacts", "Contacts"),
    ("/messages", "Outbox"),
    ("/senders", "Senders"),
    ("/mailbox", "Mailbox"),
    ("/texts", "Texts"),
    ("/history", "History"),
    ("/subscriptions", "Subscriptions"),
    ("/reports", "Reports"),
    ("/accounts", "Accounts"),
    ("/views", "Views"),
    ("/lists", "Lists"),
    ("/domains", "Blocked domains"),
)
# Pages only an administrator may open (what every sequence sent): not offered to others.
ADMIN_PAGES = ("/mailbox", "/texts", "/subscriptions")
# Pages for the roles that see reports (managers and administrators).
READER_PAGES = ("/reports", "/domains")  # the blocked domains: the same roles keep them

# Words that title-casing would get wrong.
LABELS = {
    "dnc": "Do not contact",
    "sms": "SMS",
    "mms": "MMS",
    "sms_opted_out": "SMS opted out",
    "manual_sms": "Manual SMS",
    "linkedin": "LinkedIn",
}

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: datetime | str | None) -> str:
    """An instant as people read it: UTC, to the minute."""
    moment = _instant(value)
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def local(value: datetime | str | None, zone: str) -> str:
    """An instant in a time zone with its weekday and abbreviation: `Tue 2026-03-03 10:00 CST`."""
    moment = _instant(value)
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def zoned(value: datetime | str | None, zone: str | None, form: str = "%a %b %d %H:%M %Z") -> str:
    """An instant in a zone a person reads it in (a zone this machine does not know: UTC)."""
    moment = _instant(value)
    if moment is None:
        return "—"
    try:
        here: tzinfo = ZoneInfo(zone) if zone else UTC
    except (KeyError, ValueError, OSError):
        here = UTC
    return moment.astimezone(here).strftime(form)


def words(value: str | None) -> str:
    """A machine word for people: `no_answer` → `No answer`, `dnc` → `Do not contact`."""
    if value in LABELS:
        return LABELS[value]
    text = (value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def part(value: object) -> str:
    """A value quoted to be one segment of a URL path (a slash in a name stays in the name)."""
    return quote(str(value), safe="")


templates.env.filters["when"] = when
templates.env.filters["part"] = part
templates.env.filters["local"] = local
templates.env.filters["zoned"] = zoned
templates.env.filters["words"] = words
templates.env.globals["navigation"] = NAVIGATION
templates.env.globals["admin_pages"] = ADMIN_PAGES
templates.env.globals["reader_pages"] = READER_PAGES
templates.env.globals["asset_version"] = __version__  # a new release is a new URL: no stale CSS


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render a page in the shared layout, showing (and consuming) any flash message."""
    flash = _read_flash(request)
    now = request.app.state.clock.now()
    values = {
        "flash": flash,
        "now": now,
        "section": _section(request.url.path),
        # The person logged in (None on the public pages) and the token every form carries.
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf", ""),
        **context,
    }
    response = templates.TemplateResponse(request, name, values, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _section(path: str) -> str:
    """The navigation entry a path belongs to (sequence pages belong to Sequences)."""
    for href, _label in NAVIGATION[1:]:
        if path == href or path.startswith(href + "/"):
            return href
    return "/"


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return {"kind": "error" if kind == "error" else "ok", "text": text}


def redirect(target: str, message: str, *, kind: str = "ok") -> RedirectResponse:
    """303 to a page of ours, carrying a one-time message (a cookie: nothing in the URL)."""
    response = RedirectResponse(local_path(target), status_code=303)
    if not message:
        return response
    response.set_cookie(
        FLASH_COOKIE,
        quote(f"{kind}:{message}"[:1500]),
        max_age=120,
        path="/",
        httponly=True,
        samesite="lax",
    )
    return response


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target, only ever a path on this site (never `//evil` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil…".
    if any(ord(char) < 33 or ord(char) == 127 for char in target):
        return default
    return target
