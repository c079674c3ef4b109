"""Interrupting a training (KeyboardInterrupt) and continuing it."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import torch
from conftest import RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events, history
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer
from drytorch.trackers.history import HistoryWriter
from drytorch_nb._text import event_line

N_BATCHES = 4


def _schedule(lr: float, epoch: int) -> float:
    return lr / (1 + epoch)


def _trainer() -> Trainer:
    torch.manual_seed(0)
    inputs = torch.randn(8 * N_BATCHES, 3)
    loader = DataLoader(
        TensorDataset(inputs, inputs.sum(dim=1, keepdim=True)), batch_size=8
    )
    schema = LearningSchema.adam(0.05, scheduler=_schedule)
    trainer = Trainer(
        Model(nn.Linear(3, 1), name='Lin'),
        loader=loader,
        loss=Loss(nn.functional.mse_loss, 'MSE'),
        learning_schema=schema,
    )
    trainer.add_validation(loader)
    return trainer


class _Interrupt:
    """Raise KeyboardInterrupt at a given batch of a given epoch."""

    def __init__(self, trainer: Trainer, epoch: int, batch: int) -> None:
        self.trainer = trainer
        self.epoch = epoch
        self.batch = batch
        self.count = 0
        self.original = trainer._run_batch
        trainer._run_batch = self  # type: ignore[method-assign]

    def __call__(self, inputs: Any, targets: Any) -> Any:
        self.count += 1
        if self.trainer.model.epoch == self.epoch and (
            self.count % N_BATCHES == self.batch
        ):
            self.trainer._run_batch = self.original  # type: ignore[method-assign]
            raise KeyboardInterrupt
        return self.original(inputs, targets)


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.module.state_dict().items()}


@pytest.fixture
def experiment(tmp_path: pathlib.Path) -> Experiment[None]:
    exp: Experiment[None] = Experiment(None, name='Int', par_dir=tmp_path)
    exp.trackers.subscribe(HistoryWriter())
    return exp


def test_interrupt_mid_epoch_discards_it_and_training_continues(
    experiment: Experiment[None], recorder: RecordingTracker
) -> None:
    experiment.trackers.subscribe(recorder)
    with experiment.create_run(run_id='r'):
        trainer = _trainer()
        at_end: dict[int, dict[str, torch.Tensor]] = {}
        trainer.post_epoch_hooks.register(
            lambda t: at_end.__setitem__(t.model.epoch, _state(t))
        )
        _Interrupt(trainer, epoch=3, batch=2)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(5)

        model = trainer.model
        assert model.epoch == 2
        for key, value in _state(trainer).items():
            assert torch.equal(value, at_end[2][key]), key
        steps = {
            int(state['step'])
            for state in trainer.optimizer.state_dict()['state'].values()
        }
        assert steps == {2 * N_BATCHES}
        for group in trainer.optimizer.param_groups:
            assert group['lr'] == pytest.approx(_schedule(0.05, 2))
        assert all(p.grad is None for p in model.module.parameters())

        (event,) = recorder.of_type(events.InterruptedTrainingEvent)
        assert (event.epoch, event.discarded, event.saved) == (2, True, True)
        assert event_line(event) == (
            'Trainer: training of Lin interrupted at epoch 2 (the epoch in '
            'progress was discarded); checkpoint saved'
        )
        (saved,) = recorder.of_type(events.SaveModelEvent)
        assert saved.epoch == 2

        trainer.train(2)  # the next cell goes on from epoch 2
        assert model.epoch == 4
        steps = {
            int(state['step'])
            for state in trainer.optimizer.state_dict()['state'].values()
        }
        assert steps == {4 * N_BATCHES}

    found = history.load_history(experiment, 'r')
    assert found is not None
    assert found.series['Lin', 'Trainer'].epochs == [1, 2, 3, 4]
    assert found.series['Lin', 'Validation'].epochs == [1, 2, 3, 4]
    assert [(i.epoch, i.source) for i in found.interruptions] == [
        (2, 'Trainer')
    ]


def test_interrupt_during_validation_discards_the_epoch(
    experiment: Experiment[None], recorder: RecordingTracker
) -> None:
    experiment.trackers.subscribe(recorder)
    with experiment.create_run(run_id='r'):
        trainer = _trainer()

        def stop(t: Trainer) -> None:
            if t.model.epoch == 2:
                raise KeyboardInterrupt

        trainer.post_epoch_hooks.register(stop)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(3)
        assert trainer.model.epoch == 1
    found = history.load_history(experiment, 'r')
    assert found is not None
    assert found.series['Lin', 'Trainer'].epochs == [1]
    assert found.interruptions[0].epoch == 1


def test_interrupt_before_any_completed_epoch_saves_nothing(
    experiment: Experiment[None], recorder: RecordingTracker
) -> None:
    experiment.trackers.subscribe(recorder)
    with experiment.create_run(run_id='r'):
        trainer = _trainer()
        before = _state(trainer)
        _Interrupt(trainer, epoch=1, batch=3)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(2)
        assert trainer.model.epoch == 0
        for key, value in _state(trainer).items():
            assert torch.equal(value, before[key])
    (event,) = recorder.of_type(events.InterruptedTrainingEvent)
    assert (event.epoch, event.discarded, event.saved) == (0, True, False)
    assert recorder.of_type(events.SaveModelEvent) == []


def test_interrupted_cell_run_is_recorded_interrupted(
    experiment: Experiment[None],
) -> None:
    with pytest.raises(KeyboardInterrupt), experiment.create_run(run_id='r'):
        trainer = _trainer()
        _Interrupt(trainer, epoch=2, batch=1)
        trainer.train(3)
    record = experiment.registry.get('r')
    assert record is not None
    assert record.status == 'interrupted'
    found = history.load_history(experiment, 'r')
    assert found is not None
    assert found.last_status == 'interrupted'
    assert found.series['Lin', 'Trainer'].epochs == [1]


def test_without_the_copy_an_interrupt_keeps_the_state_as_it_is(
    experiment: Experiment[None], recorder: RecordingTracker
) -> None:
    experiment.trackers.subscribe(recorder)
    with experiment.create_run(run_id='r'):
        trainer = _trainer()
        trainer.discard_interrupted_epoch = False
        _Interrupt(trainer, epoch=2, batch=3)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(3)
        assert trainer.model.epoch == 2  # the epoch in progress counted
        steps = {
            int(state['step'])
            for state in trainer.optimizer.state_dict()['state'].values()
        }
        assert steps == {N_BATCHES + 2}  # the updates done so far kept
    (event,) = recorder.of_type(events.InterruptedTrainingEvent)
    assert (event.epoch, event.discarded, event.saved) == (2, False, False)
    assert recorder.of_type(events.SaveModelEvent) == []
