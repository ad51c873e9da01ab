"""The house rules that code review would otherwise have to remember: no import cycles inside
``catalog/``, boto3 only in ``catalog/s3.py``, and a docstring on every module saying its job."""

from __future__ import annotations

import ast
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "catalog"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CATALOG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in CATALOG.rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    }


def _top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Catalog modules imported when ``path`` is imported: module-level statements only (an
    import inside a function runs later, which is how tasks reach their services)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _top_level_imports(path, name, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for neighbour in graph.get(node, ()):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_real_imports() -> None:
    graph = _graph()
    assert "catalog.models" in graph["catalog.filters"]
    assert "catalog.indexing" in graph["catalog.search"]
    assert "catalog.services.ingest" not in graph["catalog.tasks"], "tasks import their service in the body"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_catalog() -> None:
    assert _cycles(_graph()) == []


def test_boto3_is_imported_only_by_the_s3_module() -> None:
    importers = sorted(
        name
        for name, path in _modules().items()
        if any(
            (
                isinstance(node, ast.Import)
                and any(alias.name.split(".")[0] in ("boto3", "botocore") for alias in node.names)
            )
            or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("boto3", "botocore"))
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert importers == ["catalog.s3"]


def test_every_module_says_its_job() -> None:
    undocumented = sorted(
        name
        for name, path in _modules().items()
        if path.read_text().strip() and not ast.get_docstring(ast.parse(path.read_text()))
    )
    assert undocumented == []
