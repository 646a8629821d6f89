"""The library's shape, read from its source: what each module under rag/ imports and prints.

Imports inside functions count too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast

from .conftest import ROOT

PACKAGE = ROOT / "rag"
CONSOLE = "cli"  # the one module that owns the console and may start the chat page


def _trees() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(PACKAGE.glob("*.py"))}


def _imported(module: str, tree: ast.Module) -> set[str]:
    """Dotted names a module imports, relative imports made absolute: 'from .store import x' -> 'rag.store'."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "rag" if node.level == 1 else (node.module or "")
            if node.level == 1 and node.module:
                base += "." + node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # 'from . import store'
    return names


def _rag_imports() -> dict[str, set[str]]:
    """Module stem -> the stems of the rag modules it imports."""
    trees = _trees()
    graph = {}
    for module, tree in trees.items():
        found = {name.split(".")[1] for name in _imported(module, tree) if name.startswith("rag.")}
        graph[module] = {m for m in found if m in trees and m != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_among_the_library_modules():
    graph = _rag_imports()
    assert {"evaluate", "report", "pipeline", "cli"} <= set(graph)  # the walk sees the package
    assert _cycle(graph) == []


def test_only_the_command_line_knows_the_chat_page():
    for module, tree in _trees().items():
        ui = sorted(n for n in _imported(module, tree) if n == "ui" or n.startswith("ui."))
        if module == CONSOLE:
            assert ui, "cli.py starts the chat page (`rag serve`)"
        else:
            assert not ui, f"rag/{module}.py imports {ui}; the library must not know the UI"


def test_only_the_command_line_prints():
    for module, tree in _trees().items():
        if module == CONSOLE:
            continue
        prints = [node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
        rich = sorted(n for n in _imported(module, tree) if n == "rich" or n.startswith("rich."))
        assert not prints, f"rag/{module}.py calls print() on lines {prints}; the library logs"
        assert not rich, f"rag/{module}.py imports {rich}; only cli.py owns the console"
