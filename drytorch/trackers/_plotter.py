"""The base class of the plotters: which epochs, sources and metrics to draw.

:class:`BasePlotter` keeps the histories in memory (it is a
:class:`~drytorch.trackers.base_classes.MemoryMetrics`), decides when to
redraw and what each plot shows; a subclass draws one metric with its
plotting library. Public path: :mod:`drytorch.trackers.base_classes`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from drytorch.core import events
from drytorch.core.track import on
from drytorch.trackers._metric_history import (
    MemoryMetrics,
    MetricLoader,
    SourcedMetrics,
)
from drytorch.trackers._notebook_display import NotebookDisplay

__all__ = ['BasePlotter']

_Plot = TypeVar('_Plot')


def _as_names(names: Iterable[str], argument: str) -> tuple[str, ...]:
    """A tuple of names; a bare string is refused (it is not a list)."""
    if isinstance(names, str):
        msg = f'Expected a collection of names for {argument}, got {names!r}.'
        raise TypeError(msg)
    return tuple(names)


class BasePlotter(MemoryMetrics, abc.ABC, Generic[_Plot]):
    """Draw the metric histories kept in memory, one plot per metric.

    The plots of a model are redrawn at the end of each of its training
    epochs and of each of its tests. At epoch ``e`` they start at:

    * ``max(1, e + start)`` when ``start`` is negative (the last epochs);
    * ``start`` once ``e >= 2 * start``, and the first epoch before
      (0 and 1 both mean the first epoch).

    Each plot shows one metric of one model, with a curve for each source
    (training, validation, ...). Sources with more points are drawn first,
    so that shorter ones stay visible on top; a source with a single
    point (e.g. a test) is drawn as a marker. NaN values are left out.

    Subclasses inherit the constructor; they keep the plots they draw (see
    :meth:`_forget_plots`) and may defer the costly part of a redraw until
    the plots are displayed or returned (see :meth:`_sync_plots`).

    Inside a Jupyter kernel, subclasses show their plots in one output per
    plot that the redraws of a run update (at most once per
    ``min_display_interval`` seconds, and at the end of each training, test
    and run); elsewhere nothing is shown and :meth:`plot` returns the plots.

    Attributes:
        model_names: the models redrawn during a run; empty for all.
        source_names: the sources drawn; empty for all.
        metric_names: the metrics drawn; empty for all.
        start: the first epoch drawn during training (see above).
        min_display_interval: seconds between two updates of the displays.
    """

    min_display_interval: float = 1.0

    def __init__(
        self,
        model_names: Iterable[str] = (),
        source_names: Iterable[str] = (),
        metric_names: Iterable[str] = (),
        start: int = 1,
        metric_loader: MetricLoader | None = None,
    ) -> None:
        """Create the plotter.

        Args:
            model_names: the models redrawn during a run; empty for all.
            source_names: the sources drawn; empty for all.
            metric_names: the metrics drawn; empty for all.
            start: the first epoch drawn; negative for the last epochs.
            metric_loader: where to read a model's history from when it is
                loaded, or when none is in memory.

        Raises:
            TypeError: if a collection of names is a string.
        """
        super().__init__(metric_loader)
        self.model_names = _as_names(model_names, 'model_names')
        self.source_names = _as_names(source_names, 'source_names')
        self.metric_names = _as_names(metric_names, 'metric_names')
        self.start = start
        self._notebook = NotebookDisplay()
        self._forget_plots()

    @on(events.StartRunEvent)
    def _plotter_on_start(self, event: events.StartRunEvent) -> None:
        self._notebook.reset()
        # plots handed out during the last run stay as they are
        self._forget_plots()

    @on(events.EndEpochEvent)
    def _plotter_on_epoch(self, event: events.EndEpochEvent) -> None:
        self._redraw(event.model_name, event.epoch)

    @on(events.EndTestEvent)
    def _plotter_on_test(self, event: events.EndTestEvent) -> None:
        histories = self.model_dict.get(event.model_name, {})
        last_epoch = max(
            (epochs[-1] for epochs, _ in histories.values() if epochs),
            default=1,
        )
        self._redraw(event.model_name, last_epoch)
        self._sync_plots()
        self._notebook.flush()

    @on(events.EndTrainingEvent)
    def _plotter_on_end_training(self, event: events.EndTrainingEvent) -> None:
        self._sync_plots()
        self._notebook.flush()

    def clean_up(self) -> None:
        """Bring the plots up to date and send the last display updates."""
        try:
            self._sync_plots()
            self._notebook.flush()
        finally:
            super().clean_up()

    def plot(
        self,
        model_name: str,
        source_names: Iterable[str] = (),
        metric_names: Iterable[str] = (),
        start_epoch: int = 1,
    ) -> list[_Plot]:
        """Draw the history of a model, one plot per metric.

        The history in memory is drawn; when there is none, the one read
        from the metric loader. Inside a Jupyter kernel the plots are also
        displayed, in new outputs.

        Args:
            model_name: the model's name.
            source_names: the sources drawn; empty for the plotter's.
            metric_names: the metrics drawn, in this order; empty for the
                plotter's (for all of them, in order of appearance).
            start_epoch: the first epoch drawn.

        Returns:
            The plots, one per metric.

        Raises:
            ValueError: if ``start_epoch`` is below 1, if the model has no
                history, or if a source or metric asked for has none.
            TypeError: if a collection of names is a string.
        """
        if start_epoch < 1:
            msg = f'Expected start_epoch >= 1, got {start_epoch}.'
            raise ValueError(msg)
        sources = _as_names(source_names, 'source_names')
        metrics = _as_names(metric_names, 'metric_names')
        histories = self._history_of(model_name)
        _check_known('source', sources, list(histories))
        if sources:
            histories = {s: h for s, h in histories.items() if s in sources}
        _check_known('metric', metrics, _metric_order(histories))
        plots = self._draw(
            model_name,
            histories,
            metrics or self.metric_names,
            start_epoch,
            sources_filtered=bool(sources),
        )
        self._sync_plots()
        self._show(model_name, plots, new=True)
        return list(plots.values())

    def _redraw(self, model_name: str, epoch: int) -> None:
        """Redraw a model's plots during a run (if it is selected)."""
        if self.model_names and model_name not in self.model_names:
            return
        histories = self.model_dict.get(model_name)
        if not histories:
            return
        plots = self._draw(
            model_name,
            histories,
            self.metric_names,
            self._start_epoch(epoch),
        )
        if plots:
            self._show(model_name, plots, new=False)

    def _start_epoch(self, epoch: int) -> int:
        """The first epoch drawn at the given epoch."""
        start = self.start
        if start < 0:
            return max(1, epoch + start)
        if epoch >= 2 * start:
            return max(1, start)
        return 1

    def _history_of(self, model_name: str) -> SourcedMetrics:
        """The history in memory, or else the one of the metric loader."""
        histories = self.model_dict.get(model_name)
        if not histories and self.metric_loader is not None:
            histories = self.metric_loader.load_metrics(model_name)
        if not histories:
            known = sorted(self.model_dict)
            where = ' or from the metric loader' if self.metric_loader else ''
            msg = (
                f'Expected a model with a history in memory{where} '
                f'(in memory: {known}), got {model_name!r}.'
            )
            raise ValueError(msg)
        return histories

    def _draw(
        self,
        model_name: str,
        histories: SourcedMetrics,
        metric_names: tuple[str, ...],
        start_epoch: int,
        sources_filtered: bool = False,
    ) -> dict[str, _Plot]:
        """Draw the selected metrics; returns the plot of each one."""
        if self.source_names and not sources_filtered:
            histories = {
                source: history
                for source, history in histories.items()
                if source in self.source_names
            }
        available = _metric_order(histories)
        if metric_names:
            available = [name for name in metric_names if name in available]
        plots: dict[str, _Plot] = {}
        for metric_name in available:
            points: SourcedMetrics = {}
            for source, (epochs, logs) in histories.items():
                values = logs.get(metric_name)
                if values is None:
                    continue
                kept = [
                    (epoch, value)
                    for epoch, value in zip(epochs, values, strict=False)
                    if epoch >= start_epoch and not math.isnan(value)
                ]
                if kept:
                    points[source] = (
                        [epoch for epoch, _ in kept],
                        {metric_name: [float(value) for _, value in kept]},
                    )
            # stable: sources with as many points keep their order
            ordered = dict(
                sorted(points.items(), key=lambda item: -len(item[1][0]))
            )
            plots[metric_name] = self._plot_metric(
                model_name, metric_name, ordered, start_epoch
            )
        return plots

    def _show(
        self, model_name: str, plots: Mapping[str, _Plot], new: bool
    ) -> None:
        """Display the plots of a model (nothing by default).

        Args:
            model_name: the model's name.
            plots: the plot of each metric just drawn.
            new: whether :meth:`plot` asked for them (to be shown in new
                outputs) rather than a redraw during a run.
        """

    def _display(
        self,
        key: Hashable,
        render: Callable[[], Any],
        raw: bool = False,
        new: bool = False,
    ) -> None:
        """Show an output in a Jupyter kernel, one display per key.

        Does nothing outside a kernel. Redraws update the display of their
        key at most once per ``min_display_interval`` seconds (the latest
        state is sent at the end of each training, test and run).

        Args:
            key: identifies the output (e.g. the model and metric).
            render: returns what to display; called only when it is sent.
            raw: whether ``render`` returns a MIME bundle.
            new: display it now, in a new output (for :meth:`plot`).
        """
        self._notebook.min_interval = self.min_display_interval
        self._notebook.show(key, render, raw=raw, new=new)

    def _forget_plots(self) -> None:
        """Drop the plots kept for redraws (none by default).

        Called when the plotter is created and at the start of each run:
        the next redraws start new plots. Subclasses set up the state of
        their plots here, not in ``__init__``.
        """

    def _sync_plots(self) -> None:
        """Apply the redraws that a subclass has deferred (none by default).

        Called before :meth:`plot` returns and at the end of each training,
        test and run, so that the plots handed out are up to date then.
        """

    @abc.abstractmethod
    def _plot_metric(
        self,
        model_name: str,
        metric_name: str,
        sourced_histories: SourcedMetrics,
        start_epoch: int,
    ) -> _Plot:
        """Draw one metric of a model.

        Args:
            model_name: the model's name.
            metric_name: the metric's name.
            sourced_histories: for each source with points to draw, in
                drawing order, its epochs (from ``start_epoch`` on) and
                ``{metric_name: values}``; no value is NaN.
            start_epoch: the first epoch drawn.

        Returns:
            The plot.
        """


def _metric_order(histories: SourcedMetrics) -> list[str]:
    """The metric names of the histories, in order of appearance."""
    names: dict[str, None] = {}
    for _, logs in histories.values():
        names.update(dict.fromkeys(logs))
    return list(names)


def _check_known(
    kind: str, asked: tuple[str, ...], available: list[str]
) -> None:
    missing = [name for name in asked if name not in available]
    if missing:
        msg = f'Expected {kind} names among {available}, got {missing}.'
        raise ValueError(msg)
