"""Plots of the metric histories with plotly.

Needs the ``plots`` extra (``pip install 'drytorch[plots]'``).

:class:`PlotlyPlotter` draws one ``plotly.graph_objects.Figure`` per model
and metric (x: ``Epoch``, y: the metric's name), with a trace per source.
The figure of a metric is kept during a run; its traces are replaced when
it is displayed, returned by ``plot`` and at the end of each training, test
and run (not at every epoch: building traces costs more than a small
model's epoch).

Nothing is shown outside a Jupyter kernel: :meth:`PlotlyPlotter.plot`
returns the figures (``figure.show()``, ``figure.write_html(...)``). Inside a
kernel each figure has one output that the redraws of the run update,
instead of a new output per redraw.

Plotly reads a few HTML tags in texts (``<b>``, ``<br>``, ...); names are
escaped so that they are drawn as they are.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from typing import Any, TypeAlias

try:
    import plotly.graph_objects as go
    from plotly.colors import qualitative
except ImportError as _error:
    _msg = (
        "The plotly plotter needs the 'plots' extra: "
        "pip install 'drytorch[plots]'"
    )
    raise ImportError(_msg, name='plotly') from _error

from drytorch.trackers._metric_history import SourcedMetrics
from drytorch.trackers._plotter import BasePlotter

__all__ = ['PlotlyPlotter']

_COLORS = tuple(qualitative.Plotly)

_Key: TypeAlias = tuple[str, str]  # (model name, metric name)


def _text(name: str) -> str:
    """A name as literal plotly text (tags are not interpreted)."""
    return html.escape(name, quote=False)


class PlotlyPlotter(BasePlotter[go.Figure]):
    """Plot the metric histories with plotly.

    One figure per model and metric, one trace per source; a new run starts
    new figures. See :class:`BasePlotter` for when plots are redrawn and
    what they show, and the module documentation for how they are shown.

    Building plotly traces costs milliseconds, more than a small model's
    epoch: a redraw only records what to draw, and the traces of a figure
    are built when it is displayed, returned by :meth:`plot`, or at the
    end of a training, test or run.
    """

    def _forget_plots(self) -> None:
        self._figures: dict[_Key, go.Figure] = {}
        self._stale: dict[_Key, SourcedMetrics] = {}
        self._colors: dict[tuple[str, str], str] = {}

    def _plot_metric(
        self,
        model_name: str,
        metric_name: str,
        sourced_histories: SourcedMetrics,
        start_epoch: int,
    ) -> go.Figure:
        key = (model_name, metric_name)
        figure = self._figures.get(key)
        if figure is None:
            figure = go.Figure(
                layout={
                    'title': {'text': _text(f'{model_name}: {metric_name}')},
                    'xaxis': {'title': {'text': 'Epoch'}},
                    'yaxis': {'title': {'text': _text(metric_name)}},
                    'legend': {'title': {'text': 'Source'}},
                }
            )
            self._figures[key] = figure
        self._stale[key] = sourced_histories
        return figure

    def _sync_plots(self) -> None:
        for key in list(self._stale):
            self._refreshed(key)

    def _refreshed(self, key: _Key) -> go.Figure:
        """The figure of a model and metric, with its traces up to date."""
        figure = self._figures[key]
        sourced_histories = self._stale.pop(key, None)
        if sourced_histories is None:
            return figure
        model_name, metric_name = key
        traces = []
        for source, (epochs, logs) in sourced_histories.items():
            color = self._color_of(model_name, source)
            traces.append(
                go.Scatter(
                    x=epochs,
                    y=logs[metric_name],
                    name=_text(source),
                    mode='markers' if len(epochs) == 1 else 'lines',
                    marker={'color': color},
                    line={'color': color},
                )
            )
        with figure.batch_update():
            figure.data = ()
            figure.add_traces(traces)
        return figure

    def _color_of(self, model_name: str, source: str) -> str:
        """One color per source of a model, the same in every figure."""
        key = (model_name, source)
        color = self._colors.get(key)
        if color is None:
            n_sources = sum(
                1 for model, _ in self._colors if model == model_name
            )
            color = _COLORS[n_sources % len(_COLORS)]
            self._colors[key] = color
        return color

    def _show(
        self, model_name: str, plots: Mapping[str, go.Figure], new: bool
    ) -> None:
        for metric_name in plots:
            key = (model_name, metric_name)
            self._display(
                ('plotly', *key),
                functools.partial(self._mime_bundle, key),
                raw=True,
                new=new,
            )

    def _mime_bundle(self, key: _Key) -> dict[str, Any]:
        """The figure, up to date, as plotly's default renderer shows it."""
        figure = self._refreshed(key)
        # Displaying the figure object would call its _ipython_display_,
        # which makes a new output at every call: the bundle goes through
        # our display handle instead.
        bundle = dict(figure._repr_mimebundle_())
        bundle.setdefault('text/plain', f'<Figure of {key[0]}: {key[1]}>')
        return bundle
