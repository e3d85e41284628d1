"""Account pages (companies and their contacts) and saved views with their builder."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.definition import FieldOp
from cadenza.errors import ValidationFailed
from cadenza.services import accounts, audiences, contacts
from cadenza.services.audiences.views import UI_CONDITIONS
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
PAGE_SIZE = 100
OPS: tuple[FieldOp, ...] = (
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
)
Text = Annotated[str, Form(max_length=2000)]


@router.get("/accounts")
def accounts_page(request: Request, q: str = "", cursor: str | None = None) -> Response:
    """Accounts by name, a page at a time, and a form to add one."""
    with request.app.state.sessions() as session:
        found = accounts.page_accounts(
            session=session, search=q.strip() or None, limit=PAGE_SIZE, cursor=cursor
        )
    return page(request, "accounts.html", {"accounts": found.rows, "next": found.next, "q": q})


@router.post("/accounts")
def add_account(
    request: Request,
    viewer: PageViewer,
    name: Annotated[str, Form(max_length=200)],
    domains: Text = "",
    owner: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Add an account (domains comma-separated)."""

    def change(session: Session, now: datetime) -> str:
        made = accounts.create_account(
            session=session, viewer=viewer, name=name, domains=_split(domains),
            owner=owner.strip() or None, now=now,
        )  # fmt: skip
        return f"Added account {made.name}."

    return perform(request, "/accounts", change, form=True)


@router.get("/accounts/{account_id}")
def account_page(request: Request, account_id: int) -> Response:
    """One account: its domains, owner, fields and contacts, and enrolling them."""
    with request.app.state.sessions() as session:
        row = accounts.account_row(session=session, account=account_id)
        ids = accounts.contact_ids_of(session=session, account_id=row.id)[:PAGE_SIZE]
        people = [contacts.contact_row(session=session, contact_id=i) for i in ids]
    return page(request, "account.html", {"account": row, "people": people})


