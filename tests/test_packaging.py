"""The wheel as users install it: typed packages, extras that fit Colab.

The wheel is built once from this tree with the dev environment's hatchling
(no build isolation, so nothing is downloaded). The extras are checked with
``pip install --dry-run --no-index`` in the Colab-like environment
(``.venv-w7``): pip may use only what is installed there, so it succeeds
only if nothing would be upgraded, downgraded or added.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    pytest.importorskip('hatchling', reason='the dev extra installs it')
    folder = tmp_path_factory.mktemp('wheel')
    command = [
        sys.executable, '-m', 'pip', 'wheel', str(ROOT),
        '--no-deps', '--no-build-isolation', '--no-index', '--quiet',
        '--wheel-dir', str(folder),
    ]  # fmt: skip
    built = subprocess.run(
        command, check=False, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    (path,) = folder.glob('drytorch-*.whl')
    return path


def test_wheel_marks_both_packages_as_typed(wheel: pathlib.Path) -> None:
    # without the PEP 561 marker, users' type checkers ignore our hints
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {'drytorch/py.typed', 'drytorch_nb/py.typed'} <= names


def test_notebook_extra_changes_nothing_in_a_colab_like_environment(
    wheel: pathlib.Path, w7_python: str
) -> None:
    # Colab runs IPython 7.34, ipykernel 6.17 and ipywidgets 7.7.1 under a
    # live kernel: `pip install 'drytorch[notebook]'` there must not
    # replace any of them (nor anything else)
    command = [
        w7_python, '-m', 'pip', 'install', f'{wheel}[notebook]',
        '--dry-run', '--no-index', '--quiet', '--report', '-',
    ]  # fmt: skip
    dry_run = subprocess.run(
        command, check=False, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, (
        'the notebook extra asks for what the Colab-like environment does '
        f'not have:\n{dry_run.stderr}'
    )
    report = json.loads(dry_run.stdout)
    changed = {
        item['metadata']['name']: item['metadata']['version']
        for item in report['install']
    }
    changed.pop('drytorch', None)  # the wheel itself
    assert changed == {}
