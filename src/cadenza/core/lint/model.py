"""Pydantic's validation errors as located, human problems.

Pydantic's `loc` mixes data keys with the tags of the unions it tried
(`steps.1.call.wait.elapsed.weeks`). Walking the model's types alongside the `loc` tells the
two apart without guessing from the data: a segment met at a union is a tag, anything else
is a key. The clean path (`steps[1].wait.weeks`) then finds its line in the YAML.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from cadenza.core.definition import ACTIONS, Definition
from cadenza.core.lint.yamlmap import Path, SourceMap
from cadenza.errors import Problem

_ACTION_LIST = sorted(ACTIONS)
# What a scalar may be where pydantic tried several types and all failed.
_SMART_UNIONS = {
    "days": "every_day, business, or a list of weekdays such as [mon, wed, fri]",
    "skip_if_communicating": "true, false, or a number of minutes",
}
_ROUTE = "next, a step key, or {end: positive|negative|neutral}"


@dataclass(frozen=True)
class Located:
    """An error's data path, the model owning its last segment, and the smart union crossed."""

    path: Path
    model: type[BaseModel] | None
    union: Path | None = None
    member: Any = None


def model_problems(
    error: ValidationError, data: Any, source: SourceMap, file: str
) -> list[Problem]:
    """Every pydantic error of a definition as a Problem at its line."""
    located = [(detail, locate(detail["loc"])) for detail in error.errors()]
    problems = []
    for detail, where in _one_per_union(located, data):
        problems.append(_problem(detail, where, data, source, file))
    return problems


def display(path: Path) -> str:
    """('steps', 1, 'wait') -> 'steps[1].wait'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def locate(loc: Sequence[str | int]) -> Located:
    """Strip union tags from a pydantic `loc` by walking the model's types along it."""
    path: list[str | int] = []
    kind: Any = Definition
    model: type[BaseModel] | None = None
    union: Path | None = None
    member: Any = None
    segments = list(loc)
    while segments:
        kind = _unwrap(kind)
        members = _union_members(kind)
        if members is not None:
            tag = segments.pop(0)
            kind, smart = _pick(members, tag)
            if smart and union is None:
                union, member = tuple(path), kind
            continue
        segment = segments.pop(0)
        path.append(segment)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            model, kind = kind, _field_type(kind, segment)
        elif get_origin(kind) in (list, dict):
            model, kind = None, get_args(kind)[-1]
        else:
            path.extend(s for s in segments if not _looks_like_tag(s))
            break
    return Located(tuple(path), model, union, member)


def _unwrap(kind: Any) -> Any:
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if _is_union(kind):
        members = [m for m in get_args(kind) if m is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return kind


def _is_union(kind: Any) -> bool:
    return get_origin(kind) in (Union, types.UnionType)


def _union_members(kind: Any) -> list[Any] | None:
    if not _is_union(kind):
        return None
    return [m for m in get_args(kind) if m is not type(None)]


def _pick(members: list[Any], tag: str | int) -> tuple[Any, bool]:
    """The member a union tag names, and whether the union is a smart (untagged) one."""
    for member in members:
        for meta in get_args(member)[1:] if get_origin(member) is Annotated else ():
            if isinstance(meta, Tag) and meta.tag == tag:
                return get_args(member)[0], False
        if isinstance(member, type) and issubclass(member, BaseModel):
            action = member.model_fields.get("action")
            if action is not None and get_args(action.annotation) == (tag,):
                return member, False
            if member.__name__ == tag:
                return member, True
        elif str(tag).startswith(_type_name(member)):
            return member, True
    return Any, True


def _type_name(kind: Any) -> str:
    origin = get_origin(kind)
    if origin is Literal:
        return "literal["
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}["
    return getattr(kind, "__name__", str(kind))


def _looks_like_tag(segment: str | int) -> bool:
    return isinstance(segment, str) and ("[" in segment or segment in ("str", "int", "bool"))


def _field_type(model: type[BaseModel], name: str | int) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return Any


def _one_per_union(
    located: list[tuple[ErrorDetails, Located]], data: Any
) -> list[tuple[ErrorDetails, Located]]:
    """Where every type of a smart union failed, keep the errors of the type the input fits."""
    kept: list[tuple[ErrorDetails, Located]] = []
    chosen: dict[Path, Any] = {}
    for detail, where in located:
        if where.union is None:
            kept.append((detail, where))
            continue
        if where.union not in chosen:
            siblings = [w.member for _, w in located if w.union == where.union]
            chosen[where.union] = _fitting(siblings, _value(data, where.union))
            if chosen[where.union] is None:
                kept.append((detail, Located(where.union, None, where.union)))
        if chosen[where.union] is not None and where.member is chosen[where.union]:
            kept.append((detail, where))
    return kept


def _fitting(members: list[Any], value: Any) -> Any:
    """The union member made for this kind of input (a mapping, a list), else None."""
    for member in members:
        is_model = isinstance(member, type) and issubclass(member, BaseModel)
        if (isinstance(value, dict) and is_model) or (
            isinstance(value, list) and get_origin(member) is list
        ):
            return member
    return None


def _value(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _problem(
    detail: ErrorDetails, where: Located, data: Any, source: SourceMap, file: str
) -> Problem:
    path, kind = where.path, detail["type"]
    if where.union is not None and where.path == where.union and where.model is None:
        message = _union_message(path, _value(data, path))
        mark = source.at(path)
    elif kind == "missing":
        path, message = path[:-1], f"missing field '{path[-1]}'"
        mark = source.at(path)
    elif kind == "extra_forbidden":
        path, message = path[:-1], _unknown_field(path[-1], where.model)
        mark = source.key_at((*path, where.path[-1]))
    elif kind in ("union_tag_invalid", "union_tag_not_found") and _is_step(path):
        return _action_problem(detail, path, source, file)
    else:
        message = _message(detail)
        mark = source.at(path)
    prefix = f"{display(path)}: " if path else ""
    return Problem(file, mark.line, mark.col, prefix + message)


def _is_step(path: Path) -> bool:
    return len(path) == 2 and path[0] == "steps"


def _action_problem(detail: ErrorDetails, path: Path, source: SourceMap, file: str) -> Problem:
    tag = (detail.get("ctx") or {}).get("tag")
    if tag is None:
        mark = source.at(path)
        message = f"missing field 'action' (one of {', '.join(_ACTION_LIST)})"
        return Problem(file, mark.line, mark.col, f"{display(path)}: {message}")
    mark = source.at((*path, "action"))
    message = f"unknown action {tag!r}{_suggest(str(tag), _ACTION_LIST)}"
    return Problem(file, mark.line, mark.col, f"{display((*path, 'action'))}: {message}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f" ({hint}expected one of {', '.join(choices)})"


def _unknown_field(name: str | int, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown field {name!r}"
    fields = sorted(info.alias or field for field, info in model.model_fields.items())
    return f"unknown field {name!r}{_suggest(str(name), fields)}"


def _union_message(path: Path, value: Any) -> str:
    if path and path[-1] in _SMART_UNIONS:
        return f"{value!r} is not valid: expected {_SMART_UNIONS[str(path[-1])]}"
    return f"{value!r} is not a route: expected {_ROUTE}"


def _message(detail: ErrorDetails) -> str:
    kind, ctx = detail["type"], detail.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"{detail['input']!r} is not one of {expected}"
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        return str(error) if error is not None else detail["msg"]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {_kind(detail['input'])}"
    message = detail["msg"][:1].lower() + detail["msg"][1:]
    value = detail["input"]
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message}, got {value!r}"
    return f"{message}, got {_kind(value)}"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the text {value!r}"
    return repr(value)
