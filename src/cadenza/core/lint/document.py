"""`cadenza lint`: every problem of a definition file, each at its line and column.

Order of work: YAML (syntax, duplicate keys) -> the model (pydantic, mapped back to lines)
-> template files, templates and step rules on every step that parsed, and the step graph
(`graph_problems`) when every step parsed, else what is certain of it (`parts`).

A `body` that is a single file name ending in .html, .htm, .txt, .md or .j2 names a template
file, read relative to the definition's folder; the definition returned has it inlined,
which is what `apply` stores.
"""

from __future__ import annotations

from pathlib import Path as FilePath

from pydantic import ValidationError

from cadenza.core.definition import Definition, Step
from cadenza.core.lint.graph import graph_problems
from cadenza.core.lint.model import model_problems
from cadenza.core.lint.parts import Parts, partial_graph_problems, parts
from cadenza.core.lint.texts import TEMPLATE_FILE as TEMPLATE_FILE
from cadenza.core.lint.texts import inline_template_files, named_files, template_problems
from cadenza.core.lint.yamlmap import SourceMap, Unreadable, load
from cadenza.errors import NotFound, Problem


def lint_file(path: str | FilePath) -> tuple[Definition | None, list[Problem]]:
    """Lint one file; raise NotFound when it does not exist."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"{path}: no such file") from None
    except UnicodeDecodeError:
        return None, [Problem(str(path), 1, 1, "not a text file (expected UTF-8 YAML or JSON)")]
    return lint_text(text, str(path))


def lint_text(
    text: str, path: str, *, read_files: bool = True
) -> tuple[Definition | None, list[Problem]]:
    """The definition (None if it did not parse) and every problem, sorted by line.

    `path` names the file in problems and is where template files are looked up from.
    With `read_files=False` (text from the network) a body naming a file is a problem.
    """
    try:
        return _lint(text, path, read_files)
    except Unreadable as exc:
        return None, [Problem(path, exc.mark.line, exc.mark.col, exc.message)]
    except RecursionError:
        # Input is bounded where it is read; this is the net under what was missed.
        return None, [Problem(path, 1, 1, "nested too deeply to check")]


def _lint(text: str, path: str, read_files: bool) -> tuple[Definition | None, list[Problem]]:
    document = load(text)
    problems = [
        Problem(
            path,
            d.mark.line,
            d.mark.col,
            f"duplicate key {d.path[-1]!r} (first on line {d.first.line})",
        )
        for d in document.duplicates
    ]
    if not isinstance(document.data, dict):
        problems.append(
            Problem(path, 1, 1, "a definition is a mapping with at least name and steps")
        )
        return None, _sorted(problems, path)
    definition: Definition | None
    try:
        definition = Definition.model_validate(document.data)
        found = Parts.of(definition)
    except ValidationError as exc:
        definition = None
        problems += model_problems(exc, document.data, document.source, path)
        found = parts(document.data)
    steps, more = _checks(found, document.source, path, read_files)
    if definition is not None and read_files:
        definition = definition.model_copy(update={"steps": [steps[i] for i in sorted(steps)]})
    return definition, _sorted(problems + more, path)


def _checks(
    found: Parts, source: SourceMap, path: str, read_files: bool
) -> tuple[dict[int, Step], list[Problem]]:
    """The steps (template files inlined) and the problems of templates, steps and graph."""
    if read_files:
        steps, problems = inline_template_files(found.steps, source, path)
    else:
        steps, problems = dict(found.steps), named_files(found.steps, source, path)
    problems += template_problems(steps, source, path)
    if found.complete:
        ordered = [steps[i] for i in sorted(steps)]
        problems += graph_problems(ordered, found.exit_when, found.senders, source, path)
    else:
        problems += partial_graph_problems(found, source, path)
    return steps, problems


def _sorted(problems: list[Problem], path: str) -> list[Problem]:
    # Problems in the definition first, then those inside the template files it names.
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.path != path, p.path, p.line, p.col, p.message))
