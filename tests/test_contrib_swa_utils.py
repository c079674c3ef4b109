"""BatchNormUpdater: batch-norm statistics recomputed by a runner."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator

import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn
from torch.optim import swa_utils
from torch.utils.data import DataLoader, Dataset, TensorDataset

from drytorch.contrib.swa_utils import BatchNormUpdater
from drytorch.core import events
from drytorch.core.experiment import Experiment, Run
from drytorch.lib import objectives
from drytorch.lib.learn import LearningSchema
from drytorch.lib.models import Model, ModelAverage
from drytorch.lib.train import Trainer


def _assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    # not torch.testing.assert_close: its first call imports much of torch
    assert actual.dtype == expected.dtype
    assert torch.allclose(actual, expected, rtol=1e-5, atol=1e-6), (
        actual,
        expected,
    )


@pytest.fixture
def run(
    tmp_path: pathlib.Path, config: Config, recorder: RecordingTracker
) -> Iterator[Run]:
    exp = Experiment(config, name='Swa', par_dir=tmp_path)
    exp.trackers.subscribe(recorder)
    with exp.create_run(run_id='r') as active:
        yield active


def _loader() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    inputs = 3.0 + 2.0 * torch.randn(12, 3, generator=generator)
    targets = inputs.sum(1, keepdim=True)
    return DataLoader(TensorDataset(inputs, targets), batch_size=4)


def _bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _bn_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: v.clone()
        for k, v in module.state_dict().items()
        if 'running' in k or 'num_batches' in k
    }


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]):
    assert a.keys() == b.keys()
    for key, value in a.items():
        _assert_close(value, b[key])


class GradRecorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.grad_enabled: list[bool] = []

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        return inputs


def test_statistics_match_torch_update_bn(run: Run) -> None:
    net = _bn_net()
    reference = copy.deepcopy(net)
    model = Model(net, device='cpu')
    loader = _loader()
    swa_utils.update_bn(loader, reference)
    BatchNormUpdater(model, loader=loader)()
    _assert_same(_bn_state(net), _bn_state(reference))
    # the cumulative average of the three batches, not a momentum blend
    batch_means = [net[0](x).mean(0) for x, _ in loader]
    _assert_close(
        net[1].running_mean, torch.stack(batch_means).mean(0).detach()
    )


def test_momenta_and_modes_are_restored(run: Run) -> None:
    net = _bn_net()
    net[1].momentum = 0.3
    net.eval()
    model = Model(net, device='cpu')
    BatchNormUpdater(model, loader=_loader())()
    assert net[1].momentum == 0.3
    assert not any(module.training for module in net.modules())
    # a partly frozen module keeps its mixed modes
    net.train()
    net[1].eval()
    BatchNormUpdater(model, loader=_loader())()
    assert [m.training for m in net.modules()] == [True, True, False, True]


def test_pass_runs_in_training_mode_without_gradients(
    run: Run, recorder: RecordingTracker
) -> None:
    probe = GradRecorder()
    net = nn.Sequential(probe, nn.BatchNorm1d(3))
    net.eval()
    model = Model(net, device='cpu')
    updater = BatchNormUpdater(model, loader=_loader())
    updater(store_outputs=True)
    assert probe.grad_enabled == [False, False, False]
    assert len(updater.outputs_list) == 3
    assert recorder.of_type(events.IterateBatchEvent)


class ExplodingDataset(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise AssertionError('the loader should not be read')


def test_model_without_batch_norm_is_left_alone(
    run: Run, recorder: RecordingTracker
) -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, affine=False))
    net[1] = nn.BatchNorm1d(3, track_running_stats=False)
    model = Model(net, device='cpu')
    before = copy.deepcopy(net.state_dict())
    BatchNormUpdater(model, loader=DataLoader(ExplodingDataset()))()
    assert not recorder.of_type(events.IterateBatchEvent)
    _assert_same(net.state_dict(), before)


def test_failure_mid_pass_restores_momenta_and_mode(run: Run) -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    net.eval()
    model = Model(net, device='cpu')
    with pytest.raises(AssertionError, match='should not be read'):
        BatchNormUpdater(model, loader=DataLoader(ExplodingDataset()))()
    assert net[1].momentum == 0.1
    assert not net.training


def test_model_average_updates_the_averaged_statistics(run: Run) -> None:
    net = _bn_net()
    model = ModelAverage(net, device='cpu')
    loader = _loader()
    trainer = Trainer(
        model,
        loader=loader,
        loss=objectives.Loss(
            lambda out, tgt: ((out - tgt) ** 2).mean(), 'MSE'
        ),
        learning_schema=LearningSchema.sgd(0.01),
    )
    trainer.train(2)
    trained_stats = _bn_state(net)
    reference = copy.deepcopy(model.averaged_module)
    swa_utils.update_bn(loader, reference)
    model.module.eval()
    BatchNormUpdater(model, loader=loader)()
    _assert_same(_bn_state(model.averaged_module), _bn_state(reference))
    _assert_same(_bn_state(net), trained_stats)  # the trained module: as is
    assert not model.module.training
    # the evaluation of the average uses the new statistics
    inputs = loader.dataset.tensors[0]
    reference.eval()
    with torch.inference_mode():
        _assert_close(model(inputs), reference(inputs))
