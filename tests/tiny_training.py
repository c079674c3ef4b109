"""A tiny real training for the trackers' end-to-end tests.

The CSV and SQL trackers are checked against what a real ``Trainer`` logs:
both use this trainer of a linear model named 'Lin' (MSE, with
validation) and read the logged values back from a recording tracker.
"""

from __future__ import annotations

import dataclasses

import torch
from conftest import RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import log_events
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer

__all__ = ['MODEL_NAME', 'Cfg', 'logged_mse', 'tiny_dataset', 'tiny_trainer']

MODEL_NAME = 'Lin'


@dataclasses.dataclass(frozen=True)
class Cfg:
    """The configuration of the experiments."""

    lr: float = 0.01


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def tiny_dataset() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(12, 3, generator=generator)
    return TensorDataset(inputs, torch.randn(12, 1, generator=generator))


def tiny_trainer() -> Trainer:
    """Train 'Lin' on 12 samples in batches of 4, validated on the same."""
    torch.manual_seed(0)
    model = Model(nn.Linear(3, 1), name=MODEL_NAME, device='cpu')
    trainer = Trainer(
        model,
        loader=DataLoader(tiny_dataset(), 4),
        loss=Loss(_mse, 'MSE'),
        learning_schema=LearningSchema.adam(Cfg().lr),
    )
    trainer.add_validation(DataLoader(tiny_dataset(), 4))
    return trainer


def logged_mse(
    recorder: RecordingTracker, source: str
) -> list[tuple[int, float]]:
    """The (epoch, MSE) pairs that a source logged, in order."""
    return [
        (event.epoch, event.metrics['MSE'])
        for event in recorder.of_type(log_events.MetricEvent)
        if event.source_name == source
    ]
