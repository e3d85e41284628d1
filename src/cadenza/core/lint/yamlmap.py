"""YAML (and so JSON) read with the position of every key and value, for located problems."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = str | int
Path = tuple[PathKey, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


# A definition is a few hundred values; aliases can make a short text expand exponentially.
MAX_NODES = 50_000
# Conditions nest a few levels; PyYAML composes recursively and would exhaust the stack.
MAX_DEPTH = 64


class Unreadable(Exception):
    """The text cannot be read as a definition; `mark` is where, `message` says why."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class Loader(yaml.SafeLoader):
    """A safe loader with YAML 1.2 booleans and a bound on nesting.

    YAML 1.1 reads `on`, `off`, `yes`, `no` as booleans, which would turn a trigger's
    `on: tag_added` into `{True: tag_added}`; only true/false are booleans here.
    """

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise Unreadable(
                    _mark(self.get_mark()),
                    f"nested too deeply: more than {MAX_DEPTH} levels of lists and mappings",
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column."""

    line: int
    col: int


@dataclass(frozen=True)
class DuplicateKey:
    path: Path
    mark: Mark
    first: Mark


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document was written."""

    lines: list[str]
    values: dict[Path, yaml.Node] = field(default_factory=dict)
    keys: dict[Path, yaml.Node] = field(default_factory=dict)

    def at(self, path: Path) -> Mark:
        """The value at `path`, or the deepest enclosing value that exists."""
        for end in range(len(path), -1, -1):
            node = self.values.get(path[:end])
            if node is not None:
                return _mark(node.start_mark)
        return Mark(1, 1)

    def key_at(self, path: Path) -> Mark:
        """The key naming `path` in its mapping, else where its value is."""
        node = self.keys.get(path)
        return _mark(node.start_mark) if node is not None else self.at(path)

    def node(self, path: Path) -> yaml.Node | None:
        return self.values.get(path)

    def template_mark(self, path: Path, line: int) -> Mark:
        """Where line `line` (1-based) of the text scalar at `path` is in the file."""
        node = self.values.get(path)
        if node is None:
            return self.at(path)
        start = node.start_mark.line  # 0-based
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            # The indicator sits on its own line; the text begins on the next one.
            target = min(start + line, node.end_mark.line)
        elif line == 1:
            return _mark(node.start_mark)
        else:
            target = start + line - 1
        text = self.lines[target] if target < len(self.lines) else ""
        return Mark(target + 1, len(text) - len(text.lstrip()) + 1)


@dataclass
class Document:
    data: Any
    source: SourceMap
    duplicates: list[DuplicateKey]


def load(text: str) -> Document:
    """Parse one YAML document; raise Unreadable, located, when it cannot be read."""
    try:
        loader = Loader(text)  # which refuses control characters at once
    except yaml.reader.ReaderError as exc:
        raise _unreadable_character(text, exc) from None
    source = SourceMap(text.splitlines())
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, source, [])
        if _expanded_size(node, {}, set()) > MAX_NODES:
            raise Unreadable(
                _mark(node.start_mark),
                f"the document expands to more than {MAX_NODES:,} values "
                "(aliases repeating aliases?): refused",
            )
        duplicates = _duplicates(node, (), frozenset())
        data = _construct(loader, node)
        _locate(loader, node, (), source, frozenset())
    except yaml.reader.ReaderError as exc:
        raise _unreadable_character(text, exc) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        raise Unreadable(where, f"not valid YAML: {message}") from None
    except yaml.YAMLError as exc:
        raise Unreadable(Mark(1, 1), f"not valid YAML: {exc}") from None
    except RecursionError:
        raise Unreadable(Mark(1, 1), "nested too deeply to read") from None
    finally:
        loader.dispose()
    return Document(data, source, duplicates)


def _unreadable_character(text: str, error: yaml.reader.ReaderError) -> Unreadable:
    before = text[: error.position]
    mark = Mark(before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
    code = error.character if isinstance(error.character, int) else ord(str(error.character)[:1])
    return Unreadable(
        mark, f"not valid YAML: character #x{code:04x} is not allowed (a control character?)"
    )


def _construct(loader: Loader, node: yaml.Node) -> Any:
    try:
        return loader.construct_document(node)
    except (ValueError, TypeError, OverflowError) as exc:
        # A value its tag cannot read: 2026-13-45, !!int abc, a 5,000-digit number.
        where = _mark(_unreadable_scalar(loader, node).start_mark)
        raise Unreadable(where, f"not valid YAML: {exc}") from None


def _unreadable_scalar(loader: Loader, root: yaml.Node) -> yaml.Node:
    """The first scalar (in document order) that its tag's constructor refuses."""
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                loader.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError, yaml.YAMLError):
                return node
        elif isinstance(node, yaml.MappingNode):
            todo.extend(child for pair in reversed(node.value) for child in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(reversed(node.value))
    return root


def _expanded_size(node: yaml.Node, memo: dict[int, int], visiting: set[int]) -> int:
    """How many values the document has once aliases are expanded (each node counted once)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in visiting:
        return MAX_NODES + 1  # a recursive alias never ends
    visiting.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    total = 1
    for child in children:
        total += _expanded_size(child, memo, visiting)
        if total > MAX_NODES:
            break
    visiting.discard(key)
    memo[key] = total
    return total


def _mark(mark: yaml.Mark) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


def _scalar_key(node: yaml.Node) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
        return None
    return str(node.value)


def _duplicates(node: yaml.Node, path: Path, above: frozenset[int]) -> list[DuplicateKey]:
    """Keys repeated in one mapping (PyYAML silently keeps the last)."""
    found: list[DuplicateKey] = []
    if id(node) in above:
        return found  # a recursive alias
    above = above | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            if key is None:
                continue
            if key in seen:
                found.append(DuplicateKey((*path, key), _mark(key_node.start_mark), seen[key]))
            else:
                seen[key] = _mark(key_node.start_mark)
            found.extend(_duplicates(value_node, (*path, key), above))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.extend(_duplicates(item, (*path, index), above))
    return found


def _locate(
    loader: Loader, node: yaml.Node, path: Path, source: SourceMap, above: frozenset[int]
) -> None:
    if id(node) in above:
        return  # a recursive alias
    above = above | {id(node)}
    source.values[path] = node
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _path_key(loader, key_node)
            if key is None:
                continue
            source.keys[(*path, key)] = key_node
            _locate(loader, value_node, (*path, key), source, above)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _locate(loader, item, (*path, index), source, above)


def _path_key(loader: Loader, node: yaml.Node) -> PathKey | None:
    """A mapping key as pydantic's `loc` will spell it (`1:` is the int 1)."""
    key = _scalar_key(node)
    if key is None or node.tag == "tag:yaml.org,2002:str":
        return key
    constructed = loader.construct_object(node)
    return constructed if isinstance(constructed, str | int) else key
