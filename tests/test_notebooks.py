"""Tests that the notebooks in notebooks/ run end to end in a real kernel."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import textwrap

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / 'notebooks'
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob('*.md'))
SEED = REPO_ROOT.parent / 'shared' / 'seed' / 'experiments_and_runs.md'


def _load_executor():
    # notebooks/ is not a package: load the showcase's executor by path, so
    # that the tests run notebooks exactly as `./run.sh showcase` does.
    path = NOTEBOOK_DIR / '_execute.py'
    spec = importlib.util.spec_from_file_location('_execute', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executor = _load_executor()


def _code_cells(path: pathlib.Path) -> list[tuple[str, dict]]:
    notebook = executor.read_notebook(path)
    return [
        (cell.source, dict(cell.metadata))
        for cell in notebook.cells
        if cell.cell_type == 'code'
    ]


def _run(path: pathlib.Path, cwd: pathlib.Path):
    return executor.execute_notebook(executor.read_notebook(path), cwd)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    # Notebooks must run with the library's default tracker setup.
    monkeypatch.delenv('DRYTORCH_INIT_MODE', raising=False)
    _run(path, tmp_path)  # CellExecutionError shows the failing cell


def _require_seed(path: pathlib.Path) -> None:
    """Fail under CI, skip elsewhere, when the seed tutorial is missing."""
    if path.is_file():
        return
    msg = f'no seed tutorial at {path}'
    if os.environ.get('CI'):
        pytest.fail(f'CI must compare the tutorial with its seed: {msg}')
    pytest.skip(msg)


def test_experiments_and_runs_matches_seed():
    _require_seed(SEED)
    ours = NOTEBOOK_DIR / 'experiments_and_runs.md'
    assert _code_cells(ours) == _code_cells(SEED)


def test_missing_seed_fails_under_ci_and_skips_elsewhere(
    tmp_path, monkeypatch
):
    missing = tmp_path / 'seed' / 'experiments_and_runs.md'
    monkeypatch.setenv('CI', 'true')
    with pytest.raises(pytest.fail.Exception, match='CI must compare'):
        _require_seed(missing)
    monkeypatch.delenv('CI')
    with pytest.raises(pytest.skip.Exception, match='no seed tutorial'):
        _require_seed(missing)
    missing.parent.mkdir()
    missing.write_text('present')
    _require_seed(missing)  # present: nothing happens


@pytest.mark.slow
def test_executor_skips_tagged_cells_and_uses_this_environment(tmp_path):
    source = tmp_path / 'probe.md'
    source.write_text(
        textwrap.dedent(
            """\
            ---
            kernelspec:
              display_name: Other
              language: python
              name: not-a-kernel
            ---

            ```{code-cell} ipython3
            :tags: [skip-execution]

            raise RuntimeError('a skip-execution cell ran')
            ```

            ```{code-cell} ipython3
            import os, sys

            print(sys.prefix)
            print(os.getcwd())
            ```
            """
        )
    )
    executed = _run(source, tmp_path)
    skipped, probe = executed.cells
    assert skipped.outputs == []
    assert skipped.source.startswith('raise RuntimeError')
    stdout = ''.join(
        output['text']
        for output in probe.outputs
        if output.get('name') == 'stdout'
    )
    lines = stdout.splitlines()
    assert lines[0] == sys.prefix
    assert pathlib.Path(lines[1]).resolve() == tmp_path.resolve()
