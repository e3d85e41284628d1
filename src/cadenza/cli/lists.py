"""`cadenza lists add|list|show|delete` and `cadenza lists members add|remove`: the
contacts a bound sequence follows (adding enrolls, removing pauses, adding back resumes)."""

from __future__ import annotations

from typing import Any

import typer

from cadenza.cli.app import app, context, guarded, out, print_json, writing
from cadenza.cli.listing import all_option, columns_of, limit_option, show_list
from cadenza.services.paging import Page

lists_app = typer.Typer(
    help="Lists: named sets of contacts a sequence follows (enrollment.list).",
    no_args_is_help=True,
)
members_app = typer.Typer(help="Add contacts to a list or take them off.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
lists_app.add_typer(members_app, name="members")

NAME = "The list's name."


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _rows(page: Any) -> Page[Any]:
    return Page([row.as_json() for row in page.rows], page.next, page.total)


@lists_app.command("add")
@guarded
def add(name: str = typer.Argument(..., help=NAME)) -> None:
    """Make an empty list (admins and managers)."""
    from cadenza.services import lists

    ctx = context()
    with writing(ctx.sessions) as session:
        lists.create_list(session=session, name=name, now=ctx.clock.now(), viewer=ctx.viewer)
    _say(f"added list {name.strip()}")


@lists_app.command("list")
@guarded
def list_command(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """Lists by name: members, and the active sequence each serves."""
    from cadenza.services import lists

    ctx = context()
    with ctx.sessions() as session:
        show_list(
            lambda cursor, size: _rows(
                lists.list_lists(session=session, limit=size, cursor=cursor)
            ),
            limit=limit, everything=everything, as_json=as_json,
            cells=columns_of("name", "members", "sequence"),
            columns=("name", "members", "sequence"),
        )  # fmt: skip


@lists_app.command("show")
@guarded
def show(
    name: str = typer.Argument(..., help=NAME),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array of the members."),
) -> None:
    """A list: the sequence it serves and its members."""
    from cadenza.services import lists

    ctx = context()
    with ctx.sessions() as session:
        found = lists.get_list(session=session, name=name)
        if not as_json:
            serves = f"serves {found.sequence}" if found.sequence else "serves no active sequence"
            _say(f"list {found.name}: {found.members} members; {serves}")
        show_list(
            lambda cursor, size: _rows(
                lists.list_members(session=session, name=name, limit=size, cursor=cursor)
            ),
            limit=limit, everything=everything, as_json=as_json,
            cells=columns_of("contact_id", "first_name", "last_name", "email", "added_at"),
            columns=("contact", "first name", "last name", "email", "added"),
        )  # fmt: skip


@lists_app.command("delete")
@guarded
def delete(name: str = typer.Argument(..., help=NAME)) -> None:
    """Delete a list that serves no active sequence (its contacts stay)."""
    from cadenza.services import lists

    ctx = context()
    with writing(ctx.sessions) as session:
        lists.delete_list(session=session, name=name, viewer=ctx.viewer)
    _say(f"deleted list {name}")


def _who(contacts: list[int], tag: str | None) -> None:
    from cadenza.errors import ValidationFailed

    if not contacts and tag is None:
        raise ValidationFailed("name the contacts: --contact ID (repeatable) or --tag T")


def _report(report: Any, as_json: bool, verbs: tuple[str, str]) -> None:
    data = report.as_json()
    if as_json:
        print_json(data)
        return
    line = f"{len(data['changed'])} {verbs[0]}, {len(data['unchanged'])} {verbs[1]}"
    if data["sequence"]:
        line += (
            f"; sequence {data['sequence']}: {len(data['enrolled'])} enrolled, "
            f"{len(data['resumed'])} resumed, {len(data['paused'])} paused"
        )
    _say(line)
    for refusal in data["refused"]:
        _say(f"refused contact {refusal['contact_id']}: {refusal['reason']}")


@members_app.command("add")
@guarded
def members_add(
    name: str = typer.Argument(..., help=NAME),
    contacts: list[int] = typer.Option([], "--contact", help="A contact id (repeatable)."),
    tag: str | None = typer.Option(None, "--tag", help="Everyone with this tag."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Add contacts: each is enrolled in the list's sequence, resumed there, or refused."""
    from cadenza.services import lists

    _who(contacts, tag)
    ctx = context()
    with writing(ctx.sessions) as session:
        report = lists.add_members(
            session=session, name=name, contact_ids=contacts, tag=tag, now=ctx.clock.now(),
            settings=ctx.settings, viewer=ctx.viewer,
        )  # fmt: skip
    _report(report, as_json, ("added", "already on the list"))


@members_app.command("remove")
@guarded
def members_remove(
    name: str = typer.Argument(..., help=NAME),
    contacts: list[int] = typer.Option([], "--contact", help="A contact id (repeatable)."),
    tag: str | None = typer.Option(None, "--tag", help="Everyone with this tag."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Take contacts off: their enrollment in the list's sequence pauses at its step."""
    from cadenza.services import lists

    _who(contacts, tag)
    ctx = context()
    with writing(ctx.sessions) as session:
        report = lists.remove_members(
            session=session, name=name, contact_ids=contacts, tag=tag, now=ctx.clock.now(),
            viewer=ctx.viewer,
        )  # fmt: skip
    _report(report, as_json, ("removed", "not on the list"))
