"""The demo: the example users, sequences and contacts loaded, and contacts enrolled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from cadenza.errors import ValidationFailed
from cadenza.services import enrollments, sequences, users
from cadenza.services.contacts.importing import import_csv
from cadenza.services.users import passwords
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import User

# The demo's users log in with this, outside production only: it is printed for everyone.
DEMO_PASSWORD = "cadenza-demo"


@dataclass
class DemoReport:
    """What the demo loaded: one line per thing, for the person who ran it."""

    lines: list[str] = field(default_factory=list)


def examples_folder() -> Path:
    """`examples/` in the working directory, else the one beside the source tree."""
    here = Path("examples")
    if (here / "users.yaml").is_file():
        return here
    return Path(__file__).resolve().parents[3] / "examples"


def load_demo(
    sessions: sessionmaker[Session], folder: Path, now: datetime, settings: Settings
) -> DemoReport:
    """Load the examples; running it again changes nothing that is already there."""
    if not (folder / "users.yaml").is_file():
        raise ValidationFailed(f"no examples in {folder} (users.yaml is missing)")
    report = DemoReport()
    with writing(sessions) as session:
        people = _people(session, folder / "users.yaml", now, settings, report)
        login = _passwords(people, settings)
        names = _sequences(session, sorted(folder.glob("*.yaml")), now, report)
    contacts = folder / "contacts.csv"
    if contacts.is_file():
        imported = import_csv(
            session_factory=sessions,
            path=contacts,
            mapping={},
            default_region=settings.default_region,
            now=now,
            settings=settings,
            actor="demo",
        )
        report.lines.append(
            f"contacts: {imported.imported} new, {imported.updated} known from {contacts.name}"
        )
    with writing(sessions) as session:
        _enroll_by_trigger_tags(session, names, now, settings, report)
    report.lines.append(login)  # last: what a newcomer needs first after `make run`
    return report


def _passwords(demo_users: list[User], settings: Settings) -> str:
    """Give the demo's users the development password (never in production); how to log in."""
    if settings.environment == "production":
        return "users: no password in production (`cadenza users invite EMAIL`)"
    for user in demo_users:
        if user.password_hash is None:  # a password someone chose is kept
            user.password_hash = passwords.hash_password(DEMO_PASSWORD)
    people = ", ".join(f"{user.email} ({user.role})" for user in demo_users)
    return (
        f"log in at {settings.base_url.rstrip('/')}/login as {people} "
        f"with the development password {DEMO_PASSWORD!r} (unless changed since)"
    )


def _people(
    session: Session, path: Path, now: datetime, settings: Settings, report: DemoReport
) -> list[User]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    demo_users = []
    for person in data.get("users", []):
        user = users.get_user_by_email(session=session, email=person["email"])
        if user is None:
            user = users.add_user(
                session=session,
                email=person["email"],
                name=person.get("name", ""),
                role=person.get("role", "agent"),
                phone=person.get("phone"),
                now=now,
                default_region=settings.default_region,
            )
            report.lines.append(f"user {person['email']}")
        demo_users.append(user)
    before = {
        group.name: [user.email for user in users.group_members(session=session, group_id=group.id)]
        for group in users.list_groups(session=session)
    }
    for group in data.get("groups", []):
        users.add_group(session=session, name=group["name"], member_emails=group["members"])
        if before.get(group["name"]) != group["members"]:
            report.lines.append(f"group {group['name']}: {', '.join(group['members'])}")
    return demo_users


def _sequences(session: Session, files: list[Path], now: datetime, report: DemoReport) -> list[str]:
    paths = [path for path in files if path.name != "users.yaml"]
    results = sequences.apply_sources(session=session, sources=sequences.lint_files(paths), now=now)
    for result in results:
        report.lines.append(f"sequence {result.name}: {result.verb} v{result.version}")
    return [result.name for result in results]


def _enroll_by_trigger_tags(
    session: Session, names: list[str], now: datetime, settings: Settings, report: DemoReport
) -> None:
    """Contacts carrying a sequence's trigger tag are enrolled, as if just tagged.

    Only contacts never enrolled in it: loading the demo again (every `make run`) must not
    put a contact who finished a sequence back into it.
    """
    for name in names:
        _version, definition = sequences.latest_definition(session=session, name=name)
        for trigger in definition.enrollment.triggers:
            if trigger.on != "tag_added" or trigger.action != "enroll" or not trigger.tag:
                continue
            tagged = enrollments.audience(session=session, tag=trigger.tag, now=now)
            before = enrollments.ever_enrolled(session=session, sequence=name)
            ids = [contact_id for contact_id in tagged if contact_id not in before]
            if not ids:
                continue
            result = enrollments.enroll(
                session=session,
                sequence=name,
                contact_ids=ids,
                now=now,
                settings=settings,
                actor="demo",
            )
            refused = f" ({len(result.refused)} refused)" if result.refused else ""
            report.lines.append(
                f"{name}: enrolled {len(result.enrolled)} tagged {trigger.tag}{refused}"
            )
