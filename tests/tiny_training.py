"""A tiny real training for the trackers' end-to-end tests.

The CSV and SQL trackers are checked against what a real ``Trainer`` logs:
both use this trainer of a linear model named 'Lin' (MSE, with
validation), the same resumed training, and compare what they read back
with what a recording tracker received.
"""

from __future__ import annotations

import dataclasses

import torch
from conftest import RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer
from drytorch.trackers.base_classes import MetricLoader, SourcedMetrics

__all__ = [
    'MODEL_NAME',
    'Cfg',
    'assert_history_is_logged',
    'logged_mse',
    'tiny_dataset',
    'tiny_trainer',
    'train_then_resume',
]

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
        for event in recorder.of_type(events.MetricEvent)
        if event.source_name == source
    ]


def train_then_resume(
    experiment: Experiment, loader: MetricLoader
) -> SourcedMetrics:
    """Train 2 epochs in run 'r1' and save; resume it for 2 more epochs.

    Returns:
        The history of 'Lin' that ``loader`` reads at the end.
    """
    with experiment.create_run(run_id='r1'):
        trainer = tiny_trainer()
        trainer.train(2)
        trainer.save_checkpoint()
    with experiment.create_run(resume=True):
        trainer = tiny_trainer()
        trainer.load_checkpoint()
        assert trainer.model.epoch == 2
        trainer.train(2)
        return loader.load_metrics(MODEL_NAME)


def assert_history_is_logged(
    history: SourcedMetrics, recorder: RecordingTracker
) -> None:
    """Epochs 1 to 4 of both sources hold the values that were logged."""
    for source in ('Trainer', 'Validation'):
        logged = logged_mse(recorder, source)
        assert [epoch for epoch, _ in logged] == [1, 2, 3, 4]
        assert history[source] == (
            [1, 2, 3, 4],
            {'MSE': [value for _, value in logged]},
        )
