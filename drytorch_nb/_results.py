"""What run listings and comparisons share: results read from the history.

A run's results (epochs, duration, final metric values) come from its
metric history (:mod:`drytorch.core.history`). A run without one, or with
an unreadable one, gets a note instead; it is never left out.

:class:`ResultsTable` is a :class:`~drytorch_nb._display.Table` whose HTML
colours the status column and scrolls sideways inside its box when it is
wider than the output area. Colours are JupyterLab theme variables with
fallbacks, so they read in light and dark themes and outside JupyterLab.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import math
from collections.abc import Sequence

from drytorch.core import exceptions
from drytorch.core.history import RunHistory, load_history
from drytorch.core.run_registry import RunMetadata
from drytorch.utils.formatting import format_duration, format_number
from drytorch_nb._display import Table
from drytorch_nb._state import lower_is_better

__all__ = [
    'STATUS_COLORS',
    'ResultsTable',
    'RunResults',
    'best_index',
    'lower_is_better',
    'read_results',
    'status_html',
]

STATUS_COLORS = {
    'completed': 'var(--jp-success-color1, #22a06b)',
    'failed': 'var(--jp-error-color1, #e5484d)',
    'interrupted': 'var(--jp-warn-color1, #d97706)',
    'running': 'var(--jp-brand-color1, #3b82f6)',
    'created': 'var(--jp-ui-font-color2, #808080)',
}
"""The colour of each run status (theme variable, then a fallback)."""

_BORDER = 'var(--jp-border-color2, rgba(128, 128, 128, 0.35))'
_CELL = (
    f'text-align: left; padding: 0.2em 0.8em 0.2em 0; white-space: nowrap; '
    f'border-bottom: 1px solid {_BORDER}; vertical-align: top;'
)
_BOX = (
    'overflow-x: auto; max-width: 100%; '
    'contain: inline-size; margin: 0.25em 0 0.75em 0;'
)


def best_index(name: str, values: Sequence[float]) -> int | None:
    """The index of the best finite value of a metric, None if none."""
    finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return None
    if lower_is_better(name):
        return min(finite, key=lambda pair: (pair[0], pair[1]))[1]
    return max(finite, key=lambda pair: (pair[0], -pair[1]))[1]


def status_html(status: str) -> str:
    """The status, escaped, in its colour."""
    color = STATUS_COLORS.get(status, 'inherit')
    return (
        f'<span style="color: {color}; font-weight: 600">'
        f'{html.escape(status)}</span>'
    )


@dataclasses.dataclass(frozen=True)
class RunResults:
    """A recorded run with what its history says.

    Attributes:
        experiment: the experiment's name.
        record: the run's registry record.
        history: its metric history, None when it has none.
        note: why there is no history ('' when there is one).
        exp_dir: the experiment's registry folder.
    """

    experiment: str
    record: RunMetadata
    history: RunHistory | None
    note: str = ''
    exp_dir: str = ''

    @property
    def epochs(self) -> str:
        """The last trained epoch, as text ('' without history)."""
        return '' if self.history is None else str(self.history.epochs)

    @property
    def duration(self) -> str:
        """Time spent running, as text.

        From the history when there is one, else from the registry's last
        start and end.
        """
        if self.history is not None and self.history.starts:
            return format_duration(self.history.duration)
        start, end = self.record.started_at, self.record.ended_at
        if not start or not end:
            return ''
        try:
            seconds = (
                datetime.datetime.fromisoformat(end)
                - datetime.datetime.fromisoformat(start)
            ).total_seconds()
        except ValueError:
            return ''
        return format_duration(seconds)

    def final_metrics(self) -> str:
        """``source metric=value`` for each last value, or the note."""
        if self.history is None:
            return self.note
        models = {model for model, _ in self.history.series}
        parts: list[str] = []
        for (model, source), values in self.history.final_metrics().items():
            prefix = f'{model} {source}' if len(models) > 1 else source
            parts.extend(
                f'{prefix} {name}={format_number(value)}'
                for name, value in values.items()
            )
        return ', '.join(parts)


def read_results(
    experiment: str, exp_dir: object, record: RunMetadata
) -> RunResults:
    """A run's results; an unreadable history becomes a note naming it."""
    folder = str(getattr(getattr(exp_dir, 'registry', None), 'path', exp_dir))
    try:
        found = load_history(folder, record.id)
    except exceptions.HistoryCorruptedError as error:
        return RunResults(experiment, record, None, str(error), folder)
    if found is None:
        return RunResults(
            experiment, record, None, 'no metric history', folder
        )
    return RunResults(experiment, record, found, '', folder)


class ResultsTable(Table):
    """A table whose HTML colours a status column and scrolls sideways.

    Attributes:
        status_column: the index of the status column (None: none).
    """

    def __init__(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[object]],
        empty: str = 'None.',
        status_column: int | None = None,
    ) -> None:
        """Args:
        title: the caption.
        headers: the column names.
        rows: the rows; values are converted with ``str``.
        empty: the text shown instead of a table without rows.
        status_column: the index of the status column.
        """  # noqa: D205
        super().__init__(title, headers, rows, empty)
        self.status_column = status_column

    def _repr_html_(self) -> str:
        return f'<div class="drytorch-nb">{self.html_body()}</div>'

    def html_body(self) -> str:
        """The title and the table in a box that scrolls sideways."""
        esc = html.escape
        parts = [f'<div><strong>{esc(self.title)}</strong></div>']
        if not self.rows:
            parts.append(f'<div><em>{esc(self.empty)}</em></div>')
            return ''.join(parts)
        parts.append(
            f'<div style="{_BOX}"><table style="border-collapse: collapse">'
            '<thead><tr>'
        )
        parts.extend(
            f'<th style="{_CELL}">{esc(name)}</th>' for name in self.headers
        )
        parts.append('</tr></thead><tbody>')
        for row in self.rows:
            parts.append('<tr>')
            for index, value in enumerate(row):
                cell = (
                    status_html(value)
                    if index == self.status_column
                    else esc(value)
                )
                parts.append(f'<td style="{_CELL}">{cell}</td>')
            parts.append('</tr>')
        parts.append('</tbody></table></div>')
        return ''.join(parts)
