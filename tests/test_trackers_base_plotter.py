"""Tests of BasePlotter: what is redrawn, when, and from which history.

The plots of :class:`ListPlotter` are the arguments it was asked to draw;
the constructor that MatPlotter and PlotlyPlotter inherit is checked on
them too.
"""

from __future__ import annotations

import datetime
import math

import pytest

from drytorch.core import events
from drytorch.trackers.base_classes import (
    BasePlotter,
    MetricLoader,
    SourcedMetrics,
)
from drytorch.trackers.matplotlib import MatPlotter
from drytorch.trackers.plotly import PlotlyPlotter

RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)


class ListPlotter(BasePlotter[tuple[str, str, SourcedMetrics, int]]):
    """A plotter whose plots are the arguments it was asked to draw."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.drawn: list[tuple[str, str, SourcedMetrics, int]] = []

    def _plot_metric(
        self,
        model_name: str,
        metric_name: str,
        sourced_histories: SourcedMetrics,
        start_epoch: int,
    ) -> tuple[str, str, SourcedMetrics, int]:
        plot = (model_name, metric_name, sourced_histories, start_epoch)
        self.drawn.append(plot)
        return plot


class FixedLoader(MetricLoader):
    """A metric loader with a fixed history per model."""

    def __init__(self, histories: dict[str, SourcedMetrics]) -> None:
        self.histories = histories
        self.calls: list[tuple[str, int]] = []

    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        self.calls.append((model_name, max_epoch))
        return self.histories.get(model_name, {})


def start_event() -> events.StartRunEvent:
    return events.StartRunEvent(
        config=None, exp_name='Exp', run_ts=RUN_TS, run_id='r'
    )


def metric_event(
    epoch: int, source: str = 'Trainer', model: str = 'M', **values: float
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model,
        source_name=source,
        epoch=epoch,
        metrics=values or {'Loss': 1 / epoch},
    )


def train_epochs(
    plotter: BasePlotter, epochs: range, model: str = 'M'
) -> None:
    for epoch in epochs:
        plotter.notify(metric_event(epoch, model=model))
        plotter.notify(events.EndEpochEvent('Trainer', model, epoch))


# ------------------------------------------------------------ BasePlotter


@pytest.mark.parametrize(
    ('start', 'expected'),
    [
        (1, [1, 1, 1, 1, 1, 1, 1]),
        (3, [1, 1, 1, 1, 1, 3, 3]),  # from epoch 6 = 2 * 3 on
        (-2, [1, 1, 1, 2, 3, 4, 5]),  # the last two epochs and this one
        (0, [1, 1, 1, 1, 1, 1, 1]),
    ],
)
def test_redraw_start_epoch(start: int, expected: list[int]) -> None:
    plotter = ListPlotter(start=start)
    plotter.notify(start_event())
    train_epochs(plotter, range(1, 8))
    assert [plot[3] for plot in plotter.drawn] == expected
    epochs, _ = plotter.drawn[-1][2]['Trainer']
    assert epochs[0] == expected[-1]
    assert epochs[-1] == 7


def test_redraws_selected_models_at_epoch_and_test_end() -> None:
    plotter = ListPlotter(model_names=['A'], start=-1)
    plotter.notify(start_event())
    train_epochs(plotter, range(1, 4), model='A')
    train_epochs(plotter, range(1, 4), model='B')
    assert [plot[0] for plot in plotter.drawn] == ['A', 'A', 'A']
    plotter.notify(metric_event(3, source='Test', model='A', Loss=0.5))
    plotter.notify(events.EndTestEvent('Test', 'A'))
    model, _, histories, start_epoch = plotter.drawn[-1]
    assert (model, start_epoch) == ('A', 2)  # same rule, at the last epoch
    assert histories['Test'] == ([3], {'Loss': [0.5]})


def test_plot_draws_sources_with_more_points_first() -> None:
    plotter = ListPlotter()
    plotter.notify(start_event())
    plotter.notify(metric_event(1, source='Test', Loss=9.0))
    for epoch in (1, 2, 3):
        plotter.notify(metric_event(epoch, source='Val', Loss=epoch + 0.5))
    for epoch in (1, 2, 3, 4):
        plotter.notify(metric_event(epoch, Loss=float(epoch), Acc=0.5))
    loss, acc = plotter.plot('M')
    assert list(loss[2]) == ['Trainer', 'Val', 'Test']
    assert loss[2]['Test'] == ([1], {'Loss': [9.0]})
    assert loss[2]['Trainer'] == ([1, 2, 3, 4], {'Loss': [1.0, 2.0, 3.0, 4.0]})
    assert (acc[1], list(acc[2])) == ('Acc', ['Trainer'])


def test_plot_filters_and_skips_nan() -> None:
    plotter = ListPlotter(source_names=['Trainer'], metric_names=['Loss'])
    plotter.notify(start_event())
    plotter.notify(metric_event(1, Loss=1.0, Acc=0.1))
    plotter.notify(metric_event(2, Loss=math.nan, Acc=0.2))
    plotter.notify(metric_event(3, Loss=3.0, Acc=0.3))
    plotter.notify(metric_event(3, source='Val', Loss=3.5))
    (plot,) = plotter.plot('M')
    assert plot[1:] == ('Loss', {'Trainer': ([1, 3], {'Loss': [1.0, 3.0]})}, 1)
    # explicit arguments replace the plotter's selection
    plots = plotter.plot(
        'M', source_names=['Val', 'Trainer'], metric_names=['Loss', 'Acc']
    )
    assert [(p[1], list(p[2])) for p in plots] == [
        ('Loss', ['Trainer', 'Val']),
        ('Acc', ['Trainer']),
    ]
    (late,) = plotter.plot('M', start_epoch=3)
    assert late[2] == {'Trainer': ([3], {'Loss': [3.0]})}
    assert late[3] == 3


def test_plot_errors_say_what_was_expected() -> None:
    plotter = ListPlotter()
    plotter.notify(start_event())
    plotter.notify(metric_event(1))
    with pytest.raises(ValueError, match=r"Expected .*\['M'\].*got 'X'"):
        plotter.plot('X')
    with pytest.raises(ValueError, match='Expected start_epoch >= 1, got 0'):
        plotter.plot('M', start_epoch=0)
    with pytest.raises(ValueError, match=r"\['Loss'\], got \['Acc'\]"):
        plotter.plot('M', metric_names=['Acc'])
    with pytest.raises(ValueError, match=r"\['Trainer'\], got \['Val'\]"):
        plotter.plot('M', source_names=['Val'])
    with pytest.raises(TypeError, match="got 'M'"):
        plotter.plot('M', source_names='M')
    with pytest.raises(TypeError, match='model_names'):
        ListPlotter(model_names='M')


def test_plot_loads_from_the_metric_loader_when_nothing_is_in_memory() -> None:
    history: SourcedMetrics = {'Trainer': ([1, 2], {'Loss': [2.0, 1.0]})}
    loader = FixedLoader({'Old': history})
    plotter = ListPlotter(metric_loader=loader)
    plotter.notify(start_event())
    (plot,) = plotter.plot('Old')
    assert plot[2] == history
    assert loader.calls == [('Old', -1)]
    with pytest.raises(ValueError, match='or from the metric loader'):
        plotter.plot('Missing')
    plotter.notify(metric_event(1, model='New'))
    plotter.plot('New')
    assert loader.calls == [('Old', -1), ('Missing', -1)]  # memory first


# ---------------------------------------------------- the constructor


@pytest.mark.parametrize('plotter_class', [MatPlotter, PlotlyPlotter])
def test_plotters_take_the_constructor_keywords_of_base_plotter(
    plotter_class: type[BasePlotter],
) -> None:
    loader = FixedLoader({'M': {'Trainer': ([1, 2], {'Loss': [2.0, 1.0]})}})
    plotter = plotter_class(
        model_names=['M'],
        source_names=['Trainer'],
        metric_names=['Loss'],
        start=-3,
        metric_loader=loader,
    )
    assert plotter.model_names == ('M',)
    assert plotter.source_names == ('Trainer',)
    assert plotter.metric_names == ('Loss',)
    assert plotter.start == -3
    assert plotter.metric_loader is loader
    assert len(plotter.plot('M')) == 1  # read from the loader
    with pytest.raises(TypeError, match='model_names'):
        plotter_class(model_names='M')


def test_positional_arguments_keep_their_order_per_plotter() -> None:
    loader = FixedLoader({})
    # MatPlotter has always taken the metric loader before the start
    matplotter = MatPlotter(['M'], (), (), loader, 3)
    assert (matplotter.metric_loader, matplotter.start) == (loader, 3)
    plotly_plotter = PlotlyPlotter(['M'], (), (), 3, loader)
    assert (plotly_plotter.metric_loader, plotly_plotter.start) == (loader, 3)
