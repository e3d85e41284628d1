"""The templated texts of the steps: template files, syntax, variables, shortcodes, bounds.

A `body` that is a single file name ending in .html, .htm, .txt, .md or .j2 names a template
file, read relative to the definition's folder; the steps returned have it inlined, which is
what `apply` stores. A template file's problems are located in that file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path as FilePath
from typing import Any

from cadenza.core import templates
from cadenza.core.definition import Step
from cadenza.core.lint.bounds import unbounded
from cadenza.core.lint.model import display
from cadenza.core.lint.yamlmap import Mark, Path, SourceMap
from cadenza.errors import Problem

TEMPLATE_FILE = re.compile(r"^[^\s{}]+\.(html?|txt|md|j2)$", re.IGNORECASE)
_TEXT_FIELDS = ("subject", "body", "title", "instructions", "url", "message", "script")

Steps = Mapping[int, Step]  # the steps that parsed, by their position in the definition


def inline_template_files(
    steps: Steps, source: SourceMap, path: str
) -> tuple[dict[int, Step], list[Problem]]:
    """The steps with the template files their bodies name read in, and those files' problems."""
    folder = FilePath(path).parent
    inlined: dict[int, Step] = {}
    problems: list[Problem] = []
    for index, step in steps.items():
        inlined[index] = step
        body = getattr(step, "body", None)
        if not isinstance(body, str) or not TEMPLATE_FILE.match(body.strip()):
            continue
        file = folder / body.strip()
        try:
            content = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            mark = source.at(("steps", index, "body"))
            reason = "not found" if isinstance(exc, FileNotFoundError) else "not readable"
            message = f"steps[{index}].body: template file {str(file)!r} {reason}"
            problems.append(Problem(path, mark.line, mark.col, message))
            continue
        inlined[index] = step.model_copy(update={"body": content})
        problems += _check(content, str(file), lambda line: Mark(line, 1), "")
    return inlined, problems


def named_files(steps: Steps, source: SourceMap, path: str) -> list[Problem]:
    """A problem for each body naming a file, for text that came from the network."""
    # A server must not read its own files because a request names them (../../etc/x.txt).
    problems = []
    for index, step in steps.items():
        body = getattr(step, "body", None)
        if isinstance(body, str) and TEMPLATE_FILE.match(body.strip()):
            mark = source.at(("steps", index, "body"))
            message = f"steps[{index}].body: names a template file; send the template's text"
            problems.append(Problem(path, mark.line, mark.col, message))
    return problems


def template_problems(steps: Steps, source: SourceMap, path: str) -> list[Problem]:
    """Every problem of the templates written in the definition itself."""
    problems: list[Problem] = []
    for index, step in steps.items():
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
    for index, variant in enumerate(getattr(step, "variants", None) or []):
        for name in ("subject", "body"):
            value = getattr(variant, name)
            if value:
                yield (*here, "variants", index, name), value


def _check(text: str, file: str, mark_of: Callable[[int], Mark], label: str) -> list[Problem]:
    """Syntax, variables, shortcodes and bounds of one template; `mark_of` places its lines."""
    try:
        error = templates.syntax_error(text)
        if error is not None:
            return [_at(file, mark_of(error[1]), f"{label}template syntax error: {error[0]}")]
        found = [
            (line, f"unknown variable {name}{_hint(name)}")
            for name, line in templates.unknown_variables(text)
        ]
        found += [
            (line, f"unknown shortcode [{name}] would be sent as written{_shortcode_hint(name)}")
            for name, line in templates.unknown_shortcodes(text)
        ]
        found += [(line, f"unbounded template: {what}") for what, line in unbounded(text)]
    except RecursionError:
        return [_at(file, mark_of(1), f"{label}template is nested too deeply")]
    return [_at(file, mark_of(line), label + message) for line, message in found]


def _at(file: str, mark: Mark, message: str) -> Problem:
    return Problem(file, mark.line, mark.col, message)


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


def _shortcode_hint(name: str) -> str:
    names = {code.lower(): code for code in templates.SHORTCODES}
    close = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.75)
    if close:
        return f" (did you mean [{names[close[0]]}]?)"
    return f" (shortcodes are {', '.join(f'[{code}]' for code in templates.SHORTCODES)})"
