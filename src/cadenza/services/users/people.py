"""Users (admin, manager, agent) and groups, including round-robin assignment within a group."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import normalize_email, parse_phone
from cadenza.core.decisions import StepFailed
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services.users import passwords
from cadenza.store.models import Group, GroupMember, User

ROLES = ("admin", "manager", "agent")


def add_user(
    *,
    session: Session,
    email: str,
    name: str = "",
    role: str = "agent",
    phone: str | None = None,
    now: datetime,
    default_region: str = "US",
    password: str | None = None,
) -> User:
    """Create a user (who may log in if given a password); bad input is ValidationFailed."""
    problems: list[str] = []
    try:
        email = normalize_email(email.strip())
    except ValueError as exc:
        problems.append(f"email: {exc}")
    if role not in ROLES:
        problems.append(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if phone is not None and phone.strip():
        try:
            phone = parse_phone(phone.strip(), default_region)[0]
        except ValueError as exc:
            problems.append(f"phone: {exc}")
    if password is not None:
        try:
            passwords.check_rule(password)
        except ValidationFailed as exc:
            problems.append(f"password: {exc}")
    if problems:
        raise ValidationFailed("; ".join(problems))
    if get_user_by_email(session=session, email=email) is not None:
        raise Conflict(f"user {email} already exists")
    user = User(email=email, name=name.strip(), role=role, phone=phone or None, created_at=now)
    if password is not None:
        user.password_hash = passwords.hash_password(password)
    session.add(user)
    session.flush()
    return user


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """The user with this email (any case), or None."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def list_users(*, session: Session) -> list[User]:
    """Every user, by email."""
    return list(session.scalars(select(User).order_by(User.email)))


def add_group(*, session: Session, name: str, member_emails: list[str]) -> Group:
    """Create a group, or redefine an existing one: its members become exactly these, in order.

    Replacing (not extending) makes `groups add` declarative and repeatable, like `apply`.
    An unknown member is NotFound naming them; nothing changes then.
    """
    name = name.strip()
    if not name:
        raise ValidationFailed("a group needs a name")
    emails = list(dict.fromkeys(email.strip().lower() for email in member_emails))
    if not emails:
        raise ValidationFailed(f"group {name} needs at least one member")
    users = {u.email: u for u in session.scalars(select(User).where(User.email.in_(emails)))}
    missing = [email for email in emails if email not in users]
    if missing:
        raise NotFound(f"no user {', '.join(missing)} (add them with `cadenza users add`)")
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        group = Group(name=name, rr_cursor=-1)
        session.add(group)
        session.flush()
    elif [u.email for u in group_members(session=session, group_id=group.id)] == emails:
        return group  # already exactly so: nothing changes, the round robin's turn stays
    session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    rows = [
        {"group_id": group.id, "user_id": users[email].id, "position": position}
        for position, email in enumerate(emails)
    ]
    session.execute(insert(GroupMember), rows)
    return group


def list_groups(*, session: Session) -> list[Group]:
    """Every group, by name."""
    return list(session.scalars(select(Group).order_by(Group.name)))


def group_members(*, session: Session, group_id: int) -> list[User]:
    """A group's members in position order."""
    query = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.position)
    )
    return list(session.scalars(query))


def next_round_robin(*, session: Session, group_name: str) -> User:
    """The group's next member in turn; advances the group's cursor in the caller's transaction.

    PostgreSQL locks the group row (SELECT … FOR UPDATE) so that concurrent callers take
    turns; on SQLite the caller's write transaction (`writing`, BEGIN IMMEDIATE) already
    serialises them.
    """
    query = select(Group).where(Group.name == group_name).with_for_update()
    group = session.scalar(query.execution_options(populate_existing=True))
    if group is None:
        raise NotFound(f"no group {group_name}")
    members = session.execute(
        select(GroupMember.position, User)
        .join(User, User.id == GroupMember.user_id)
        .where(GroupMember.group_id == group.id)
        .order_by(GroupMember.position)
    ).all()
    if not members:
        raise NotFound(f"group {group_name} has no members")
    position, user = next(((p, u) for p, u in members if p > group.rr_cursor), members[0])
    group.rr_cursor = position
    session.flush()
    return user


class Directory:
    """The machine's Directory inside a transaction: whom an owner rule names, now."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def owner(self, rule: str) -> str | None:
        """The email of the user `user:<email>` names, or a round robin's next member."""
        kind, _, name = rule.partition(":")
        try:
            if kind == "round_robin":
                return next_round_robin(session=self.session, group_name=name).email
            user = get_user_by_email(session=self.session, email=name)
        except NotFound as exc:
            raise StepFailed(str(exc)) from None
        if user is None:
            raise StepFailed(f"no user {name}")
        return user.email
