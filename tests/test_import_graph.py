"""Imports inside `swelancer` go one way: no module imports itself back through others.

The graph is read from the source with `ast`, so it holds every import wherever it is written:
at module level, inside functions (the lazy imports that keep `--help` fast) and under
`if TYPE_CHECKING:`. A lazy import still ties two modules together, so it counts.
"""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import swelancer

Graph = Mapping[str, set[str]]

# Cycles between top-level packages that exist today and are still to be removed. Each entry
# names the packages of one cycle; the test fails if a cycle appears that is not listed, if a
# listed one grows, or if a listed one is gone (then delete its entry).
KNOWN_PACKAGE_CYCLES: set[frozenset[str]] = set()

# Packages that must never be part of any cycle, at module or package level.
STRICT = ("swelancer.models", "swelancer.agents")


def modules() -> dict[str, Path]:
    """Every module of `swelancer` (packages as their `__init__.py`), by dotted name."""
    root = Path(swelancer.__path__[0])
    found = {"swelancer": root / "__init__.py"}
    for info in pkgutil.walk_packages(swelancer.__path__, "swelancer."):
        path = root.joinpath(*info.name.split(".")[1:])
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


def _owner(name: str, known: Mapping[str, Path]) -> str | None:
    """The module an imported name lives in: itself, else its nearest known parent."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The `swelancer` modules that module `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
    owners = {_owner(t, known) for t in targets if t.split(".")[0] == "swelancer"}
    return {o for o in owners if o is not None and o != name}


def import_graph() -> dict[str, set[str]]:
    """Module → the `swelancer` modules it imports."""
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def package_of(module: str) -> str:
    """The top-level part a module belongs to: `swelancer.models.openai` → `swelancer.models`."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: Graph) -> dict[str, set[str]]:
    """The module graph collapsed to top-level packages (and top-level modules)."""
    out: dict[str, set[str]] = {package_of(m): set() for m in graph}
    for source, targets in graph.items():
        out[package_of(source)].update(
            package_of(t) for t in targets if package_of(t) != package_of(source)
        )
    return out


def cycles(graph: Graph) -> list[set[str]]:
    """The strongly connected parts of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(graph: Graph, parts: Iterable[set[str]]) -> str:
    return "\n".join(
        f"cycle among {sorted(part)}: "
        + ", ".join(f"{a} -> {b}" for a in sorted(part) for b in sorted(graph[a] & part))
        for part in parts
    )


def test_the_walk_sees_lazy_and_type_only_imports() -> None:
    graph = import_graph()
    assert len(graph) > 40 and "swelancer.models.base" in graph
    assert "swelancer.models.openai" in graph["swelancer.models.resolve"]  # inside a function
    assert "swelancer.models.base" in graph["swelancer.models.resolve"]  # under TYPE_CHECKING
    assert "swelancer.models.retry" in graph["swelancer.agents.loop"]  # inside a method
    assert graph["swelancer.models.base"] == set()


def test_no_module_is_in_an_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, _describe(graph, found)


def test_packages_import_each_other_one_way() -> None:
    graph = package_graph(import_graph())
    found = cycles(graph)
    for part in found:
        assert not part & set(STRICT), _describe(graph, [part])
    unknown = [part for part in found if frozenset(part) not in KNOWN_PACKAGE_CYCLES]
    assert not unknown, "new package cycle:\n" + _describe(graph, unknown)
    gone = KNOWN_PACKAGE_CYCLES - {frozenset(part) for part in found}
    assert not gone, f"no longer a cycle, remove from KNOWN_PACKAGE_CYCLES: {gone}"


def test_models_never_import_agents() -> None:
    graph = import_graph()
    wrong = {
        (source, target)
        for source, targets in graph.items()
        if package_of(source) == "swelancer.models"
        for target in targets
        if package_of(target) == "swelancer.agents"
    }
    assert not wrong


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


# The operational commands reach the engine through `sandbox.engine.ImageEngine` only; the
# Docker engine is made in `sandbox.factory`, the one module that names the Docker backend.
ENGINE_USERS = ("swelancer.ops", "swelancer.cli")
DOCKER_BACKEND = ("docker", "swelancer.sandbox.docker")


def all_imports(path: Path) -> set[str]:
    """Every absolute module name a source file imports, third-party ones included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_backend(name: str) -> bool:
    return any(name == b or name.startswith(f"{b}.") for b in DOCKER_BACKEND)


def test_ops_and_cli_import_nothing_of_the_docker_backend() -> None:
    wrong = {
        (module, name)
        for module, path in modules().items()
        if package_of(module) in ENGINE_USERS
        for name in all_imports(path)
        if _is_backend(name)
    }
    assert not wrong, f"import the engine through swelancer.sandbox.factory: {sorted(wrong)}"
    factory = all_imports(modules()["swelancer.sandbox.factory"])
    assert "swelancer.sandbox.docker.engine" in factory  # the walk sees the factory's import


def test_the_record_is_a_leaf_that_run_and_report_share() -> None:
    """`swelancer.records` (what an attempt is) imports nothing of the package but text
    cleaning; `report/` reads records from there, not from the run's code."""
    graph = import_graph()
    assert graph["swelancer.records"] <= {"swelancer.textsafe"}, graph["swelancer.records"]
    record_users = {m for m, deps in graph.items() if "swelancer.records" in deps}
    assert any(m.startswith("swelancer.report.") for m in record_users)
    assert any(m.startswith("swelancer.run.") for m in record_users)
    for module, deps in graph.items():
        if module.startswith("swelancer.report."):
            assert not {d for d in deps if d.startswith("swelancer.run.")} - {
                "swelancer.run.results"  # the run directory it reads
            }, module
