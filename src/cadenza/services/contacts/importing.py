"""CSV import of contacts: forgiving headers, strict values, all-or-nothing writes.

The whole import is one transaction: a crash or an error leaves the database as it was, and
on SQLite one transaction is also the fastest way to write 100,000 rows. Rows that fail the
checks are left out of it and reported (and written to `<name>.rejects.csv`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.core.contact_fields import KNOWN_FIELDS, TAG_LIMIT, Draft, clean
from cadenza.core.field_types import FieldType
from cadenza.errors import ValidationFailed
from cadenza.services.accounts.domains import match_by_domain
from cadenza.services.contacts.fields import checked_fields, field_types
from cadenza.services.contacts.upsert import (
    Progress,
    merge_by_external_id,
    merge_duplicates,
    upsert,
)
from cadenza.services.events import contacts_created
from cadenza.settings import Settings, get_settings
from cadenza.store.bulk import cyclic_gc_paused
from cadenza.store.db import writing
from cadenza.store.models import User

_ALIAS_WORDS = {
    "first_name": "first firstname givenname fname forename",
    "last_name": "last lastname surname familyname lname",
    "full_name": "name fullname contactname",
    "email": "email emailaddress mail workemail",
    "phone": "phone phonenumber mobile mobilephone mobilenumber cell cellphone cellnumber "
    "telephone tel primaryphone",
    "timezone": "timezone tz zone",
    "company": "company companyname organization organisation account accountname business",
    "owner": "owner owneremail contactowner assignedto",
    "lead_source": "leadsource source",
    "disposition": "disposition",
    "tags": "tags tag labels",
    "dnc": "dnc donotcall donotcontact",
    "sms_opted_out": "smsoptedout smsoptout optedout textoptout",
    "email_unsubscribed": "emailunsubscribed unsubscribed emailoptout",
    "email_bounced": "emailbounced bounced",
    "external_id": "externalid crmid recordid",
}
ALIASES = {word: name for name, words in _ALIAS_WORDS.items() for word in words.split()}
DELIMITERS = ",;\t|"
CHECK_BATCH = 5000
# What a spreadsheet runs as a formula when a cell starts with it (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = frozenset(FORMULA_STARTS)
NUL = "\x00"
# The columns a rejects file adds before the imported file's own.
REJECTS_COLUMNS = ["row", "reason"]
# How many rejected rows an answer lists: a file of bad rows must not make an answer as big.
LISTED_REJECTIONS = 100
# What an import may match existing contacts on.
MATCH_KEYS = ("email", "external_id")


def spreadsheet_safe(cell: object) -> str:
    """A cell as Cadenza writes it to CSV: a formula neutralised by a leading quote, no NULs."""
    text = "" if cell is None else str(cell).replace(NUL, "")
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unquoted(cells: list[str]) -> list[str]:
    """Cells as `spreadsheet_safe` wrote them, read back: `'+1415…` is `+1415…` again."""
    return [c[1:] if c[:1] == "'" and c[1:2] in _QUOTED_FORMULA else c for c in cells]


def header_key(name: str) -> str:
    """What header matching compares: lowercase letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_header(name: str) -> str | None:
    """The contact field a CSV header names ('First Name', 'E-mail', 'Cell', 'tz'), if any."""
    return ALIASES.get(header_key(name))


def field_key(name: str) -> str:
    """The custom-field key for a header that names no known field ('Job Title' -> job_title)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass
class Columns:
    """Where each field comes from: known fields take the first non-empty of their columns."""

    header: list[str]
    known: dict[str, list[int]] = field(default_factory=dict)
    custom: dict[int, str] = field(default_factory=dict)

    def record(self, cells: Sequence[str]) -> dict[str, str]:
        """A row's values by field name (`fields.x` for custom fields)."""
        if len(cells) < len(self.header):
            cells = [*cells, *[""] * (len(self.header) - len(cells))]
        raw: dict[str, str] = {}
        for name, indexes in self.known.items():
            value = cells[indexes[0]]
            if len(indexes) > 1 and not value.strip():
                value = next((cells[i] for i in indexes if cells[i].strip()), "")
            raw[name] = value
        for index, key in self.custom.items():
            raw["fields." + key] = cells[index]
        return raw

    def column_of(self, name: str, cells: Sequence[str]) -> str:
        """The header of the column a field's value came from in this row."""
        if name.startswith("fields."):
            key = name.removeprefix("fields.")
            return next((self.header[i] for i, k in self.custom.items() if k == key), name)
        for index in self.known.get(name, []):
            if index < len(cells) and cells[index].strip():
                return self.header[index]
        return name


