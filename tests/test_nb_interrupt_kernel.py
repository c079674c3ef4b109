"""Interrupt-and-continue and %drytorch_compare in a real Jupyter kernel.

The kernel's stop button is SIGINT sent by the kernel manager
(``interrupt_kernel``) while a cell trains.
"""

from __future__ import annotations

import json
import pathlib
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_nb_kernel import Kernel

from drytorch.core import history
from drytorch.trackers.code import NOTEBOOK_NAME, read_cells

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SETUP = """
%load_ext drytorch_nb
import dataclasses, json, time
import torch
from torch import nn
from torch.utils.data import TensorDataset
from drytorch import DataLoader, Experiment, LearningSchema, Loss, Model
from drytorch import Trainer
from drytorch.core import history
from drytorch.trackers.code import NOTEBOOK_NAME, read_cells
from drytorch.utils.formatting import format_number

@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.05

class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x):
        time.sleep(0.01)  # slow enough to be stopped in the middle
        return self.linear(x)

torch.manual_seed(0)
inputs = torch.randn(64, 3)
data = TensorDataset(inputs, inputs.sum(dim=1, keepdim=True))

def make_trainer(config):
    trainer = Trainer(
        Model(Slow(), name='Net'),
        loader=DataLoader(data, batch_size=8),
        loss=Loss(nn.functional.mse_loss, 'MSE'),
        learning_schema=LearningSchema.adam(config.lr),
    )
    trainer.add_validation(DataLoader(data, batch_size=8))
    return trainer

exp = Experiment(Config(), name='Stoppable')
"""


class _Kernel(Kernel):
    """A kernel that can be interrupted while a cell runs."""

    execute_timeout = 120

    def value(self, expression: str) -> Any:
        outputs = self.run(f'print(json.dumps({expression}))')
        text = ''.join(
            m['content'].get('text', '')
            for m in outputs
            if m['msg_type'] == 'stream'
        )
        return json.loads(text.strip().splitlines()[-1])

    def interrupt_when(self, code: str, ready: Any) -> dict[str, Any]:
        """Run code, send SIGINT once ready() is true, return the reply."""
        # stop_on_error=False: the kernel must not abort the next requests
        msg_id = self.client.execute(
            textwrap.dedent(code), stop_on_error=False
        )
        deadline = time.monotonic() + 90
        while not ready():
            assert time.monotonic() < deadline, 'training never got there'
            time.sleep(0.1)
        self.manager.interrupt_kernel()
        while True:
            reply = self.client.get_shell_msg(timeout=60)
            if reply['parent_header'].get('msg_id') == msg_id:
                return reply['content']


@pytest.fixture
def kernel(tmp_path: pathlib.Path) -> Iterator[_Kernel]:
    started = _Kernel(tmp_path)
    try:
        started.run(SETUP)
        yield started
    finally:
        started.close()


def _train_epochs(path: pathlib.Path) -> int:
    if not path.exists():
        return 0
    return sum(
        '"role": "train"' in line for line in path.read_text().splitlines()
    )


def _html(outputs: list[dict]) -> str:
    return ''.join(
        m['content']['data'].get('text/html', '')
        for m in outputs
        if m['msg_type'] in ('display_data', 'execute_result')
    )


def test_stop_button_then_continue_in_the_next_cell(
    kernel: _Kernel, tmp_path: pathlib.Path
) -> None:
    exp_dir = tmp_path / '.drytorch' / 'Stoppable'
    kernel.run('%drytorch_start --run-id first')
    kernel.run('trainer = make_trainer(exp.config)')
    path = history.history_path(exp_dir, 'first')

    reply = kernel.interrupt_when(
        'trainer.train(500)', lambda: _train_epochs(path) >= 2
    )
    assert reply['status'] == 'error'
    assert reply['ename'] == 'KeyboardInterrupt'

    epoch = kernel.value('trainer.model.epoch')
    recorded = history.load_history(exp_dir, 'first')
    assert recorded is not None
    assert recorded.series['Net', 'Trainer'].epochs == list(
        range(1, epoch + 1)
    )
    assert [i.epoch for i in recorded.interruptions] == [epoch]
    assert kernel.value('exp.run.status') == 'running'  # still active

    kernel.run('trainer.train(2)')  # the next cell continues
    assert kernel.value('trainer.model.epoch') == epoch + 2
    kernel.run('%drytorch_stop')
    done = history.load_history(exp_dir, 'first')
    assert done is not None
    assert done.series['Net', 'Trainer'].epochs == list(range(1, epoch + 3))
    assert done.last_status == 'completed'
    # the cells of the run, as typed, interrupted one included
    cells = read_cells(path.with_name(NOTEBOOK_NAME))
    assert [source for _, source in cells] == [
        '%drytorch_start --run-id first',
        'trainer = make_trainer(exp.config)',
        'trainer.train(500)',
        'print(json.dumps(trainer.model.epoch))',
        'print(json.dumps(exp.run.status))',
        'trainer.train(2)',
        'print(json.dumps(trainer.model.epoch))',
        '%drytorch_stop',
    ]

    # in a %%drytorch cell the run ends, recorded interrupted
    second = history.history_path(exp_dir, 'second')
    reply = kernel.interrupt_when(
        '%%drytorch --run-id second\n'
        'trainer2 = make_trainer(exp.config)\n'
        'trainer2.train(500)',
        lambda: _train_epochs(second) >= 1,
    )
    assert reply['ename'] == 'KeyboardInterrupt'
    record = json.loads((exp_dir / 'runs' / 'second.json').read_text())
    assert record['status'] == 'interrupted'

    # %drytorch_compare: the table shows what the history recorded
    outputs = kernel.run('%drytorch_compare --all')
    page = _html(outputs)
    assert '<svg' in page and '<script' not in page
    final = done.series['Net', 'Trainer'].metrics['MSE'][-1]
    validation = done.series['Net', 'Validation'].metrics['MSE']
    best = min(range(len(validation)), key=validation.__getitem__)
    expected = kernel.value(
        f'[format_number({final!r}), format_number({validation[best]!r})]'
    )
    assert f'>{expected[0]}<' in page
    assert f'>{expected[1]} ({best + 1})<' in page
    assert '>interrupted</span>' in page and '>completed</span>' in page
