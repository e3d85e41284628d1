"""Users (admin, manager, agent) and groups, including round-robin assignment within a group."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert, select, update
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
    directory = Directory(session)
    user = session.get(User, directory.next_member(group_name))
    directory.flush()
    assert user is not None, "a group's members are users"
    return user


class Directory:
    """Whom rules name, inside one transaction: the machine's Directory, and task assignees.

    Made once per batch: users are read once each; a group's members are read, and its row
    locked, at its first round robin of the batch; later picks advance its cursor in memory,
    and `flush` writes the cursors once, so a batch of assignments costs what one does.

    A turn whose answer can wait (a task's assignee: `take_turn_later`) is taken when the
    batch is decided (`take_turns`), in the order the turns were asked for, before any turn
    asked for after it. The group's row is locked only then: the batch before, which holds
    that lock until its COMMIT, is written while this one is decided, instead of before.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._groups: dict[str, _Turns] = {}
        self._ids: dict[str, int | None] = {}
        self._people: dict[int, dict[str, str]] = {}
        self._later: dict[str, list[Callable[[int | None], None]]] = {}  # per group, in order

    def owner(self, rule: str) -> str | None:
        """The email of the user `user:<email>` names, or a round robin's next member."""
        kind, _, name = rule.partition(":")
        if kind == "round_robin":
            self._take_later(name)
            return self._turns(name).take()[1]
        if self.user_id(name) is None:
            raise StepFailed(f"no user {name}")
        return name.strip().lower()

    def user_id(self, email: str | None) -> int | None:
        """The id of the user with this email (any case), or None."""
        if not email:
            return None
        key = email.strip().lower()
        if key not in self._ids:
            query = select(User.id).where(User.email == key)
            self._ids[key] = self.session.execute(query).scalar_one_or_none()
        return self._ids[key]

    def next_member(self, group: str) -> int:
        """The id of the group's next member in turn (NotFound for a missing or empty group)."""
        self._take_later(group)
        try:
            return self._turns(group).take()[0]
        except StepFailed as exc:
            raise NotFound(str(exc)) from None

    def take_turn_later(self, group: str, given: Callable[[int | None], None]) -> None:
        """The group's next turn, handed to `given` (the member's id) by `take_turns`; None
        when the group was deleted or emptied since the definition named it: the task waits
        unassigned (the to-do list's *Unassigned* view) instead of holding up the batch."""
        self._later.setdefault(group, []).append(given)

    def take_turns(self) -> None:
        """Take the turns asked for with `take_turn_later`, in order."""
        for group in list(self._later):
            self._take_later(group)

    def _take_later(self, group: str) -> None:
        waiting = self._later.pop(group, None)
        if not waiting:
            return
        try:
            turns = self._turns(group)
        except StepFailed:  # no such group any more, or nobody in it
            for given in waiting:
                given(None)
            return
        for given in waiting:
            given(turns.take()[0])

    def person(self, user_id: int | None) -> dict[str, str]:
        """A user's name, email and phone, as `user.*` in templates ({} for nobody)."""
        if user_id is None:
            return {}
        if user_id not in self._people:
            user = self.session.get(User, user_id)
            self._people[user_id] = (
                {"name": user.name, "email": user.email, "phone": user.phone or ""}
                if user is not None
                else {}
            )
        return self._people[user_id]

    def flush(self) -> None:
        """Write the cursors the batch's round robins advanced."""
        self.take_turns()
        for turns in self._groups.values():
            if turns.cursor != turns.start:
                # A Core statement: it may go out in a pipeline, where no row count comes back.
                self.session.connection().execute(
                    update(Group).where(Group.id == turns.group_id).values(rr_cursor=turns.cursor)
                )
                turns.start = turns.cursor

    def _turns(self, name: str) -> _Turns:
        if name not in self._groups:
            query = select(Group).where(Group.name == name).with_for_update()
            group = self.session.scalar(query.execution_options(populate_existing=True))
            if group is None:
                raise StepFailed(f"no group {name}")
            members = self.session.execute(
                select(GroupMember.position, User.id, User.email)
                .join(User, User.id == GroupMember.user_id)
                .where(GroupMember.group_id == group.id)
                .order_by(GroupMember.position)
            ).all()
            if not members:
                raise StepFailed(f"group {name} has no members")
            turns = [(p, i, e) for p, i, e in members]
            self._groups[name] = _Turns(group.id, turns, group.rr_cursor)
        return self._groups[name]


class _Turns:
    """A group's members in order and whose turn it is, within one batch."""

    def __init__(self, group_id: int, members: list[tuple[int, int, str]], cursor: int) -> None:
        self.group_id, self.members, self.start, self.cursor = group_id, members, cursor, cursor

    def take(self) -> tuple[int, str]:
        """The next member in turn (as `next_round_robin` picks): id and email."""
        position, user_id, email = next(
            ((p, i, e) for p, i, e in self.members if p > self.cursor), self.members[0]
        )
        self.cursor = position
        return user_id, email


def set_timezone(*, session: Session, user_id: int, zone: str | None) -> User:
    """The zone a person's pages show times in (None or empty: their browser's again)."""
    from cadenza.core.zones import is_timezone

    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    chosen = (zone or "").strip() or None
    if chosen is not None and (len(chosen) > 64 or not is_timezone(chosen)):
        raise ValidationFailed(f"{chosen!r} is not a time zone (an IANA name like Europe/Paris)")
    user.timezone = chosen
    return user
