"""Hostile or damaged CSV input, on SQLite and PostgreSQL: reported, never run, never a crash."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from cadenza.services.contacts import ImportReport, import_csv, list_contacts
from tests.conftest import Database

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "\tTabbed", "-5", "=1+1"]
HEADER = ["email", "phone", "first_name", "last_name", "company", "balance", "note"]
# Row 2 is rejected (its email is bad); each of its other cells would run in a spreadsheet.
HOSTILE = [
    HEADER,
    ["not-an-email", "+14155550100", *FORMULAS],
    ["ok@example.com", "+14155550101", "Olga", "Ok", "Acme", "7", "fine"],
]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _import(db: Database, path: Path) -> ImportReport:
    return import_csv(
        session_factory=db.sessions, path=path, mapping={}, default_region="US", now=NOW
    )


def _cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_the_rejects_file_neutralises_formulas(db: Database, tmp_path: Path) -> None:
    report = _import(db, _write(tmp_path / "hostile.csv", HOSTILE))
    assert (report.imported, report.rejected) == (1, 1)
    assert report.rejects_path is not None
    header, row = _cells(report.rejects_path)
    assert header == ["row", "reason", "email", "phone", "first_name", "last_name", "company",
                      "balance", "note"]  # fmt: skip
    assert row[0] == "2" and row[1].startswith("email:")
    assert row[2:] == [
        "not-an-email",
        "'+14155550100",
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(A1)",
        "'\tTabbed",
        "'-5",
        "'=1+1",
    ]


def test_a_fixed_rejects_file_imports_again_as_it_was(db: Database, tmp_path: Path) -> None:
    rejects = _import(db, _write(tmp_path / "hostile.csv", HOSTILE)).rejects_path
    assert rejects is not None
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(
        rejects.read_text(encoding="utf-8-sig").replace("not-an-email", "eve@example.com"),
        encoding="utf-8",
    )
    report = _import(db, fixed)
    assert (report.imported, report.rejected) == (1, 0)
    with db.sessions() as session:
        (eve,) = [c for c in list_contacts(session=session) if c["email"] == "eve@example.com"]
    assert eve["phone"] == "+14155550100"
    assert eve["first_name"] == '=HYPERLINK("http://evil.example","x")'
    # The rejects file's own columns are not the contact's.
    assert eve["fields"] == {"balance": "-5", "note": "=1+1"}


def test_a_row_holding_a_nul_is_rejected_with_its_number(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "damaged.csv"
    source.write_bytes(
        b"email,first_name,phone\n"
        b"ada@example.com,Ada,+14155550102\n"
        b"bob@example.com,Bo\x00b,+14155550103\n"
        b"cy@example.com,Cy,+14155550104\n"
    )
    report = _import(db, source)
    assert (report.imported, report.rejected) == (2, 1)
    (rejection,) = report.rejections
    assert rejection.row == 3
    assert (
        rejection.reason == "first_name: 'Bo\\x00b' holds a NUL character (the file may be damaged)"
    )
    assert report.rejects_path is not None
    assert b"\x00" not in report.rejects_path.read_bytes()
    assert _cells(report.rejects_path)[1][2:] == ["bob@example.com", "Bob", "'+14155550103"]
    with db.sessions() as session:
        emails = {c["email"] for c in list_contacts(session=session)}
    assert emails == {"ada@example.com", "cy@example.com"}
