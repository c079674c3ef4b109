"""Work that has nothing to do with training is not done.

* ``Model()`` compiles the module only when asked (``should_compile``), and
  what it compiled is what runs: compiling every module and discarding the
  result, as the 0.1.0rc5 release did, costs 1.2-1.5 s for the first model
  of a process (importing dynamo).
* ``Run.stop()`` leaves garbage collection to Python: a ``gc.collect()``
  per stop costs 0.1-0.25 s.
* A training step without mixed precision does not enter a (disabled)
  autocast context on every batch.

These tests check the behaviour (what is called), not the time;
bench/fixed_cost.py and bench/train_step.py measure it.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
import torch
from conftest import Config
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer


class CallCounter:
    """Stands in for a function and counts its calls."""

    def __init__(self, result: Any = None) -> None:
        self.calls = 0
        self.result = result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.result if self.result is not None else args[0]


def test_model_compiles_only_when_asked(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_ = CallCounter()
    monkeypatch.setattr(torch, 'compile', compile_)
    with Experiment(config, name='Compile').create_run(record=False):
        Model(nn.Linear(2, 1))
        assert compile_.calls == 0
        compiled = nn.Linear(2, 1)
        compile_.result = compiled
        model = Model(nn.Linear(2, 1), should_compile=True)
        assert compile_.calls == 1
        # what was compiled is what runs the forward: nothing is discarded
        inputs = torch.ones(1, 2)
        assert torch.equal(model(inputs), compiled(inputs))


def test_run_stop_does_not_collect_garbage(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    collect = CallCounter(result=0)
    monkeypatch.setattr(gc, 'collect', collect)
    experiment = Experiment(config, name='Stop')
    for _ in range(3):
        run = experiment.create_run()
        run.start()
        Model(nn.Linear(2, 1))
        run.stop()
    assert collect.calls == 0


def test_training_without_mixed_precision_never_enters_autocast(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: list[Any] = []
    original = torch.autocast

    def counting_autocast(*args: Any, **kwargs: Any) -> Any:
        entered.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, 'autocast', counting_autocast)
    inputs = torch.randn(64, 2)
    dataset = TensorDataset(inputs, inputs.sum(dim=1, keepdim=True))
    with Experiment(config, name='Autocast').create_run(record=False):
        trainer = Trainer(
            Model(nn.Linear(2, 1)),
            loader=DataLoader(dataset, 8),
            loss=Loss(nn.functional.mse_loss, 'MSE'),
            learning_schema=LearningSchema.adam(0.01),
        )
        trainer.train(2)
    assert entered == []
