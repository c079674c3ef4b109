"""The result of a run at a glance: final and best value of every metric.

Shown at the top of the snapshot when a run stops (and in the live panel's
status once a metric arrived): status, duration, epochs, and one row per
source and metric with its final value and its best one, with the epochs
they were reached at. "Best" follows the metric's direction: lowest for
losses and errors, highest for everything else.
"""

from __future__ import annotations

import html
import math

from drytorch.utils.formatting import format_number
from drytorch_nb._state import MetricSummary, PanelState

__all__ = ['summary_html', 'summary_lines']

_TABLE = (
    'border-collapse: collapse; margin: 4px 0; '
    'font-variant-numeric: tabular-nums;'
)
_HEAD = (
    'text-align: left; padding: 2px 12px 2px 0; font-weight: 600; '
    'border-bottom: 1px solid var(--jp-border-color2, rgba(128,128,128,.4));'
)
_CELL = 'text-align: left; padding: 2px 12px 2px 0; white-space: nowrap;'
_NUM = 'text-align: right; padding: 2px 12px 2px 0; white-space: nowrap;'


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _value_at(value: float, epoch: int) -> str:
    if epoch < 0 or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{format_number(value)} (epoch {epoch})'


def _rows(
    state: PanelState,
) -> list[tuple[str, str, str, MetricSummary]]:
    several = len({model for model, _, _ in state.summaries}) > 1
    rows = []
    for (model, source, metric), summary in state.summaries.items():
        shown_source = f'{model} · {source}' if several else source
        arrow = '↓' if summary.lower_is_better else '↑'
        rows.append((shown_source, metric, arrow, summary))
    return rows


def summary_lines(state: PanelState) -> list[str]:
    """The summary as plain text lines (for terminals and status)."""
    lines = []
    for source, metric, arrow, summary in _rows(state):
        lines.append(
            f'{source} {metric} {arrow}: final '
            f'{_value_at(summary.final, summary.final_epoch)}, best '
            f'{_value_at(summary.best, summary.best_epoch)}'
        )
    return lines


def summary_html(state: PanelState) -> str:
    """A table with the final and best value of each source and metric.

    Returns:
        The table, or an empty string when no metric arrived.
    """
    rows = _rows(state)
    if not rows:
        return ''
    head = (
        f'<tr><th style="{_HEAD}">source</th><th style="{_HEAD}">metric</th>'
        f'<th style="{_HEAD}">final</th><th style="{_HEAD}">best</th></tr>'
    )
    body = []
    for source, metric, arrow, summary in rows:
        best = _value_at(summary.best, summary.best_epoch)
        final = _value_at(summary.final, summary.final_epoch)
        better = 'lower' if summary.lower_is_better else 'higher'
        body.append(
            f'<tr><td style="{_CELL}">{_esc(source)}</td>'
            f'<td style="{_CELL}" title="{better} is better">'
            f'{_esc(metric)} {arrow}</td>'
            f'<td style="{_NUM}">{_esc(final)}</td>'
            f'<td style="{_NUM}"><b>{_esc(best)}</b></td></tr>'
        )
    return (
        '<div class="drytorch-summary" style="overflow-x: auto; '
        f'max-width: 100%; contain: inline-size;"><table style="{_TABLE}">'
        f'{head}'
        f'{"".join(body)}</table></div>'
    )