def plan_columns(header: list[str], mapping: Mapping[str, str]) -> Columns:
    """Match headers to fields; `mapping` (field -> column header) overrides the guesses."""
    columns = Columns(header)
    for name, column in mapping.items():
        index = _find_column(header, column, f"--map {name}={column}")
        if name.startswith("fields.") and len(name) > len("fields."):
            columns.custom[index] = name.removeprefix("fields.")
        elif name in KNOWN_FIELDS or name == "full_name":
            columns.known[name] = [index]
        else:
            known = ", ".join(KNOWN_FIELDS)
            raise ValidationFailed(f"--map {name}=…: unknown field (use {known} or fields.NAME)")
    taken = {i for indexes in columns.known.values() for i in indexes} | set(columns.custom)
    for index, name in enumerate(header):
        if index in taken or not name.strip():
            continue
        target = match_header(name)
        if target is not None and target not in mapping:
            columns.known.setdefault(target, []).append(index)
        else:
            columns.custom[index] = field_key(name) or f"column_{index + 1}"
    return columns


def _find_column(header: list[str], column: str, option: str) -> int:
    for candidates in (header, [header_key(h) for h in header]):
        wanted = column if candidates is header else header_key(column)
        if wanted in candidates:
            return candidates.index(wanted)
    raise ValidationFailed(f"{option}: the file has no column {column!r} ({_listed(header)})")


def _listed(header: Iterable[str]) -> str:
    return "columns: " + ", ".join(repr(h) for h in header)


@dataclass
class Table:
    """A CSV file read whole: its header and data rows with their spreadsheet row numbers."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str
    has_nul: bool = False


def read_table(path: Path) -> Table:
    """Read a CSV file or refuse it (ValidationFailed) when it is not one."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}") from None
    text = _decoded(data, name)
    if not text.strip():
        raise ValidationFailed(f"{name} is empty")
    text, delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ValidationFailed(
            f"{name} is not a CSV file (line {reader.line_num}: {exc})"
        ) from None
    if "'" in text:  # a rejects file, fixed and imported again (only then: 100,000 rows cost)
        records = [unquoted(cells) for cells in records]
    header = [cell.strip() for cell in records[0]] if records else []
    if not any(header):
        raise ValidationFailed(f"{name} has no header row")
    # Row numbers as a spreadsheet shows them: the header is row 1.
    rows = [(n, cells) for n, cells in enumerate(records[1:], start=2) if "".join(cells).strip()]
    return Table(header, rows, delimiter, has_nul=NUL in text)


def _decoded(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif _binary(data[:8192]):
        raise ValidationFailed(f"{name} is not a CSV file (it is binary)")
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{name} is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' and retry"
        ) from None


def _binary(sample: bytes) -> bool:
    """NULs that are not a stray one in text (that row is rejected): an image, a workbook."""
    nuls = sample.count(b"\x00")
    if not nuls:
        return False
    if nuls * 10 > len(sample):  # UTF-16 without its byte order mark, or not text at all
        return True
    try:  # incremental: the sample may end inside a character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return True
    return False


def _delimiter(text: str) -> tuple[str, str]:
    """The delimiter whose header has the most known fields (then the most columns)."""
    first_line, _, rest = text.partition("\n")
    if re.fullmatch(r"sep=.\r?", first_line):  # Excel's hint line
        return rest, first_line[4]
    sample = text[:65536]

    def score(delimiter: str) -> tuple[int, int]:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
        return sum(match_header(h) is not None for h in header), len(header)

    return text, max(DELIMITERS, key=score)


