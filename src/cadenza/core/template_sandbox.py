"""The sandbox templates render in: limits on time, size and depth (DESIGN.md section 5).

Templates are user input that runs inside the worker, so a render has limits: time, output
size, nesting, and the size of what one operation may make. Operations that amplify (`*`,
`**`, `%`, padding, `format`, `replace`, `join`...) are checked before they run; what the
template makes and keeps is counted; loops and calls count against the time budget. A
template over its limits is its enrollment's error, never the worker's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import update_wrapper
from string import Formatter
from types import BuiltinMethodType, FunctionType
from typing import Any

from jinja2 import (
    StrictUndefined,
    pass_context,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

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


def too_large() -> TemplateError:
    return TemplateError(f"template output is larger than {OUTPUT_LIMIT:,} characters")


@dataclass(slots=True)
class Budget:
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
            raise too_large()
        self.work += size
        if self.work > WORK_LIMIT:
            raise TemplateError(f"template makes more than {WORK_LIMIT:,} characters in all")


BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)
TICKING = "loop turns"  # a filter name no template can write


def _ticking(items: Iterable[Any]) -> Iterator[Any]:
    """A template loop's items, each turn counted against the render's time."""
    budget = BUDGET.get()
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
        raise too_large()


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
            raise too_large()


def _check_braces(text: str) -> None:
    """Refuse `str.format` specs with a width over the limit, or taken from the arguments."""
    for _, _, spec, _ in Formatter().parse(text):
        if spec and ("{" in spec or any(_big(n) for n in re.findall(r"\d+", spec))):
            raise too_large()


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


def _checked_call(obj: Any, args: tuple[Any, ...], kwargs: Any, budget: Budget | None) -> Any:
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
        budget = BUDGET.get()
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
            raise too_large()
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


class Sandbox(SandboxedEnvironment):
    """The sandbox with limits: checked operators, calls, filters, buffers and globals."""

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _Generator

    def __init__(self, *, html: bool) -> None:
        super().__init__(undefined=StrictUndefined, finalize=_finalize, autoescape=html)
        self.globals.update(range=_range, namespace=_LimitedNamespace)
        del self.globals["lipsum"]  # placeholder text, with no limit on its size
        self.filters["join"] = _join
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}
        self.filters[TICKING] = _loop_turns

    @staticmethod
    def limited_buffer() -> _Buffer:
        return _Buffer()

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = BUDGET.get()
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
        budget = BUDGET.get()
        if budget is not None:
            budget.charge(result)
        return result


def _finalize(value: Any) -> Any:
    return "" if value is None else value
