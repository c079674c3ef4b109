"""What a training cell leaves in a saved notebook, in a real kernel.

With ``%load_ext drytorch_nb`` the panel is the display: the default
logger and progress bars write no stream output. ``terminal_output(True)``
and ``%unload_ext`` bring the logger's lines back. Without the extension,
each progress bar is one display updated in place: no stream of lines and
no carriage returns.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
from typing import Any

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

SETUP = """\
import dataclasses

import torch
from torch import nn
from torch.nn import functional
from torch.utils.data import TensorDataset

from drytorch import DataLoader, Experiment, LearningSchema, Loss, Model
from drytorch import Trainer


@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.01


generator = torch.Generator().manual_seed(0)
inputs = torch.randn(32, 4, generator=generator)
data = TensorDataset(inputs, inputs.sum(1, keepdim=True))


def train(epochs=2):
    model = Model(nn.Linear(4, 1), name='linear')
    trainer = Trainer(
        model,
        loader=DataLoader(data, batch_size=8),
        loss=Loss(functional.mse_loss, name='MSE'),
        learning_schema=LearningSchema(torch.optim.SGD, 0.01),
    )
    trainer.add_validation(DataLoader(data, batch_size=16))
    trainer.train(epochs)


experiment = Experiment(Config(), name='Outputs', par_dir='experiments')
"""

TRAIN = """\
with experiment.create_run():
    train()
"""


def _executor() -> Any:
    # notebooks/ is not a package: run notebooks as the showcase does
    path = REPO_ROOT / 'notebooks' / '_execute.py'
    spec = importlib.util.spec_from_file_location('_execute', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _execute(cells: list[str], cwd: pathlib.Path) -> list[list[dict]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code) for code in cells]
    _executor().execute_notebook(notebook, cwd, timeout=120)
    return [cell.outputs for cell in notebook.cells]


def _streams(outputs: list[dict]) -> str:
    return ''.join(o['text'] for o in outputs if o['output_type'] == 'stream')


def _progress_displays(outputs: list[dict]) -> list[dict]:
    return [
        output
        for output in outputs
        if output['output_type'] == 'display_data'
        and 'drytorch-progress' in output['data'].get('text/html', '')
    ]


def test_extension_hides_tracker_text_until_asked_or_unloaded(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv('DRYTORCH_INIT_MODE', raising=False)
    outputs = _execute(
        [
            '%load_ext drytorch_nb\n' + SETUP,
            TRAIN,
            'from drytorch.trackers.logging import logger\n'
            'logger.warning("outside any run")',
            'import drytorch_nb\ndrytorch_nb.terminal_output(True)\n' + TRAIN,
            'drytorch_nb.terminal_output(False)\n'
            '%unload_ext drytorch_nb\n' + TRAIN,
        ],
        tmp_path,
    )
    setup, hidden, warning, switched, unloaded = outputs

    assert _streams(setup) == ''
    # the panel shows the run: not a line of text from the trackers
    assert _streams(hidden) == ''
    assert _progress_displays(hidden) == []
    snapshots = [
        o
        for o in hidden
        if 'drytorch-snapshot' in o.get('data', {}).get('text/html', '')
    ]
    assert len(snapshots) == 1  # the panel, replaced by its snapshot
    # no run shows it: the panel prints it rather than lose it
    assert _streams(warning) == 'WARNING: outside any run\n'

    for cell in (switched, unloaded):
        text = _streams(cell)
        assert 'Training linear started' in text
        assert '====> Epoch 2/2:' in text
        assert '\r' not in text
        assert len(_progress_displays(cell)) == 4  # 2 epochs x 2 passes


def test_plain_notebook_shows_progress_as_displays(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv('DRYTORCH_INIT_MODE', raising=False)
    _, trained = _execute([SETUP, TRAIN], tmp_path)

    streams = [o for o in trained if o['output_type'] == 'stream']
    text = _streams(trained)
    assert '\r' not in text
    assert '%|' not in text  # no progress bar as text
    # the log lines: one per event, in the cell
    assert 'Training linear started' in text
    assert all(stream['name'] == 'stderr' for stream in streams)

    bars = _progress_displays(trained)
    assert len(bars) == 4  # one display per pass, each updated in place
    final = [bar['data']['text/plain'] for bar in bars]
    # counts, elapsed<remaining and rate, as tqdm shows them
    meter = r'100%\|#{10}\| (\d+)/\1 \[\d\d:\d\d<\d\d:\d\d, [\d.]+batch/s\]'
    assert all(re.search(meter, line) for line in final), final
    assert final[0].startswith('        Trainer: 100%|##########| 4/4 [')
    assert final[1].startswith('     Validation: 100%|##########| 2/2 [')
    assert all('Samples=32, MSE=' in line for line in final)
    # nothing but the log lines and the bars
    kinds = {o['output_type'] for o in trained}
    assert kinds <= {'stream', 'display_data'}
