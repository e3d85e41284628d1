"""List pages: every list, one list with its members (add and remove them), and the
domain-level do-not-contact list (admins and managers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.errors import NotFound, ValidationFailed
from cadenza.services import lists
from cadenza.services.contacts import blocked_domains
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
PAGE_SIZE = 100
Cursor = Annotated[str | None, Form(max_length=1000)]


def _path(name: str) -> str:
    return f"/lists/{quote(name, safe='')}"


@router.get("/lists")
def lists_page(request: Request, cursor: str | None = None) -> Response:
    """Lists by name, their member counts and the sequence each serves."""
    with request.app.state.sessions() as session:
        found = lists.list_lists(session=session, limit=PAGE_SIZE, cursor=cursor or None)
    return page(request, "lists.html", {"lists": found.rows, "next": found.next})


@router.post("/lists")
def add_list(
    request: Request, viewer: PageViewer, name: Annotated[str, Form(max_length=300)]
) -> Response:
    """Make an empty list (admins and managers)."""

    def change(session: Session, now: datetime) -> str:
        made = lists.create_list(session=session, name=name, now=now, viewer=viewer)
        return f"Added the list {made.name}."

    return perform(request, "/lists", change, form=True)


@router.get("/lists/{list_name}")
def list_page(request: Request, list_name: str, cursor: str | None = None) -> Response:
    """One list: the sequence it serves and its members, a page at a time."""
    with request.app.state.sessions() as session:
        found = lists.get_list(session=session, name=list_name)
        members = lists.list_members(
            session=session, name=list_name, limit=PAGE_SIZE, cursor=cursor or None
        )
    path = _path(list_name)
    context = {"list": found, "members": members.rows, "next": members.next, "path": path}
    return page(request, "list.html", context)


@router.post("/lists/{list_name}/members")
def add_members(
    request: Request,
    viewer: PageViewer,
    list_name: str,
    contacts: Annotated[str, Form(max_length=20_000)] = "",
    tag: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add contacts (ids, comma- or space-separated, and/or a tag) to the list."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        report = lists.add_members(
            session=session, name=list_name, contact_ids=_ids(contacts), tag=tag.strip() or None,
            now=now, settings=settings, viewer=viewer,
        )  # fmt: skip
        return _said(report, "added", "already on the list")

    return perform(request, _path(list_name), change, form=True)


@router.post("/lists/{list_name}/members/remove")
def remove_member(
    request: Request,
    viewer: PageViewer,
    list_name: str,
    contact_id: Annotated[int, Form(ge=1)],
) -> Response:
    """Take one contact off the list: their enrollment in its sequence pauses."""

    def change(session: Session, now: datetime) -> str:
        report = lists.remove_members(
            session=session, name=list_name, contact_ids=[contact_id], now=now, viewer=viewer
        )
        return _said(report, "removed", "not on the list")

    return perform(request, _path(list_name), change, form=True)


@router.post("/lists/{list_name}/delete")
def delete_list(request: Request, viewer: PageViewer, list_name: str) -> Response:
    """Delete a list that serves no active sequence."""

    def change(session: Session, _now: datetime) -> str:
        try:
            lists.delete_list(session=session, name=list_name, viewer=viewer)
        except NotFound:
            return f"The list {list_name} is gone already."
        return f"Deleted the list {list_name}."

    return perform(request, _path(list_name), change, done="/lists")


@router.get("/domains")
def domains_page(request: Request, viewer: PageViewer, cursor: str | None = None) -> Response:
    """The blocked domains (admins and managers)."""
    with request.app.state.sessions() as session:
        found = blocked_domains.page_blocked(
            session=session, limit=PAGE_SIZE, cursor=cursor or None, viewer=viewer
        )
    return page(request, "domains.html", {"domains": found.rows, "next": found.next})


@router.post("/domains")
def block_domain(
    request: Request,
    viewer: PageViewer,
    domain: Annotated[str, Form(max_length=300)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Block a domain: nobody there is reached, on any channel."""

    def change(session: Session, now: datetime) -> str:
        row = blocked_domains.block_domain(
            session=session, domain=domain, reason=reason, now=now, viewer=viewer
        )
        return f"Blocked {row.domain}: nobody there is reached."

    return perform(request, "/domains", change, form=True)


@router.post("/domains/{domain}/unblock")
def unblock_domain(request: Request, viewer: PageViewer, domain: str) -> Response:
    """Take a domain off the do-not-contact list."""

    def change(session: Session, now: datetime) -> str:
        try:
            blocked_domains.unblock_domain(session=session, domain=domain, now=now, viewer=viewer)
        except NotFound:
            return f"{domain} was not blocked."
        return f"Unblocked {domain}."

    return perform(request, "/domains", change)


def _ids(text: str) -> list[int]:
    """Contact ids typed into a form (commas or spaces between them)."""
    words = text.replace(",", " ").split()
    bad = [w for w in words if not w.isdigit() or not 0 < int(w) < 2**63]
    if bad:
        raise ValidationFailed(f"not a contact id: {bad[0]}")
    return [int(w) for w in words]


def _said(report: lists.MembersReport, done: str, same: str) -> str:
    text = f"{len(report.changed)} {done}, {len(report.unchanged)} {same}."
    if report.sequence:
        text += (
            f" Sequence {report.sequence}: {len(report.enrolled)} enrolled, "
            f"{len(report.resumed)} resumed, {len(report.paused)} paused."
        )
    text += "".join(f" Contact {c} refused: {why}." for c, why in report.refused)
    return text
