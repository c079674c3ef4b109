"""The static HTML snapshot of a panel.

When a run stops, the live widgets are replaced by this snapshot: one
self-contained piece of HTML (inline styles, charts as SVG images in
``data:`` URIs, no script, no link, no external resource) that a saved
notebook shows anywhere, with the kernel gone and without any widget state,
also where untrusted HTML is sanitized. The tabs of the live panel become
``<details>`` sections, which fold without script.
"""

from __future__ import annotations

import html

from drytorch_nb import _bars, _cards, _render, _summary
from drytorch_nb._state import PanelState

__all__ = ['PANEL_STYLE', 'snapshot_html']

PANEL_STYLE = (
    'border: 1px solid var(--jp-border-color2, rgba(128, 128, 128, 0.4)); '
    'border-radius: 6px; padding: 8px 12px; min-width: 0; max-width: 100%; '
    'box-sizing: border-box; overflow-x: auto; '
    'font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px;'
)
"""The frame of a panel (live or snapshot): no width, theme colours."""


def _section(title: str, body: str, is_open: bool = False) -> str:
    flag = ' open' if is_open else ''
    return (
        f'<details{flag} class="drytorch-section" style="margin: 4px 0;">'
        f'<summary style="font-weight: bold; cursor: pointer;">'
        f'{html.escape(title)}'
        f'</summary><div style="margin-left: 12px;">{body}</div></details>'
    )


def _models(state: PanelState) -> str:
    if not state.models:
        return '<i>no model registered</i>'
    return ''.join(
        _section(name, _cards.model_html(state, name)) for name in state.models
    )


def _actors(state: PanelState) -> str:
    if not state.actors:
        return '<i>no actor registered</i>'
    return ''.join(
        _section(_cards.actor_title(key), _cards.actor_html(state, key))
        for key in state.actors
    )


def _progress(state: PanelState, now: float) -> str:
    """The bars as they ended (what was done of what was planned)."""
    return _bars.bars_html(state, now, epochs=True)


def snapshot_html(state: PanelState, now: float) -> str:
    """The final panel as static HTML.

    Args:
        state: the run's state.
        now: the clock reading used for the elapsed time of a running run.

    Returns:
        A ``<div>`` with the header (status, duration, epochs), the final
        and best value of every metric, the bars, then the charts, models,
        actors and event log; every user-provided text in it is escaped.
    """
    sections = [
        _section(
            'Metrics', _render.charts_html(state, as_images=True), is_open=True
        ),
        _section('Model', _models(state)),
        _section('Actors', _actors(state)),
        _section('Log', _render.log_html(state.log)),
    ]
    return (
        f'<div class="drytorch-panel drytorch-snapshot" style="{PANEL_STYLE}">'
        f'{_render.header_html(state, now)}{_summary.summary_html(state)}'
        f'{_progress(state, now)}{"".join(sections)}</div>'
    )
