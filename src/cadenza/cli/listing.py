"""How every listing command shows a list: `--limit N` rows (a notice on stderr says when
that is only part of it), or `--all`, read and printed a page at a time."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import typer

from cadenza.cli.app import err, out, print_json
from cadenza.services.paging import DEFAULT_LIMIT, MAX_LIMIT, WALK_PAGE, Page, walk

if TYPE_CHECKING:
    from rich.table import Table

Row = Mapping[str, Any]
Reader = Callable[[str | None, int], Page[Any]]
Cells = Callable[[Row], list[str]]


def limit_option() -> Any:
    """`--limit N`: at most this many rows (the first page)."""
    return typer.Option(
        DEFAULT_LIMIT, "--limit", min=1, max=MAX_LIMIT, help="Show at most this many rows."
    )


def all_option() -> Any:
    """`--all`: every row, read a page at a time."""
    return typer.Option(False, "--all", help="Show every row (read a page at a time).")


def show_list(
    read: Reader,
    *,
    limit: int,
    everything: bool,
    as_json: bool,
    cells: Cells,
    columns: tuple[str, ...],
    latest: bool = False,
) -> None:
    """Print the first `limit` rows of `read` (or all of them) as a table or a JSON array.

    `latest`: the page holds the newest rows, newest first; they are shown oldest first.
    """
    if everything:
        rows: Iterable[Any] = walk(lambda cursor: read(cursor, WALK_PAGE))
        (_stream_json if as_json else _stream_table)(rows, cells, columns)
        return
    page = read(None, limit)
    shown = page.rows[::-1] if latest else page.rows
    if as_json:
        print_json(shown)
    else:
        out.print(_table(shown, cells, columns))
    if page.partial:
        err.print(notice(len(shown), page.total, latest), markup=False, highlight=False)


def notice(shown: int, total: int | None, latest: bool = False) -> str:
    """What stderr says when a listing shows part of the list."""
    which = "the latest " if latest else ""
    if total is None:
        return f"showing {which}{shown:,}; more available; --all for everything"
    return f"showing {which}{shown:,} of {total:,}; --all for everything"


def columns_of(*names: str) -> Cells:
    """Cells that print these keys of a row (empty for None)."""
    return lambda row: ["" if row.get(name) is None else str(row.get(name)) for name in names]


def _table(rows: Iterable[Row], cells: Cells, columns: tuple[str, ...]) -> Table:
    from rich.table import Table  # not for --json: rich costs a listing a tenth of its start

    table = Table(*columns)
    for row in rows:
        table.add_row(*cells(row))
    return table


def _stream_table(rows: Iterable[Row], cells: Cells, columns: tuple[str, ...]) -> None:
    """One table per page read, so that memory holds a page, never the whole list."""
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == WALK_PAGE:
            out.print(_table(batch, cells, columns))
            batch = []
    if batch:
        out.print(_table(batch, cells, columns))


def _stream_json(rows: Iterable[Row], _cells: Cells, _columns: tuple[str, ...]) -> None:
    """One JSON array, written a row at a time (the same text `print_json` gives)."""
    write = sys.stdout.write
    first = True
    for row in rows:
        text = json.dumps(row, default=_default, ensure_ascii=False, indent=2)
        write(("[\n" if first else ",\n") + "\n".join("  " + line for line in text.split("\n")))
        first = False
    write("[]\n" if first else "\n]\n")


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
