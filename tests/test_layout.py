"""The layout rules of the code base (docs/ARCHITECTURE.md), checked on every test run.

- halbench/ is the framework: it imports no benchmark's module (only the ``benchmarks``
  package, whose finder maps folder names);
- no import circle between modules, counting imports inside functions too;
- no private name (``_x``) imported from another module;
- no source file over 500 lines;
- every benchmark folder is complete, and every command's --help has a description and an
  example.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from halbench import registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("halbench", "benchmarks", "reference_models")


def _modname(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "benchmarks" and len(parts) > 1:
        parts[1] = parts[1].replace("-", "_")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_modname(p): p for d in PACKAGES for p in sorted((ROOT / d).rglob("*.py"))}


def _imports(mods: dict[str, Path]) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Module -> modules it imports (anywhere in the file); and private names imported."""
    graph: dict[str, set[str]] = {}
    private = []
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    if f"{target}.{alias.name}" in mods:
                        deps.add(f"{target}.{alias.name}")
                    elif target in mods:
                        deps.add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append((mod, target, alias.name))
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
        graph[mod] = deps - {mod}
    return graph, private


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_circles_and_no_private_imports():
    graph, private = _imports(_sources())
    assert _cycles(graph) == []
    assert private == []


def test_the_checker_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_framework_imports_no_benchmark():
    graph, _ = _imports(_sources())
    named = {
        (mod, dep)
        for mod, deps in graph.items()
        if mod.startswith("halbench")
        for dep in deps
        if dep.startswith("benchmarks.")
    }
    assert named == set()


def test_no_source_file_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources().values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


@pytest.mark.parametrize("name", registry.names())
def test_benchmark_folder_is_complete(name):
    bench = registry.get_benchmark(name)
    folder = bench.folder
    assert folder.parent == ROOT / "benchmarks"
    for required in ("benchmark.toml", "README.md", "__init__.py"):
        assert (folder / required).is_file(), required
    assert bench.scorer_module().score_run  # every benchmark can be scored in a run
    if not bench.shipped:
        mod = bench.module("prepare")
        assert callable(mod.add_arguments) and callable(mod.prepare)
    if registry.scorer_home(bench.scorer) is bench and bench.spec.get("cli", {}).get("score", 1):
        mod = bench.module("score")
        for fn in ("add_arguments", "score_command", "format_table", "score_run"):
            assert callable(getattr(mod, fn)), fn
    for spec in bench.metrics:
        assert spec.direction in ("lower", "higher")


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaves(sub, (*path, name))


def test_every_command_has_a_description_and_an_example():
    from halbench.cli import build_parser

    paths = [path for path, _ in _leaves(build_parser([]))]
    assert ("score", "chair") in paths and ("data", "prepare", "pope") in paths
    for path in paths:
        # benchmark subcommands (score NAME, data prepare NAME, export TARGET) are built
        # whole only when named on the command line: build the parser the way main() does
        leaf = dict(_leaves(build_parser(list(path))))[path]
        where = "halbench " + " ".join(path)
        assert leaf.description, f"{where}: no description"
        assert leaf.epilog and "halbench " in leaf.epilog, f"{where}: no example"
