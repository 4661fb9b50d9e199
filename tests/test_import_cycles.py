"""No import circle among our own modules.

`lint-imports` (tests/test_layers.py) checks the layers and forbids circles inside the
session; this test looks at the whole project the way Python runs it: an import inside a
function counts as much as one at the top, ``from package import name`` goes through the
package's ``__init__`` (and to ``package.name`` when that is a module), imports under
``if TYPE_CHECKING:`` do not count (they never run). A circle found is printed with its
modules and their imports of each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "harness",
    "fleet",
    "artifacts",
    "initializer",
    "session",
    "escalation",
    "runners",
    "tui",
)

# Circles someone else is untying now; each must still be one (the list only shrinks).
KNOWN: dict[frozenset[str], str] = {}


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            init = parts[-1] == "__init__"
            found[".".join(parts[:-1] if init else parts)] = (path, init)
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth (not under TYPE_CHECKING)."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            stack.append(child)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports."""
    known = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, (path, init) in known.items():
        package = name if init else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges[name] |= {alias.name for alias in node.names if alias.name in known}
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target in known:
                edges[name].add(target)
            edges[name] |= {f"{target}.{a.name}" for a in node.names} & known.keys()
        edges[name].discard(name)
    return edges


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _shown(component: frozenset[str], edges: dict[str, set[str]]) -> str:
    return "\n".join(
        f"  {name} -> {', '.join(sorted(edges[name] & component))}" for name in sorted(component)
    )


def test_no_import_circle_among_our_modules() -> None:
    edges = graph()
    found = circles(edges)
    new = [c for c in found if c not in KNOWN]
    assert not new, "import circles:\n" + "\n\n".join(_shown(c, edges) for c in new)
    gone = [KNOWN[c] for c in KNOWN if c not in found]
    assert not gone, f"a known circle is gone; take it off KNOWN: {gone}"


def test_the_circle_finder_sees_imports_in_functions_and_through_packages(
    tmp_path: Path,
) -> None:
    """What the finder counts, on a made-up tree: a function-level import closes a circle,
    ``from package import name`` goes through ``__init__``, TYPE_CHECKING does not count."""
    pkg = tmp_path / "session"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from session.a import A\n")
    (pkg / "a.py").write_text("def f():\n    from session.b import B\n\nA = 1\n")
    (pkg / "b.py").write_text("from session import A\nB = 2\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from session.d import D\nC = 3\n"
    )
    (pkg / "d.py").write_text("from session.c import C\nD = 4\n")
    found = circles(graph(tmp_path))
    assert found == [frozenset({"session", "session.a", "session.b"})]
