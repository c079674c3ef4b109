"""HTML fragments of the panel, drawn from a :class:`PanelState`.

The live HTML widgets and the static snapshot use the same fragments. The
HTML widget inserts its value as raw innerHTML, so every text that comes
from the user (reprs, names, config values, metadata, metric names) goes
through :func:`html.escape` here and nowhere is markup built from it.
"""

from __future__ import annotations

import dataclasses
import html
import math
import reprlib
from collections.abc import Iterable, Mapping

from drytorch_nb import _bars, _svg
from drytorch_nb._state import PanelState, Series, clip_text

__all__ = [
    'STATUS_COLORS',
    'architecture_html',
    'charts_html',
    'config_html',
    'format_duration',
    'header_html',
    'log_html',
    'status_html',
    'text_label',
]

STATUS_COLORS = {
    'running': '#1f77b4',
    'completed': '#2ca02c',
    'failed': '#d62728',
    'interrupted': '#ff7f0e',
}

_MAX_ITEMS = 50
_MAX_DEPTH = 5
_MAX_VALUE = 300

_repr = reprlib.Repr()
_repr.maxstring = _MAX_VALUE
_repr.maxother = _MAX_VALUE
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 20

_LIST = 'style="margin: 0; padding-left: 1.2em;"'
_TABLE = 'style="border-collapse: collapse; margin: 2px 0;"'
_CELL = (
    'style="text-align: left; padding: 1px 8px 1px 0; vertical-align: top;"'
)
_KEY = (
    'style="text-align: left; padding: 1px 8px 1px 0; vertical-align: top; '
    'font-weight: bold; white-space: nowrap;"'
)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def text_label(text: object, limit: int = 80) -> str:
    """A name made safe for widget titles and descriptions.

    Whether ipywidgets shows a description as text or as HTML depends on its
    version (7: HTML, 8: text), so neither escaping nor not escaping reads
    right everywhere: the characters HTML would interpret are replaced by
    look-alikes instead, which read the same both ways.
    """
    value = str(text)
    value = value.replace('&', '\uff06').replace('<', '\u2039')
    value = value.replace('>', '\u203a')
    value = ''.join(char if char.isprintable() else ' ' for char in value)
    return value if len(value) <= limit else value[: limit - 1] + '\u2026'


def format_duration(seconds: float) -> str:
    """Seconds as ``1h 02m 03s``, ``2m 03s`` or ``3.2s``."""
    if not math.isfinite(seconds) or seconds < 0:
        return '-'
    if seconds < 60:
        return f'{seconds:.1f}s'
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f'{hours}h {minutes:02d}m {secs:02d}s'
    return f'{minutes}m {secs:02d}s'


def _value_repr(value: object) -> str:
    if isinstance(value, str):
        return clip_text(value, _MAX_VALUE)
    try:
        return _repr.repr(value)
    except Exception:  # a broken __repr__ must not break the panel
        return f'<{type(value).__name__} object>'


def _rows(items: Iterable[tuple[object, object]], depth: int) -> str:
    rows = []
    for index, (key, value) in enumerate(items):
        if index == _MAX_ITEMS:
            rows.append('<li>…</li>')
            break
        rows.append(
            f'<li><b>{_esc(key)}</b>: {_nested_html(value, depth + 1)}</li>'
        )
    return f'<ul {_LIST}>{"".join(rows)}</ul>'


def _nested_html(value: object, depth: int = 0) -> str:
    """A value as nested tables (mappings, dataclasses) or escaped text."""
    if depth < _MAX_DEPTH:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = dataclasses.fields(value)
            return _rows(
                ((field.name, getattr(value, field.name)) for field in fields),
                depth,
            )
        if isinstance(value, Mapping) and value:
            return _rows(value.items(), depth)
    return f'<code>{_esc(_value_repr(value))}</code>'


def config_html(config: object) -> str:
    """The configuration: a table of its fields, or its escaped repr."""
    return _nested_html(config)


def header_html(state: PanelState, now: float | None = None) -> str:
    """Experiment, run id, status, elapsed time, tags and configuration.

    Args:
        state: the run's state.
        now: the clock reading for the elapsed time; None leaves it out
            (the live panel shows it in the status line, so that the
            header is not sent again every second).
    """
    color = STATUS_COLORS.get(state.status, '#808080')
    status = state.status
    if state.terminated:  # stopped early, or interrupted and continuable
        status = f'{status} · {state.terminated}'
    items = [
        f'<b style="font-size: 1.1em;">{_esc(state.exp_name)}</b>',
        f'run <code>{_esc(state.run_id)}</code>'
        + (' (resumed)' if state.resumed else ''),
        f'<span class="drytorch-status" style="color: {color}; '
        f'font-weight: bold;">{_esc(status)}</span>',
    ]
    if now is not None:
        items.append(f'{_esc(format_duration(state.elapsed(now)))}')
        if state.epochs_done:
            items.append(f'{state.epochs_done} epochs')
    if state.tags:
        items.append('tags: ' + ', '.join(_esc(tag) for tag in state.tags))
    line = ' <span style="opacity: 0.5;">·</span> '.join(items)
    return (
        '<div class="drytorch-header" style="min-width: 0;">'
        f'<div style="display: flex; flex-wrap: wrap; gap: 0 6px; '
        f'align-items: baseline;">{line}</div>'
        '<details><summary style="cursor: pointer;">Configuration</summary>'
        '<div style="overflow-x: auto; max-width: 100%; '
        'contain: inline-size;">'
        f'{config_html(state.config)}</div></details></div>'
    )


