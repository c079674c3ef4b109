"""Public behaviour of drytorch 0.1.0rc5 that code written for it relies on.

Each test pins one behaviour of the reference release that our package had
lost (see the README's Compatibility section). The restart schedule, the
torcheval wrapper, the moving-average filters and ``LearningSchema.sgd``
are pinned in the tests of their own modules.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest
import torch
from conftest import Config
from torch import nn
from torch.utils.data import TensorDataset

import drytorch
from drytorch.contrib.swa_utils import BatchNormUpdater
from drytorch.core import exceptions
from drytorch.core.experiment import Experiment, Run
from drytorch.lib import evaluations, hooks
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, MetricTracker
from drytorch.lib.train import Trainer
from drytorch.trackers.tqdm import EpochBar, TrainingBar
from drytorch.utils import apply_ops

REPO = pathlib.Path(__file__).resolve().parents[1]
Tensor = torch.Tensor


def _loader() -> DataLoader[tuple[Tensor, Tensor]]:
    data = TensorDataset(torch.ones(4, 2), torch.ones(4, 1))
    return DataLoader(data, batch_size=2)


def _mse(outputs: Tensor, targets: Tensor) -> Tensor:
    return ((outputs - targets) ** 2).mean()


# generic classes


@pytest.mark.parametrize(
    'alias',
    [
        Trainer[Tensor, Tensor, Tensor],
        evaluations.Validation[Tensor, Tensor, Tensor],
        evaluations.Test[Tensor, Tensor, Tensor],
        evaluations.Diagnostic[Tensor, Tensor, Tensor],
        BatchNormUpdater[Tensor, Tensor, Tensor],
        MetricTracker[Tensor, Tensor],
        hooks.EarlyStoppingCallback[Any, Any],
        hooks.PruneCallback[Any, Any],
        hooks.ReduceLROnPlateau[Any, Any],
        hooks.RestartScheduleOnPlateau[Any, Any],
        hooks.MetricMonitor[Any, Any],
        hooks.Hook[Tensor, Tensor, Tensor],
        hooks.CallEvery[Tensor, Tensor, Tensor],
        Run[Config],
    ],
    ids=repr,
)
def test_classes_are_subscriptable(alias: Any) -> None:
    assert alias.__origin__ is not None


def test_subscripted_classes_build_working_objects(config: Config) -> None:
    with Experiment(config, name='Generic').create_run() as run:
        assert isinstance(run, Run)
        model = Model(nn.Linear(2, 1), name='net')
        trainer = Trainer[Tensor, Tensor, Tensor](
            model,
            loader=_loader(),
            loss=Loss(_mse, 'MSE'),
            learning_schema=LearningSchema.sgd(),
        )
        # no improvement is ever large enough: it stops at epoch 2
        stopping = hooks.EarlyStoppingCallback[Any, Any](
            min_delta=1e9, patience=0
        )
        trainer.post_epoch_hooks.register(stopping)
        trainer.train(3)
        assert trainer.terminated
        assert model.epoch == 2
        evaluations.Test[Tensor, Tensor, Tensor](
            model, loader=_loader(), metric=Loss(_mse, 'MSE')
        )()


# exported names


def test_names_importable_as_in_rc5() -> None:
    from drytorch.core.metadata import MetadataManager
    from drytorch.core.track import MetadataManager as FromTrack
    from drytorch.core.track import Tracker
    from drytorch.lib.models import ModelOptimizer
    from drytorch.lib.optimization import ModelOptimizer as FromOptimization

    assert ModelOptimizer is FromOptimization
    assert FromTrack is MetadataManager
    assert drytorch.Tracker is Tracker
    assert (
        drytorch.FailedOptionalImportWarning
        is exceptions.FailedOptionalImportWarning
    )
    # importable, but the pinned top-level __all__ is unchanged
    assert 'Tracker' not in drytorch.__all__


# loss formulas


def test_loss_formulas_read_as_in_rc5() -> None:
    a = Loss(_mse, 'A')
    b = Loss(_mse, 'B')
    assert ((2 * a) * (3 * b)).formula == '(2 x [A]) x (3 x [B])'
    assert (a / 3).formula == '(0.3333333333333333 x [A])'
    assert (a + b).formula == '[A] + [B]'
    assert (a**2).formula == '([A]^2)'
    assert (-a).formula == '(-[A])'
    assert (1 / a).formula == '(1 / [A])'
    assert (a + 1).formula == '(1 + [A])'


# progress bars


@pytest.mark.parametrize('bar_class', [EpochBar, TrainingBar])
def test_bar_formats_exist_and_are_used(
    bar_class: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert '{n_fmt}/{total_fmt}' in bar_class.fmt
    monkeypatch.setattr(bar_class, 'fmt', 'custom {n_fmt} of {total_fmt}')
    stream = io.StringIO()  # not a terminal: one plain line at close
    if bar_class is EpochBar:
        bar = EpochBar(2, 3, 6, leave=True, file=stream, desc='Trainer')
        bar.update({}, n_batches=3)
    else:
        bar = TrainingBar(0, 3, file=stream, leave=True)
        bar.complete(3)
    bar.close()
    assert stream.getvalue() == 'custom 3 of 3\n'


# distributed training without DDP


def test_training_an_undistributed_module_under_ddp_warns(
    config: Config, tmp_path: pathlib.Path
) -> None:
    dist = torch.distributed
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1,
    )
    try:
        with Experiment(config, name='Ddp', par_dir=tmp_path).create_run():
            local = Model(
                nn.Linear(2, 1), name='local', should_distribute=False
            )
            trainer = Trainer(
                local,
                loader=_loader(),
                loss=Loss(_mse, 'MSE'),
                learning_schema=LearningSchema.sgd(),
            )
            with pytest.warns(exceptions.ModuleNotDistributedWarning):
                trainer.train(1)
            wrapped = Model(nn.Linear(2, 1), name='wrapped')
            trainer = Trainer(
                wrapped,
                loader=_loader(),
                loss=Loss(_mse, 'MSE'),
                learning_schema=LearningSchema.sgd(),
            )
            with warnings.catch_warnings():
                warnings.simplefilter('error')
                trainer.train(1)
            del wrapped, trainer  # no DDP module outlives the group
    finally:
        dist.destroy_process_group()


# apply_ops


@dataclasses.dataclass
class _HandWrittenInit:
    """A dataclass with its own __init__: its attributes are no fields."""

    def __init__(self, first: Tensor, second: Tensor) -> None:
        self.first = first
        self.second = second


@dataclasses.dataclass
class _ExtraAttribute:
    field: Tensor
    derived: Tensor = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.derived = self.field + 1


def test_apply_reaches_attributes_that_are_not_fields() -> None:
    obj = _HandWrittenInit(torch.tensor(1.0), torch.tensor(2.0))
    doubled = apply_ops.apply(obj, Tensor, lambda t: 2 * t)
    assert doubled is not obj
    assert (doubled.first.item(), doubled.second.item()) == (2.0, 4.0)
    assert obj.first.item() == 1.0  # the original is left as it was

    extra = _ExtraAttribute(torch.tensor(1.0))
    extra.note = torch.tensor(5.0)  # type: ignore[attr-defined]
    converted = apply_ops.apply(extra, Tensor, lambda t: 2 * t)
    assert converted.field.item() == 2.0
    assert converted.derived.item() == 3.0  # recomputed, as in rc5
    assert converted.note.item() == 10.0  # type: ignore[attr-defined]


# Hydra


APP = """
import os
import pathlib
import sys

