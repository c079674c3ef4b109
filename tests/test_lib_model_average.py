"""ModelAverage: trains its module, evaluates the average, saves both."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator

import pytest
import torch
from conftest import Config
from torch import nn
from torch.optim import swa_utils
from torch.utils.data import DataLoader, TensorDataset

from drytorch.core import register
from drytorch.core.experiment import Experiment, Run
from drytorch.lib import objectives
from drytorch.lib.checkpoints import LocalCheckpoint
from drytorch.lib.evaluations import Validation
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


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean()


@pytest.fixture
def run(tmp_path: pathlib.Path, config: Config) -> Iterator[Run]:
    exp = Experiment(config, name='Avg', par_dir=tmp_path)
    with exp.create_run(run_id='r') as active:
        yield active


def _loader(batch_size: int = 8) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(8, 2, generator=generator)
    targets = inputs @ torch.tensor([[2.0], [-1.0]]) + 0.5
    return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size)


def _trainer(model: Model, loader: DataLoader, lr: float = 0.1) -> Trainer:
    return Trainer(
        model,
        loader=loader,
        loss=objectives.Loss(_mse, 'MSE'),
        learning_schema=LearningSchema.sgd(lr),
    )


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


# training runs the trained module (whose parameters the optimizer holds),
# not the averaged copy


def test_training_changes_the_trained_module(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu')
    before = _state(model.module)
    _trainer(model, _loader()).train(2)
    after = _state(model.module)
    assert not torch.equal(before['weight'], after['weight'])
    assert not torch.equal(before['bias'], after['bias'])


def test_training_lowers_the_loss(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu')
    trainer = _trainer(model, _loader())
    trainer.train(1)
    first = trainer.computed_metrics['MSE']
    trainer.train(10)
    assert trainer.computed_metrics['MSE'] < first / 2


def test_average_is_running_mean_of_weights_after_each_step(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu')
    trainer = _trainer(model, _loader(batch_size=8))  # one step an epoch
    history = []
    for n_steps in range(1, 5):
        trainer.train(1)
        history.append(_state(model.module))
        average = model.averaged_module
        assert int(average.n_averaged) == n_steps
        for key in ('weight', 'bias'):
            expected = torch.stack([h[key] for h in history]).mean(0)
            got = getattr(average.module, key).detach()
            _assert_close(got, expected)
    assert not torch.equal(
        model.averaged_module.module.weight, model.module.weight
    )


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _steps(module: nn.Module, n: int) -> Iterator[None]:
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    for _ in range(n):
        loss = module(torch.randn(5, 3, generator=generator)).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        yield


@pytest.mark.parametrize('use_buffers', [False, True])
def test_default_average_matches_torch_averaged_model(
    run: Run, use_buffers: bool
) -> None:
    net = _bn_net()
    model = ModelAverage(net, device='cpu', use_buffers=use_buffers)
    reference = swa_utils.AveragedModel(net, use_buffers=use_buffers)
    for _ in _steps(net, 4):
        model.update_parameters()
        reference.update_parameters(net)
    ours = model.averaged_module.state_dict()
    theirs = reference.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        _assert_close(ours[key], value)
    # the count stays on the CPU: reading it never waits for a device
    assert model.averaged_module.n_averaged.device.type == 'cpu'


def test_custom_multi_avg_fn_is_used(run: Run) -> None:
    net = _bn_net()
    ema = swa_utils.get_ema_multi_avg_fn(0.5)
    model = ModelAverage(net, device='cpu', multi_avg_fn=ema)
    reference = swa_utils.AveragedModel(net, multi_avg_fn=ema)
    for _ in _steps(net, 3):
        model.update_parameters()
        reference.update_parameters(net)
    for key, value in reference.state_dict().items():
        _assert_close(model.averaged_module.state_dict()[key], value)


def test_both_average_functions_are_refused_before_registering(
    run: Run,
) -> None:
    net = _linear()
    with pytest.raises(ValueError, match='at most one of avg_fn'):
        ModelAverage(
            net,
            avg_fn=swa_utils.get_swa_avg_fn(),
            multi_avg_fn=swa_utils.get_swa_multi_avg_fn(),
        )
    Model(net, device='cpu')  # the module is still free


def test_forward_uses_module_in_training_mode_and_average_in_eval(
    run: Run,
) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model = ModelAverage(net, device='cpu')
    model.update_parameters()
    with torch.no_grad():
        model.averaged_module.module[0].weight.add_(1.0)
    inputs = torch.ones(64, 2)
    net.eval()
    model.averaged_module.eval()
    with torch.no_grad():
        expected_average = model.averaged_module.module(inputs)
    expected_trained = net(inputs)
    # eval mode: the average, itself in eval mode (no dropout)
    model.averaged_module.train()
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            _assert_close(model(inputs), expected_average)
    assert not model.averaged_module.training
    # training mode: the trained module, with gradients to its parameters
    net.train()
    net[1].p = 0.0
    outputs = model(inputs)
    _assert_close(outputs, expected_trained)
    outputs.sum().backward()
    assert net[0].weight.grad is not None
    assert model.averaged_module.module[0].weight.grad is None


def test_validation_uses_the_averaged_weights(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu')
    loader = _loader()
    trainer = _trainer(model, loader)
    trainer.train(3)
    validation = Validation(
        model, loader=loader, metric=objectives.Metric(_mse, 'MSE')
    )
    validation()
    inputs, targets = loader.dataset.tensors
    with torch.no_grad():
        averaged = _mse(model.averaged_module.module(inputs), targets)
        trained = _mse(model.module(inputs), targets)
    assert validation.computed_metrics['MSE'] == pytest.approx(
        averaged.item(), rel=1e-6
    )
    assert averaged.item() != pytest.approx(trained.item(), rel=1e-3)
    assert model.module.training  # restored after the evaluation


def test_mixed_precision_applies_to_both_forwards(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu', mixed_precision=True)
    model.update_parameters()
    inputs = torch.ones(3, 2)
    model.module.train()
    assert model(inputs).dtype == torch.bfloat16
    model.module.eval()
    with torch.inference_mode():
        assert model(inputs).dtype == torch.bfloat16


# every model average gets its own default checkpoint


def test_each_instance_has_its_own_checkpoint(run: Run) -> None:
    first = ModelAverage(_linear(), name='First', device='cpu')
    second = ModelAverage(_linear(), name='Second', device='cpu')
    assert first.checkpoint is not second.checkpoint
    assert isinstance(first.checkpoint, LocalCheckpoint)
    assert first.checkpoint.model is first
    assert second.checkpoint.model is second
    first.save_state()
    model_dirs = {p.name for p in first.checkpoint.paths.run_dir.iterdir()}
    assert model_dirs == {'First'}


def test_checkpoint_round_trip_restores_module_and_average(
    run: Run,
) -> None:
    model = ModelAverage(_linear(), device='cpu')
    trainer = _trainer(model, _loader(batch_size=4))
    trainer.train(2)
    trainer.save_checkpoint()
    saved_module = _state(model.module)
    saved_average = _state(model.averaged_module)
    saved_optimizer = copy.deepcopy(trainer.optimizer.state_dict())
    trainer.train(2)
    assert not torch.equal(
        saved_average['module.weight'],
        model.averaged_module.module.weight,
    )
    trainer.load_checkpoint(2)
    assert model.epoch == 2
    for key, value in saved_module.items():
        assert torch.equal(model.module.state_dict()[key], value)
    for key, value in saved_average.items():
        assert torch.equal(model.averaged_module.state_dict()[key], value)
    assert int(model.averaged_module.n_averaged) == 4
    assert model.averaged_module.n_averaged.device.type == 'cpu'
    assert trainer.optimizer.state_dict() == saved_optimizer
    state_file = (
        model.checkpoint.paths.epoch_dir_of(2) / 'model_state.pt'  # type: ignore[attr-defined]
    )
    keys = set(torch.load(state_file, weights_only=True))
    assert {'module.weight', 'averaged_module.module.weight'} <= keys
    assert 'averaged_module.n_averaged' in keys


def test_average_continues_after_reload(run: Run) -> None:
    model = ModelAverage(_linear(), device='cpu')
    trainer = _trainer(model, _loader(batch_size=8))
    history = []
    for _ in range(2):
        trainer.train(1)
        history.append(_state(model.module)['weight'])
    model.save_state()
    trainer.train(3)  # diverges from the saved run
    model.load_state()
    trainer.train(1)
    history.append(_state(model.module)['weight'])
    _assert_close(
        model.averaged_module.module.weight.detach(),
        torch.stack(history).mean(0),
    )


def test_unregistering_frees_the_module(run: Run) -> None:
    net = _linear()
    model = ModelAverage(net, device='cpu')
    register.unregister_model(model)
    Model(net, device='cpu')
