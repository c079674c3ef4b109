"""The torcheval integration: names and synchronization."""

from __future__ import annotations

import copy
import importlib
import logging
import pathlib
import sys
import warnings
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

from drytorch.contrib.torcheval import TorchEvalWrapper, from_torcheval
from drytorch.core import track
from drytorch.core.experiment import Experiment, Run
from drytorch.core.protocols import ObjectiveProtocol
from drytorch.lib.evaluations import Validation
from drytorch.lib.models import Model
from drytorch.lib.objectives import compute_metrics

with warnings.catch_warnings():
    # already imported (and its import warnings silenced) by the contrib
    # module; the filter only guards a change of import order
    warnings.simplefilter('ignore', DeprecationWarning)
    from torcheval.metrics import MeanSquaredError

ZEROS = torch.zeros(4)
TWOS = torch.full((4,), 2.0)


@pytest.fixture
def run(tmp_path: pathlib.Path, config: Config) -> Iterator[Run]:
    exp = Experiment(config, name='Te', par_dir=tmp_path)
    with exp.create_run(run_id='r') as active:
        yield active


def test_value_is_named_by_the_metric_class() -> None:
    metric = from_torcheval(MeanSquaredError())
    metric.update(ZEROS, TWOS)
    computed = metric.compute()  # the tensor itself, as in 0.1.0rc5
    assert isinstance(computed, torch.Tensor)
    assert float(computed) == 4.0
    assert compute_metrics(metric) == {'MeanSquaredError': 4.0}
    assert metric.name == 'MeanSquaredError'
    assert metric.higher_is_better is None


def test_reset_forgets_the_state() -> None:
    metric = from_torcheval(MeanSquaredError())
    metric.update(ZEROS, TWOS)
    metric.reset()
    metric.update(TWOS, TWOS)
    assert compute_metrics(metric) == {'MeanSquaredError': 0.0}


def test_satisfies_the_protocol_and_copies_independently() -> None:
    metric = from_torcheval(MeanSquaredError())
    assert isinstance(metric, ObjectiveProtocol)
    metric.update(ZEROS, TWOS)
    clone = copy.deepcopy(metric)
    clone.update(TWOS, TWOS)
    assert compute_metrics(metric) == {'MeanSquaredError': 4.0}
    assert compute_metrics(clone) == {'MeanSquaredError': 2.0}


def test_rejects_objects_that_are_not_torcheval_metrics() -> None:
    with pytest.raises(TypeError, match='Expected a torcheval Metric'):
        from_torcheval(nn.MSELoss())  # type: ignore[arg-type]


def test_sync_without_distributed_is_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metric = from_torcheval(MeanSquaredError())
    metric.update(ZEROS, TWOS)
    with caplog.at_level(logging.DEBUG):
        metric.sync()
    # the reference called sync_and_compute anyway, which logs a notice
    # about a world size of 1
    assert not caplog.records
    assert compute_metrics(metric) == {'MeanSquaredError': 4.0}


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
        metric = from_torcheval(MeanSquaredError())
        metric.update(ZEROS, TWOS)
        metric.sync()
        metric.sync()
        assert compute_metrics(metric) == {'MeanSquaredError': 4.0}
        metric.update(TWOS, TWOS)  # the local state is intact
        assert compute_metrics(metric) == {'MeanSquaredError': 2.0}
    finally:
        dist.destroy_process_group()


def test_validation_reports_the_metric(run: Run) -> None:
    linear = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(linear.weight)
    model = Model(linear, device='cpu')
    inputs = torch.ones(6, 1)
    targets = torch.full((6, 1), 3.0)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=4)
    validation = Validation(
        model, loader=loader, metric=from_torcheval(MeanSquaredError())
    )
    validation()
    assert validation.computed_metrics == {'MeanSquaredError': 9.0}


def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, 'torcheval.metrics', None)
    monkeypatch.delitem(sys.modules, 'drytorch.contrib.torcheval')
    with pytest.raises(ImportError, match=r'drytorch\[torcheval\]'):
        importlib.import_module('drytorch.contrib.torcheval')
    assert TorchEvalWrapper.__module__ == 'drytorch.contrib.torcheval'


def _validation_worker(
    rank: int, port: int, par_dir: str, results: Any
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
        exp = Experiment(Config(), name='Te', par_dir=par_dir)
        with exp.create_run(run_id='r'):
            linear = nn.Linear(1, 1, bias=False)
            nn.init.zeros_(linear.weight)
            model = Model(linear, device='cpu')
            # outputs are 0; squared errors: 0 on rank 0, 4 on rank 1
            inputs = torch.zeros(4, 1)
            targets = torch.full((4, 1), 2.0 * rank)
            loader = DataLoader(TensorDataset(inputs, targets), batch_size=2)
            validation = Validation(
                model, loader=loader, metric=from_torcheval(MeanSquaredError())
            )
            validation()
            validation()
            results[rank] = dict(validation.computed_metrics)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore')
def test_sync_gives_every_process_the_global_value(
    tmp_path: pathlib.Path,
) -> None:
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(
        _validation_worker,
        args=(free_port(), str(tmp_path), results),
        nprocs=2,
    )
    expected = {'MeanSquaredError': 2.0}
    assert dict(results) == {0: expected, 1: expected}