@dataclass(frozen=True)
class Rejection:
    """A row left out of the import, with every problem found in it."""

    row: int
    problems: tuple[tuple[str, str], ...]
    cells: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(f"{column}: {why}" if column else why for column, why in self.problems)

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: contacts created and updated, rows merged and rejected."""

    rows: int
    imported: int = 0
    updated: int = 0
    merged: int = 0  # rows folded into an earlier row of the same file
    matched_accounts: int = 0  # contacts that joined the account of their email's domain
    rejections: list[Rejection] = field(default_factory=list)
    rejects_path: Path | None = None

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def listed(self, limit: int = LISTED_REJECTIONS) -> list[Rejection]:
        """The first rejections, for an answer: the rejects file and `rejected` hold them all."""
        return self.rejections[:limit]

    def summary(self) -> str:
        """'imported N, updated M, rejected K (see FILE.rejects.csv)'."""
        text = f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}"
        if self.matched_accounts:
            text += f", {self.matched_accounts} joined an account by their email's domain"
        return text + (f" (see {self.rejects_path})" if self.rejects_path else "")


def import_csv(
    *,
    session_factory: sessionmaker[Session],
    path: Path,
    mapping: Mapping[str, str],
    default_region: str,
    now: datetime,
    default_tags: Sequence[str] = (),
    progress: Progress | None = None,
    settings: Settings | None = None,
    actor: str = "import",
    match_accounts: bool = False,
    match_on: str = "email",
) -> ImportReport:
    """Import contacts from a CSV file; refuse a file that is not one (nothing written).

    Good rows are written in one transaction; rejected rows are reported and written to
    `<name>.rejects.csv` beside the file (a stale one is removed when none are rejected).
    A contact with the same email, else the same phone, is updated rather than duplicated.
    With `match_accounts`, contacts without an account join the one of their email's domain.
    """
    if match_on not in MATCH_KEYS:
        raise ValidationFailed(f"match on {match_on!r}: use {' or '.join(MATCH_KEYS)}")
    announce = partial(contacts_created, settings=settings or get_settings(), actor=actor)
    with cyclic_gc_paused():
        return _import(
            session_factory, path, mapping, default_region, now, default_tags, progress, announce,
            match_accounts,
            match_on,
        )  # fmt: skip


def _import(
    session_factory: sessionmaker[Session],
    path: Path,
    mapping: Mapping[str, str],
    default_region: str,
    now: datetime,
    default_tags: Sequence[str],
    progress: Progress | None,
    announce: Callable[..., None],
    match_accounts: bool = False,
    match_on: str = "email",
) -> ImportReport:
    table = read_table(path)
    if table.header[:2] == REJECTS_COLUMNS:
        # A rejects file, fixed and imported again: its row and reason are not the contacts'.
        table.header = table.header[2:]
        table.rows = [(number, cells[2:]) for number, cells in table.rows]
    columns = plan_columns(table.header, mapping)
    if "email" not in columns.known and "phone" not in columns.known:
        raise ValidationFailed(_no_usable_column(path.name, table.header))
    if match_on == "external_id" and "external_id" not in columns.known:
        raise ValidationFailed(f"{path.name} has no external_id column to match on")
    if not table.rows:
        raise ValidationFailed(f"{path.name} has no rows after the header")
    tags = _checked_tags(default_tags)
    damaged = _without_nul_rows(table) if table.has_nul else []
    with session_factory() as session:
        query = select(func.lower(User.email), User.id)
        owners: dict[str, int] = dict(session.execute(query).all())
        types = field_types(session=session)
    checker = _Checker(columns, default_region, owners, tuple(tags), types, match_on)
    drafts, rejections = _check_rows(table, checker, progress)
    if damaged:
        rejections = sorted([*damaged, *rejections], key=lambda rejection: rejection.row)
    fold = merge_by_external_id if match_on == "external_id" else merge_duplicates
    targets, merged = fold(drafts)
    report = ImportReport(rows=len(table.rows) + len(damaged), merged=merged, rejections=rejections)
    if targets:
        with writing(session_factory) as session:
            created, report.updated = upsert(
                session=session, drafts=targets, now=now, progress=progress, match_on=match_on
            )
            report.imported = len(created)
            if match_accounts:
                emails = [draft.email for draft in targets]
                report.matched_accounts = match_by_domain(session=session, emails=emails, now=now)
            announce(session=session, contact_ids=created, now=now)
    report.rejects_path = _write_rejects(path, table, rejections)
    return report


def _without_nul_rows(table: Table) -> list[Rejection]:
    """Take the rows holding a NUL (no database text can) out of the table, as rejections."""
    kept, damaged = [], []
    for number, cells in table.rows:
        index = next((i for i, cell in enumerate(cells) if NUL in cell), None)
        if index is None:
            kept.append((number, cells))
            continue
        column = table.header[index] if index < len(table.header) else ""
        why = f"{cells[index]!r} holds a NUL character (the file may be damaged)"
        damaged.append(Rejection(number, ((column, why),), tuple(cells)))
    table.rows = kept
    return damaged


def _no_usable_column(name: str, header: list[str]) -> str:
    hint = ""
    if any("@" in h or sum(c.isdigit() for c in h) >= 7 for h in header):
        hint = "; the first row looks like data: the file needs a header row"
    return (
        f"{name} has no usable column: it needs an email or a phone column ({_listed(header)})"
        f"{hint}; name one with --map email=COLUMN or --map phone=COLUMN"
    )


def _checked_tags(tags: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if too_long := [tag for tag in cleaned if len(tag) > TAG_LIMIT]:
        raise ValidationFailed(f"--tag {too_long[0]!r} is longer than {TAG_LIMIT} characters")
    return cleaned


@dataclass(frozen=True)
class _Checker:
    """Checks rows into drafts or rejections."""

    columns: Columns
    region: str
    owners: Mapping[str, int]
    tags: tuple[str, ...]
    types: Mapping[str, FieldType] = field(default_factory=dict)
    match_on: str = "email"

    def __call__(self, rows: list[tuple[int, list[str]]]) -> list[Draft | Rejection]:
        return [self.check(number, cells) for number, cells in rows]

    def check(self, number: int, cells: list[str]) -> Draft | Rejection:
        columns = self.columns
        draft, problems = clean(columns.record(cells), region=self.region, owners=self.owners)
        if self.types and draft.fields:
            draft.fields, wrong = checked_fields(self.types, draft.fields)
            problems += wrong
        if self.match_on == "external_id" and not draft.values.get("external_id"):
            problems.append(("external_id", "empty, and the import matches on it"))
        width = len(columns.header)
        if len(cells) > width and "".join(cells[width:]).strip():
            problems = [("", f"{len(cells)} values but the header has {width} columns"), *problems]
        if problems:
            located = tuple((columns.column_of(n, cells) if n else "", why) for n, why in problems)
            return Rejection(number, located, tuple(cells))
        if self.tags:
            draft.tags.extend(tag for tag in self.tags if tag not in draft.tags)
        return draft


def _check_rows(
    table: Table, checker: _Checker, progress: Progress | None
) -> tuple[list[Draft], list[Rejection]]:
    """Check every row (in one process: on two CPUs, forked workers measured slower)."""
    rows = table.rows
    drafts: list[Draft] = []
    rejections: list[Rejection] = []
    for start in range(0, len(rows), CHECK_BATCH):
        for item in checker(rows[start : start + CHECK_BATCH]):
            if isinstance(item, Draft):
                drafts.append(item)
            else:
                rejections.append(item)
        if progress is not None:
            progress("checking", min(start + CHECK_BATCH, len(rows)), len(rows))
    return drafts, rejections


def _write_rejects(path: Path, table: Table, rejections: list[Rejection]) -> Path | None:
    """`<name>.rejects.csv`: row and reason, then the row's cells under the file's header."""
    target = path.with_name(f"{path.stem}.rejects.csv")
    if not rejections:
        target.unlink(missing_ok=True)
        return None
    # utf-8-sig so that spreadsheet programs read non-ASCII names correctly.
    with target.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_safe(c) for c in (*REJECTS_COLUMNS, *table.header)])
        writer.writerows(
            [spreadsheet_safe(c) for c in (r.row, r.reason, *r.cells)] for r in rejections
        )
    return target
