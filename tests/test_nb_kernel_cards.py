"""The model card in a real Jupyter kernel: status and snapshot.

A model with a frozen layer and a batch norm trains two epochs in a kernel
with the extension loaded; ``%drytorch_status`` and the snapshot that
replaces the panel at ``%drytorch_stop`` show the parameter counts computed
by hand and the shapes of the first batch.
"""

from __future__ import annotations

import re

import pytest
from test_nb_kernel import Kernel, kernels, start, text_output

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

__all__ = ['kernels']  # the fixture, imported for the tests below

# Linear(4, 8) frozen: 40; BatchNorm1d(8): 16; Linear(8, 2): 18
TOTAL, TRAINABLE, FROZEN = 74, 34, 40

TRAIN = """
import torch
from torch import nn
from torch.utils.data import TensorDataset
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer

net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
net[0].requires_grad_(False)
model = Model(net, name='net')
x = torch.randn(40, 4)
trainer = Trainer(
    model,
    loader=DataLoader(TensorDataset(x, torch.zeros(40, 2)), batch_size=8),
    loss=Loss(lambda o, t: ((o - t) ** 2).mean(dim=1), 'MSE'),
    learning_schema=LearningSchema.adam(0.01),
)
trainer.train(2)
"""


def html_outputs(outputs: list[dict]) -> str:
    return ''.join(
        message['content'].get('data', {}).get('text/html', '')
        for message in outputs
    )


def test_status_and_snapshot_show_the_counts_by_hand(
    tmp_path, kernels: list[Kernel]
) -> None:
    kernel = start(kernels, tmp_path)
    kernel.run('%drytorch_start --run-id cards')
    kernel.run(TRAIN)
    status = text_output(kernel.run('%drytorch_status'))
    assert re.search(rf'Parameters\s+{TOTAL}\n', status)
    assert re.search(rf'Trainable\s+{TRAINABLE}\n', status)
    assert re.search(rf'Frozen\s+{FROZEN}\n', status)
    assert re.search(r'Epoch\s+2\n', status)
    assert re.search(r'Trainer @ 2\s+MSE=', status)
    assert re.search(r'0\s+Linear\s+\[8, 8\]\s+40\s+0', status)
    snapshot = html_outputs(kernel.run('%drytorch_stop'))
    assert 'drytorch-snapshot' in snapshot
    for label, value in (
        ('Parameters', TOTAL),
        ('Trainable', TRAINABLE),
        ('Frozen', FROZEN),
    ):
        assert re.search(rf'>{label}</b></td><td[^>]*>{value}</td>', snapshot)
    assert '>[8, 2]</td>' in snapshot
