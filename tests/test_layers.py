"""The layers of the library import one way: utils ← core ← the rest.

``drytorch.utils`` can be read and tested without the core; the core has no
import cycle, so each of its modules can be read from the ones it imports;
neither imports the library above it. An import made only for the type
checker (under ``if TYPE_CHECKING:``) is not an import here; one inside a
function is.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

import drytorch

PACKAGE = pathlib.Path(drytorch.__file__).parent
ABOVE_THE_CORE = (
    'drytorch.lib',
    'drytorch.trackers',
    'drytorch.contrib',
    'drytorch._init',
    'drytorch_nb',
)


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def modules_of(subpackage: str) -> dict[str, pathlib.Path]:
    folder = PACKAGE / subpackage
    return {module_name(path): path for path in sorted(folder.rglob('*.py'))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING'
    )


def imported_names(path: pathlib.Path) -> set[str]:
    """Every absolute import of the file, with ``from`` names appended."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f'{path}: relative import'
            found.add(node.module)
            found.update(f'{node.module}.{a.name}' for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding='utf-8')))
    return found


def import_graph(subpackage: str) -> dict[str, set[str]]:
    """For each module of the subpackage, the modules of it that it imports."""
    modules = modules_of(subpackage)
    graph = {}
    for name, path in modules.items():
        imported = {m for m in imported_names(path) if m in modules}
        graph[name] = imported - {name, name.rpartition('.')[0]}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph, as a path that ends where it starts, or None."""
    done: set[str] = set()
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            cycle = walk(successor)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = walk(start)
        if cycle is not None:
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
        'a',
        'b',
        'c',
        'a',
    ]
    assert find_cycle({'a': {'b'}, 'b': set(), 'c': {'a', 'b'}}) is None


def test_type_checking_imports_do_not_count(tmp_path: pathlib.Path) -> None:
    source = tmp_path / 'm.py'
    source.write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            import drytorch.core.scope
            if TYPE_CHECKING:
                from drytorch.core import experiment
            def f():
                from drytorch.core import registry
            """
        )
    )
    names = imported_names(source)
    assert 'drytorch.core.scope' in names
    assert 'drytorch.core.registry' in names  # an import all the same
    assert 'drytorch.core.experiment' not in names


def test_the_core_has_no_import_cycle() -> None:
    assert find_cycle(import_graph('core')) is None


def test_the_scope_does_not_name_the_run_class() -> None:
    # it once imported experiment.Run for its type hints, while experiment
    # imports it: reading either meant reading the other
    path = PACKAGE / 'core' / 'scope.py'
    tree = ast.parse(path.read_text(encoding='utf-8'))
    modules = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert 'drytorch.core.experiment' not in modules
    assert 'drytorch.core.metadata' not in modules


@pytest.mark.parametrize('subpackage', ['core', 'utils'])
def test_no_import_of_the_layers_above(subpackage: str) -> None:
    above = ABOVE_THE_CORE
    if subpackage == 'utils':
        above = (*above, 'drytorch.core')
    offending = {
        name: sorted(m for m in imported_names(path) if m.startswith(above))
        for name, path in modules_of(subpackage).items()
    }
    assert {name: found for name, found in offending.items() if found} == {}


_IMPORT_EACH = """
import importlib, json, sys

def loaded():
    return {name for name in sys.modules if name.startswith('drytorch.')}

def forget():
    for name in list(sys.modules):
        if name == 'drytorch' or name.startswith('drytorch.'):
            del sys.modules[name]

result = {}
for name in sys.argv[1:]:
    forget()
    importlib.import_module('drytorch')
    before = loaded()
    module = importlib.import_module(name)
    if name != 'drytorch.utils.local_ops':  # its names load the core
        for attribute in getattr(module, '__all__', ()):
            getattr(module, attribute)  # names loaded on first use too
    result[name] = sorted(loaded() - before)
print(json.dumps(result))
"""


def test_importing_utils_imports_no_core_module() -> None:
    names = sorted(modules_of('utils'))
    # local_ops is 0.1.0rc11's path of core.experiment_data, whose
    # functions it loads on first use: importing it loads nothing of the
    # core, using its functions does
    completed = subprocess.run(
        [sys.executable, '-c', _IMPORT_EACH, *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    newly_loaded = json.loads(completed.stdout)
    core = {
        name: [m for m in loaded if m.startswith('drytorch.core')]
        for name, loaded in newly_loaded.items()
    }
    assert {name: found for name, found in core.items() if found} == {}
