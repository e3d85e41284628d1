"""`cadenza apikeys create|list|revoke`: keys for the REST API."""

from __future__ import annotations

import typer

from cadenza.cli.app import app, context, err, guarded, id_argument, out, writing
from cadenza.cli.listing import all_option, limit_option, show_list

apikeys_app = typer.Typer(help="API keys (Bearer tokens for /api/v1).", no_args_is_help=True)
app.add_typer(apikeys_app, name="apikeys")


@apikeys_app.command("create")
@guarded
def create(
    name: str = typer.Argument(..., help="What the key is for, e.g. 'crm-sync'."),
    user: str | None = typer.Option(
        None, "--user", help="The user (email) whose rights the key has."
    ),
    scope: list[str] | None = typer.Option(
        None,
        "--scope",
        help="What the key may call (repeatable): api (the REST API, the default) or "
        "inbound (the provider webhooks under /api/v1/inbound).",
    ),
) -> None:
    """Create a key and print its secret once (only its hash is kept)."""
    from cadenza.services.users import create_key

    ctx = context()
    with writing(ctx.sessions) as session:
        key, token = create_key(
            session=session,
            name=name,
            user_email=user,
            now=ctx.clock.now(),
            scopes=scope or ["api"],
        )
    # The secret alone on stdout, so that `$(cadenza apikeys create x)` captures it.
    typer.echo(token)
    err.print(
        f"API key {key.id} ({key.name}, scopes: {key.scopes}) created; "
        "store the secret now, it is not shown again",
        markup=False,
        highlight=False,
    )
    if user is None and "api" in (scope or ["api"]):  # no rights on the REST API: it is refused
        err.print(
            "warning: this key belongs to no user, so /api/v1 refuses it (403); "
            "give it one with --user EMAIL",
            markup=False,
            highlight=False,
        )


@apikeys_app.command("list")
@guarded
def list_command(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """List keys: id, name, user, scopes, created (never the secrets)."""
    from cadenza.services.users.listing import page_keys

    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_keys(session=session, limit=size, cursor=cursor),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=lambda row: [
                str(row["id"]),
                row["name"],
                row["user"] or "",
                " ".join(row["scopes"]),
                row["created_at"],
            ],
            columns=("id", "name", "user", "scopes", "created"),
        )


@apikeys_app.command("revoke")
@guarded
def revoke(key_id: int = id_argument("The key's id (see `apikeys list`).")) -> None:
    """Revoke a key: requests bearing it are refused from now on."""
    from cadenza.services.users import revoke as revoke_key

    ctx = context()
    with writing(ctx.sessions) as session:
        key = revoke_key(session=session, key_id=key_id)
    out.print(f"API key {key.id} ({key.name}) revoked", markup=False, highlight=False)
