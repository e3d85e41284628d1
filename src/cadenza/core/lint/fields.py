"""Conditions that name custom fields, checked against the workspace's field definitions.

Pure: the caller (a service or the CLI) reads the definitions and passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.core.definition import BranchStep, Definition
from cadenza.core.field_types import FieldType, condition_problems
from cadenza.core.lint.graph import Report
from cadenza.core.lint.yamlmap import Unreadable, load
from cadenza.errors import Problem


def field_problems(
    definition: Definition, text: str, file: str, fields: Mapping[str, FieldType]
) -> list[Problem]:
    """Every condition naming an undefined custom field or comparing one with a wrong value."""
    try:
        source = load(text).source
    except Unreadable:
        return []  # lint reported it already
    report = Report(source, file)
    found: list[tuple[tuple[str | int, ...], str]] = []
    if definition.exit.when is not None:
        found += condition_problems(definition.exit.when, ("exit", "when"), fields)
    for index, step in enumerate(definition.steps):
        if step.when is not None:
            found += condition_problems(step.when, ("steps", index, "when"), fields)
        if isinstance(step, BranchStep):
            for number, case in enumerate(step.branches):
                here = ("steps", index, "branches", number, "when")
                found += condition_problems(case.when, here, fields)
    for path, message in found:
        report.at(path, message)
    return report.problems
