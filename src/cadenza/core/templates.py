"""Sandboxed Jinja2 templates: rendering, `[FirstName]` shortcodes, and the variable check.

Variables: `contact.*` (the built-in contact fields and `full_name`; custom fields as
`contact.fields.<name>`), `user.*` (the assignee or owner: name, first_name, email, phone),
`sender.*` (email, sms, name) and `sequence.*` (name).

Custom fields are also flattened onto `contact` at render time (`ContactView.template_vars`),
but lint accepts them only as `contact.fields.<name>`: a bare `contact.<name>` that is not a
built-in is far more often a typo than a field, and lint cannot know which fields contacts
will have. A custom field a contact lacks is an error when rendered (StrictUndefined); write
`{{ contact.fields.budget | default('') }}` where a field is optional. `None` renders as "".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.environment import Template
from jinja2.sandbox import SandboxedEnvironment

from cadenza.core.contact import ContactView
from cadenza.errors import CadenzaError


class TemplateError(CadenzaError):
    """A template could not be parsed or rendered."""

    title = "Template error"


SHORTCODES: dict[str, str] = {
    "firstname": "contact.first_name",
    "lastname": "contact.last_name",
    "fullname": "contact.full_name",
    "company": "contact.company",
    "email": "contact.email",
    "phone": "contact.phone",
    "leadsource": "contact.lead_source",
    "ownername": "user.name",
    "ownerfirstname": "user.first_name",
    "owneremail": "user.email",
    "ownerphone": "user.phone",
    "sendername": "sender.name",
    "senderemail": "sender.email",
    "senderphone": "sender.sms",
    "sequencename": "sequence.name",
}
_SHORTCODE = re.compile(r"\[(" + "|".join(SHORTCODES) + r")\]", re.IGNORECASE)

KNOWN: dict[str, frozenset[str]] = {
    "contact": frozenset(ContactView.model_fields) | {"full_name"},
    "user": frozenset({"name", "first_name", "email", "phone"}),
    "sender": frozenset({"email", "sms", "name"}),
    "sequence": frozenset({"name"}),
}


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_PLAIN = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=False)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=True)


def expand_shortcodes(text: str) -> str:
    """`[FirstName]` -> `{{ contact.first_name }}` (case-insensitive; others left alone)."""
    return _SHORTCODE.sub(lambda m: "{{ " + SHORTCODES[m.group(1).lower()] + " }}", text)


@lru_cache(maxsize=2048)
def _compile(text: str, html: bool) -> Template:
    environment = _HTML if html else _PLAIN
    return environment.from_string(expand_shortcodes(text))


def render(text: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
    """Render a template; `html=True` escapes the values put into it."""
    try:
        return _compile(text, html).render(variables)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateError(_undefined_message(text, variables, exc)) from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"template failed: {exc}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # Templates are user input: a filter given the wrong type is their error, not ours.
        raise TemplateError(f"template failed: {exc}") from None


def _undefined_message(text: str, variables: Mapping[str, Any], exc: UndefinedError) -> str:
    """Name the variable that is missing, which Jinja's own message does not."""
    tree = _PLAIN.parse(expand_shortcodes(text))
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


def syntax_error(text: str) -> tuple[str, int] | None:
    """None when the template parses, else (message, template-relative line)."""
    try:
        _PLAIN.parse(expand_shortcodes(text))
    except TemplateSyntaxError as exc:
        return exc.message or "syntax error", exc.lineno
    return None


def unknown_variables(text: str) -> list[tuple[str, int]]:
    """Variables the template uses that no step will provide, with their template line."""
    try:
        tree = _PLAIN.parse(expand_shortcodes(text))
    except TemplateSyntaxError:
        return []
    allowed = _local_names(tree)
    unknown: list[tuple[str, int]] = []
    for chain, line in _chains(tree):
        name = _unknown(chain, allowed)
        if name is not None and (name, line) not in unknown:
            unknown.append((name, line))
    return unknown


def _local_names(tree: nodes.Template) -> set[str]:
    """Names the template defines itself (loop variables, set, macro arguments) or Jinja has."""
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
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
