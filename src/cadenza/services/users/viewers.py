"""Who is acting: a person and the name history gives their actions (no database needed).

Kept apart from `access`, which applies rights to rows through the models, so that a listing
read through SQLAlchemy Core alone can take a Viewer without loading the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.access import Person


@dataclass(frozen=True)
class Viewer:
    """The person behind a request and the name history gives their actions."""

    person: Person
    actor: str
    email: str | None = None

    @property
    def user_id(self) -> int | None:
        return self.person.user_id

    @property
    def sees_everything(self) -> bool:
        return self.person.role == "admin"


# The operator at the CLI: direct database access, so every right (history names `cli`,
# or the user `--as` gives).
OPERATOR = Viewer(Person(None, "admin"), "cli")
