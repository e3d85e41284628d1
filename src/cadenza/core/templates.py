"""Sandboxed Jinja2 templates: rendering within limits, `[FirstName]` shortcodes, variables.

Variables: `contact.*` (the built-in contact fields and `full_name`; custom fields as
`contact.fields.<name>`), `user.*` (the assignee or owner: name, first_name, email, phone),
`sender.*` (email, sms, name) and `sequence.*` (name).

Custom fields are also flattened onto `contact` at render time (`ContactView.template_vars`),
but lint accepts them only as `contact.fields.<name>`: a bare `contact.<name>` that is not a
built-in is far more often a typo than a field, and lint cannot know which fields contacts
will have. A custom field a contact lacks is an error when rendered (StrictUndefined); write
`{{ contact.fields.budget | default('') }}` where a field is optional. `None` renders as "".

Templates are user input that runs inside the worker, so a render has limits (DESIGN.md
section 5: a template over its limits is its enrollment's error, never the worker's): time,
output size, nesting, and the size of what one operation may make. Operations that amplify
(`*`, `**`, `%`, padding, `format`, `replace`, `join`...) are checked before they run; what
the template makes and keeps is counted; loops and calls count against the time budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, update_wrapper
from itertools import islice
from string import Formatter
from types import BuiltinMethodType, FunctionType
from typing import Any

from jinja2 import (
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_context,
    pass_eval_context,
)
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

from cadenza.core.contact import ContactView
from cadenza.errors import CadenzaError


class TemplateError(CadenzaError):
    """A template could not be parsed or rendered."""

    title = "Template error"


TIME_LIMIT = 0.5  # seconds one render may take
OUTPUT_LIMIT = 1_000_000  # characters of output, and of any one text or list made on the way
WORK_LIMIT = 10 * OUTPUT_LIMIT  # characters made (and items kept) over one render
DEPTH_LIMIT = 20  # calls (macros, recursive loops) inside one another
RANGE_LIMIT = 10_000  # numbers in a range(), pieces of slice() and batch()
NUMBER_BITS = 10_000  # bits of an integer a template computes (about 3,000 digits)
WRAP_LIMIT = 100_000  # characters wordwrap takes: textwrap is slow on long text

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

# --- limits while rendering ----------------------------------------------------------------


def _too_large() -> TemplateError:
    return TemplateError(f"template output is larger than {OUTPUT_LIMIT:,} characters")


@dataclass(slots=True)
class _Budget:
    """What one render has spent: loop turns and calls, nesting, characters made."""

    deadline: float
    ticks: int = 0
    depth: int = 0
    work: int = 0

    def tick(self) -> None:
        self.ticks += 1
        if not self.ticks & 63 and time.perf_counter() > self.deadline:
            raise TemplateError(f"template took longer than {TIME_LIMIT} s")

    def charge(self, value: Any) -> None:
        """Count a step of the render and the text or container it made."""
        self.ticks += 1  # tick() inlined: this runs for every call and filter
        if not self.ticks & 63 and time.perf_counter() > self.deadline:
            raise TemplateError(f"template took longer than {TIME_LIMIT} s")
        if isinstance(value, str | bytes | list | tuple | dict | set):
            self.spend(len(value))

    def spend(self, size: int) -> None:
        if size > OUTPUT_LIMIT:
            raise _too_large()
        self.work += size
        if self.work > WORK_LIMIT:
            raise TemplateError(f"template makes more than {WORK_LIMIT:,} characters in all")


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)
_TICKING = "loop turns"  # a filter name no template can write


def _ticking(items: Iterable[Any]) -> Iterator[Any]:
    """A template loop's items, each turn counted against the render's time."""
    budget = _BUDGET.get()
    for item in items:
        if budget is not None:
            budget.tick()
        yield item


@pass_context  # which also keeps Jinja from running it at compile time on constant lists
def _loop_turns(context: Context, items: Iterable[Any]) -> Iterator[Any]:
    return _ticking(items)


def _weight(value: Any, limit: int = OUTPUT_LIMIT) -> int:
    """Characters and items a value holds, nested containers included (counted up to `limit`)."""
    total, todo, seen = 0, [value], set()
    while todo and total <= limit:
        item = todo.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset | dict) and id(item) not in seen:
            seen.add(id(item))
            total += len(item)
            if total <= limit:
                todo.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
        else:
            total += 1
    return total


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], at: int, name: str, default: Any) -> Any:
    return args[at] if len(args) > at else kwargs.get(name, default)


def _check_size(size: int) -> None:
    if size > OUTPUT_LIMIT:
        raise _too_large()


def _check_width(width: Any) -> None:
    if isinstance(width, int):
        _check_size(width)


def _check_count(count: Any, limit: int = RANGE_LIMIT, what: str = "pieces") -> None:
    if isinstance(count, int) and count > limit:
        raise TemplateError(f"template asks for {count:,} {what}; the limit is {limit:,}")


def _check_bits(bits: int) -> None:
    if bits > NUMBER_BITS:
        raise TemplateError(f"template computes a number of more than {NUMBER_BITS:,} bits")


def _check_product(left: Any, right: Any) -> None:
    for items, times in ((left, right), (right, left)):
        if isinstance(times, int) and isinstance(items, str | bytes | list | tuple):
            _check_size(len(items) * times)
    if isinstance(left, int) and isinstance(right, int):
        _check_bits(left.bit_length() + right.bit_length())


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_bits(base.bit_length() * exponent)


_PERCENT = re.compile(r"%%|%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _big(number: str | None) -> bool:
    return number == "*" or (number is not None and (len(number) > 7 or int(number) > OUTPUT_LIMIT))


def _check_percent(text: Any) -> None:
    """Refuse `%` formatting that asks for a width or precision over the output limit."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for match in _PERCENT.finditer(str(text)):
        if _big(match.group(1)) or _big(match.group(2)):
            raise _too_large()


