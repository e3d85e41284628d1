"""The demo loads once: loading it again (every `make run`) changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.services import enrollments
from cadenza.services.demo import DEMO_PASSWORD, load_demo
from cadenza.services.users import passwords
from cadenza.settings import Settings
from cadenza.store import models
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, at, run_worker, write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TABLES = (
    models.User,
    models.Group,
    models.GroupMember,
    models.Sequence,
    models.SequenceVersion,
    models.Contact,
    models.ContactTag,
    models.Enrollment,
    models.Event,
    models.Message,
    models.Task,
)


def _snapshot(session: Session) -> dict[str, object]:
    counts: dict[str, object] = {
        table.__tablename__: session.scalar(select(func.count()).select_from(table))
        for table in TABLES
    }
    members = select(models.GroupMember.group_id, models.GroupMember.user_id).order_by(
        models.GroupMember.group_id, models.GroupMember.position
    )
    counts["members"] = session.execute(members).all()
    counts["contacts updated"] = session.scalar(select(func.max(models.Contact.updated_at)))
    return counts


def test_loading_the_demo_again_changes_nothing(db: Database, tmp_path: Path) -> None:
    now = at("2026-12-01T15:00:00Z")
    first = load_demo(db.sessions, EXAMPLES, now, SETTINGS)
    assert any("enrolled" in line for line in first.lines)
    with db.sessions() as session:
        before = _snapshot(session)
    again = load_demo(db.sessions, EXAMPLES, at("2026-12-02T15:00:00Z"), SETTINGS)
    with db.sessions() as session:
        assert _snapshot(session) == before
    assert not any("enrolled" in line or line.startswith(("user", "group")) for line in again.lines)


def test_a_contact_who_finished_a_demo_sequence_is_not_enrolled_again(db: Database) -> None:
    load_demo(db.sessions, EXAMPLES, at("2026-12-01T15:00:00Z"), SETTINGS)
    with db.sessions() as session:
        rows = enrollments.list_enrollments(session=session)
    with write(db) as session:  # every enrollment ends, as when each contact replied
        for row in rows:
            enrollments.exit_contact(
                session=session,
                sequence=str(row["sequence"]),
                contact_id=int(str(row["contact_id"])),
                now=at("2026-12-01T16:00:00Z"),
                reason="replied",
            )
    load_demo(db.sessions, EXAMPLES, at("2026-12-03T15:00:00Z"), SETTINGS)
    run_worker(db, "2026-12-03T15:00:00Z")
    with db.sessions() as session:
        after = enrollments.list_enrollments(session=session)
    assert len(after) == len(rows) and {r["status"] for r in after} == {"exited"}


def test_the_demo_users_get_the_development_password_only_outside_production(
    db: Database,
) -> None:
    production = Settings(environment="production", secret_key="a-real-secret-" * 3)
    report = load_demo(db.sessions, EXAMPLES, at("2026-12-01T15:00:00Z"), production)
    assert report.lines[-1].startswith("users: no password in production")
    with db.sessions() as session:
        assert session.scalars(select(models.User.password_hash)).all() == [None] * 3
    report = load_demo(db.sessions, EXAMPLES, at("2026-12-01T15:00:00Z"), SETTINGS)
    assert "ana@example.com (admin)" in report.lines[-1]
    assert f"password {DEMO_PASSWORD!r}" in report.lines[-1]  # what `make run` prints last
    with db.sessions() as session:
        hashes = session.scalars(select(models.User.password_hash)).all()
    assert len(hashes) == 3 and all(passwords.verify(h, DEMO_PASSWORD) for h in hashes)
