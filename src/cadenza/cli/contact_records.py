"""`cadenza contacts show|update|delete|upsert|merge`, `contacts notes …`, `contacts fields …`."""

from __future__ import annotations

from typing import Any

import typer

from cadenza.cli.app import context, guarded, id_argument, print_json, writing
from cadenza.cli.contacts import contacts_app
from cadenza.errors import ValidationFailed

notes_app = typer.Typer(help="Notes on a contact: list, add, delete.", no_args_is_help=True)
fields_app = typer.Typer(
    help="Custom field types (text, number, date, choice): list, define, delete.",
    no_args_is_help=True,
)
contacts_app.add_typer(notes_app, name="notes")
contacts_app.add_typer(fields_app, name="fields")

SET_HELP = "FIELD=VALUE: a field (email, company, dnc, external_id…) or fields.NAME (repeatable)."


def _pairs(options: list[str]) -> dict[str, Any]:
    """`--set name=value` options as changes: `fields.x=` removes a custom field."""
    changes: dict[str, Any] = {}
    for option in options:
        name, sep, value = option.partition("=")
        name = name.strip()
        if not sep or not name:
            raise typer.BadParameter(f"{option!r} is not FIELD=VALUE", param_hint="--set")
        if name.startswith("fields."):
            changes.setdefault("fields", {})[name.removeprefix("fields.")] = value or None
        elif name == "tags":
            changes["tags"] = [tag.strip() for tag in value.split(",") if tag.strip()]
        else:
            changes[name] = value
    return changes


@contacts_app.command("show")
@guarded
def show_contact(
    contact_id: int | None = typer.Argument(None, help="The contact's id.", min=1),
    external_id: str | None = typer.Option(None, help="Find it by its external id instead."),
) -> None:
    """Print one contact as JSON (the listing's row)."""
    from cadenza.services import contacts as service
    from cadenza.services.contacts.single import require_contact

    if (contact_id is None) == (external_id is None):
        raise typer.BadParameter("give a contact id or --external-id", param_hint="CONTACT_ID")
    ctx = context()
    with ctx.sessions() as session:
        if external_id is not None:
            contact_id = require_contact(
                session=session, key="external_id", value=external_id,
                region=ctx.settings.default_region,
            ).id  # fmt: skip
        assert contact_id is not None
        print_json(service.contact_row(session=session, contact_id=contact_id))


