"""Tests of drytorch.trackers.code: the code that made each run."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

import drytorch_nb
from drytorch.core import history
from drytorch.core.experiment import Experiment
from drytorch.trackers.code import NOTEBOOK_NAME, CodeRecorder, read_cells


@pytest.fixture
def shell(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    monkeypatch.setenv('IPYTHONDIR', str(tmp_path / 'ipython'))
    shell = InteractiveShell.instance()
    shell.push({'CodeRecorder': CodeRecorder, 'Experiment': Experiment})
    yield shell
    InteractiveShell.clear_instance()


def _cell(shell: InteractiveShell, code: str) -> None:
    result = shell.run_cell(textwrap.dedent(code), store_history=True)
    assert result.success, result.error_in_exec or result.error_before_exec


def _notebook(par_dir: pathlib.Path, run_id: str) -> pathlib.Path:
    exp_dir = history.registry_dir(par_dir, 'Coded')
    return history.history_path(exp_dir, run_id).parent / NOTEBOOK_NAME


def _experiment_with_recorder(
    shell: InteractiveShell, par_dir: pathlib.Path
) -> None:
    """Define ``exp`` in the shell, with a CodeRecorder subscribed."""
    _cell(
        shell,
        f"""
        exp = Experiment(None, name='Coded', par_dir={str(par_dir)!r})
        exp.trackers.subscribe(CodeRecorder())
        """,
    )


def test_cells_of_an_active_run_are_saved_as_a_notebook(
    shell: InteractiveShell, tmp_path: pathlib.Path
) -> None:
    _experiment_with_recorder(shell, tmp_path)
    _cell(shell, "run = exp.create_run(run_id='r1')\nrun.start()")
    start_count = shell.execution_count - 1
    path = _notebook(tmp_path, 'r1')
    _cell(shell, 'x = 1  # first')
    saved = nbformat.read(path, as_version=4)  # updated after each cell
    nbformat.validate(saved)
    assert [c.source for c in saved.cells][-1] == 'x = 1  # first'
    _cell(shell, 'y = x + 1')
    _cell(shell, 'run.stop()')
    _cell(shell, 'z = 3  # after the stop: not recorded')

    cells = read_cells(path)
    assert [count for count, _ in cells] == list(
        range(start_count, start_count + 4)
    )
    assert [source for _, source in cells] == [
        "run = exp.create_run(run_id='r1')\nrun.start()",
        'x = 1  # first',
        'y = x + 1',
        'run.stop()',
    ]
    assert nbformat.read(path, as_version=4).metadata['drytorch'] == {
        'experiment': 'Coded',
        'run_id': 'r1',
    }

    # a resumed run appends its cells
    _cell(shell, "run = exp.create_run(run_id='r1', resume=True)\nrun.start()")
    _cell(shell, 'w = 4')
    _cell(shell, 'run.stop()')
    sources = [source for _, source in read_cells(path)]
    assert sources[:4] == [source for _, source in cells]
    assert sources[4:] == [
        "run = exp.create_run(run_id='r1', resume=True)\nrun.start()",
        'w = 4',
        'run.stop()',
    ]


def test_compare_shows_the_cells_that_differ(
    shell: InteractiveShell, tmp_path: pathlib.Path
) -> None:
    _experiment_with_recorder(shell, tmp_path)
    for run_id, lr in (('a', 0.1), ('b', 0.5)):
        _cell(shell, f"run = exp.create_run(run_id='{run_id}')\nrun.start()")
        _cell(shell, f'lr = {lr}')
        _cell(shell, 'run.stop()')
    comparison = drytorch_nb.compare_runs(
        shell.user_ns['exp'], run_ids=['a', 'b'], code=True
    )
    diff = comparison.code_diff()
    assert '-lr = 0.1' in diff
    assert '+lr = 0.5' in diff
    assert '--- Coded/a' in diff and '+++ Coded/b' in diff
    assert '+lr = 0.5' in str(comparison)
    assert '+lr = 0.5' in comparison._repr_html_()
    # not two runs: said plainly
    latest = drytorch_nb.compare_runs(shell.user_ns['exp'], code=True)
    assert 'Cannot compare the code: Expected two runs to diff, got 1.' in (
        str(latest)
    )
    with pytest.raises(ValueError, match='two runs'):
        latest.code_diff()


_SCRIPT = """
import sys
import drytorch
from drytorch import Experiment

drytorch.init_trackers('standard')
with Experiment(None, name='Coded', par_dir=sys.argv[1]).create_run(
    run_id='s'
):
    pass
"""


def test_outside_ipython_the_script_and_its_hash_are_recorded(
    tmp_path: pathlib.Path,
) -> None:
    script = tmp_path / 'train.py'
    script.write_text(_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, 'PYTHONWARNINGS': 'ignore'},
    )
    assert result.returncode == 0, result.stderr.decode()
    path = _notebook(tmp_path, 's').with_name('code.json')
    (entry,) = json.loads(path.read_text())
    assert entry['script'] == str(script.resolve())
    assert entry['sha256'] == hashlib.sha256(script.read_bytes()).hexdigest()
