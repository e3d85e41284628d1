"""Packages that name their public face without importing it (PEP 562).

A package `__init__` lists what it re-exports as imports under `if TYPE_CHECKING:` (so type
checkers and readers see them) and hands `__getattr__` and `__dir__` to `exports(__name__)`:

    if TYPE_CHECKING:
        from cadenza.services.contacts.records import list_contacts as list_contacts
    else:
        __getattr__, __dir__ = exports(__name__)

A name's module is imported the first time the name is read, so importing one submodule (or
one name) no longer imports every sibling and everything they import: a command that lists
contacts does not load the template engine, the HTTP client or the definition model.
The `if TYPE_CHECKING:` block is the one table of names; it is read from the source once.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def exports(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, resolving the names of its type-checking block."""
    table: dict[str, tuple[str, str]] = {}

    def names() -> dict[str, tuple[str, str]]:
        if not table:
            table.update(_type_checking_imports(package))
        return table

    def getattr_(name: str) -> Any:
        module = sys.modules[package]
        where = names().get(name)
        if where is None:
            return _submodule(package, name)
        source, original = where
        if source == package:  # `from package import submodule`
            value = importlib.import_module(f"{package}.{original}")
        else:
            value = getattr(importlib.import_module(source), original)
        setattr(module, name, value)  # read once: later reads skip __getattr__
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names()))

    return getattr_, dir_


def _submodule(package: str, name: str) -> Any:
    """`package.name` read as an attribute when it is a submodule not yet imported."""
    full = f"{package}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def _type_checking_imports(package: str) -> dict[str, tuple[str, str]]:
    """Each name the package's `if TYPE_CHECKING:` block imports: its module and its own name."""
    path = Path(sys.modules[package].__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom):
                source = _absolute(package, statement.module, statement.level)
                for alias in statement.names:
                    found[alias.asname or alias.name] = (source, alias.name)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(package: str, module: str | None, level: int) -> str:
    """The absolute name of a (possibly relative) `from … import` inside `package`'s `__init__`."""
    if level == 0:
        return module or package
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{module}" if module else base
