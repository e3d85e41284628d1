"""What in a template lint can see has no bound: recursion, deep loops, huge ranges, powers.

Rendering stops any template at its limits (`core.templates`), but then every enrollment
reaching the step stops on an error. What can be seen in the text is refused before that.
"""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, nodes

from cadenza.core import templates

LOOP_NESTING = 2  # loops inside loops: a third level multiplies past any email's need


def unbounded(text: str) -> list[tuple[str, int]]:
    """What in the template could run without bound, and its template line."""
    try:
        tree = templates.parse(text)
    except (TemplateSyntaxError, RecursionError):
        return []
    found = [
        ("a recursive loop (write out the levels it needs)", loop.lineno)
        for loop in tree.find_all(nodes.For)
        if loop.recursive
    ]
    found += _deep_loops(tree)
    found += _recursive_macros(tree)
    found += [
        (f"range({what}) has more than {templates.RANGE_LIMIT:,} numbers", line)
        for what, line in _big_ranges(tree)
    ]
    found += [
        ("** (a power can be astronomically large; write the number)", power.lineno)
        for power in tree.find_all(nodes.Pow)
    ]
    return sorted(found, key=lambda item: item[1])


def _deep_loops(tree: nodes.Template) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    todo: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, nodes.For):
            depth += 1
            if depth == LOOP_NESTING + 1:
                found.append((f"loops nested more than {LOOP_NESTING} deep", node.lineno))
        todo.extend((child, depth) for child in node.iter_child_nodes())
    return found


def _recursive_macros(tree: nodes.Template) -> list[tuple[str, int]]:
    macros = list(tree.find_all(nodes.Macro))
    calls = {
        macro.name: {
            call.node.name
            for call in macro.find_all(nodes.Call)
            if isinstance(call.node, nodes.Name)
        }
        for macro in macros
    }
    return [
        (f"macro {macro.name!r} calls itself", macro.lineno)
        for macro in macros
        if macro.name in _reached(macro.name, calls)
    ]


def _reached(start: str, calls: dict[str, set[str]]) -> set[str]:
    """The macros a macro calls, directly or through others."""
    seen: set[str] = set()
    todo = list(calls.get(start, ()))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(calls.get(name, ()))
    return seen


def _big_ranges(tree: nodes.Template) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "range"):
            continue
        if call.kwargs or call.dyn_args or call.dyn_kwargs:
            continue
        values = [arg.value for arg in call.args if isinstance(arg, nodes.Const)]
        if len(values) != len(call.args) or not all(type(v) is int for v in values):
            continue
        try:
            numbers = range(*values)
        except (TypeError, ValueError):
            continue  # rendering says what is wrong with it
        if numbers[templates.RANGE_LIMIT :]:
            found.append((", ".join(map(str, values)), call.lineno))
    return found
