"""Sandboxed Jinja2 templates: rendering within limits, `[FirstName]` shortcodes, variables.

Variables: `contact.*` (the built-in contact fields and `full_name`; custom fields as
`contact.fields.<name>`), `user.*` (the assignee or owner: name, first_name, email, phone),
`sender.*` (email, sms, name) and `sequence.*` (name).

Custom fields are also flattened onto `contact` at render time (`ContactView.template_vars`),
but lint accepts them only as `contact.fields.<name>`: a bare `contact.<name>` that is not a
built-in is far more often a typo than a field, and lint cannot know which fields contacts
will have. A custom field a contact lacks is an error when rendered (StrictUndefined); write
`{{ contact.fields.budget | default('') }}` where a field is optional. `None` renders as "".

Rendering happens in the limited sandbox of `core.template_sandbox`: a template over its
limits (time, size, depth) raises TemplateError, never anything worse.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import (
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.environment import Template
from jinja2.runtime import Undefined
from markupsafe import escape

from cadenza.core.contact import ContactView
from cadenza.core.template_sandbox import (
    BUDGET,
    OUTPUT_LIMIT,
    RANGE_LIMIT,
    TICKING,
    TIME_LIMIT,
    Budget,
    Sandbox,
    TemplateError,
    too_large,
)

__all__ = [
    "KNOWN",
    "OUTPUT_LIMIT",
    "RANGE_LIMIT",
    "SHORTCODES",
    "TIME_LIMIT",
    "TemplateError",
    "build_variables",
    "check_syntax",
    "expand_shortcodes",
    "parse",
    "render",
    "substitution_only",
    "syntax_error",
    "unknown_shortcodes",
    "unknown_variables",
]

SHORTCODES: dict[str, str] = {
    "FirstName": "contact.first_name",
    "LastName": "contact.last_name",
    "FullName": "contact.full_name",
    "Company": "contact.company",
    "Email": "contact.email",
    "Phone": "contact.phone",
    "LeadSource": "contact.lead_source",
    "OwnerName": "user.name",
    "OwnerFirstName": "user.first_name",
    "OwnerEmail": "user.email",
    "OwnerPhone": "user.phone",
    "SenderName": "sender.name",
    "SenderEmail": "sender.email",
    "SenderPhone": "sender.sms",
    "SequenceName": "sequence.name",
}
_SHORTCODE_OF = {name.lower(): variable for name, variable in SHORTCODES.items()}
_SHORTCODE = re.compile(r"\[(" + "|".join(SHORTCODES) + r")\]", re.IGNORECASE)
# A bracketed word that reads as a shortcode; not [1], [ ], nor a markdown link [text](url).
_BRACKETED = re.compile(r"(?<!\])\[([A-Za-z][A-Za-z0-9]*)\](?![(\[])")

KNOWN: dict[str, frozenset[str]] = {
    "contact": frozenset(ContactView.model_fields) | {"full_name"},
    "user": frozenset({"name", "first_name", "email", "phone"}),
    "sender": frozenset({"email", "sms", "name"}),
    "sequence": frozenset({"name"}),
}

_PLAIN = Sandbox(html=False)
_HTML = Sandbox(html=True)


def expand_shortcodes(text: str) -> str:
    """`[FirstName]` -> `{{ contact.first_name }}` (case-insensitive; others left alone)."""
    return _SHORTCODE.sub(lambda m: "{{ " + _SHORTCODE_OF[m.group(1).lower()] + " }}", text)


def unknown_shortcodes(text: str) -> list[tuple[str, int]]:
    """Bracketed words in the text that look like shortcodes but are none, with their line."""
    try:
        tree = parse(text)
    except (TemplateSyntaxError, RecursionError):
        return []
    found: list[tuple[str, int]] = []
    for data in tree.find_all(nodes.TemplateData):
        for match in _BRACKETED.finditer(data.data):
            found.append((match.group(1), data.lineno + data.data.count("\n", 0, match.start())))
    return found


@lru_cache(maxsize=2048)
def _compile(text: str, html: bool) -> Template:
    environment = _HTML if html else _PLAIN
    tree = environment.parse(expand_shortcodes(text))
    for loop in list(tree.find_all(nodes.For)):
        # Each turn of each loop counts against the render's time, nested loops included.
        loop.iter = nodes.Filter(loop.iter, TICKING, [], [], None, None, lineno=loop.lineno)
    code = environment.compile(tree)
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


# A plain substitution: text as written, or the value at a dotted path (`contact.first_name`).
Part = str | tuple[str, ...]


@lru_cache(maxsize=2048)
def _substitution(text: str, html: bool) -> tuple[Part, ...] | None:
    """The template as text and dotted paths when that is all it is, else None.

    Most message templates only put contact fields into text. Those are filled here, as
    Jinja's own code for them would, without a render context per message: a worker renders
    two or three templates per step.
    """
    environment = _HTML if html else _PLAIN
    try:
        tree = environment.parse(expand_shortcodes(text))
    except (TemplateSyntaxError, RecursionError):
        return None
    parts: list[Part] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            path: list[str] = []
            while isinstance(node, nodes.Getattr):
                path.append(node.attr)
                node = node.node
            if not isinstance(node, nodes.Name) or node.ctx != "load":
                return None
            parts.append((node.name, *reversed(path)))
    return tuple(parts)


def substitution_only(text: str) -> bool:
    """Whether a template only puts values into text (so rendering it calls nothing)."""
    return _substitution(text, False) is not None


def _substitute(parts: tuple[Part, ...], variables: Mapping[str, Any], html: bool) -> str | None:
    """The filled-in text; None for what only the full render may answer (an undefined
    value, a name only Jinja's globals hold, output over the limit)."""
    environment = _HTML if html else _PLAIN
    finalize = environment.finalize
    assert finalize is not None
    out: list[str] = []
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        if part[0] not in variables:
            return None
        value = variables[part[0]]
        for name in part[1:]:
            value = environment.getattr(value, name)  # the sandbox's rules, as Jinja's
            if isinstance(value, Undefined):
                return None
        value = finalize(value)
        out.append(escape(value) if html else str(value))
    result = "".join(out)
    return result if len(result) <= OUTPUT_LIMIT else None


def render(text: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
    """Render a template within its limits; `html=True` escapes the values put into it."""
    parts = _substitution(text, html)
    if parts is not None:
        try:
            done = _substitute(parts, variables, html)
        except Exception:  # whatever it is, the full render meets it and says what it is
            done = None
        if done is not None:
            return done
    token = BUDGET.set(Budget(time.perf_counter() + TIME_LIMIT))
    try:
        return _collect(_compile(text, html).generate(variables))
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateError(_undefined_message(text, variables, exc)) from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"template failed: {exc}") from None
    except RecursionError:
        raise TemplateError("template is nested too deeply") from None
    except MemoryError:
        raise TemplateError("template needs more memory than a render may have") from None
    except Exception as exc:
        # Templates are user input: whatever they make fail is their error, not the worker's.
        raise TemplateError(f"template failed: {exc}") from None
    finally:
        BUDGET.reset(token)


def _collect(chunks: Iterator[str]) -> str:
    """The output, stopped at the limit; counted 64 pieces at a time, which C loops do at once."""
    parts: list[str] = []
    size = 0
    while batch := list(islice(chunks, 64)):
        size += sum(map(len, batch))
        if size > OUTPUT_LIMIT:
            raise too_large()
        parts += batch
    return "".join(parts)


def _undefined_message(text: str, variables: Mapping[str, Any], exc: UndefinedError) -> str:
    """Name the variable that is missing, which Jinja's own message does not."""
    tree = parse(text)
    local = _local_names(tree)
    for chain, line in _chains(tree):
        if chain[0] in local:
            continue
        value: Any = variables
        for depth, part in enumerate(chain):
            if not isinstance(value, Mapping) or part not in value:
                if isinstance(value, Mapping) or depth == 0:
                    path = ".".join(chain[: depth + 1])
                    return f"undefined variable {path} on line {line} of the template"
                break
            value = value[part]
    return f"undefined variable in template: {exc.message}"


def build_variables(
    contact: ContactView,
    *,
    user: Mapping[str, Any] | None = None,
    sender: Mapping[str, Any] | None = None,
    sequence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables a step's templates see; every known name is present (blank if unknown)."""
    people = dict.fromkeys(KNOWN["user"], "") | dict(user or {})
    if not people.get("first_name"):
        people["first_name"] = str(people.get("name") or "").split(" ")[0]
    return {
        "contact": contact.template_vars(),
        "user": people,
        "sender": dict.fromkeys(KNOWN["sender"], "") | dict(sender or {}),
        "sequence": dict.fromkeys(KNOWN["sequence"], "") | dict(sequence or {}),
    }


def check_syntax(text: str) -> str | None:
    """None when the template parses, else the message (with its template-relative line)."""
    error = syntax_error(text)
    return None if error is None else f"line {error[1]}: {error[0]}"


def parse(text: str) -> nodes.Template:
    """The template's syntax tree, shortcodes expanded (raises Jinja's TemplateSyntaxError)."""
    return _PLAIN.parse(expand_shortcodes(text))


def syntax_error(text: str) -> tuple[str, int] | None:
    """None when the template parses, else (message, template-relative line)."""
    try:
        parse(text)
    except TemplateSyntaxError as exc:
        return exc.message or "syntax error", exc.lineno
    except RecursionError:
        return "template is nested too deeply", 1
    return None


def unknown_variables(text: str) -> list[tuple[str, int]]:
    """Variables the template uses that no step will provide, with their template line."""
    try:
        tree = parse(text)
    except (TemplateSyntaxError, RecursionError):
        return []
    allowed = _local_names(tree)
    unknown: list[tuple[str, int]] = []
    for chain, line in _chains(tree):
        name = _unknown(chain, allowed)
        if name is not None and (name, line) not in unknown:
            unknown.append((name, line))
    return unknown


def _local_names(tree: nodes.Template) -> set[str]:
    """Names the template defines itself (loop variables, set, macros and their arguments)."""
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    local |= {macro.name for macro in tree.find_all(nodes.Macro)}
    return local | set(_PLAIN.globals) | {"loop", "caller", "varargs", "kwargs"}


def _unknown(chain: list[str], allowed: set[str]) -> str | None:
    root = chain[0]
    if root in allowed:
        return None
    if root not in KNOWN:
        return root
    if len(chain) == 1 or chain[1] in KNOWN[root]:
        return None
    return ".".join(chain[:2])


def _chains(tree: nodes.Template) -> Iterator[tuple[list[str], int]]:
    """Each `a.b.c` (or `a['b']`) read in the template, outermost first, with its line."""
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue
        chain = _chain(node, inner)
        if chain:
            yield chain, node.lineno


def _chain(node: nodes.Node, inner: set[int]) -> list[str]:
    """The dotted names of an attribute chain rooted at a loaded name ([] when it is not)."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        inner.add(id(node.node))
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.clear()  # a computed key: only what lies above it can be checked
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return []
    return [node.name, *reversed(parts)]