def _check_braces(text: str) -> None:
    """Refuse `str.format` specs with a width over the limit, or taken from the arguments."""
    for _, _, spec, _ in Formatter().parse(text):
        if spec and ("{" in spec or any(_big(n) for n in re.findall(r"\d+", spec))):
            raise _too_large()


def _check_replace(text: Any, old: Any = None, new: Any = None, count: Any = None) -> None:
    same = str if isinstance(text, str) else bytes
    if not all(isinstance(value, same) for value in (text, old, new)) or len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _check_size(len(text) + hits * (len(new) - len(old)))


def _check_joined(separator: Any, items: list[Any]) -> None:
    texts = sum(len(item) for item in items if isinstance(item, str | bytes))
    _check_size(len(separator) * max(len(items) - 1, 0) + texts)


# Methods that add to a list, dict or set.
_GROWING = frozenset({"append", "extend", "insert", "update", "setdefault", "add"})
_TEXT_CHECKS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "format"}
    | {"format_map", "translate", "maketrans"}
)


def _checked_text_call(text: Any, name: str, args: tuple[Any, ...], kw: Any) -> tuple[Any, ...]:
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_width(_arg(args, kw, 0, "width", 0))
    elif name == "expandtabs":
        tabs = text.count("\t" if isinstance(text, str) else b"\t")
        size = _arg(args, kw, 0, "tabsize", 8)
        _check_size(len(text) + tabs * size if isinstance(size, int) else 0)
    elif name == "replace":
        _check_replace(text, *args[:3])
    elif name == "join" and args:
        items = list(args[0])
        _check_joined(text, items)
        return (items,)
    elif name in ("format", "format_map") and isinstance(text, str):
        _check_braces(text)
    elif name in ("translate", "maketrans"):
        raise TemplateError(f"templates may not call {name}()")
    return args


def _checked_call(obj: Any, args: tuple[Any, ...], kwargs: Any, budget: _Budget | None) -> Any:
    """The arguments to call `obj` with, once checked (a consumed iterable becomes a list)."""
    if type(obj) is FunctionType:  # the sandbox wraps str.format in a function
        obj = getattr(obj, "__wrapped__", obj)
        if type(obj) is not BuiltinMethodType:
            return args
    name = obj.__name__
    if name in _TEXT_CHECKS and isinstance(obj.__self__, str | bytes):
        return _checked_text_call(obj.__self__, name, args, kwargs)
    if name == "to_bytes":
        _check_width(_arg(args, kwargs, 0, "length", 1))
    elif budget is not None and name in _GROWING and isinstance(obj.__self__, list | dict | set):
        budget.spend(_weight((args, kwargs)))  # what the list, dict or set now keeps
    return args


_FILTER_CHECKS: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], None]] = {
    "format": lambda a, k: _check_percent(a[0]),
    "center": lambda a, k: _check_width(_arg(a, k, 1, "width", 80)),
    "indent": lambda a, k: _check_indent(a[0], _arg(a, k, 1, "width", 4)),
    "replace": lambda a, k: _check_replace(
        str(a[0]),
        str(_arg(a, k, 1, "old", "")),
        str(_arg(a, k, 2, "new", "")),
        _arg(a, k, 3, "count", None),
    ),
    "wordwrap": lambda a, k: _check_wrap(str(a[0]), _arg(a, k, 1, "width", 79)),
    "slice": lambda a, k: _check_count(_arg(a, k, 1, "slices", 1)),
    "batch": lambda a, k: _check_count(_arg(a, k, 1, "linecount", 1)),
    "tojson": lambda a, k: _check_count(_arg(a, k, 1, "indent", None), 100, "spaces of indent"),
    "sum": lambda a, k: _check_start(_arg(a, k, 2, "start", 0)),
}


