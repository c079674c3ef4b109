"""Tests of MatPlotter and PlotlyPlotter: figures of real trainings.

Headless: the figures are drawn on Agg canvases; MPLBACKEND is set to Agg
for every test of this module.
"""

from __future__ import annotations

import base64
import datetime
import json
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import matplotlib
import numpy as np
import pytest
import torch
from conftest import Config, RecordingTracker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events
from drytorch.core.experiment import Experiment
from drytorch.lib.evaluations import Test as EvalTest
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric
from drytorch.lib.train import Trainer
from drytorch.trackers.base_classes import (
    SourcedMetrics,
)
from drytorch.trackers.csv import CSVDumper
from drytorch.trackers.matplotlib import MatPlotter
from drytorch.trackers.plotly import PlotlyPlotter
from drytorch.trackers.sqlalchemy import SQLConnection

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('MPLBACKEND', 'Agg')


# ------------------------------------------------------------ helpers


def mse_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def mae_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs - targets).abs().mean(dim=1)


def regression_data(n: int = 96, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    weight = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return TensorDataset(x, x @ weight + 0.25)


def logged(
    recorder: RecordingTracker, model: str = 'lin'
) -> dict[str, SourcedMetrics]:
    """The MetricEvents as histories: {source: (epochs, {metric: values})}.

    A later event for an epoch already seen replaces the history from that
    epoch on, as a resumed training does.
    """
    histories: SourcedMetrics = {}
    for event in recorder.of_type(events.MetricEvent):
        if event.model_name != model:
            continue
        epochs, logs = histories.setdefault(event.source_name, ([], {}))
        while epochs and epochs[-1] >= event.epoch:
            epochs.pop()
            for values in logs.values():
                values.pop()
        epochs.append(event.epoch)
        for name, value in event.metrics.items():
            logs.setdefault(name, []).append(value)
    return {model: histories}


def line_data(axes: Axes) -> dict[str, tuple[list[int], list[float]]]:
    return {
        str(line.get_label()): (
            [int(x) for x in np.asarray(line.get_xdata())],
            [float(y) for y in np.asarray(line.get_ydata())],
        )
        for line in axes.get_lines()
    }


def expected_points(
    histories: SourcedMetrics, metric: str
) -> dict[str, tuple[list[int], list[float]]]:
    return {
        source: (epochs, logs[metric])
        for source, (epochs, logs) in histories.items()
    }


class Rig:
    """An experiment with recorded events, CSV, SQL and both plotters."""

    def __init__(self, par_dir: pathlib.Path) -> None:
        self.recorder = RecordingTracker()
        self.csv = CSVDumper()
        self.sql = SQLConnection()
        self.matplotlib = MatPlotter(metric_loader=self.csv)
        self.plotly = PlotlyPlotter(metric_loader=self.sql)
        self.experiment = Experiment(Config(), name='Plots', par_dir=par_dir)
        self.experiment.trackers.subscribe(
            self.recorder, self.csv, self.sql, self.matplotlib, self.plotly
        )

    def trainer(self) -> Trainer:
        torch.manual_seed(0)
        model: Model = Model(nn.Linear(4, 1), name='lin')
        train_loader, val_loader = DataLoader(
            regression_data(), batch_size=32
        ).split(0.25, seed=0)
        trainer = Trainer(
            model,
            loader=train_loader,
            loss=Loss(mse_fn, 'MSE') | Metric(mae_fn, 'MAE'),
            learning_schema=LearningSchema.adam(0.05),
        )
        trainer.add_validation(val_loader)
        return trainer

    def test(self, trainer: Trainer) -> None:
        EvalTest(
            trainer.model,
            loader=DataLoader(regression_data(32, seed=1), batch_size=16),
            metric=Loss(mse_fn, 'MSE') | Metric(mae_fn, 'MAE'),
        )()


@pytest.fixture
def rig(tmp_path: pathlib.Path) -> Iterator[Rig]:
    made = Rig(tmp_path / 'experiments')
    yield made
    made.sql.clean_up()


# ------------------------------------------------------ real trainings


def test_matplotlib_lines_equal_the_logged_metrics(rig: Rig) -> None:
    with rig.experiment.create_run():
        trainer = rig.trainer()
        trainer.train(2)
        (figure, mse_axes), (same_figure, mae_axes) = rig.matplotlib.plot(
            'lin'
        )
        held = {line.get_label(): line for line in mse_axes.get_lines()}
        trainer.train(2)
        rig.test(trainer)
    assert isinstance(figure, Figure)
    assert same_figure is figure  # one figure per model
    assert figure.axes == [mse_axes, mae_axes]  # one subplot per metric
    assert [mse_axes.get_title(), mae_axes.get_title()] == ['MSE', 'MAE']
    assert mse_axes.get_xlabel() == 'Epoch'
    histories = logged(rig.recorder)['lin']
    assert list(histories) == ['Trainer', 'Validation', 'Test']
    assert len(histories['Trainer'][0]) == 4
    # the lines handed out were updated in place, without calling plot
    lines = {line.get_label(): line for line in mse_axes.get_lines()}
    assert {label: lines[label] for label in held} == held
    assert line_data(mse_axes) == expected_points(histories, 'MSE')
    assert line_data(mae_axes) == expected_points(histories, 'MAE')
    test_line = mse_axes.get_lines()[-1]
    assert (test_line.get_marker(), test_line.get_linestyle()) == ('o', 'None')
    trainer_line = mse_axes.get_lines()[0]
    assert trainer_line.get_linestyle() == '-'
    assert trainer_line.get_zorder() < test_line.get_zorder()
    legend = mse_axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(histories)
    figure.savefig(rig.experiment.par_dir / 'lin.png')  # renders headless
    assert not matplotlib.is_interactive()


def test_plotly_figures_equal_the_logged_metrics(rig: Rig) -> None:
    with rig.experiment.create_run():
        trainer = rig.trainer()
        trainer.train(3)
        rig.test(trainer)
        mse_figure, mae_figure = rig.plotly.plot('lin')
    histories = logged(rig.recorder)['lin']
    for figure, metric in ((mse_figure, 'MSE'), (mae_figure, 'MAE')):
        assert figure.layout.xaxis.title.text == 'Epoch'
        assert figure.layout.yaxis.title.text == metric
        traces = {
            trace.name: (list(trace.x), list(trace.y)) for trace in figure.data
        }
        assert traces == expected_points(histories, metric)
        assert [trace.mode for trace in figure.data] == [
            'lines',
            'lines',
            'markers',
        ]


def test_start_shows_the_last_epochs_during_training(rig: Rig) -> None:
    plotter = MatPlotter(start=-2)
    rig.experiment.trackers.subscribe(windowed=plotter)
    with rig.experiment.create_run():
        trainer = rig.trainer()
        trainer.train(5)
        (_, axes), _ = plotter.plot('lin', start_epoch=1)
        assert line_data(axes)['Trainer'][0] == [1, 2, 3, 4, 5]
        trainer.train(1)
        # redrawn at epoch 6 from epoch 4, at the end of the training
        assert line_data(axes)['Trainer'][0] == [4, 5, 6]


@pytest.mark.parametrize('loader', ['csv', 'sql'])
def test_resumed_run_plots_the_history_read_back(
    rig: Rig, loader: str
) -> None:
    with rig.experiment.create_run() as run:
        trainer = rig.trainer()
        trainer.train(3)
        trainer.save_checkpoint()
    first = logged(rig.recorder)['lin']
    metric_loader = rig.csv if loader == 'csv' else rig.sql
    matplotter = MatPlotter(metric_loader=metric_loader)
    plotly_plotter = PlotlyPlotter(metric_loader=metric_loader)
    rig.experiment.trackers.subscribe(
        resumed_matplotlib=matplotter, resumed_plotly=plotly_plotter
    )
    with rig.experiment.create_run(resume=True) as resumed:
        assert resumed.id == run.id
        # nothing in memory yet: the history comes from the loader
        (_, axes), _ = matplotter.plot('lin')
        assert line_data(axes) == expected_points(first, 'MSE')
        mse_figure, _ = plotly_plotter.plot('lin')
        traces = {t.name: (list(t.x), list(t.y)) for t in mse_figure.data}
        assert traces == expected_points(first, 'MSE')
        trainer = rig.trainer()
        trainer.load_checkpoint()  # the history up to epoch 3 is loaded
        trainer.train(2)
        (_, axes), (_, mae_axes) = matplotter.plot('lin')
        mse_figure, _ = plotly_plotter.plot('lin')
    both = logged(rig.recorder)['lin']
    assert both['Trainer'][0] == [1, 2, 3, 4, 5]
    assert both['Trainer'][1]['MSE'][:3] == first['Trainer'][1]['MSE']
    assert line_data(axes) == expected_points(both, 'MSE')
    assert line_data(mae_axes) == expected_points(both, 'MAE')
    traces = {t.name: (list(t.x), list(t.y)) for t in mse_figure.data}
    assert traces == expected_points(both, 'MSE')


def test_a_new_run_starts_new_figures(rig: Rig) -> None:
    with rig.experiment.create_run():
        trainer = rig.trainer()
        trainer.train(2)
        (figure, axes), _ = rig.matplotlib.plot('lin')
        (plotly_figure, _) = rig.plotly.plot('lin')
    with rig.experiment.create_run():
        trainer = rig.trainer()
        trainer.train(1)
        (new_figure, _), _ = rig.matplotlib.plot('lin')
        (new_plotly_figure, _) = rig.plotly.plot('lin')
    assert new_figure is not figure
    assert new_plotly_figure is not plotly_figure
    assert line_data(axes)['Trainer'][0] == [1, 2]  # left as it was
    assert len(plotly_figure.data[0].x) == 2
    rig.matplotlib.close_all()
    (newest, _), _ = rig.matplotlib.plot('lin')  # from memory, after the run
    assert newest is not new_figure


def test_names_are_drawn_literally() -> None:
    tricky = 'Gain $\\frac{a$'  # unbalanced mathtext would not render
    plotter = MatPlotter()
    plotly_plotter = PlotlyPlotter()
    for tracker in (plotter, plotly_plotter):
        tracker.notify(events.StartRunEvent(None, 'Exp', RUN_TS, 'r'))
        for epoch, source in ((1, '_hidden'), (2, '_hidden'), (2, '<b>V</b>')):
            tracker.notify(
                events.MetricEvent('M', source, epoch, {tricky: 1.0})
            )
    ((figure, axes),) = plotter.plot('M')
    figure.savefig(pathlib.Path('tricky.png'))  # mathtext would raise here
    assert axes.get_title() == 'Gain \\$\\frac{a\\$'
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        '_hidden',  # matplotlib leaves out labels starting with '_'
        '<b>V</b>',
    ]
    (plotly_figure,) = plotly_plotter.plot('M')
    assert [trace.name for trace in plotly_figure.data] == [
        '_hidden',
        '&lt;b&gt;V&lt;/b&gt;',
    ]


