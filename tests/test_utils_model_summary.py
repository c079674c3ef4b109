"""Model summaries: counts by hand, shapes from the first real forward."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events
from drytorch.core.experiment import Experiment
from drytorch.lib.evaluations import Validation
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer
from drytorch.utils import model_summary
from drytorch.utils.actor_settings import actor_settings
from drytorch.utils.repr_utils import extract_metadata


class Counting(nn.Module):
    """Counts its forward calls; passes its input through."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x


def frozen_net() -> nn.Sequential:
    """Linear(4, 8) frozen, BatchNorm1d(8), Counting, Linear(8, 2)."""
    net = nn.Sequential(
        nn.Linear(4, 8),
        nn.BatchNorm1d(8),
        nn.Sequential(Counting(), nn.Linear(8, 2)),
    )
    net[0].requires_grad_(False)
    return net


def mse_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def loader(n: int = 40, batch_size: int = 8) -> DataLoader:
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(x, torch.zeros(n, 2)), batch_size)


@pytest.fixture
def experiment(config: Config, recorder: RecordingTracker) -> Experiment:
    exp = Experiment(config, name='Summary')
    exp.trackers.subscribe(recorder)
    return exp


def test_counts_equal_the_counts_by_hand() -> None:
    summary = model_summary.summarize(frozen_net())
    first = 4 * 8 + 8  # frozen Linear(4, 8)
    norm = 8 + 8  # BatchNorm1d weight and bias
    last = 8 * 2 + 2  # Linear(8, 2)
    assert summary.total_params == first + norm + last == 74
    assert summary.trainable_params == norm + last == 34
    assert summary.frozen_params == first == 40
    # float32: the parameters and the running mean and variance (8 + 8);
    # int64: num_batches_tracked
    (floats, longs) = summary.sizes
    assert (floats.dtype, floats.params, floats.buffers) == ('float32', 74, 16)
    assert floats.n_bytes == (74 + 16) * 4
    assert (longs.dtype, longs.params, longs.buffers) == ('int64', 0, 1)
    assert summary.total_bytes == (74 + 16) * 4 + 8
    rows = {layer.name: layer for layer in summary.layers}
    assert list(rows) == ['0', '1', '2', '2.0', '2.1']
    assert (rows['0'].params, rows['0'].trainable) == (40, 0)
    assert (rows['2'].type_name, rows['2'].depth) == ('Sequential', 1)
    assert (rows['2'].params, rows['2'].n_children) == (18, 2)
    assert (rows['2.1'].depth, rows['2.1'].params) == (2, 18)
    assert summary.n_modules == 5
    assert summary.n_eval == 0
    assert not summary.has_shapes
    net = frozen_net()
    net[1].eval()  # a frozen batch norm
    assert model_summary.summarize(net).n_eval == 1


def test_shared_parameters_count_once_and_rows_are_capped() -> None:
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    summary = model_summary.summarize(net)
    assert summary.total_params == 12
    encoder, decoder = nn.Linear(3, 3), nn.Linear(3, 3)
    decoder.weight = encoder.weight  # tied weights
    tied = model_summary.summarize(nn.Sequential(encoder, decoder))
    assert tied.total_params == 9 + 3 + 3
    # each layer holds its weight and its bias
    assert [layer.params for layer in tied.layers] == [12, 12]
    nested = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)))
    rows = model_summary.summarize(nested).layers
    assert [(row.name, row.params) for row in rows] == [
        ('0', 9),
        ('0.0', 6),
        ('0.1', 3),
    ]
    deep = nn.Sequential(*[nn.Linear(2, 2) for _ in range(10)])
    capped = model_summary.summarize(deep, max_rows=4)
    assert len(capped.layers) == 4
    assert capped.n_modules == 10
    assert capped.n_hidden == 6
    assert capped.total_params == 60  # the totals count every layer


def test_lazy_parameters_count_zero_and_are_reported() -> None:
    summary = model_summary.summarize(nn.Sequential(nn.LazyLinear(3)))
    assert summary.total_params == 0
    assert summary.uninitialized == 2


def test_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(TypeError, match=r'Expected an nn\.Module, got int'):
        model_summary.summarize(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='max_rows >= 0, got -1'):
        model_summary.summarize(nn.Linear(1, 1), max_rows=-1)


def test_describe_shape() -> None:
    tensor = torch.zeros(2, 3)
    assert model_summary.describe_shape(tensor) == '[2, 3]'
    assert model_summary.describe_shape((tensor, None)) == '([2, 3], None)'
    assert model_summary.describe_shape({'a': tensor}) == '{a: [2, 3]}'
    assert model_summary.describe_shape([tensor] * 6).endswith(', …]')
    assert model_summary.describe_shape(3.0) == 'float'


def _hooks(module: nn.Module) -> int:
    return sum(
        len(sub._forward_hooks) + len(sub._forward_pre_hooks)
        for sub in module.modules()
    )


