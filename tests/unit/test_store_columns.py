"""The Core tables listings read (store/columns.py) are columns of the models' tables, with
the models' types: a renamed or retyped column fails here, not in a user's listing."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, TableClause, column, table

from cadenza.store import columns
from cadenza.store.models import Base


def _mismatches(light: TableClause) -> list[str]:
    """The columns of `light` that its model's table lacks or types otherwise."""
    model = Base.metadata.tables.get(light.name)
    if model is None:
        return [light.name]
    return [
        f"{light.name}.{c.name}"
        for c in light.columns
        if c.name not in model.c or type(c.type) is not type(model.c[c.name].type)
    ]


@pytest.mark.parametrize("light", columns.TABLES, ids=lambda table: table.name)
def test_every_column_read_is_the_models_column_with_its_type(light: TableClause) -> None:
    assert _mismatches(light) == []


def test_a_missing_or_retyped_column_is_caught() -> None:
    stray = table("contacts", column("nickname", String), column("dnc", Integer))
    assert _mismatches(stray) == ["contacts.nickname", "contacts.dnc"]
    assert _mismatches(table("contact", column("id", Integer))) == ["contact"]