@router.post("/accounts/{account_id}")
def change_account(
    request: Request,
    viewer: PageViewer,
    account_id: int,
    name: Annotated[str, Form(max_length=200)],
    domains: Text = "",
    owner: Annotated[str, Form(max_length=320)] = "",
    contact: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change an account's name, domains and owner; add a contact by id."""
    back = f"/accounts/{account_id}"

    def change(session: Session, now: datetime) -> str:
        found = accounts.update_account(
            session=session, viewer=viewer, account=account_id, name=name,
            domains=_split(domains), owner=owner, now=now,
        )  # fmt: skip
        if contact.strip():
            if not contact.strip().isdigit():
                raise ValidationFailed("contact: give a contact's id (a number)")
            accounts.set_contact_account(
                session=session, viewer=viewer, contact_id=int(contact), account=found.id, now=now
            )
        return f"Saved account {found.name}."

    return perform(request, back, change, form=True)


@router.post("/accounts/{account_id}/enroll")
def enroll_account(
    request: Request,
    viewer: PageViewer,
    account_id: int,
    sequence: Annotated[str, Form(max_length=200)],
) -> Response:
    """Enroll the account's contacts that are in the sequence's audience."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        report = audiences.enroll_account(
            session=session, viewer=viewer, sequence=sequence, account=account_id, now=now,
            settings=settings,
        )  # fmt: skip
        return _report(len(report.enrolled), report.sequence, report.refused)

    return perform(request, f"/accounts/{account_id}", change, form=True)


@router.post("/accounts/{account_id}/delete")
def delete_account(request: Request, viewer: PageViewer, account_id: int) -> Response:
    """Delete the account (its contacts stay)."""

    def change(session: Session, now: datetime) -> str:
        name = accounts.delete_account(session=session, viewer=viewer, account=account_id, now=now)
        return f"Deleted account {name}; its contacts stay."

    return perform(request, f"/accounts/{account_id}", change, done="/accounts")


@router.get("/views")
def views_page(request: Request, viewer: PageViewer, cursor: str | None = None) -> Response:
    """The views the person sees, and the builder of a new one."""
    with request.app.state.sessions() as session:
        found = audiences.page_views(session=session, viewer=viewer, limit=PAGE_SIZE, cursor=cursor)
    context = {"views": found.rows, "next": found.next, "rows": range(UI_CONDITIONS), "ops": OPS}
    return page(request, "views.html", context)


@router.post("/views")
async def add_view(request: Request, viewer: PageViewer) -> Response:
    """Save a view built of up to 8 conditions, all or any of them."""
    form = await request.form()
    values = {key: str(value)[:2000] for key, value in form.items()}

    def change(session: Session, now: datetime) -> str:
        made = audiences.create_view(
            session=session, viewer=viewer, name=values.get("name", ""),
            condition=built(values), kind=values.get("kind", "contacts"),
            sharing=values.get("sharing", "private"), access_=values.get("access", "view"),
            now=now,
        )  # fmt: skip
        return f"Saved view {made.name}."

    return perform(request, "/views", change, form=True)


@router.get("/views/{view_id}")
def view_page(
    request: Request, viewer: PageViewer, view_id: int, cursor: str | None = None
) -> Response:
    """A view: its condition in words, and what it shows (contacts or accounts)."""
    now = request.app.state.clock.now()
    with request.app.state.sessions() as session:
        found = audiences.view_for(session=session, viewer=viewer, name=str(view_id))
        row = audiences.views.rows(session, viewer, [found])[0]
        shown: dict[str, Any] = {"people": [], "companies": [], "next": None}
        if found.kind == "contacts":
            listed = audiences.page_view_contacts(
                session=session, viewer=viewer, view=str(view_id), now=now, limit=PAGE_SIZE,
                cursor=cursor,
            )  # fmt: skip
            shown |= {"people": listed.rows, "next": listed.next}
        else:
            shown["companies"] = audiences.view_accounts(
                session=session, viewer=viewer, view=str(view_id), now=now
            )
    return page(request, "view.html", {"view": row, **shown})


@router.post("/views/{view_id}/enroll")
def enroll_view(
    request: Request,
    viewer: PageViewer,
    view_id: int,
    sequence: Annotated[str, Form(max_length=200)],
) -> Response:
    """Enroll the contacts the view shows into a sequence."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        report = audiences.enroll_view(
            session=session, viewer=viewer, sequence=sequence, view=str(view_id), now=now,
            settings=settings,
        )  # fmt: skip
        return _report(len(report.enrolled), report.sequence, report.refused)

    return perform(request, f"/views/{view_id}", change, form=True)


@router.post("/views/{view_id}/delete")
def delete_view(request: Request, viewer: PageViewer, view_id: int) -> Response:
    """Delete a view the person may edit."""

    def change(session: Session, now: datetime) -> str:
        name = audiences.delete_view(session=session, viewer=viewer, name=str(view_id))
        return f"Deleted view {name}."

    return perform(request, f"/views/{view_id}", change, done="/views")


def built(values: dict[str, str]) -> dict[str, Any]:
    """The condition the builder's rows make: `all` or `any` of them (one: itself)."""
    parts: list[dict[str, Any]] = []
    for index in range(UI_CONDITIONS):
        kind = values.get(f"kind{index}", "field")
        subject = values.get(f"field{index}", "").strip()
        if not subject:
            continue
        if kind == "tag":
            parts.append({"tag": subject})
            continue
        op = values.get(f"op{index}", "eq")
        if op not in OPS:
            raise ValidationFailed(f"condition {index + 1}: no operator {op!r}")
        raw = values.get(f"value{index}", "").strip()
        value: Any = _split(raw) if op in ("in", "not_in") else raw
        if op == "exists":
            value = raw.lower() not in ("false", "no", "0")
        parts.append({"field": subject, "op": op, "value": value})
    if not parts:
        raise ValidationFailed("give at least one condition: a field or a tag")
    if len(parts) == 1:
        return parts[0]
    return {"any" if values.get("match") == "any" else "all": parts}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _report(enrolled: int, sequence: str, refused: list[tuple[int, str]]) -> str:
    text = f"Enrolled {enrolled} into {sequence}."
    if refused:
        reasons = sorted({reason for _, reason in refused})
        text += f" Refused {len(refused)}: " + "; ".join(reasons[:3])
    return text