import hydra

from drytorch.core.experiment import Experiment
from drytorch.trackers.hydra import HydraLink

TRACKERS = []


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg) -> None:
    TRACKERS.append(HydraLink(copy_hydra=False))


if __name__ == '__main__':
    par_dir, sys.argv[1:] = sys.argv[1], sys.argv[2:]
    main()
    # the job has returned: the tracker still knows its output folder
    exp = Experiment({}, name='After', par_dir=par_dir)
    exp.trackers.subscribe(TRACKERS[0])
    with exp.create_run(run_id='r'):
        print(os.readlink(TRACKERS[0].link))
"""


@pytest.mark.slow
def test_hydra_link_made_in_a_job_works_after_it(
    tmp_path: pathlib.Path,
) -> None:
    pytest.importorskip('hydra')
    app = tmp_path / 'app.py'
    app.write_text(textwrap.dedent(APP))
    hydra_out = tmp_path / 'hydra_out'
    env = dict(os.environ, DRYTORCH_INIT_MODE='none')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')])
    completed = subprocess.run(
        [
            sys.executable,
            str(app),
            str(tmp_path / 'out'),
            f'hydra.run.dir={hydra_out}',
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == str(hydra_out)


# typed constructors

TYPED_USAGE = """
import torch
from torch import nn
from torch.utils.data import Dataset

from drytorch import DataLoader, LearningSchema, Loss, Model, Test, Trainer


class Pairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones(2), torch.ones(1)


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean()


def on_ints(outputs: int, targets: int) -> torch.Tensor:
    return torch.tensor(float(outputs - targets))


model: Model[torch.Tensor, torch.Tensor] = Model(nn.Linear(2, 1))
loader = DataLoader(Pairs(), batch_size=2)
trainer = Trainer(
    model,
    loader=loader,
    loss=Loss(mse, 'MSE'),
    learning_schema=LearningSchema.adam(),
)
reveal_type(trainer)
Test(model, loader=loader, metric=Loss(on_ints, 'Wrong'))  # mismatch
"""


@pytest.mark.slow
def test_constructors_infer_types_and_catch_mismatches(
    tmp_path: pathlib.Path,
) -> None:
    """Typed like 0.1.0rc5: no annotation needed, mismatches reported."""
    pytest.importorskip('mypy')
    usage = tmp_path / 'usage.py'
    usage.write_text(textwrap.dedent(TYPED_USAGE))
    completed = subprocess.run(
        [
            sys.executable,
            '-m',
            'mypy',
            '--no-error-summary',
            '--ignore-missing-imports',
            '--cache-dir',
            str(tmp_path / 'cache'),
            str(usage),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = completed.stdout.splitlines()
    revealed = [line for line in lines if 'Revealed type' in line]
    errors = [line for line in lines if ': error:' in line]
    assert len(revealed) == 1
    assert (
        'Trainer[torch._tensor.Tensor, torch._tensor.Tensor, ' in revealed[0]
    )
    # the metric on ints does not fit the model's tensors: reported there
    assert errors, completed.stdout
    assert all('usage.py:34:' in line for line in errors), completed.stdout