def status_html(state: PanelState, now: float) -> str:
    """The progress bars, then one line of running metrics."""
    return _bars.bars_html(state, now, metrics=True)


def _tree_lines(text: str) -> list[tuple[int, str]]:
    """(depth change, label) per line: +1 opens a node, -1 closes one."""
    marks = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == ')':
            marks.append((-1, ''))
        elif stripped.endswith('('):
            marks.append((1, stripped[:-1]))
        else:
            marks.append((0, stripped))
    return marks


def architecture_html(architecture: str) -> str:
    """A module's repr as a collapsible tree (one fold per sub-module).

    torch reprs open a sub-module with ``name: Class(`` and close it with a
    lone ``)``; any other text is shown line by line, escaped.
    """
    text = clip_text(architecture)
    parts = [
        '<div class="drytorch-architecture" '
        'style="font-family: monospace; white-space: pre;">'
    ]
    depth = 0
    for change, label in _tree_lines(text):
        if change > 0:
            is_open = ' open' if depth == 0 else ''
            parts.append(
                f'<details{is_open} style="margin-left: {12 if depth else 0}'
                f'px;"><summary>{_esc(label)}</summary>'
            )
            depth += 1
        elif change < 0:
            if depth:
                parts.append('</details>')
                depth -= 1
        else:
            indent = 24 if depth else 0
            parts.append(
                f'<div style="margin-left: {indent}px;">{_esc(label)}</div>'
            )
    parts.append('</details>' * depth)
    parts.append('</div>')
    return ''.join(parts)


def _best_points(
    state: PanelState, model: str, metric: str, chart: dict[str, Series]
) -> dict[str, tuple[float, float]]:
    """The best point of the monitored curve: validation, else training.

    Only one curve per chart is marked, so the mark answers "which epoch
    was best" rather than decorating every line.
    """
    sources = [name for name in chart if name != state.training_source]
    sources = sources or list(chart)
    for source in sources:
        summary = state.summaries.get((model, source, metric))
        if summary is not None and summary.best_epoch >= 0:
            return {source: (float(summary.best_epoch), summary.best)}
    return {}


def charts_html(state: PanelState, as_images: bool = False) -> str:
    """One SVG chart per metric, curves of every source overlaid.

    Training curves are solid, the others dashed; the best epoch of the
    validation curve (or of the training one, without validation) is
    ringed and named in the legend.

    Args:
        state: the run's state.
        as_images: embed each chart as an ``<img>`` of a ``data:`` URI
            rather than as inline ``<svg>``: notebook viewers that sanitize
            untrusted HTML (JupyterLab, for a notebook it did not run)
            remove inline SVG but keep such images, and a browser never
            runs anything inside an SVG shown as an image. Images cannot
            inherit the page's text colour, so they use a grey that reads
            on light and dark themes.
    """
    charts = []
    several = len(state.model_names()) > 1
    for (model, metric), chart in state.curves.items():
        title = f'{model} · {metric}' if several else metric
        dashed = None
        if state.training_source:
            dashed = {name: name != state.training_source for name in chart}
        svg = _svg.line_chart(
            title,
            {source: series.points() for source, series in chart.items()},
            best=_best_points(state, model, metric, chart),
            dashed=dashed,
            ink=_svg.MID_GREY if as_images else 'currentColor',
        )
        if as_images:
            svg = (
                f'<img class="drytorch-chart" src="{_svg.data_uri(svg)}" '
                f'alt="{_esc(title)}" title="{_esc(title)}" '
                'style="max-width: 100%; height: auto;"/>'
            )
        charts.append(
            '<div style="flex: 0 1 380px; min-width: 0; max-width: 100%;">'
            f'{svg}</div>'
        )
    if not charts:
        return '<div class="drytorch-charts"><i>no metrics yet</i></div>'
    return (
        '<div class="drytorch-charts" style="display: flex; '
        f'flex-wrap: wrap; gap: 8px 16px;">{"".join(charts)}</div>'
    )


def log_html(lines: Iterable[str]) -> str:
    """The event log as escaped preformatted text."""
    text = '\n'.join(lines)
    if not text:
        return '<i>no events</i>'
    return (
        '<pre class="drytorch-log" style="margin: 0; white-space: pre-wrap; '
        f'overflow-wrap: anywhere;">{_esc(text)}</pre>'
    )
