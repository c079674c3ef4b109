"""Tests of compare_runs, %drytorch_compare and the runs listing results."""

from __future__ import annotations

import dataclasses
import html
import pathlib
import re

import pytest
import torch
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from torch import nn
from torch.utils.data import TensorDataset

import drytorch_nb
from drytorch.core import exceptions, history
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric
from drytorch.lib.train import Trainer
from drytorch.trackers.history import HistoryWriter
from drytorch.utils.formatting import format_number
from drytorch_nb import _results

XSS = '<img src=x onerror=alert(1)>'


@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.05
    depth: int = 1
    note: str = 'same'


def _experiment(
    par_dir: pathlib.Path, name: str, config: Config = Config()
) -> Experiment[Config]:
    experiment = Experiment(config, name=name, par_dir=par_dir)
    experiment.trackers.subscribe(HistoryWriter())
    return experiment


def _train(
    experiment: Experiment[Config],
    run_id: str,
    epochs: int = 3,
    metric_name: str = 'MAE',
) -> None:
    torch.manual_seed(0)
    inputs = torch.randn(32, 3)
    loader = DataLoader(
        TensorDataset(inputs, inputs.sum(dim=1, keepdim=True)), batch_size=8
    )
    with experiment.create_run(run_id=run_id):
        trainer = Trainer(
            Model(nn.Linear(3, 1), name='Lin'),
            loader=loader,
            loss=Loss(nn.functional.mse_loss, 'MSE'),
            learning_schema=LearningSchema.adam(experiment.config.lr),
        )
        trainer.add_validation(loader)
        assert trainer.validation is not None
        trainer.validation.objective = Metric(
            lambda out, tgt: (out - tgt).abs().mean(), metric_name
        )
        trainer.train(epochs)


def test_compares_the_latest_run_of_each_experiment(
    tmp_path: pathlib.Path,
) -> None:
    slow = _experiment(tmp_path, 'Slow', Config(lr=0.01))
    fast = _experiment(tmp_path, 'Fast', Config(lr=0.1, depth=2))
    _train(slow, 'old', epochs=1)
    _train(slow, 's1', epochs=4)
    _train(fast, 'f1', epochs=2)

    comparison = drytorch_nb.compare_runs(slow, fast)

    assert [run.record.id for run in comparison.runs] == ['s1', 'f1']
    assert comparison.config_keys == ['lr', 'depth']  # not 'note'
    table = comparison.table()
    assert table.headers[:7] == (
        'Experiment',
        'Run id',
        'Status',
        'Epochs',
        'Duration',
        'lr',
        'depth',
    )
    row = dict(zip(table.headers, table.rows[0], strict=True))
    assert row['Experiment'] == 'Slow'
    assert row['Status'] == 'completed'
    assert row['Epochs'] == '4'
    assert row['lr'] == '0.01'
    recorded = history.load_history(slow, 's1')
    assert recorded is not None
    mae = recorded.series['Lin', 'Validation'].metrics['MAE']
    best = min(range(4), key=lambda i: mae[i])
    assert row['Validation MAE final'] == format_number(mae[-1])
    assert row['Validation MAE best (epoch)'] == (
        f'{format_number(mae[best])} ({best + 1})'
    )
    assert comparison.notes == []
    text = str(comparison)
    assert 'Slow' in text and 'f1' in text and 'Validation MAE' in text


def test_html_has_a_chart_per_metric_and_no_script(
    tmp_path: pathlib.Path,
) -> None:
    exp = _experiment(tmp_path, 'Exp')
    _train(exp, 'a')
    _train(exp, 'b')
    page = drytorch_nb.compare_runs(exp, every_run=True)._repr_html_()
    assert page.count('<svg') == 2  # MSE (training) and MAE (validation)
    assert '<script' not in page.lower()
    assert 'stroke-dasharray' in page  # validation dashed
    assert 'overflow-x: auto' in page
    assert not re.search(r'width:\s*\d+px', page)  # no fixed pixel widths
    assert 'var(--jp-success-color1' in page


