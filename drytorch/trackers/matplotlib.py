"""Plots of the metric histories with matplotlib.

Needs the ``plots`` extra (``pip install 'drytorch[plots]'``).

:class:`MatPlotter` draws one figure per model with one subplot per metric,
and a line per source (training, validation, ...) in each subplot. Lines
are updated in place: when the figure is displayed, returned by ``plot``
and at the end of each training, test and run (not at every epoch: moving
lines and rescaling axes costs about as much as a small model's epoch).

The figures are plain :class:`matplotlib.figure.Figure` objects with an Agg
canvas, made without ``pyplot``: nothing changes matplotlib's global state
(no backend switch, no interactive mode, no figure managed by ``pyplot``),
so the plotter works the same headless, in scripts and in notebooks. Save a
figure with ``figure.savefig``. Inside a Jupyter kernel each figure is shown
as a PNG image in one output that the redraws of the run update; ``pyplot``
never shows these figures a second time.

Names are drawn as they are: ``$`` is escaped so that a name is never read
as mathematical text, and a source whose name starts with ``_`` still gets
its legend entry.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Iterable, Mapping

try:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator
except ImportError as _error:
    _msg = (
        "The matplotlib plotter needs the 'plots' extra: "
        "pip install 'drytorch[plots]'"
    )
    raise ImportError(_msg, name='matplotlib') from _error

from drytorch.trackers._metric_history import MetricLoader, SourcedMetrics
from drytorch.trackers._plotter import BasePlotter

__all__ = ['MatPlotter']

_MAX_COLUMNS = 3
_SUBPLOT_SIZE = (4.5, 3.5)  # inches
_N_COLORS = 10  # the default property cycle: 'C0' ... 'C9'


def _text(name: str) -> str:
    """A name as literal matplotlib text (never mathematical text)."""
    return name.replace('$', r'\$')


class _ModelFigure:
    """The figure of a model: a subplot per metric, a line per source."""

    def __init__(self, model_name: str) -> None:
        self.figure = Figure(layout='constrained')
        FigureCanvasAgg(self.figure)  # attaches itself to the figure
        self.figure.suptitle(_text(model_name))
        self.axes: dict[str, Axes] = {}
        self.lines: dict[str, dict[str, Line2D]] = {}
        self.colors: dict[str, str] = {}
        self.stale: dict[str, SourcedMetrics] = {}

    def axes_for(self, metric_name: str) -> Axes:
        """The subplot of a metric, added (and the grid reflowed) if new."""
        axes = self.axes.get(metric_name)
        if axes is not None:
            return axes
        axes = self.figure.add_subplot()
        axes.set_title(_text(metric_name))
        axes.set_xlabel('Epoch')
        axes.set_ylabel(_text(metric_name))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.axes[metric_name] = axes
        self.lines[metric_name] = {}
        self._reflow()
        return axes

    def refresh(self) -> Figure:
        """Update the lines of the subplots redrawn since the last time."""
        stale, self.stale = self.stale, {}
        for metric_name, sourced_histories in stale.items():
            self._update_lines(metric_name, sourced_histories)
        return self.figure

    def _update_lines(
        self, metric_name: str, sourced_histories: SourcedMetrics
    ) -> None:
        axes = self.axes[metric_name]
        lines = self.lines[metric_name]
        changed = False
        for source in [s for s in lines if s not in sourced_histories]:
            lines.pop(source).remove()
            changed = True
        for order, (source, (epochs, logs)) in enumerate(
            sourced_histories.items()
        ):
            line = lines.get(source)
            if line is None:
                (line,) = axes.plot(
                    [], [], color=self.color_of(source), label=source
                )
                lines[source] = line
                changed = True
            line.set_data(epochs, logs[metric_name])
            if len(epochs) == 1:
                line.set_linestyle('None')
                line.set_marker('o')
            else:
                line.set_linestyle('-')
                line.set_marker('None')
            line.set_zorder(2 + order)  # later sources on top
        if changed:
            # explicit labels: matplotlib hides labels starting with '_'
            axes.legend(
                list(lines.values()), [_text(source) for source in lines]
            )
        axes.relim()
        axes.set_autoscalex_on(True)
        axes.autoscale_view()
        all_epochs = [
            e for epochs, _ in sourced_histories.values() for e in epochs
        ]
        if all_epochs and max(all_epochs) - min(all_epochs) < 2:
            # too narrow for integer ticks: show the neighbouring epochs
            axes.set_xlim(min(all_epochs) - 1, max(all_epochs) + 1)

    def color_of(self, source: str) -> str:
        """One color per source, the same in every subplot."""
        color = self.colors.get(source)
        if color is None:
            color = f'C{len(self.colors) % _N_COLORS}'
            self.colors[source] = color
        return color

    def _reflow(self) -> None:
        n_axes = len(self.axes)
        n_columns = min(n_axes, _MAX_COLUMNS)
        n_rows = math.ceil(n_axes / n_columns)
        grid = self.figure.add_gridspec(n_rows, n_columns)
        for index, axes in enumerate(self.axes.values()):
            row, column = divmod(index, n_columns)
            axes.set_subplotspec(grid[row, column])
        width, height = _SUBPLOT_SIZE
        self.figure.set_size_inches(width * n_columns, height * n_rows)


class MatPlotter(BasePlotter[tuple[Figure, Axes]]):
    """Plot the metric histories with matplotlib.

    One figure per model, one subplot per metric, one line per source; a
    new run starts new figures. See :class:`BasePlotter` for when plots are
    redrawn and what they show, and the module documentation for how they
    are shown.
    """

    def __init__(
        self,
        model_names: Iterable[str] = (),
        source_names: Iterable[str] = (),
        metric_names: Iterable[str] = (),
        metric_loader: MetricLoader | None = None,
        start: int = 1,
    ) -> None:
        """Create the plotter; the arguments are those of BasePlotter.

        Only their order differs: ``metric_loader`` comes before ``start``
        here, as in earlier releases, for calls that pass it by position.
        """
        super().__init__(
            model_names, source_names, metric_names, start, metric_loader
        )

    def close_all(self) -> None:
        """Forget every figure: the next redraws start new ones."""
        self._forget_plots()

    def _forget_plots(self) -> None:
        self._figures: dict[str, _ModelFigure] = {}

    def _plot_metric(
        self,
        model_name: str,
        metric_name: str,
        sourced_histories: SourcedMetrics,
        start_epoch: int,
    ) -> tuple[Figure, Axes]:
        model_figure = self._figures.get(model_name)
        if model_figure is None:
            model_figure = _ModelFigure(model_name)
            self._figures[model_name] = model_figure
        axes = model_figure.axes_for(metric_name)
        model_figure.stale[metric_name] = sourced_histories
        return model_figure.figure, axes

    def _show(
        self,
        model_name: str,
        plots: Mapping[str, tuple[Figure, Axes]],
        new: bool,
    ) -> None:
        model_figure = self._figures.get(model_name)
        if model_figure is None:  # closed meanwhile
            return
        self._display(
            ('matplotlib', model_name),
            functools.partial(_png_bundle, model_figure, model_name),
            raw=True,
            new=new,
        )

    def _sync_plots(self) -> None:
        for model_figure in self._figures.values():
            model_figure.refresh()


def _png_bundle(model_figure: _ModelFigure, model_name: str) -> dict[str, str]:
    """The figure, up to date, as a MIME bundle with a PNG image."""
    buffer = io.BytesIO()
    model_figure.refresh().savefig(buffer, format='png')
    return {
        'image/png': base64.b64encode(buffer.getvalue()).decode('ascii'),
        'text/plain': f'<Figure of {model_name}>',
    }
