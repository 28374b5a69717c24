"""No import cycles inside cnnviz, counting imports inside functions too (read with ast).

An edge A -> B means module A imports module B somewhere in its source. Importing a submodule
of a package from outside that package also runs the package's __init__, so it adds an edge
to the package too (cnnviz.ops -> cnnviz.nn.x would be cnnviz.ops -> cnnviz.nn -> ... ); a
module's own packages are not edges (they are already being imported when it runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (ROOT / "cnnviz").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # a name inside a module
                    target = target.rpartition(".")[0]
                if not target or target == name or name.startswith(target + "."):
                    continue  # itself, or its own package (already being imported)
                graph[name].add(target)
                parent = target.rpartition(".")[0]
                if parent != "cnnviz" and not name.startswith(parent + ".") and name != parent:
                    graph[name].add(parent)  # its package's __init__ runs first
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_in_cnnviz():
    assert cycles(import_graph()) == []


def test_io_depends_on_model_one_way():
    graph = import_graph()
    assert "cnnviz.nn.model" in graph["cnnviz.nn.io"]
    assert "cnnviz.nn.io" not in graph["cnnviz.nn.model"]
    assert not {"cnnviz.nn", "cnnviz.nn.layers"} & graph["cnnviz.ops"]  # nn -> ops, not back


if __name__ == "__main__":
    for group in cycles(import_graph()):
        print("cycle:", " <-> ".join(group))
    for module, targets in sorted(import_graph().items()):
        print(module, "->", ", ".join(sorted(targets)) or "-")
