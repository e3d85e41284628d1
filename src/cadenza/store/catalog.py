"""The catalog of sequences: by name, their latest version, and parsed definitions by version."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition
from cadenza.errors import NotFound
from cadenza.store.models import Sequence, SequenceVersion


def sequence_by_name(session: Session, name: str, *, lock: bool = False) -> Sequence:
    """The sequence with this name (locked for update when asked), or NotFound."""
    query = select(Sequence).where(Sequence.name == name)
    found = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no sequence named {name!r}")
    return found


def latest_version(session: Session, sequence: Sequence) -> SequenceVersion:
    """A sequence's newest version."""
    return session.execute(
        select(SequenceVersion)
        .where(SequenceVersion.sequence_id == sequence.id)
        .order_by(SequenceVersion.number.desc())
        .limit(1)
    ).scalar_one()


# Versions never change, so a parsed definition is kept for the life of the process. The key
# names the database too: two databases may both have a version 1.
_by_version: dict[tuple[str, int], Definition] = {}


def definition_for(*, session: Session, version_id: int) -> Definition:
    """A version's definition, parsed once per process."""
    key = (str(session.get_bind().engine.url), version_id)
    found = _by_version.get(key)
    if found is None:
        row = session.execute(
            select(SequenceVersion.definition).where(SequenceVersion.id == version_id)
        ).scalar_one()
        found = Definition.model_validate(row)
        if len(_by_version) > 4096:
            _by_version.clear()
        _by_version[key] = found
    return found


def forget_versions(session: Session, version_ids: Iterable[int]) -> None:
    """Drop deleted versions from the cache (SQLite may hand their ids out again)."""
    url = str(session.get_bind().engine.url)
    for version_id in version_ids:
        _by_version.pop((url, version_id), None)
