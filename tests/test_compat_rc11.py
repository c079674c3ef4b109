"""The surface of drytorch 0.1.0rc11 beside that of 0.1.0rc5.

0.1.0rc11 renamed modules and added APIs; code written for either release
runs (its tutorials run in tests/test_rc11_tutorials.py). Where the
releases disagree, both spellings work.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import pathlib
from typing import Any

import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import exceptions, log_events, track
from drytorch.core.experiment import Experiment
from drytorch.lib import schedulers
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric, compute_metrics
from drytorch.lib.train import Trainer
from drytorch.utils import local_ops

Tensor = torch.Tensor

ALIASES = {
    'drytorch.core.experimenting': 'drytorch.core.experiment',
    'drytorch.core.tracking': 'drytorch.core.track',
    'drytorch.core.registering': 'drytorch.core.register',
    'drytorch.lib.training': 'drytorch.lib.train',
    'drytorch.lib.learning': 'drytorch.lib.learn',
    'drytorch.lib.loading': 'drytorch.lib.load',
    'drytorch.utils.averages': 'drytorch.utils.average',
    'drytorch.lib.aggregators': 'drytorch.utils.average',
}


def _mse(outputs: Tensor, targets: Tensor) -> Tensor:
    return ((outputs - targets) ** 2).mean()


def _mae(outputs: Tensor, targets: Tensor) -> Tensor:
    return (outputs - targets).abs().mean()


def _loader(n: int = 8) -> DataLoader[tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(n, 2, generator=generator)
    return DataLoader(TensorDataset(inputs, inputs.sum(1, True)), 4)


# module names


@pytest.mark.parametrize(('new', 'old'), ALIASES.items())
def test_renamed_modules_give_the_same_objects(new: str, old: str) -> None:
    new_module = importlib.import_module(new)
    old_module = importlib.import_module(old)
    assert new_module.__all__
    for name in new_module.__all__:
        value = getattr(new_module, name)
        if hasattr(old_module, name):
            assert value is getattr(old_module, name), name


def test_rc11_names_resolve() -> None:
    from drytorch.core.tracking import MetadataManager
    from drytorch.lib.aggregators import AbstractAggregator, TorchAverager
    from drytorch.lib.models import AveragedModel, EMAModel, SWAModel
    from drytorch.lib.objectives import (
        AverageObjective,
        JoinLossMetrics,
        JoinMetrics,
        Objective,
    )
    from drytorch.lib.training import ModelOptimizer

    assert MetadataManager.__name__ == 'MetadataManager'
    assert issubclass(TorchAverager, AbstractAggregator)
    assert issubclass(SWAModel, AveragedModel)
    assert issubclass(EMAModel, AveragedModel)
    assert AverageObjective is Objective
    assert issubclass(JoinLossMetrics, JoinMetrics)
    assert ModelOptimizer.__name__ == 'ModelOptimizer'


@pytest.mark.parametrize('module', ['track', 'tracking'])
def test_tutorial_tracker_works_with_both_module_names(
    module: str, config: Config
) -> None:
    """The singledispatch tracker of 0.1.0rc11's tracker tutorial."""
    base = importlib.import_module(f'drytorch.core.{module}').Tracker

    class MetadataVisualizer(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        @functools.singledispatchmethod
        def notify(self, event: log_events.Event) -> None:
            return super().notify(event)

        @notify.register
        def _(self, event: log_events.ModelRegistrationEvent) -> None:
            self.seen.append(event.model_name)
            return super().notify(event)

    visualizer = MetadataVisualizer()
    assert isinstance(visualizer, track.Tracker)
    exp = Experiment(config, name='Tutorial')
    exp.trackers.subscribe(visualizer)
    with exp.create_run():
        Model(nn.Linear(1, 1), name='seen')
    assert visualizer.seen == ['seen']


# objectives


def test_watch_and_or_both_add_metrics() -> None:
    outputs, targets = torch.zeros(4), torch.full((4,), 2.0)
    watched = Loss(_mse, 'MSE')
    watched.watch(Metric(_mae, 'MAE'))  # 0.1.0rc11: in place
    joined = Loss(_mse, 'MSE') | Metric(_mae, 'MAE')  # 0.1.0rc5: new loss
    for loss in (watched, joined):
        assert loss.forward(outputs, targets).item() == 4.0
        assert compute_metrics(loss) == {'MSE': 4.0, 'MAE': 2.0}
    with pytest.raises(TypeError, match='JoinLossMetrics'):
        watched.watch(object())  # type: ignore[arg-type]


class _Count:
    """An objective of another kind: counts the samples it saw."""

    name = 'Count'

    def __init__(self) -> None:
        self.count = 0

    def update(self, outputs: Tensor, targets: Tensor) -> None:
        self.count += len(outputs)

    def compute(self) -> Tensor:
        return torch.tensor(float(self.count))

    def reset(self) -> None:
        self.count = 0


def test_join_loss_metrics_trains_and_logs_both(
    config: Config, recorder: RecordingTracker
) -> None:
    from drytorch.lib.objectives import JoinLossMetrics, JoinMetrics

    exp = Experiment(config, name='Join')
    exp.trackers.subscribe(recorder)
    loss = JoinLossMetrics(Loss(_mse, 'MSE'), _Count())
    with exp.create_run():
        trainer = Trainer(
            Model(nn.Linear(2, 1)),
            loader=_loader(),
            loss=loss,
            learning_schema=LearningSchema.sgd(0.01),
        )
        trainer.train(1)
    assert set(trainer.computed_metrics) == {'MSE', 'Count'}
    assert trainer.computed_metrics['Count'] == 8.0
    joined = JoinMetrics(Metric(_mae, 'MAE'), _Count())
    joined.update(torch.zeros(3), torch.ones(3))
    assert compute_metrics(joined) == {'MAE': 1.0, 'Count': 3.0}
    joined.reset()
    assert joined.metric_b.count == 0
    with pytest.raises(TypeError, match='update, compute and reset'):
        JoinMetrics(Metric(_mae, 'MAE'), object())


# Trainer.add_validation


def test_add_validation_takes_either_release_arguments(config: Config):
    with Experiment(config, name='Val').create_run():
        trainer = Trainer(
            Model(nn.Linear(2, 1)),
            loader=_loader(),
            loss=Loss(_mse, 'MSE'),
            learning_schema=LearningSchema.sgd(0.01),
        )
        trainer.add_validation(_loader(), 2)  # 0.1.0rc5: interval
        every_second = trainer.validation
        trainer.add_validation(_loader(), 'held-out', interval=1)  # rc11
        held_out = trainer.validation
        assert held_out is not None and every_second is not None
        assert (every_second.name, held_out.name) == ('Validation', 'held-out')
        trainer.train(1)
        assert held_out.computed_metrics
        assert not every_second.computed_metrics  # not yet due
        trainer.train(1)
        assert every_second.computed_metrics
        with pytest.raises(ValueError, match='interval once'):
            trainer.add_validation(_loader(), 2, interval=3)


# schedulers


def test_bind_returns_a_composed_scheduler_that_documents_itself() -> None:
    cosine = schedulers.CosineScheduler(10, 0.1)
    composed = cosine.bind(schedulers.warmup(2)).bind(schedulers.restart(5))
    assert isinstance(composed, schedulers.ComposedScheduler)
    assert isinstance(composed, schedulers.RestartScheduler)  # as in rc5
    assert isinstance(cosine, schedulers.BaseScheduler)
    assert composed.base_scheduler_name == 'CosineScheduler'
    assert composed.parameters == {
        'decay_steps': 10,
        'min_decay': 0.1,
        'warmup_steps': 2,
        'restart_interval': 5,
        'restart_fraction': 1.0,
        'max_restart': None,
    }


def test_transformations_written_for_rc11_compose() -> None:
    class Doubled(schedulers.TransformScheduler):
        def __init__(self, logic: Any, factor: float) -> None:
            super().__init__(logic)
            self.factor = factor
            self.parameters['factor'] = factor

        def _compute(self, base_lr: float, epoch: int) -> float:
            return self.factor * self.logic(base_lr, epoch)

    cosine = schedulers.CosineScheduler(10, 0.0)
    doubled = cosine.bind(lambda logic: Doubled(logic, 2.0))
    assert type(doubled) is schedulers.ComposedScheduler
    assert doubled.base_scheduler_name == 'CosineScheduler'
    assert doubled.parameters['factor'] == 2.0
    assert doubled.parameters['decay_steps'] == 10
    assert doubled(1.0, 5) == pytest.approx(2 * cosine(1.0, 5))
    with pytest.raises(ValueError, match='non-negative epoch'):
        doubled(1.0, -1)


# averaged models


def _train(model: Model[Any, Any], epochs: int) -> Trainer[Any, Any, Any]:
    trainer = Trainer(
        model,
        loader=_loader(),
        loss=Loss(_mse, 'MSE'),
        learning_schema=LearningSchema.sgd(0.1),
    )
    trainer.train(epochs)
    return trainer


def test_ema_model_averages_after_every_step(config: Config) -> None:
    from drytorch.lib.models import EMAModel

    torch.manual_seed(0)
    module = nn.Linear(2, 1)
    with Experiment(config, name='Ema').create_run():
        model = EMAModel(module, decay=0.5, device='cpu')
        reference = copy.deepcopy(module)
        snapshots: list[Tensor] = []
        original = model.update_parameters

        def spy() -> None:
            snapshots.append(module.weight.detach().clone())
            original()

        model.update_parameters = spy  # type: ignore[method-assign]
        _train(model, 1)
    expected = reference.weight.detach().clone()
    for index, weight in enumerate(snapshots):
        expected = weight if index == 0 else 0.5 * expected + 0.5 * weight
    averaged = model.exec_averaged_module.module.weight
    assert len(snapshots) == 2  # two batches
    assert torch.allclose(averaged, expected)
    with pytest.raises(ValueError, match='decay'):
        EMAModel(nn.Linear(1, 1), decay=1.0)


def test_swa_model_averages_once_per_epoch_from_start(config: Config):
    from drytorch.lib.models import SWAModel

    torch.manual_seed(0)
    with Experiment(config, name='Swa').create_run():
        model = SWAModel(nn.Linear(2, 1), start_epoch=2, device='cpu')
        weights: list[Tensor] = []
        trainer = _train(model, 1)
        assert int(model.averaged_module.n_averaged) == 0
        model.module.eval()  # no average yet: the trained weights run
        inputs = torch.ones(1, 2)
        assert torch.equal(model(inputs), model.module(inputs))
        for _ in range(2):
            trainer.train(1)
            weights.append(model.module.weight.detach().clone())
        assert int(model.averaged_module.n_averaged) == 2
        averaged = model.averaged_module.module.weight
        assert torch.allclose(averaged, (weights[0] + weights[1]) / 2)
        model.module.eval()
        assert torch.equal(model(inputs), model.averaged_module(inputs))


def test_averaged_models_take_their_options_by_position(config: Config):
    # rc11 declared name, device, checkpoint, mixed_precision (and decay)
    # as ordinary parameters: notebooks may pass them by position
    from drytorch.lib.checkpoints import LocalCheckpoint
    from drytorch.lib.models import EMAModel, SWAModel

    with Experiment(config, name='Positional').create_run():
        checkpoint = LocalCheckpoint()
        ema = EMAModel(nn.Linear(2, 1), 'ema', 'cpu', checkpoint, False, 0.5)
        assert (ema.name, ema.decay, ema.device) == (
            'ema',
            0.5,
            torch.device('cpu'),
        )
        assert ema.checkpoint is checkpoint
        swa = SWAModel(nn.Linear(2, 1), 3, 'swa', 'cpu', None, True)
        assert (swa.name, swa.start_epoch, swa.mixed_precision) == (
            'swa',
            3,
            True,
        )
        with pytest.raises(TypeError, match='multiple values'):
            EMAModel(nn.Linear(2, 1), 'e2', 'cpu', device='cpu')


# local_ops


def _experiment_with_files(
    config: Config, par_dir: pathlib.Path, name: str
) -> None:
    from drytorch.trackers.csv import CSVDumper

    exp = Experiment(config, name=name, par_dir=par_dir)
    exp.trackers.subscribe(CSVDumper())
    with exp.create_run(run_id='r'):
        model = Model(nn.Linear(2, 1), name='net')
        trainer = _train(model, 1)
        trainer.save_checkpoint()


def _folders(par_dir: pathlib.Path, name: str) -> list[str]:
    return sorted(
        kind.name for kind in par_dir.iterdir() if (kind / name).exists()
    )


def test_clone_rename_delete(config: Config, tmp_path: pathlib.Path) -> None:
    _experiment_with_files(config, tmp_path, 'Exp')
    kinds = _folders(tmp_path, 'Exp')
    assert {'.drytorch', 'csv_metrics', 'checkpoints'} <= set(kinds)
    local_ops.clone_experiment_data(tmp_path, 'Exp', 'Copy')
    assert _folders(tmp_path, 'Copy') == kinds
    assert _folders(tmp_path, 'Exp') == kinds
    copy_registry = Experiment(config, name='Copy', par_dir=tmp_path).registry
    assert [run.id for run in copy_registry.load_all()] == ['r']
    with pytest.raises(FileExistsError):
        local_ops.rename_experiment_data(tmp_path, 'Exp', 'Copy')
    assert _folders(tmp_path, 'Exp') == kinds  # nothing was renamed
    local_ops.rename_experiment_data(tmp_path, 'Copy', 'Renamed')
    assert _folders(tmp_path, 'Copy') == []
    assert _folders(tmp_path, 'Renamed') == kinds
    local_ops.delete_experiment_data(tmp_path, 'Renamed')
    assert _folders(tmp_path, 'Renamed') == []
    assert _folders(tmp_path, 'Exp') == kinds
    assert not [p for p in tmp_path.rglob('.*') if 'Renamed' in p.name]


def test_refuses_bad_names_and_running_runs(
    config: Config, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(exceptions.InvalidNameError):
        local_ops.delete_experiment_data(tmp_path, '..')
    with pytest.raises(exceptions.InvalidNameError):
        local_ops.clone_experiment_data(tmp_path, 'Exp', 'a/b')
    exp = Experiment(config, name='Live', par_dir=tmp_path)
    with exp.create_run():
        with pytest.raises(exceptions.RunInUseError):
            local_ops.delete_experiment_data(tmp_path, 'Live')
    local_ops.delete_experiment_data(tmp_path, 'Live')
    assert _folders(tmp_path, 'Live') == []


def test_links_are_removed_not_followed(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep.txt').write_text('precious')
    par_dir = tmp_path / 'par'
    (par_dir / 'hydra').mkdir(parents=True)
    os.symlink(outside, par_dir / 'hydra' / 'Exp')
    (par_dir / 'csv' / 'Exp').mkdir(parents=True)
    os.symlink(outside, par_dir / 'csv' / 'Exp' / 'run-link')
    local_ops.delete_experiment_data(par_dir, 'Exp')
    assert (outside / 'keep.txt').read_text() == 'precious'
    assert _folders(par_dir, 'Exp') == []


def test_leftovers_of_an_interrupted_delete_are_removed(
    tmp_path: pathlib.Path,
) -> None:
    (tmp_path / 'csv_metrics' / '.Exp.deleting-0123').mkdir(parents=True)
    (tmp_path / 'csv_metrics' / 'Other').mkdir()
    local_ops.delete_experiment_data(tmp_path, 'Exp')
    assert sorted(os.listdir(tmp_path / 'csv_metrics')) == ['Other']
