"""The tutorials of drytorch 0.1.0rc11 run unchanged on this package.

The tutorials (``docs/tutorials/*.md`` in the 0.1.0rc11 source
distribution) are fetched with pip when the tests run; nothing of the
release is stored in this repository. Each runs in a real Jupyter kernel as
the release ships it, except two kinds of cells, changed here and nowhere
else: the ``! uv pip install drytorch`` line (skipped: it would install the
published package over this one) and the download of the tutorial's image
(read instead from the copy in the same source distribution).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tarfile

import nbformat
import pytest
from test_notebooks import executor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

RELEASE = '0.1.0rc11'
TUTORIALS = [
    'experiments_and_runs',
    'getting_started',
    'metrics_and_losses',
    'trackers',
]


@pytest.fixture(scope='module')
def tutorials_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The release's docs/tutorials folder, from its source distribution."""
    download = tmp_path_factory.mktemp('sdist')
    completed = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'download',
            '--no-deps',
            '--no-binary',
            'drytorch',  # the source distribution, not the wheel
            f'drytorch=={RELEASE}',
            '-d',
            str(download),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode:
        pytest.skip(f'cannot download drytorch {RELEASE}: {completed.stderr}')
    (archive,) = download.glob('drytorch-*.tar.gz')
    with tarfile.open(archive) as sdist:
        sdist.extractall(download, filter='data')
    return download / f'drytorch-{RELEASE}' / 'docs' / 'tutorials'


def _prepared(path: pathlib.Path) -> nbformat.NotebookNode:
    """The tutorial, with the install line skipped and the image local."""
    notebook = executor.read_notebook(path)
    image = path.parent / 'data' / 'flower.npy'
    for cell in notebook.cells:
        if cell.cell_type != 'code':
            continue
        if 'pip install' in cell.source:
            tags = cell.metadata.setdefault('tags', [])
            if executor.SKIP_TAG not in tags:
                tags.append(executor.SKIP_TAG)
        elif 'urllib.request.urlopen' in cell.source:
            cell.source = (
                f'import numpy as np\n\nflower_np = np.load({str(image)!r})\n'
            )
    return notebook


def test_tutorials_are_those_of_the_release(tutorials_dir: pathlib.Path):
    found = sorted(path.stem for path in tutorials_dir.glob('*.md'))
    assert found == TUTORIALS


@pytest.mark.parametrize('name', TUTORIALS)
def test_tutorial_runs(
    name: str,
    tutorials_dir: pathlib.Path,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv('DRYTORCH_INIT_MODE', raising=False)
    monkeypatch.setenv('EPOCHS', '2')  # getting_started reads it; default 30
    notebook = _prepared(tutorials_dir / f'{name}.md')
    changed = [
        cell
        for cell in notebook.cells
        if executor.SKIP_TAG in cell.metadata.get('tags', [])
        or 'flower.npy' in cell.source
    ]
    assert len(changed) <= 2  # the install line and the image, nothing else
    executor.execute_notebook(notebook, tmp_path)  # raises if a cell fails