def test_explicit_run_ids_and_unknown_names(tmp_path: pathlib.Path) -> None:
    exp = _experiment(tmp_path, 'Exp')
    other = _experiment(tmp_path, 'Other')
    _train(exp, 'a', epochs=1)
    _train(exp, 'b', epochs=1)
    _train(other, 'a', epochs=1)

    chosen = drytorch_nb.compare_runs(
        run_ids=['Exp/b', 'Other/a'], par_dir=tmp_path
    )
    assert [(r.experiment, r.record.id) for r in chosen.runs] == [
        ('Exp', 'b'),
        ('Other', 'a'),
    ]
    by_name = drytorch_nb.compare_runs('Exp', par_dir=tmp_path)
    assert [r.record.id for r in by_name.runs] == ['b']

    with pytest.raises(exceptions.UnknownRunError) as info:
        drytorch_nb.compare_runs('Nope', par_dir=tmp_path)
    assert "'Exp', 'Other'" in str(info.value)
    assert isinstance(info.value, LookupError)
    with pytest.raises(exceptions.UnknownRunError, match="'Exp/a', 'Exp/b'"):
        drytorch_nb.compare_runs(exp, run_ids=['zzz'])
    with pytest.raises(exceptions.UnknownRunError, match="'Exp/a', 'Other/a'"):
        drytorch_nb.compare_runs(run_ids=['a'], par_dir=tmp_path)
    with pytest.raises(ValueError, match='neither'):
        drytorch_nb.compare_runs()


def test_runs_without_or_with_broken_history_are_listed_with_a_note(
    tmp_path: pathlib.Path,
) -> None:
    exp = _experiment(tmp_path, 'Exp')
    _train(exp, 'good', epochs=2)
    _train(exp, 'broken', epochs=2)
    plain = Experiment(Config(), name='Exp', par_dir=tmp_path)  # no writer
    with plain.create_run(run_id='bare'):
        pass
    broken = history.history_path(exp.registry.path, 'broken')
    broken.write_bytes(b'garbage\n')

    comparison = drytorch_nb.compare_runs(exp, every_run=True)

    assert [r.record.id for r in comparison.runs] == ['good', 'broken', 'bare']
    notes = '\n'.join(comparison.notes)
    assert 'Exp/bare: no metric history.' in notes
    assert str(broken) in notes
    assert comparison.table().rows[0][3] == '2'
    assert html.escape(str(broken)) in comparison._repr_html_()


def test_zero_runs_and_unrelated_metrics_are_said_plainly(
    tmp_path: pathlib.Path,
) -> None:
    empty = _experiment(tmp_path, 'Empty')
    nothing = drytorch_nb.compare_runs(empty)
    assert nothing.runs == []
    assert 'No runs to compare' in str(nothing)
    assert 'No runs to compare' in nothing._repr_html_()
    assert 'Experiment Empty has no recorded run.' in str(nothing)

    first = _experiment(tmp_path, 'First')
    second = _experiment(tmp_path, 'Second')
    _train(first, 'a', epochs=1, metric_name='MAE')
    _train(second, 'b', epochs=1, metric_name='MAE')
    # rename the model of the second run: no metric is shared any more
    path = history.history_path(second.registry.path, 'b')
    path.write_text(path.read_text().replace('"Lin"', '"Other"'))
    unrelated = drytorch_nb.compare_runs(first, second)
    assert any('share no metric' in note for note in unrelated.notes)


def test_every_user_text_is_escaped(tmp_path: pathlib.Path) -> None:
    exp = _experiment(tmp_path, 'Exp', Config(note=XSS))
    other = _experiment(tmp_path, 'Other')
    _train(exp, 'a', epochs=1, metric_name=XSS)
    _train(other, 'b', epochs=1, metric_name=XSS)
    page = drytorch_nb.compare_runs(exp, other)._repr_html_()
    assert XSS not in page
    assert '<img' not in page
    assert html.escape(XSS) in page or html.escape(f'"{XSS}"') in page


