"""Owner, sharing and team in a definition: checked at their line, stored only when given."""

from __future__ import annotations

from cadenza.core.lint import lint_text
from cadenza.services.sequences import canonical

BASE = """\
name: Shared
owner: ana@example.com
steps:
  - {key: a, action: add_tag, tag: x}
"""


def test_sharing_and_team_are_read_from_the_definition() -> None:
    text = BASE + "sharing: {mode: team, access: edit}\nteam: [bo@example.com]\n"
    definition, problems = lint_text(text, "s.yaml")
    assert not problems and definition is not None
    assert definition.sharing is not None
    assert (definition.sharing.mode, definition.sharing.access) == ("team", "edit")
    assert definition.team == ["bo@example.com"]


def test_bad_sharing_and_team_are_reported_at_their_line() -> None:
    text = BASE + "sharing: {mode: friends, access: all}\nteam: [bo@example.com, bo]\n"
    _, problems = lint_text(text, "s.yaml")
    assert [str(p) for p in problems] == [
        "s.yaml:5:17: sharing.mode: 'friends' is not one of private, team or everyone",
        "s.yaml:5:34: sharing.access: 'all' is not one of view or edit",
        "s.yaml:6:24: team[1]: 'bo' is not a user's email",
    ]


def test_a_definition_without_them_is_stored_as_before_they_existed() -> None:
    definition, _ = lint_text(BASE, "s.yaml")
    assert definition is not None
    stored = canonical(definition)
    assert "sharing" not in stored and "team" not in stored
