"""CSV import and single creation of contacts, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cadenza.core.contact import ContactView
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services.contacts import (
    ImportReport,
    create_contact,
    import_csv,
    list_contacts,
    load_view,
)
from cadenza.services.users import add_user
from cadenza.store.db import writing
from cadenza.store.models import Contact, ContactTag
from tests.conftest import Database
from tests.engine_helpers import SETTINGS

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "csv"
# `domain_dnc` is decided at step time from the blocked domains; a contact row does not carry it.
ROW_KEYS = set(ContactView.model_fields) - {"domain_dnc"}


def _copy(name: str, folder: Path) -> Path:
    return Path(shutil.copy(FIXTURES / name, folder / name))


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(db: Database, path: Path, **options: object) -> ImportReport:
    return import_csv(
        session_factory=db.sessions,
        path=path,
        mapping=options.pop("mapping", {}),  # type: ignore[arg-type]
        default_region="US",
        now=options.pop("now", NOW),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def _count(db: Database) -> tuple[int, int]:
    with db.sessions() as session:
        contacts = session.scalar(select(func.count()).select_from(Contact))
        tags = session.scalar(select(func.count()).select_from(ContactTag))
    return contacts or 0, tags or 0


def _rows(db: Database) -> dict[str, dict[str, object]]:
    with db.sessions() as session:
        rows = list_contacts(session=session)
    return {str(row["email"] or row["phone"]): row for row in rows}


@pytest.fixture
def ana(db: Database) -> Database:
    with writing(db.sessions) as session:
        add_user(session=session, email="ana@example.com", name="Ana", now=NOW)
    return db


def test_good_rows_are_imported_and_bad_rows_reported(ana: Database, tmp_path: Path) -> None:
    report = _import(ana, _copy("mixed.csv", tmp_path))
    assert (report.imported, report.updated, report.rejected) == (3, 0, 5)
    found = {r.row: r.reason for r in report.rejections}
    assert found == {
        5: "E-mail: 'dev@example' is not a valid email address (The part after the @-sign is "
        "not valid. It should have a period); Mobile: '555-12' is not a valid phone number",
        6: "no email or phone",
        7: "Owner: no user 'nobody@example.com'",
        8: "Time Zone: 'Mars/Base' is not a time zone (use an IANA name like America/Chicago)",
        9: "DNC: 'maybe' is not yes or no",
    }
    rows = _rows(ana)
    assert set(rows) == {"ana@example.com", "ben@example.com", "+14155550199"}
    first = rows["ana@example.com"]
    assert set(first) == ROW_KEYS
    assert first["phone"] == "+13125550123"
    assert first["timezone"] == "America/Chicago"  # from the phone number
    assert first["owner"] == "ana@example.com"
    assert first["tags"] == ["trial", "webinar"]
    assert first["fields"] == {"job_title": "Buyer"}
    assert first["dnc"] is False
    assert rows["ben@example.com"]["timezone"] == "America/Denver"  # the column wins
    assert rows["+14155550199"]["dnc"] is True
    ContactView.model_validate(first)


def test_rejected_rows_are_written_beside_the_file(ana: Database, tmp_path: Path) -> None:
    report = _import(ana, _copy("mixed.csv", tmp_path))
    assert report.rejects_path == tmp_path / "mixed.rejects.csv"
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][:3] == ["row", "reason", "First Name"]
    assert [line[0] for line in lines[1:]] == ["5", "6", "7", "8", "9"]
    assert lines[2][2:] == ["Emma", "Okafor", "", "", "Initech", "", "", "", "", ""]
    # Once every row passes, the stale rejects file goes away.
    _write(tmp_path, "mixed.csv", "email\nana@example.com\n")
    assert _import(ana, tmp_path / "mixed.csv").rejects_path is None
    assert not (tmp_path / "mixed.rejects.csv").exists()


def test_importing_again_updates_instead_of_duplicating(ana: Database, tmp_path: Path) -> None:
    path = _copy("mixed.csv", tmp_path)
    _import(ana, path)
    before = _count(ana)
    later = datetime(2026, 3, 9, tzinfo=UTC)
    again = _import(ana, path, now=later)
    assert (again.imported, again.updated) == (0, 3)
    assert _count(ana) == before
    # Nothing changed, so nothing was rewritten; a changed contact is stamped.
    _import(
        ana, _write(tmp_path, "new.csv", "email,company\nben@example.com,Umbrella\n"), now=later
    )
    with ana.sessions() as session:
        stamps = dict(session.execute(select(Contact.email, Contact.updated_at)).all())
    assert stamps["ana@example.com"] == NOW
    assert stamps["ben@example.com"] == later


def test_dedupe_by_email_then_phone(db: Database, tmp_path: Path) -> None:
    _import(db, _write(tmp_path, "a.csv", "email,phone,first name,tags\nana@example.com,,Ana,a\n"))
    # Same email (any case): updated; non-empty values overwrite, tags add up.
    text = "email,phone,first name,company,tags\nANA@example.com,312-555-0123,Anna,,b\n"
    report = _import(db, _write(tmp_path, "b.csv", text))
    assert (report.imported, report.updated) == (0, 1)
    row = _rows(db)["ana@example.com"]
    assert (row["first_name"], row["phone"], row["tags"]) == ("Anna", "+13125550123", ["a", "b"])
    # No email, same phone: the same person.
    report = _import(db, _write(tmp_path, "c.csv", "phone,company\n(312) 555-0123,Acme\n"))
    assert (report.imported, report.updated) == (0, 1)
    assert _rows(db)["ana@example.com"]["company"] == "Acme"
    # Another email on the same phone: another person (a shared line).
    report = _import(db, _write(tmp_path, "d.csv", "email,phone\nben@example.com,3125550123\n"))
    assert (report.imported, report.updated) == (1, 0)
    assert _count(db)[0] == 2


def test_duplicates_within_one_file_are_merged(db: Database, tmp_path: Path) -> None:
    text = (
        "email,phone,first name,tags\n"
        "ana@example.com,,Ana,a\n"
        "Ana@Example.com,312-555-0123,,b\n"
        ",312-555-0123,,c\n"
    )
    report = _import(db, _write(tmp_path, "dupes.csv", text))
    assert (report.imported, report.merged, report.rejected) == (1, 2, 0)
    row = _rows(db)["ana@example.com"]
    assert (row["phone"], row["tags"]) == ("+13125550123", ["a", "b", "c"])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("image.csv", "image.csv is not a CSV file (it is binary)"),
        ("latin1.csv", "latin1.csv is not UTF-8 text"),
        ("no_usable_column.csv", "no_usable_column.csv has no usable column"),
        ("single_column.csv", "single_column.csv has no usable column"),
        ("header_only.csv", "header_only.csv has no rows after the header"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_and_nothing_is_written(
    db: Database, tmp_path: Path, name: str, message: str
) -> None:
    _import(db, _write(tmp_path, "before.csv", "email,tags\nzoe@example.com,x\n"))
    before = _count(db)
    with pytest.raises(ValidationFailed, match=re.escape(message)):
        _import(db, _copy(name, tmp_path))
    assert _count(db) == before
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_an_empty_file_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"empty\.csv is empty"):
        _import(db, _write(tmp_path, "empty.csv", "\n\n"))


def test_a_failure_while_writing_leaves_nothing_behind(db: Database, tmp_path: Path) -> None:
    lines = ["email,tags"] + [f"p{i}@example.com,t" for i in range(12_000)]
    path = _write(tmp_path, "big.csv", "\n".join(lines) + "\n")

    def crash(stage: str, done: int, total: int) -> None:
        if stage == "writing":  # after the first batch of 5,000 is written
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        _import(db, path, progress=crash)
    assert _count(db) == (0, 0)


def test_zone_inferred_from_the_phone_only_when_unambiguous(db: Database, tmp_path: Path) -> None:
    text = "phone,timezone\n(212) 555-0100,\n(907) 555-0100,\n(415) 555-0100,Europe/Paris\n"
    _import(db, _write(tmp_path, "zones.csv", text))
    rows = _rows(db)
    assert rows["+12125550100"]["timezone"] == "America/New_York"
    assert rows["+19075550100"]["timezone"] is None  # Anchorage or Adak: the fallback applies
    assert rows["+14155550100"]["timezone"] == "Europe/Paris"


def test_mapping_delimiters_and_default_tags(db: Database, tmp_path: Path) -> None:
    report = _import(
        db,
        _copy("semicolons.csv", tmp_path),
        mapping={"phone": "Work Line", "fields.title": "Job Title"},
        default_tags=["imported", "spring"],
    )
    assert report.imported == 1
    row = _rows(db)["+13125550123"]
    assert (row["first_name"], row["last_name"]) == ("Ana", "Garcia")
    assert row["fields"] == {"title": "Buyer"}
    assert row["tags"] == ["imported", "spring"]


def test_list_filters_and_views(ana: Database, tmp_path: Path) -> None:
    _import(ana, _copy("mixed.csv", tmp_path))
    with ana.sessions() as session:
        assert [r["email"] for r in list_contacts(session=session, tag="trial")] == [
            "ana@example.com",
            "ben@example.com",
        ]
        assert [r["email"] for r in list_contacts(session=session, search="GLOBEX")] == [
            "ben@example.com"
        ]
        assert list_contacts(session=session, search="100%_") == []
        first = list_contacts(session=session, limit=1, offset=1)
        assert [r["email"] for r in first] == ["ben@example.com"]
        view = load_view(session=session, contact_id=int(first[0]["id"]))  # type: ignore[call-overload]
        assert view.tags == ["trial", "vip"] and view.fields == {"job_title": "CTO"}
        with pytest.raises(NotFound):
            load_view(session=session, contact_id=999_999)


def test_create_contact_follows_the_import_rules(ana: Database) -> None:
    with writing(ana.sessions) as session:
        contact = create_contact(
            session=session,
            data={"email": "Zoe@Example.com", "phone": "(312) 555-0177", "owner": "ana@example.com",
                  "tags": ["vip", "vip", "new"], "fields": {"score": 7}, "dnc": True},
            now=NOW,
            settings=SETTINGS,
        )  # fmt: skip
        view = load_view(session=session, contact_id=contact.id)
    assert (view.email, view.phone, view.timezone) == (
        "zoe@example.com",
        "+13125550177",
        "America/Chicago",
    )
    assert (view.owner, view.tags, view.fields, view.dnc) == (
        "ana@example.com",
        ["new", "vip"],
        {"score": 7},
        True,
    )


def test_create_contact_lists_every_problem_and_refuses_duplicates(ana: Database) -> None:
    with writing(ana.sessions) as session, pytest.raises(ValidationFailed) as caught:
        create_contact(
            session=session,
            data={"email": "bad@", "phone": "12", "owner": "who@example.com", "colour": "red"},
            now=NOW,
            settings=SETTINGS,
        )
    message = str(caught.value)
    for part in (
        "email: 'bad@'",
        "phone: '12'",
        "owner: no user 'who@example.com'",
        "colour: unknown field",
    ):
        assert part in message
    with writing(ana.sessions) as session:
        create_contact(
            session=session, data={"email": "a@example.com"}, now=NOW, settings=SETTINGS
        )
    with writing(ana.sessions) as session, pytest.raises(Conflict, match="already has email"):
        create_contact(
            session=session, data={"email": "A@example.com"}, now=NOW, settings=SETTINGS
        )
