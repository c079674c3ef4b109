"""The torchmetrics integration: names, losses, synchronization."""

from __future__ import annotations

import copy
import importlib
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import Config
from ports import free_port
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MeanAbsoluteError, MeanSquaredError, R2Score

from drytorch.contrib.torchmetrics import (
    TorchMetricsWrapper,
    from_torchmetrics,
)
from drytorch.core import track
from drytorch.core.experiment import Experiment, Run
from drytorch.core.protocols import LossProtocol, ObjectiveProtocol
from drytorch.lib.evaluations import Validation
from drytorch.lib.hooks import EarlyStoppingCallback
from drytorch.lib.learn import LearningSchema
from drytorch.lib.models import Model
from drytorch.lib.train import Trainer

ZEROS = torch.zeros(4)
TWOS = torch.full((4,), 2.0)


@pytest.fixture
def run(tmp_path: pathlib.Path, config: Config) -> Iterator[Run]:
    exp = Experiment(config, name='Tm', par_dir=tmp_path)
    with exp.create_run(run_id='r') as active:
        yield active


def _loader() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(16, 2, generator=generator)
    targets = inputs @ torch.tensor([2.0, -1.0]) + 0.5
    return DataLoader(TensorDataset(inputs, targets), batch_size=4)


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs).squeeze(-1)


def _values(computed: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(value) for name, value in computed.items()}


def test_composition_reports_total_and_components() -> None:
    loss = from_torchmetrics(1 + MeanSquaredError())
    loss.update(ZEROS, TWOS)
    assert _values(loss.compute()) == {
        'Combined Loss': 5.0,
        'MeanSquaredError': 4.0,
    }
    assert loss.name == 'Combined Loss'
    assert loss.higher_is_better is False


def test_plain_metric_is_named_by_its_class() -> None:
    metric = from_torchmetrics(R2Score())
    metric.update(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0]))
    assert list(metric.compute()) == ['R2Score']
    assert metric.name == 'R2Score'
    assert metric.higher_is_better is True


def test_each_metric_is_reported_once_and_names_are_unique() -> None:
    mse = MeanSquaredError()
    loss = from_torchmetrics(
        mse * 2 + mse + MeanAbsoluteError() + MeanSquaredError(squared=False)
    )
    loss.update(ZEROS, TWOS)
    assert _values(loss.compute()) == {
        'Combined Loss': 4.0 * 3 + 2.0 + 2.0,
        'MeanSquaredError': 4.0,
        'MeanAbsoluteError': 2.0,
        'MeanSquaredError_1': 2.0,
    }


def test_auto_sync_is_disabled_on_every_metric() -> None:
    metric = MeanSquaredError(dist_sync_on_step=True) + MeanAbsoluteError()
    from_torchmetrics(metric)
    for node in metric.modules():
        assert node.dist_sync_on_step is False
        assert node.sync_on_compute is False


def test_forward_returns_the_differentiable_batch_value() -> None:
    loss = from_torchmetrics(1 + MeanSquaredError())
    outputs = torch.zeros(4, requires_grad=True)
    value = loss.forward(outputs, TWOS)
    assert isinstance(value, torch.Tensor)
    assert value.requires_grad
    assert float(value.detach()) == 5.0
    value.backward()
    assert outputs.grad is not None
    loss.forward(torch.full((4,), 2.0), TWOS)  # second batch: error 0
    assert _values(loss.compute())['MeanSquaredError'] == 2.0


def test_reset_forgets_the_state() -> None:
    loss = from_torchmetrics(1 + MeanSquaredError())
    loss.update(ZEROS, TWOS)
    loss.reset()
    loss.update(TWOS, TWOS)
    assert _values(loss.compute()) == {
        'Combined Loss': 1.0,
        'MeanSquaredError': 0.0,
    }


def test_satisfies_the_protocols_and_copies_independently() -> None:
    loss = from_torchmetrics(1 + MeanSquaredError())
    assert isinstance(loss, LossProtocol)
    assert isinstance(loss, ObjectiveProtocol)
    loss.update(ZEROS, TWOS)
    clone = copy.deepcopy(loss)
    clone.update(TWOS, TWOS)
    assert _values(loss.compute())['MeanSquaredError'] == 4.0
    assert _values(clone.compute())['MeanSquaredError'] == 2.0


def test_rejects_objects_that_are_not_torchmetrics_metrics() -> None:
    with pytest.raises(TypeError, match='Expected a torchmetrics Metric'):
        from_torchmetrics(nn.MSELoss())  # type: ignore[arg-type]


def test_sync_without_distributed_changes_nothing() -> None:
    loss = from_torchmetrics(1 + MeanSquaredError())
    loss.update(ZEROS, TWOS)
    loss.sync()
    assert _values(loss.compute())['Combined Loss'] == 5.0


