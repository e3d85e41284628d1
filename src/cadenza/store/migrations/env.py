"""Alembic environment: runs on the connection handed over by `cadenza.store.migrate`."""

from __future__ import annotations

from alembic import context

from cadenza.store import partitions
from cadenza.store.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
    include_name=partitions.include_name,  # the monthly partitions of history
)
with context.begin_transaction():
    context.run_migrations()
