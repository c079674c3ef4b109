"""A notebook whose training cell is executed twice, in a real kernel.

Re-executing a cell that builds a ``Model``, a ``Trainer`` (with its
``Validation``) and a ``Test`` under the same names must neither fail nor
rename anything: the new objects take the names over, the old ones are
released, and the metadata and the panel show the new ones once.
"""

from __future__ import annotations

import pathlib
import textwrap

import nbformat
import pytest
from test_notebooks import executor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SETUP = """
%load_ext drytorch_nb
import dataclasses

import torch
from torch import nn
from torch.utils.data import TensorDataset

from drytorch import (
    DataLoader, Experiment, LearningSchema, Loss, Model, Test, Trainer
)
from drytorch.core import register
from drytorch_nb import _extension

@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.01

experiment = Experiment(Config(), name='Rerun', par_dir='out')
data = TensorDataset(torch.randn(32, 3), torch.randn(32, 1))
loader = DataLoader(data, batch_size=8)
%drytorch_start --run-id cells
"""

TRAINING = """
module = nn.Linear(3, 1)
model = Model(module, name='linear')
loss = Loss(nn.functional.mse_loss, name='MSE')
trainer = Trainer(
    model,
    name='fit',
    loader=loader,
    loss=loss,
    learning_schema=LearningSchema.adam(base_lr=0.01),
)
trainer.add_validation(loader)
trainer.train(2)
test = Test(model, name='check', loader=loader, metric=loss)
test()
models_built = globals().get('models_built', []) + [model]
"""

CHECKS = """
first, second = models_built
assert (first.name, second.name) == ('linear', 'linear'), models_built
assert register.registered_model(second.module) is second
assert register.registered_model(first.module) is None
names = sorted(experiment.run.metadata_manager.metadata_dict)
assert names == [
    'linear', 'linear/Validation', 'linear/check', 'linear/fit'
], names
panel = _extension.installed_panel(get_ipython())
state = panel._state
assert list(state.models) == ['linear'], state.models
assert sorted(state.actors) == [
    ('Validation', 'linear'), ('check', 'linear'), ('fit', 'linear')
], state.actors
view = panel.view
if view is not None:  # the live widgets: one fold per model and actor
    panel.flush()
    assert view.titles(view.models) == ['linear'], view.titles(view.models)
    assert sorted(view.titles(view.actors)) == [  # noqa: E501
        'Validation (linear)', 'check (linear)', 'fit (linear)'
    ]
%drytorch_stop
"""


def _cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(textwrap.dedent(source).strip())


def test_training_cell_executed_twice(tmp_path: pathlib.Path) -> None:
    notebook = nbformat.v4.new_notebook()
    # the same cell twice in a row: what re-executing it sends the kernel
    notebook.cells = [
        _cell(SETUP),
        _cell(TRAINING),
        _cell(TRAINING),
        _cell(CHECKS),
    ]
    executor.execute_notebook(notebook, tmp_path)  # raises if a cell fails
    run_dir = tmp_path / 'out'
    architectures = sorted(run_dir.rglob('architecture.yaml'))
    # '<model name>_<creation time>': the name never became 'linear_2'
    names = {path.parent.name.rsplit('_', 1)[0] for path in architectures}
    assert names == {'linear'}