def test_sync_in_a_process_group_keeps_accumulating(
    tmp_path: pathlib.Path,
) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1,
    )
    try:
        loss = from_torchmetrics(1 + MeanSquaredError())
        loss.update(ZEROS, TWOS)
        loss.sync()
        loss.sync()  # twice in a row is fine
        assert _values(loss.compute())['Combined Loss'] == 5.0
        loss.update(TWOS, TWOS)  # the local state is intact
        assert _values(loss.compute())['MeanSquaredError'] == 2.0
    finally:
        dist.destroy_process_group()


def test_trainer_and_validation_with_wrapped_composition(run: Run) -> None:
    model = Model(Regressor(), device='cpu')
    loader = _loader()
    loss = from_torchmetrics(1 + MeanSquaredError())
    trainer = Trainer(
        model,
        loader=loader,
        loss=loss,
        learning_schema=LearningSchema.sgd(0.1),
    )
    trainer.add_validation(loader)
    stopping = EarlyStoppingCallback(metric=loss, patience=0)
    trainer.post_epoch_hooks.register(stopping)
    trainer.train(1)
    first = trainer.computed_metrics
    trainer.train(5)
    assert list(first) == ['Combined Loss', 'MeanSquaredError']
    assert trainer.computed_metrics['MeanSquaredError'] < (
        first['MeanSquaredError'] / 2
    )
    validation = trainer.validation
    assert validation is not None
    assert set(validation.computed_metrics) == set(first)
    assert stopping.monitor.metric_name == 'Combined Loss'


# a torchmetrics metric is named by what its _get_name() returns (the name
# its values are logged under), so monitoring hooks find it


def test_torchmetrics_metric_given_directly_is_named_by_get_name(
    run: Run,
) -> None:
    model = Model(Regressor(), device='cpu')
    loader = _loader()
    trainer = Trainer(
        model,
        loader=loader,
        loss=MeanSquaredError(),
        learning_schema=LearningSchema.sgd(0.1),
    )
    trainer.add_validation(loader)
    stopping = EarlyStoppingCallback(metric=MeanSquaredError(), patience=0)
    trainer.post_epoch_hooks.register(stopping)
    trainer.train(3)
    assert list(trainer.computed_metrics) == ['MeanSquaredError']
    assert stopping.monitor.metric_name == 'MeanSquaredError'
    assert stopping.monitor.metric_name == MeanSquaredError()._get_name()
    validation = Validation(model, 'R2', loader=loader, metric=R2Score())
    validation()
    assert list(validation.computed_metrics) == ['R2Score']


def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, 'torchmetrics', None)
    monkeypatch.delitem(sys.modules, 'drytorch.contrib.torchmetrics')
    with pytest.raises(ImportError, match=r'drytorch\[torchmetrics\]'):
        importlib.import_module('drytorch.contrib.torchmetrics')
    assert TorchMetricsWrapper.__module__ == 'drytorch.contrib.torchmetrics'


def _validation_worker(
    rank: int, port: int, par_dir: str, results: Any, bare: bool = False
) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=2,
    )
    track.DEFAULT_TRACKERS.clear()
    track.mark_defaults_ready()
    try:
        exp = Experiment(Config(), name='Tm', par_dir=par_dir)
        with exp.create_run(run_id='r'):
            linear = nn.Linear(1, 1, bias=False)
            nn.init.zeros_(linear.weight)
            model = Model(linear, device='cpu')
            # outputs are 0; squared errors: 0 on rank 0, 4 on rank 1
            inputs = torch.zeros(4, 1)
            targets = torch.full((4, 1), 2.0 * rank)
            loader = DataLoader(TensorDataset(inputs, targets), batch_size=2)
            metric = (
                MeanSquaredError()
                if bare
                else from_torchmetrics(1 + MeanSquaredError())
            )
            validation = Validation(model, loader=loader, metric=metric)
            validation()
            validation()  # a second pass syncs again
            results[rank] = dict(validation.computed_metrics)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore')
def test_sync_gives_every_process_the_global_values(
    tmp_path: pathlib.Path,
) -> None:
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(
        _validation_worker,
        args=(free_port(), str(tmp_path), results),
        nprocs=2,
    )
    expected = {'Combined Loss': 3.0, 'MeanSquaredError': 2.0}
    assert dict(results) == {0: expected, 1: expected}


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore')
def test_bare_torchmetrics_metric_under_ddp(tmp_path: pathlib.Path) -> None:
    """A metric given without the wrapper syncs once, by itself."""
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(
        _validation_worker,
        args=(free_port(), str(tmp_path), results, True),
        nprocs=2,
    )
    expected = {'MeanSquaredError': 2.0}
    assert dict(results) == {0: expected, 1: expected}