def _check_indent(text: Any, width: Any) -> None:
    per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    _check_size(len(str(text)) + (str(text).count("\n") + 1) * per_line)


def _check_wrap(text: str, width: Any) -> None:
    lines = len(text) // width if isinstance(width, int) and width > 0 else len(text)
    if len(text) > WRAP_LIMIT or lines > RANGE_LIMIT:
        raise TemplateError(
            f"wordwrap takes at most {WRAP_LIMIT:,} characters and {RANGE_LIMIT:,} lines"
        )


def _check_start(start: Any) -> None:
    # Summing lists copies the total at each step: quadratic, inside one call.
    if not isinstance(start, int | float):
        raise TemplateError("sum() adds numbers only")


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    """Jinja's `join`, checked for size before the text is made."""
    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    items = list(value)
    _check_joined(str(d), items)
    return sync_do_join(eval_ctx, items, d)


def _guard(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that counts against the budget and checks its arguments first."""
    check = _FILTER_CHECKS.get(name)
    skip = 0 if getattr(function, "jinja_pass_arg", None) is None else 1

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            check(args[skip:], kwargs)
        result = function(*args, **kwargs)
        budget = _BUDGET.get()
        if budget is not None:
            budget.charge(result)
        return result

    return update_wrapper(guarded, function)


class _Buffer(list[str]):
    """What a macro, call block, filter block or block `set` writes, up to the output limit."""

    size = 0

    def append(self, item: str, /) -> None:
        self.size += len(item)
        if self.size > OUTPUT_LIMIT:
            raise _too_large()
        super().append(item)

    def extend(self, items: Iterable[str], /) -> None:
        for item in items:
            self.append(item)


class _Generator(CodeGenerator):
    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.limited_buffer()")


class _LimitedNamespace(Namespace):
    """`namespace()`, whose values (kept across loop turns) stay under the output limit."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_size(_weight(value))
        super().__setitem__(name, value)


def _range(*args: int) -> range:
    numbers = range(*args)
    if numbers[RANGE_LIMIT:]:  # a slice, not len(): len() overflows on huge ranges
        raise TemplateError(f"range() is over the limit of {RANGE_LIMIT:,} numbers")
    return numbers


class _Sandbox(SandboxedEnvironment):
    """The sandbox with limits: checked operators, calls, filters, buffers and globals."""

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _Generator

    def __init__(self, *, html: bool) -> None:
        super().__init__(undefined=StrictUndefined, finalize=_finalize, autoescape=html)
        self.globals.update(range=_range, namespace=_LimitedNamespace)
        del self.globals["lipsum"]  # placeholder text, with no limit on its size
        self.filters["join"] = _join
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}
        self.filters[_TICKING] = _loop_turns

    @staticmethod
    def limited_buffer() -> _Buffer:
        return _Buffer()

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if type(obj) in (BuiltinMethodType, FunctionType):  # runs no template code
            args = _checked_call(obj, args, kwargs, budget)
            result = super().call(context, obj, *args, **kwargs)
        elif budget is None:
            return super().call(context, obj, *args, **kwargs)
        else:  # a macro, a caller, a recursive loop's next level: template code, nested
            if isinstance(obj, LoopContext) and args:
                args = (_ticking(args[0]), *args[1:])
            budget.depth += 1
            try:
                if budget.depth > DEPTH_LIMIT:
                    raise TemplateError(f"template is nested too deeply (over {DEPTH_LIMIT} calls)")
                result = super().call(context, obj, *args, **kwargs)
            finally:
                budget.depth -= 1
        if budget is not None:
            budget.charge(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif isinstance(left, str | bytes):
            _check_percent(left)
        result = super().call_binop(context, operator, left, right)
        budget = _BUDGET.get()
        if budget is not None:
            budget.charge(result)
        return result


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_PLAIN = _Sandbox(html=False)
_HTML = _Sandbox(html=True)


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
        loop.iter = nodes.Filter(loop.iter, _TICKING, [], [], None, None, lineno=loop.lineno)
    code = environment.compile(tree)
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


def render(text: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
    """Render a template within its limits; `html=True` escapes the values put into it."""
    token = _BUDGET.set(_Budget(time.perf_counter() + TIME_LIMIT))
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
        _BUDGET.reset(token)


def _collect(chunks: Iterator[str]) -> str:
    """The output, stopped at the limit; counted 64 pieces at a time, which C loops do at once."""
    parts: list[str] = []
    size = 0
    while batch := list(islice(chunks, 64)):
        size += sum(map(len, batch))
        if size > OUTPUT_LIMIT:
            raise _too_large()
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