@contacts_app.command("update")
@guarded
def update_contact(
    contact_id: int = id_argument("The contact's id."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Change a contact's fields and flags (each change in history); tags=a,b replaces them."""
    from cadenza.services import contacts as service

    changes = _pairs(set_)
    if not changes:
        raise typer.BadParameter("nothing to change", param_hint="--set")
    ctx = context()
    with writing(ctx.sessions) as session:
        changed = service.update_contact(
            session=session, contact_id=contact_id, changes=changes, now=ctx.clock.now(),
            settings=ctx.settings, viewer=ctx.viewer,
        )  # fmt: skip
    typer.echo(
        f"contact {contact_id}: " + (", ".join(changed) + " changed" if changed else "unchanged")
    )


@contacts_app.command("delete")
@guarded
def delete_contact(
    contact_id: int = id_argument("The contact's id."),
    yes: bool = typer.Option(False, "--yes", help="Do it (a deletion cannot be undone)."),
) -> None:
    """Delete a contact with its enrollments, tasks and notes (managers and admins)."""
    from cadenza.services import contacts as service

    if not yes:
        raise ValidationFailed(f"deleting contact {contact_id} cannot be undone: add --yes")
    ctx = context()
    with writing(ctx.sessions) as session:
        service.delete_contact(
            session=session, contact_id=contact_id, now=ctx.clock.now(), viewer=ctx.viewer
        )
    typer.echo(f"deleted contact {contact_id}")


@contacts_app.command("upsert")
@guarded
def upsert_contact(
    match_on: str = typer.Option(..., "--match-on", help="email, phone or external_id."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Update the contact whose --match-on value --set gives, else create it."""
    from cadenza.services import contacts as service

    data = _pairs(set_)
    ctx = context()
    with writing(ctx.sessions) as session:
        contact, created = service.upsert_contact(
            session=session, data=data, match_on=match_on, now=ctx.clock.now(),
            settings=ctx.settings, viewer=ctx.viewer,
        )  # fmt: skip
        contact_id = contact.id
    typer.echo(f"{'added' if created else 'updated'} contact {contact_id}")


@contacts_app.command("merge")
@guarded
def merge_contacts(
    survivor: int = id_argument("The contact that stays."),
    duplicate: int = id_argument("The contact folded into it and deleted."),
) -> None:
    """Merge a duplicate into a contact: enrollments, tasks, notes and history follow."""
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        done = service.merge(
            session=session, survivor_id=survivor, duplicate_id=duplicate, now=ctx.clock.now(),
            settings=ctx.settings, viewer=ctx.viewer,
        )  # fmt: skip
    typer.echo(f"merged contact {duplicate} into contact {survivor}")
    if done.filled:
        typer.echo("filled from the duplicate: " + ", ".join(done.filled))
    if done.flags:
        typer.echo("flags taken from the duplicate: " + ", ".join(done.flags))
    for enrollment_id in done.removed_enrollments:
        typer.echo(
            f"enrollment {enrollment_id} removed: contact {survivor} was already in its sequence"
        )


@notes_app.command("list")
@guarded
def list_notes(
    contact_id: int = id_argument("The contact's id."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """A contact's latest notes, newest first."""
    from cadenza.services import contacts as service

    with context().sessions() as session:
        service.get_contact(session=session, contact_id=contact_id)
        rows = service.list_notes(session=session, contact_id=contact_id, limit=500)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']}  {row['created_at']}  {row['author']}: {row['body']}")


@notes_app.command("add")
@guarded
def add_note(
    contact_id: int = id_argument("The contact's id."),
    text: str = typer.Argument(..., help="The note."),
) -> None:
    """Write a note on a contact (in its history too)."""
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        note = service.add_note(
            session=session, contact_id=contact_id, body=text, now=ctx.clock.now(),
            viewer=ctx.viewer,
        )  # fmt: skip
        typer.echo(f"added note {note.id}")


@notes_app.command("delete")
@guarded
def delete_note(
    contact_id: int = id_argument("The contact's id."),
    note_id: int = id_argument("The note's id."),
) -> None:
    """Delete a note (your own, or anyone's if you may delete contacts)."""
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        service.delete_note(
            session=session, contact_id=contact_id, note_id=note_id, now=ctx.clock.now(),
            viewer=ctx.viewer,
        )  # fmt: skip
    typer.echo(f"deleted note {note_id}")


@fields_app.command("list")
@guarded
def list_fields(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """Every defined custom field and its type."""
    from cadenza.services import contacts as service

    with context().sessions() as session:
        rows = service.list_fields(session=session)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        choices = f" ({', '.join(row['choices'])})" if row["choices"] else ""
        typer.echo(f"{row['name']}: {row['kind']}{choices}")


@fields_app.command("define")
@guarded
def define_field(
    name: str = typer.Argument(..., help="The field's name (conditions say fields.NAME)."),
    kind: str = typer.Option(..., "--kind", help="text, number, date or choice."),
    choice: list[str] = typer.Option([], "--choice", help="A choice's value (repeatable)."),
    label: str = typer.Option("", help="How pages label it."),
) -> None:
    """Define a custom field's type (managers and admins); imports and edits obey it."""
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        row = service.define_field(
            session=session, name=name, kind=kind, choices=choice or None, label=label,
            now=ctx.clock.now(), viewer=ctx.viewer,
        )  # fmt: skip
    typer.echo(f"defined {row['name']}: {row['kind']}")


@fields_app.command("delete")
@guarded
def delete_field(name: str = typer.Argument(..., help="The field's name.")) -> None:
    """Forget a custom field's type (contacts keep their values)."""
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        service.delete_field(session=session, name=name, now=ctx.clock.now(), viewer=ctx.viewer)
    typer.echo(f"deleted field {name}")
