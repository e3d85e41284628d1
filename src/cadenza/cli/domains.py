"""`cadenza domains block|unblock|list`: the domain-level do-not-contact list."""

from __future__ import annotations

from typing import Any

import typer

from cadenza.cli.app import app, context, guarded, out, writing
from cadenza.cli.listing import all_option, columns_of, limit_option, show_list
from cadenza.services.paging import Page

domains_app = typer.Typer(
    help="Blocked domains: nobody at them is reached, on any channel.", no_args_is_help=True
)
app.add_typer(domains_app, name="domains")


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


@domains_app.command("block")
@guarded
def block(
    domain: str = typer.Argument(..., help="The domain, e.g. example.com (subdomains too)."),
    reason: str = typer.Option("", "--reason", help="Why, for whoever reads the list."),
) -> None:
    """Block a domain: its contacts' steps skip, and queued messages to it are stopped."""
    from cadenza.services.contacts import blocked_domains

    ctx = context()
    with writing(ctx.sessions) as session:
        row = blocked_domains.block_domain(
            session=session, domain=domain, reason=reason, now=ctx.clock.now(), viewer=ctx.viewer
        )
    _say(f"blocked {row.domain}")


@domains_app.command("unblock")
@guarded
def unblock(domain: str = typer.Argument(..., help="A blocked domain.")) -> None:
    """Take a domain off the do-not-contact list."""
    from cadenza.services.contacts import blocked_domains

    ctx = context()
    with writing(ctx.sessions) as session:
        blocked_domains.unblock_domain(
            session=session, domain=domain, now=ctx.clock.now(), viewer=ctx.viewer
        )
    _say(f"unblocked {domain.strip().lower()}")


@domains_app.command("list")
@guarded
def list_command(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """The blocked domains, alphabetically."""
    from cadenza.services.contacts import blocked_domains

    ctx = context()

    def read(cursor: str | None, size: int) -> Page[Any]:
        page = blocked_domains.page_blocked(
            session=session, limit=size, cursor=cursor, viewer=ctx.viewer
        )
        return Page([row.as_json() for row in page.rows], page.next, page.total)

    with ctx.sessions() as session:
        show_list(
            read, limit=limit, everything=everything, as_json=as_json,
            cells=columns_of("domain", "reason", "created_by", "created_at"),
            columns=("domain", "reason", "by", "since"),
        )  # fmt: skip