# ------------------------------------------ no side effects, missing extra


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_import_and_use_leave_matplotlib_global_state_alone() -> None:
    result = _python(
        """
        import sys
        import matplotlib
        from drytorch.core import events
        from drytorch.trackers.matplotlib import MatPlotter
        from drytorch.trackers.plotly import PlotlyPlotter

        backend = dict.__getitem__(matplotlib.rcParams, 'backend')
        for plotter in (MatPlotter(), PlotlyPlotter()):
            plotter.notify(events.MetricEvent('M', 'T', 1, {'L': 1.0}))
            plotter.notify(events.EndEpochEvent('T', 'M', 1))
            plotter.plot('M')
        print(
            'matplotlib.pyplot' in sys.modules,
            matplotlib.is_interactive(),
            dict.__getitem__(matplotlib.rcParams, 'backend') == backend,
            'IPython' in sys.modules,
        )
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['False', 'False', 'True', 'False']


@pytest.mark.parametrize(
    ('module', 'library'),
    [('matplotlib', 'matplotlib'), ('plotly', 'plotly')],
)
def test_missing_library_names_the_extra(module: str, library: str) -> None:
    result = _python(
        f"""
        import sys
        sys.modules[{library!r}] = None  # as if it were not installed
        try:
            import drytorch.trackers.{module}
        except ImportError as error:
            print(error.name, '|', error)
        """
    )
    assert result.returncode == 0, result.stderr
    name, message = result.stdout.strip().split(' | ')
    assert name == library
    assert "pip install 'drytorch[plots]'" in message


# ------------------------------------------------------ Jupyter kernel

KERNEL_NOTEBOOK = """\
---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

```{code-cell} ipython3
import datetime
from drytorch.core import events
from drytorch.trackers.matplotlib import MatPlotter
from drytorch.trackers.plotly import PlotlyPlotter

plotters = [MatPlotter(), PlotlyPlotter()]
plotters[1].min_display_interval = 0  # every redraw updates its display
for plotter in plotters:
    plotter.notify(events.StartRunEvent(
        None, 'Exp', datetime.datetime.now(), 'r'))
```

```{code-cell} ipython3
for epoch in range(1, 6):
    for plotter in plotters:
        for source in ('Trainer', 'Val'):
            plotter.notify(events.MetricEvent(
                'M', source, epoch, {'Loss': 1 / epoch, 'Acc': epoch / 10}))
        plotter.notify(events.EndEpochEvent('Trainer', 'M', epoch))
for plotter in plotters:
    plotter.notify(events.EndTrainingEvent('Trainer'))
```

```{code-cell} ipython3
figures = plotters[0].plot('M', start_epoch=3)
```
"""


def _load_executor():
    import importlib.util

    path = REPO_ROOT / 'notebooks' / '_execute.py'
    spec = importlib.util.spec_from_file_location('_execute', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_kernel_updates_one_output_per_figure(tmp_path: pathlib.Path) -> None:
    executor = _load_executor()
    source = tmp_path / 'display.md'
    source.write_text(KERNEL_NOTEBOOK)
    notebook = executor.execute_notebook(
        executor.read_notebook(source), tmp_path, timeout=60
    )
    _, training, plot = notebook.cells
    outputs = [o for o in training.outputs if o.output_type == 'display_data']
    # one PNG for the model (MatPlotter), one plotly figure per metric
    assert ['image/png' in o.data for o in outputs] == [True, False, False]
    plotly_data = [
        o.data['application/vnd.plotly.v1+json'] for o in outputs[1:]
    ]
    plotly_data = [
        json.loads(d) if isinstance(d, str) else d for d in plotly_data
    ]
    assert [d['layout']['yaxis']['title']['text'] for d in plotly_data] == [
        'Loss',
        'Acc',
    ]
    for data in plotly_data:  # the last update shows every epoch
        assert [trace['x'] for trace in data['data']] == [[1, 2, 3, 4, 5]] * 2
    png = base64.b64decode(outputs[0].data['image/png'])
    assert png.startswith(b'\x89PNG')
    # plot() shows its figure in the cell that calls it
    (shown,) = [o for o in plot.outputs if o.output_type == 'display_data']
    assert 'image/png' in shown.data
