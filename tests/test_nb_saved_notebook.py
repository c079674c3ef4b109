"""What a user saves: a 50-epoch training run from a notebook, in a kernel.

The notebook loads the extension, starts a run with ``%drytorch_start``,
trains 50 epochs with validation in another cell and stops the run. The
executed notebook, written as a user's save would be, must hold the
panel's static report and the training cell's final progress, and nothing
stale: no widget state, no per-batch stream output, at most 40 KB.
"""

from __future__ import annotations

import pathlib
import re

import nbformat
import pytest
from jupyterlab_server_helper import code_notebook
from test_notebooks import executor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'
MAX_BYTES = 40_000

CELLS = [
    '%load_ext drytorch_nb',
    """
    import dataclasses
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from drytorch import (
        DataLoader, Experiment, LearningSchema, Loss, Metric, Model, Trainer
    )

    torch.set_num_threads(1)

    @dataclasses.dataclass(frozen=True)
    class Config:
        hidden: int = 16

    experiment = Experiment(Config(), name='Saved', par_dir='experiments')
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(256, 8, generator=generator)
    labels = (inputs.sum(1) > 0).long()
    dataset = TensorDataset(inputs, labels)

    def cross_entropy(logits, target):
        return nn.functional.cross_entropy(logits, target, reduction='none')

    def accuracy(logits, target):
        return (logits.argmax(1) == target).float()
    """,
    '%drytorch_start --run-id fifty',
    """
    torch.manual_seed(0)
    model = Model(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        name='mlp',
    )
    train, val = DataLoader(dataset, batch_size=32).split(0.25)
    trainer = Trainer(
        model,
        loader=train,
        loss=Loss(cross_entropy, 'CE')
        | Metric(accuracy, 'Accuracy', higher_is_better=True),
        learning_schema=LearningSchema.adam(base_lr=1e-2),
    )
    trainer.add_validation(val)
    trainer.train(50)
    """,
    '%drytorch_stop',
]


@pytest.fixture(scope='module')
def saved(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The executed notebook, written to disk as a save would write it."""
    folder = tmp_path_factory.mktemp('saved')
    notebook = code_notebook(*CELLS)
    executor.execute_notebook(notebook, folder)
    path = folder / 'saved.ipynb'
    nbformat.write(notebook, path)
    return path


def _outputs(path: pathlib.Path) -> list[list[dict]]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.get('outputs', []) for cell in notebook.cells]


def test_saved_notebook_is_small_and_holds_no_widget_state(
    saved: pathlib.Path,
) -> None:
    size = saved.stat().st_size
    print(f'saved notebook: {size} bytes')
    assert size <= MAX_BYTES, f'{size} bytes'
    notebook = nbformat.read(saved, as_version=4)
    assert 'widgets' not in notebook.metadata
    for outputs in _outputs(saved):
        for output in outputs:
            assert WIDGET_MIME not in output.get('data', {})


def test_training_cell_keeps_its_final_progress_and_no_stream(
    saved: pathlib.Path,
) -> None:
    training = _outputs(saved)[3]
    assert [out['output_type'] for out in training] == ['display_data']
    final = training[0]['data']['text/html']
    assert '50/50' in final  # the epoch bar as the training ended
    assert 'CE=' in final and 'Accuracy=' in final


def test_start_and_stop_cells_hold_the_report_and_no_text(
    saved: pathlib.Path,
) -> None:
    outputs = _outputs(saved)
    # the panel (now its report) says what the magics would print
    assert [out['output_type'] for out in outputs[2]] == ['display_data']
    assert outputs[4] == []


def test_snapshot_reports_final_and_best_value_of_each_metric(
    saved: pathlib.Path,
) -> None:
    start = _outputs(saved)[2]
    htmls = [out['data']['text/html'] for out in start if 'data' in out]
    (snapshot,) = [text for text in htmls if 'drytorch-snapshot' in text]
    assert 'completed' in snapshot and '50 epochs' in snapshot
    for source in ('Trainer', 'Validation'):
        for metric in ('CE ↓', 'Accuracy ↑'):
            row = re.search(
                rf'<td[^>]*>{source}</td><td[^>]*>{metric}</td>(.*?)</tr>',
                snapshot,
            )
            assert row is not None, (source, metric)
            cells = re.findall(r'\(epoch (\d+)\)', row.group(1))
            final_epoch, best_epoch = (int(epoch) for epoch in cells)
            assert final_epoch == 50 and 1 <= best_epoch <= 50
    assert snapshot.count('<img') == 2  # one chart per metric