def test_best_follows_the_direction_of_the_metric() -> None:
    assert _results.best_index('val_loss', [3.0, 1.0, 2.0]) == 1
    assert _results.best_index('Cross Entropy', [3.0, 1.0, 2.0]) == 1
    assert _results.best_index('KL divergence', [3.0, 1.0, 2.0]) == 1
    assert _results.best_index('Accuracy', [0.5, 0.9, 0.7]) == 1
    assert _results.best_index('Accuracy', [float('nan')]) is None


def test_list_runs_shows_results_and_filters(tmp_path: pathlib.Path) -> None:
    exp = _experiment(tmp_path, 'Exp')
    _train(exp, 'r1', epochs=2)
    with pytest.raises(ZeroDivisionError), exp.create_run(run_id='r2'):
        1 / 0
    _train(exp, 'r3', epochs=1)

    table = drytorch_nb.list_runs(exp)
    rows = {
        row[0]: dict(zip(table.headers, row, strict=True))
        for row in table.rows
    }
    assert rows['r1']['Epochs'] == '2'
    assert rows['r1']['Duration'].count(':') == 1
    recorded = history.load_history(exp, 'r1')
    assert recorded is not None
    mse = recorded.series['Lin', 'Trainer'].metrics['MSE'][-1]
    assert f'Trainer MSE={format_number(mse)}' in rows['r1']['Final metrics']
    assert rows['r2']['Status'] == 'failed'

    failed = drytorch_nb.list_runs(exp, status='failed')
    assert [row[0] for row in failed.rows] == ['r2']
    assert [row[0] for row in drytorch_nb.list_runs(exp, last=2).rows] == [
        'r2',
        'r3',
    ]
    assert 'color: var(--jp-error-color1' in failed._repr_html_()
    with pytest.raises(ValueError, match="'done'"):
        drytorch_nb.list_runs(exp, status='done')
    with pytest.raises(ValueError, match='positive'):
        drytorch_nb.list_runs(exp, last=0)


@pytest.fixture
def shell(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv('IPYTHONDIR', str(tmp_path / 'ipython'))
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension('drytorch_nb')
    yield shell
    shell.extension_manager.unload_extension('drytorch_nb')
    InteractiveShell.clear_instance()


def _displayed(shell: InteractiveShell, line: str) -> dict:
    captured: list[dict] = []
    original = shell.display_pub.publish

    def publish(data: dict, *args: object, **kwargs: object) -> None:
        captured.append(data)

    shell.display_pub.publish = publish  # type: ignore[method-assign]
    try:
        name, _, rest = line.partition(' ')
        shell.run_line_magic(name, rest)
    finally:
        shell.display_pub.publish = original  # type: ignore[method-assign]
    return captured[-1]


def test_magics_compare_and_filter(
    shell: InteractiveShell, tmp_path: pathlib.Path
) -> None:
    one = _experiment(tmp_path, 'One')
    two = _experiment(tmp_path, 'Two', Config(lr=0.2))
    _train(one, 'a', epochs=1)
    _train(two, 'b', epochs=1)
    shell.push({'one': one, 'two': two})

    bundle = _displayed(shell, 'drytorch_compare')
    assert '<svg' in bundle['text/html']
    assert 'One' in bundle['text/plain'] and 'Two' in bundle['text/plain']
    named = _displayed(shell, 'drytorch_compare one --runs One/a Two/b')
    assert 'Two' in named['text/plain']
    with pytest.raises(UsageError, match="'One', 'Two'"):
        shell.run_line_magic(
            'drytorch_compare', f'Missing --par-dir {tmp_path}'
        )
    listing = _displayed(
        shell, 'drytorch_runs one --status completed --last 1'
    )
    assert 'a' in listing['text/plain']
    with pytest.raises(UsageError, match='status'):
        shell.run_line_magic('drytorch_runs', 'one --status nope')
