"""`cadenza lint`: every problem of a definition file, each at its line and column.

Order of work: YAML (syntax, duplicate keys) -> the model (pydantic, mapped back to lines)
-> if the model parsed, template files, templates, and the step graph (`lint_graph`).

A `body` that is a single file name ending in .html, .htm, .txt, .md or .j2 names a template
file, read relative to the definition's folder; the definition returned has it inlined,
which is what `apply` stores.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path as FilePath
from typing import Any

from pydantic import ValidationError

from cadenza.core import templates
from cadenza.core.definition import Definition, Step
from cadenza.core.lint.graph import graph_problems
from cadenza.core.lint.model import display, model_problems
from cadenza.core.lint.yamlmap import Mark, Path, SourceMap, Unreadable, load
from cadenza.errors import NotFound, Problem

TEMPLATE_FILE = re.compile(r"^[^\s{}]+\.(html?|txt|md|j2)$", re.IGNORECASE)
_TEXT_FIELDS = ("subject", "body", "title", "instructions", "url")


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
    try:
        definition = Definition.model_validate(document.data)
    except ValidationError as exc:
        problems += model_problems(exc, document.data, document.source, path)
        return None, _sorted(problems, path)
    if read_files:
        definition, file_problems = _inline_template_files(definition, document.source, path)
        problems += file_problems
    else:
        problems += _named_files(definition, document.source, path)
    problems += _template_problems(definition, document.source, path)
    problems += graph_problems(definition, document.source, path)
    return definition, _sorted(problems, path)


def _sorted(problems: list[Problem], path: str) -> list[Problem]:
    # Problems in the definition first, then those inside the template files it names.
    return sorted(problems, key=lambda p: (p.path != path, p.path, p.line, p.col, p.message))


def _inline_template_files(
    definition: Definition, source: SourceMap, path: str
) -> tuple[Definition, list[Problem]]:
    folder = FilePath(path).parent
    steps: list[Step] = []
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
        body = getattr(step, "body", None)
        if not isinstance(body, str) or not TEMPLATE_FILE.match(body.strip()):
            steps.append(step)
            continue
        file = folder / body.strip()
        try:
            content = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            mark = source.at(("steps", index, "body"))
            reason = "not found" if isinstance(exc, FileNotFoundError) else "not readable"
            message = f"steps[{index}].body: template file {str(file)!r} {reason}"
            problems.append(Problem(path, mark.line, mark.col, message))
            steps.append(step)
            continue
        steps.append(step.model_copy(update={"body": content}))
        problems += _check(content, str(file), lambda line: Mark(line, 1), "")
    return definition.model_copy(update={"steps": steps}), problems


def _named_files(definition: Definition, source: SourceMap, path: str) -> list[Problem]:
    # A server must not read its own files because a request names them (../../etc/x.txt).
    problems = []
    for index, step in enumerate(definition.steps):
        body = getattr(step, "body", None)
        if isinstance(body, str) and TEMPLATE_FILE.match(body.strip()):
            mark = source.at(("steps", index, "body"))
            message = f"steps[{index}].body: names a template file; send the template's text"
            problems.append(Problem(path, mark.line, mark.col, message))
    return problems


def _template_problems(definition: Definition, source: SourceMap, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
        for where, text in _texts(step, ("steps", index)):
            if where[-1] == "body" and _is_inlined(source, where, text):
                continue  # checked in its own file, with that file's lines
            mark_of = partial(source.template_mark, where)
            problems += _check(text, path, mark_of, f"{display(where)}: ")
    return problems


def _is_inlined(source: SourceMap, where: Path, text: str) -> bool:
    node = source.node(where)
    written = getattr(node, "value", None)
    return isinstance(written, str) and written != text and bool(TEMPLATE_FILE.match(written))


def _texts(step: Step, here: Path) -> Iterator[tuple[Path, str]]:
    """The templated texts of a step and where each is written."""
    for name in _TEXT_FIELDS:
        value: Any = getattr(step, name, None)
        if isinstance(value, str) and value:
            yield (*here, name), value
    headers: Any = getattr(step, "headers", None)
    for header, value in (headers or {}).items():
        yield (*here, "headers", header), value


def _check(text: str, file: str, mark_of: Callable[[int], Mark], label: str) -> list[Problem]:
    """Syntax and variables of one template; `mark_of(line)` places a template line."""
    error = templates.syntax_error(text)
    if error is not None:
        mark = mark_of(error[1])
        return [Problem(file, mark.line, mark.col, f"{label}template syntax error: {error[0]}")]
    problems = []
    for name, line in templates.unknown_variables(text):
        mark = mark_of(line)
        problems.append(
            Problem(file, mark.line, mark.col, f"{label}unknown variable {name}{_hint(name)}")
        )
    return problems


def _hint(name: str) -> str:
    root, _, attribute = name.partition(".")
    known = templates.KNOWN.get(root)
    if known is None:
        return " (variables are contact.*, user.*, sender.*, sequence.*)"
    close = difflib.get_close_matches(attribute, sorted(known), n=1)
    if close:
        return f" (did you mean {root}.{close[0]}?)"
    if root == "contact":
        return f" (custom fields are contact.fields.{attribute})"
    return f" (known: {', '.join(f'{root}.{k}' for k in sorted(known))})"
