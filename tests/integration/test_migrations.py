"""The schema built by the migrations is the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.exc import IntegrityError

from cadenza.services import enrollments
from cadenza.store import partitions
from cadenza.store.models import Base, Enrollment, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

START = at("2026-12-01T12:00:00Z")
ONE_STEP = """
name: {name}
steps:
  - {{key: only, action: end, wait: {{days: 1}}}}
"""


# SQLAlchemy does not reflect indexes on expressions (lower(name)): they are left out of the
# comparison, with this warning; `test_name_indexes_exist` checks them instead.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        # History's monthly partitions (PostgreSQL) are made by `partitions.ensure`, not
        # declared: the comparison skips them as `cadenza revision` does.
        opts = {"compare_type": True, "include_name": partitions.include_name}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, Base.metadata)
    # PostgreSQL checks the enrollment's two keys with triggers instead (migration 0003,
    # tests/integration/test_enrollment_keys.py): those two, and only those, are not declared.
    checked_by_triggers = {
        "fk_enrollments_contact_id_contacts",
        "fk_enrollments_version_id_sequence_versions",
    }
    expected = checked_by_triggers if db.backend == "postgresql" else set()
    assert {change[1].name for change in diff if change[0] == "add_fk"} == expected
    assert [change for change in diff if change[0] != "add_fk"] == []


def test_name_indexes_exist(db: Database) -> None:
    with db.engine.connect() as conn:
        if db.backend == "postgresql":
            query = "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'"
        names = set(conn.exec_driver_sql(query).scalars())
    assert {"ix_contacts_first_name_lower", "ix_contacts_last_name_lower"} <= names


def test_due_index_is_partial(db: Database) -> None:
    indexes = {ix["name"]: ix for ix in inspect(db.engine).get_indexes("enrollments")}
    assert "ix_enrollments_due" in indexes
    dialect_options = indexes["ix_enrollments_due"].get("dialect_options", {})
    where = dialect_options.get("postgresql_where") or dialect_options.get("sqlite_where")
    if db.backend == "postgresql":
        assert where is not None and "active" in str(where)


def test_sqlite_runs_wal_with_full_sync(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_an_enrollment_refers_to_a_version_of_its_own_sequence(db: Database) -> None:
    # One key covers the version and its sequence: a version of another sequence is refused,
    # and deleting a sequence still deletes its enrollments (through its versions).
    with write(db) as session:
        store(session, ONE_STEP.format(name="First"), START)
        store(session, ONE_STEP.format(name="Second"), START)
        contact = add_contact(session, START)
        enrollments.enroll(
            session=session, sequence="First", contact_ids=[contact], now=START, settings=SETTINGS
        )
    with db.sessions() as session:
        second = session.scalars(select(Sequence.id).where(Sequence.name == "Second")).one()
        with pytest.raises(IntegrityError):
            session.execute(update(Enrollment).values(sequence_id=second))
    with write(db) as session:
        session.execute(delete(Sequence).where(Sequence.name == "First"))
    with db.sessions() as session:
        assert session.scalars(select(Enrollment.id)).all() == []