def test_shapes_come_from_the_first_training_step_without_extra_forward(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    net = frozen_net()
    counting = net[2][0]
    with experiment.create_run():
        model = Model(net, name='net')
        assert model.output_shapes == {}
        train = loader(n=40, batch_size=8)  # 5 batches
        trainer = Trainer(
            model,
            loader=train,
            loss=Loss(mse_fn, 'MSE'),
            learning_schema=LearningSchema.adam(0.01),
        )
        trainer.train(1)
        assert counting.calls == 5  # one forward per batch, no more
        Validation(
            model, loader=loader(n=12, batch_size=4), metric=trainer.objective
        )()
        assert counting.calls == 8
    (event,) = recorder.of_type(events.ModelShapesEvent)
    assert event.model_name == 'net'
    assert event.input_shape == '[8, 4]'
    assert event.shapes == {
        '0': '[8, 8]',
        '1': '[8, 8]',
        '2.0': '[8, 8]',
        '2.1': '[8, 2]',
        '2': '[8, 2]',
        '': '[8, 2]',
    }
    assert model.output_shapes == event.shapes
    summary = event.summary
    assert summary is not None
    assert summary.output_shape == '[8, 2]'
    assert [layer.output_shape for layer in summary.layers] == [
        '[8, 8]',
        '[8, 8]',
        '[8, 2]',
        '[8, 8]',
        '[8, 2]',
    ]
    # published inside the first batch, after the pass started
    names = recorder.names()
    assert (
        names.index('ModelShapesEvent') == names.index('IterateBatchEvent') + 1
    )
    assert _hooks(net) == 0  # nothing left on the module
    assert model._forward is model.module


def test_registration_carries_the_summary_and_details(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    with experiment.create_run():
        # on the CPU: autocast in bfloat16 (float16 on CUDA)
        Model(frozen_net(), name='net', device='cpu', mixed_precision=True)
    (event,) = recorder.of_type(events.ModelRegistrationEvent)
    summary = event.summary
    assert summary is not None
    assert summary.total_params == 74
    details = dict(summary.details)
    assert details['Mixed precision'] == 'bfloat16 autocast'
    assert details['Device'] == 'cpu'


def test_a_failed_first_forward_keeps_watching(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 2), name='net')
        with pytest.raises(RuntimeError):
            model(torch.zeros(3, 5))  # wrong width
        assert _hooks(model.module) == 0
        assert not recorder.of_type(events.ModelShapesEvent)
        model(torch.zeros(3, 4))
        model(torch.zeros(3, 4))
    (event,) = recorder.of_type(events.ModelShapesEvent)
    assert event.shapes[''] == '[3, 2]'


def test_compiled_models_record_no_shapes(
    experiment: Experiment,
    recorder: RecordingTracker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled: list[nn.Module] = []

    def fake_compile(module: nn.Module) -> nn.Module:
        compiled.append(module)  # torch.compile is slow to import here
        return module

    monkeypatch.setattr(torch, 'compile', fake_compile)
    with experiment.create_run():
        model = Model(nn.Linear(4, 2), name='net', should_compile=True)
        model(torch.zeros(3, 4))
        assert _hooks(model.module) == 0
        details = dict(model.summary().details)
    assert compiled
    assert details['Compiled'] == 'yes (output shapes not recorded)'
    assert not recorder.of_type(events.ModelShapesEvent)
    assert model.output_shapes == {}


def test_a_model_before_its_first_forward_copies_and_pickles(
    experiment: Experiment,
) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 2), name='net')
        copied = copy.deepcopy(model.module)
        buffer = io.BytesIO()
        torch.save(model.module, buffer)
        pickle.dumps(model.module)
        assert _hooks(copied) == 0


def test_model_metadata_is_current_and_consistent(
    experiment: Experiment,
) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 2), name='net')
        model.epoch = 3
        plain = extract_metadata(model)
        mixed = Model(
            nn.Linear(4, 2), name='mixed', device='cpu', mixed_precision=True
        )
        autocast = extract_metadata(mixed)
    assert plain['mixed_precision'] is False
    assert 'autocast_dtype' not in plain
    assert 'epoch' not in plain  # stale as soon as it is written
    assert autocast['mixed_precision'] == 'bfloat16'


def test_actor_settings_of_a_trainer(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(frozen_net(), name='net')
        trainer = Trainer(
            model,
            loader=loader(n=40, batch_size=8),
            loss=Loss(mse_fn, 'MSE'),
            learning_schema=LearningSchema.adam({'1': 1e-3, '2': 0.05}),
        )
        trainer.add_validation(loader(n=12, batch_size=4))
        settings = actor_settings(trainer)
    rows = dict(settings)
    assert rows['Class'] == 'Trainer'
    assert rows['Optimizer'] == 'Adam (betas=(0.9, 0.999))'
    assert rows['Learning rate (1)'] == '0.001'
    assert rows['Learning rate (2)'] == '0.05'
    assert rows['Scheduler'] == 'ConstantScheduler()'
    assert (rows['Batch size'], rows['Batches per pass']) == ('8', '5')
    assert rows['Samples'] == '40'
    assert rows['Loss'] == 'MSE'
    assert rows['Post-epoch hook'] == 'StaticHook(Validation(net))'
